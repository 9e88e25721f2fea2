//! Workers enrolling themselves on a phone (issue #20): a registration finished with a code sent
//! by SMS to the phone typed, signing in with a code sent to the phone on record, changing the
//! phone with codes to both numbers, the public card, the funnel and the branch's review of NIK
//! warnings. The API, the pages and the CLI call these alike.
//!
//! **No registry oracle.** Asking for a sign-in code answers the same whether or not the NIK or
//! KPJ is registered: a code row is stored either way (for an unknown one, a code nobody is
//! sent, under a keyed stand-in for the person), the SMS goes out in the background, and a wrong
//! code counts down the same tries. Registration tells that a NIK is registered only after the
//! code proved the phone, and then only "sign in instead" (no KPJ, no name, no phone).

use crate::auth::{allow, audit, audit_entry};
use crate::{AppError, Context};
use cakupan_domain::access::{Action, Principal, Resource, Role};
use cakupan_domain::enrolment::{Purpose, Stage, code_text, week_of};
use cakupan_domain::participants::{Registration, RegistrationInput};
use cakupan_domain::rules::EnrolmentRule;
use cakupan_domain::{FieldError, Kpj, Month, Nik, RegionCode, Segment};
use cakupan_store::Participant;
use cakupan_store::accounts::{Consent, NewUser, UserRow};
use cakupan_store::enrolment::{CodeCheck, FunnelWeek, NewCode};
use sha2::{Digest, Sha256};

/// The enrolment policy in force today (`rules/enrolment.toml`).
pub fn policy(st: &Context) -> Result<&EnrolmentRule, AppError> {
    st.rules.enrolment(Month::of((st.today)())).ok_or_else(|| {
        AppError::Internal("no enrolment rule (rules/enrolment.toml) is in force today".into())
    })
}

fn invalid(field: &str, rule: &'static str, message: String) -> AppError {
    AppError::Invalid(FieldError::new(field, rule, message).into())
}

/// A code was asked for: the key the next form carries with the typed code. The key is
/// random, held only by the asker (the store keeps its hash), so a copy of the database cannot
/// check guesses of the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAsked {
    pub key: String,
    pub valid_secs: u32,
}

fn sha(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

fn key_hash(key: &str) -> String {
    sha(&["code key", key.trim()])
}

fn code_hash(key: &str, code: &str) -> String {
    sha(&["code", key.trim(), code.trim()])
}

/// A code of `digits` decimal digits, uniformly drawn (no modulo bias).
fn draw_code(digits: u32) -> Result<String, AppError> {
    let modulus = 10u32.pow(digits.clamp(4, 8));
    let limit = u32::MAX - (u32::MAX % modulus);
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| AppError::Internal(e.to_string()))?;
        let v = u32::from_le_bytes(b);
        if v < limit {
            return Ok(format!("{:0width$}", v % modulus, width = digits as usize));
        }
    }
}

/// Counts one code sent under each key, or refuses with how long to wait.
fn limited(st: &Context, keys: &[(String, u32)]) -> Result<(), AppError> {
    st.auth.code_send(keys).map_err(|wait| {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        AppError::TooManyAttempts {
            message: format!("too many codes were asked for: try again in {minutes} minute(s)"),
            retry_after_secs: wait.as_secs().max(1),
        }
    })
}

/// Stores a new code for `purpose` and `subject` and sends it to `to` (none: a stand-in that
/// nobody receives). `in_background`: the SMS goes out after the answer, so neither its time
/// nor a gateway failure tells the asker anything.
async fn issue(
    st: &Context,
    purpose: Purpose,
    subject: Vec<u8>,
    to: Option<String>,
    in_background: bool,
) -> Result<CodeAsked, AppError> {
    let rule = policy(st)?;
    let key = crate::auth::new_token().map_err(AppError::Internal)?;
    let code = draw_code(rule.otp_digits)?;
    let now = cakupan_store::clock::now_secs();
    st.store
        .add_code(&NewCode {
            key_hash: key_hash(&key),
            purpose,
            subject,
            code_hash: code_hash(&key, &code),
            created_at: now,
            expires_at: now + i64::from(rule.otp_valid_secs),
        })
        .await?;
    if let Some(to) = to {
        let text = code_text(purpose, &code, rule.otp_valid_secs);
        if in_background {
            let st = st.clone();
            tokio::spawn(async move {
                let _ = crate::sms::send(&st, purpose.as_str(), &to, &text).await;
            });
        } else {
            crate::sms::send(st, purpose.as_str(), &to, &text).await?;
        }
    }
    Ok(CodeAsked {
        key,
        valid_secs: rule.otp_valid_secs,
    })
}

/// A typed code checked against the code of `key`: `Ok(true)` when right now, `Ok(false)` when
/// it was right before (the same form sent again), else the error naming the field `code`.
async fn check(
    st: &Context,
    purpose: Purpose,
    subject: &[u8],
    key: &str,
    code: &str,
) -> Result<bool, AppError> {
    let rule = policy(st)?;
    let typed = code.trim();
    if typed.is_empty() {
        return Err(invalid(
            "code",
            "code.required",
            "code is required: type the code sent by SMS".into(),
        ));
    }
    let verdict = st
        .store
        .check_code(
            &key_hash(key),
            purpose,
            subject,
            &code_hash(key, typed),
            cakupan_store::clock::now_secs(),
            rule.otp_max_attempts,
        )
        .await?;
    match verdict {
        CodeCheck::Good => Ok(true),
        CodeCheck::Used => Ok(false),
        CodeCheck::Wrong { left } => Err(invalid(
            "code",
            "code.wrong",
            format!("code is wrong: {left} more tries before it stops working"),
        )),
        CodeCheck::Expired => Err(invalid(
            "code",
            "code.expired",
            "code has expired: ask for a new code".into(),
        )),
        CodeCheck::TooManyTries => Err(invalid(
            "code",
            "code.attempts",
            "code was typed wrong too many times: ask for a new code".into(),
        )),
        CodeCheck::Unknown => Err(invalid(
            "code",
            "code.unknown",
            "code was not sent for this request: ask for a new code".into(),
        )),
    }
}

/// A self-registration as typed: informal worker (BPU), registered today, through the `self`
/// channel, not budget-funded, whatever the input said of those.
pub fn own_input(mut input: RegistrationInput, today: time::Date) -> RegistrationInput {
    input.segment = Segment::Bpu.to_string();
    input.channel = cakupan_domain::Channel::SelfService.to_string();
    input.registered_on = cakupan_domain::month::format_date(today);
    input.budget_funded = String::new();
    input
}

/// Checks a self-registration like any registration, and that it has a phone (the code goes
/// there) and, if it names an agent, that the agent exists and may acquire.
pub async fn checked(st: &Context, input: &RegistrationInput) -> Result<Registration, AppError> {
    let ctx = cakupan_domain::participants::Context {
        regions: &st.regions,
        rules: &st.rules,
        today: (st.today)(),
    };
    let own = own_input(input.clone(), (st.today)());
    let mut errors = match cakupan_domain::participants::validate(&ctx, &own) {
        Ok((reg, _)) => {
            if reg.phone.is_some() {
                if let Some(code) = reg.agent_code.as_deref()
                    && st
                        .store
                        .agent_records(cakupan_store::agents::AgentFilter::Code(code))
                        .await?
                        .is_empty()
                {
                    return Err(invalid(
                        "agent_code",
                        "agent.unknown",
                        format!(
                            "no Perisai agent has code {code}: check it with your agent, or leave it empty"
                        ),
                    ));
                }
                crate::agents::check_acquisition(st, Role::Participant, &reg).await?;
                return Ok(reg);
            }
            cakupan_domain::FieldErrors::default()
        }
        Err(e) => e,
    };
    if own.phone.trim().is_empty() {
        errors.0.push(FieldError::new(
            "phone",
            "phone.required",
            "phone is required: the code is sent to it by SMS",
        ));
    }
    Err(AppError::Invalid(errors))
}

/// Step one of self-registration: the form passed every check, so a code goes to the phone
/// typed (limits per phone, NIK and address). Nothing of the person is stored.
pub async fn ask_registration_code(
    st: &Context,
    input: &RegistrationInput,
    address: &str,
) -> Result<CodeAsked, AppError> {
    let reg = checked(st, input).await?;
    let rule = policy(st)?;
    let phone = reg.phone.clone().unwrap_or_default();
    limited(
        st,
        &[
            (format!("phone:{phone}"), rule.otp_per_phone_per_hour),
            (format!("nik:{}", reg.nik), rule.otp_per_nik_per_hour),
            (format!("address:{address}"), rule.otp_per_address_per_hour),
        ],
    )?;
    let subject = st.store.keys().phone_index(&phone);
    let asked = issue(st, Purpose::Register, subject, Some(phone), false).await?;
    st.store
        .count_stage(&week_of((st.today)()), reg.village, Stage::Started)
        .await?;
    Ok(asked)
}

/// What a finished self-registration came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrolled {
    /// Registered now (`created`) or already with these same details (a form sent twice):
    /// the participation and the worker's own account.
    Registered {
        id: i64,
        kpj: String,
        created: bool,
        user: Box<UserRow>,
    },
    /// The NIK is registered already (under another phone, or with other details in BPU):
    /// sign in instead. Nothing of it is told.
    SignInInstead,
}

/// The principal a worker registers themselves as: their own NIK, their village.
fn self_principal(st: &Context, reg: &Registration) -> Principal {
    Principal {
        user_id: 0,
        username: "self-registration".into(),
        role: Role::Participant,
        region: reg.village,
        agent_code: None,
        nik: Some(hex::encode(st.store.nik_index(&reg.nik))),
        employer_code: None,
    }
}

/// Step two: the code sent to the phone is right, so the worker is registered (one commit with
/// its audit entry), their consent to processing recorded, and their own account opened. The
/// same form sent again registers nothing more.
pub async fn register_with_code(
    st: &Context,
    input: &RegistrationInput,
    key: &str,
    code: &str,
    request_id: &str,
) -> Result<Enrolled, AppError> {
    let reg = checked(st, input).await?;
    let phone = reg.phone.clone().unwrap_or_default();
    let subject = st.store.keys().phone_index(&phone);
    let fresh = check(st, Purpose::Register, &subject, key, code).await?;
    let week = week_of((st.today)());
    if fresh {
        st.store
            .count_stage(&week, reg.village, Stage::Verified)
            .await?;
    }
    // A NIK that already has participations leads to sign-in, unless the phone just proven is
    // the phone on record of every one of them (the same person, or this form sent again):
    // otherwise whoever typed someone else's NIK with their own phone would be signed in to
    // that person's record (their PU participation, say).
    let index = st.store.nik_index(&reg.nik);
    let existing = st.store.participants_by_index(&index).await?;
    if existing
        .iter()
        .any(|p| p.registration.phone.as_deref() != Some(phone.as_str()))
    {
        return Ok(Enrolled::SignInInstead);
    }
    let who = self_principal(st, &reg);
    use crate::participants::{Registered, register};
    let (id, created) = match register(st, &who, request_id, &reg).await? {
        Registered::Created { id } => (id, true),
        Registered::Existing { id } => (id, false),
        Registered::Conflict { .. } => return Ok(Enrolled::SignInInstead),
    };
    let p = st
        .store
        .participant(id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("participant {id} vanished")))?;
    if created {
        st.store
            .count_stage(&week, reg.village, Stage::Registered)
            .await?;
        st.store
            .add_consent(
                &index,
                &Consent {
                    purpose: "enrolment".into(),
                    notice_version: policy(st)?.consent_notice_version.clone(),
                    decision: "given".into(),
                    at: cakupan_store::clock::now_secs(),
                    channel: "self".into(),
                },
            )
            .await?;
    }
    let user = Box::new(own_account(st, &index, &p).await?);
    Ok(Enrolled::Registered {
        id,
        kpj: p.kpj,
        created,
        user,
    })
}

/// The person's own account (participant role), opened the first time they need it. It has no
/// password: it is signed in with a code.
pub async fn own_account(
    st: &Context,
    nik_index: &[u8],
    p: &Participant,
) -> Result<UserRow, AppError> {
    if let Some(u) = st.store.participant_user(nik_index).await? {
        return Ok(u);
    }
    let username = format!("peserta-{}", p.kpj);
    let made = st
        .store
        .create_user(
            &NewUser {
                username: username.clone(),
                // Never a valid hash: no password signs this account in.
                password_hash: String::new(),
                role: Role::Participant,
                region: p.registration.village,
                agent_code: None,
                nik_index: Some(nik_index.to_vec()),
                employer_code: None,
            },
            cakupan_store::clock::now_secs(),
        )
        .await;
    match made {
        // Opened by a parallel request (a double submit): use that one.
        Ok(_) | Err(cakupan_store::StoreError::Rejected(_)) => {}
        Err(e) => return Err(e.into()),
    }
    st.store
        .user_by_username(&username)
        .await?
        .ok_or_else(|| AppError::Internal(format!("the account {username} was not opened")))
}

/// What a worker types to sign in: a NIK (16 digits) or a KPJ (11 digits), spaces allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ident {
    Nik(Nik),
    Kpj(Kpj),
}

fn ident(typed: &str) -> Result<Ident, AppError> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    let bad = || {
        invalid(
            "nik_or_kpj",
            "nik_or_kpj.format",
            "nik_or_kpj must be a NIK (16 digits, as on the KTP) or a KPJ number (11 digits, as on the card)".into(),
        )
    };
    match digits.len() {
        16 => Nik::parse(&digits).map(Ident::Nik).map_err(|_| bad()),
        11 => Kpj::parse(&digits).map(Ident::Kpj).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// The person an identifier names, if registered: their NIK index, their participations.
async fn person(st: &Context, id: &Ident) -> Result<Option<(Vec<u8>, Vec<Participant>)>, AppError> {
    let index = match id {
        Ident::Nik(n) => st.store.nik_index(n),
        Ident::Kpj(k) => match st.store.participant_by_kpj(&k.to_string()).await? {
            Some(p) => st.store.nik_index(&p.registration.nik),
            None => return Ok(None),
        },
    };
    let ps = st.store.participants_by_index(&index).await?;
    Ok((!ps.is_empty()).then_some((index, ps)))
}

/// The subject of a sign-in code: the person's NIK index, or for an identifier that names
/// nobody a keyed stand-in (so the code row, its tries and its answers look the same).
fn sign_in_subject(
    st: &Context,
    id: &Ident,
    found: Option<&(Vec<u8>, Vec<Participant>)>,
) -> Vec<u8> {
    match found {
        Some((index, _)) => index.clone(),
        None => st
            .store
            .keys()
            .token_tag(&format!("sign-in stand-in {id:?}")),
    }
}

/// The phone on record of a person: the first participation that has one.
fn phone_on_record(ps: &[Participant]) -> Option<String> {
    ps.iter().find_map(|p| p.registration.phone.clone())
}

/// Asks for a sign-in code for a NIK or KPJ. The answer is the same whether or not it is
/// registered (see the module's note); limits per address and identifier refuse openly, the
/// limit per phone silently sends nothing more.
pub async fn ask_sign_in_code(
    st: &Context,
    typed: &str,
    address: &str,
) -> Result<CodeAsked, AppError> {
    let id = ident(typed)?;
    let rule = policy(st)?;
    let named = match &id {
        Ident::Nik(n) => format!("nik:{n}"),
        Ident::Kpj(k) => format!("kpj:{k}"),
    };
    limited(
        st,
        &[
            (format!("address:{address}"), rule.otp_per_address_per_hour),
            (named, rule.otp_per_nik_per_hour),
        ],
    )?;
    let found = person(st, &id).await?;
    let subject = sign_in_subject(st, &id, found.as_ref());
    let to = found
        .as_ref()
        .and_then(|(_, ps)| phone_on_record(ps))
        .filter(|phone| {
            st.auth
                .code_send(&[(format!("phone:{phone}"), rule.otp_per_phone_per_hour)])
                .is_ok()
        });
    issue(st, Purpose::SignIn, subject, to, true).await
}

/// Signs in with the code sent to the phone on record: the person's own account.
pub async fn sign_in_with_code(
    st: &Context,
    typed: &str,
    key: &str,
    code: &str,
) -> Result<UserRow, AppError> {
    let id = ident(typed)?;
    let found = person(st, &id).await?;
    let subject = sign_in_subject(st, &id, found.as_ref());
    let fresh = check(st, Purpose::SignIn, &subject, key, code).await?;
    match found {
        // A sign-in code opens one session.
        Some((index, ps)) if fresh => {
            let first = ps
                .first()
                .ok_or_else(|| AppError::Internal("a person without participations".into()))?;
            own_account(st, &index, first).await
        }
        _ => Err(invalid(
            "code",
            "code.used",
            "code was used already: ask for a new code".into(),
        )),
    }
}

/// The codes of a phone change: one to the number on record, one to the new number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneCodes {
    pub old: CodeAsked,
    pub new: CodeAsked,
}

fn own_index(who: &Principal) -> Result<Vec<u8>, AppError> {
    who.nik
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| AppError::Forbidden("only a participant changes their own phone".into()))
}

fn new_phone(typed: &str) -> Result<String, AppError> {
    if typed.trim().is_empty() {
        return Err(invalid(
            "new_phone",
            "new_phone.required",
            "new_phone is required".into(),
        ));
    }
    cakupan_domain::phone::normalise_phone(typed)
        .map_err(|m| invalid("new_phone", "new_phone.format", format!("new_{m}")))
}

/// Asks for the two codes of a phone change: to the number on record and to the new one.
pub async fn ask_phone_change(
    st: &Context,
    who: &Principal,
    typed: &str,
    address: &str,
) -> Result<PhoneCodes, AppError> {
    let index = own_index(who)?;
    let ps = st.store.participants_by_index(&index).await?;
    let Some(old) = phone_on_record(&ps) else {
        return Err(invalid(
            "new_phone",
            "phone.none_on_record",
            "no phone is on record to confirm the change: ask the branch to record your new number"
                .into(),
        ));
    };
    let new = new_phone(typed)?;
    if new == old {
        return Err(invalid(
            "new_phone",
            "new_phone.same",
            "new_phone is the number already on record".into(),
        ));
    }
    let rule = policy(st)?;
    limited(
        st,
        &[
            (format!("phone:{old}"), rule.otp_per_phone_per_hour),
            (format!("phone:{new}"), rule.otp_per_phone_per_hour),
            (format!("address:{address}"), rule.otp_per_address_per_hour),
        ],
    )?;
    let old_code = issue(st, Purpose::PhoneOld, index, Some(old), false).await?;
    let subject = st.store.keys().phone_index(&new);
    let new_code = issue(st, Purpose::PhoneNew, subject, Some(new), false).await?;
    Ok(PhoneCodes {
        old: old_code,
        new: new_code,
    })
}

/// Changes the phone of every participation of the person once both codes are right: each
/// change is kept as a correction decided by the person themselves (so the record says who
/// changed it and when), audited.
pub async fn change_phone(
    st: &Context,
    who: &Principal,
    request_id: &str,
    typed: &str,
    (key_old, code_old): (&str, &str),
    (key_new, code_new): (&str, &str),
) -> Result<(), AppError> {
    let index = own_index(who)?;
    let new = new_phone(typed)?;
    let ps = st.store.participants_by_index(&index).await?;
    if ps.is_empty() {
        return Err(AppError::NotFound(
            "no participation of yours was found".into(),
        ));
    }
    let fresh_old = check(st, Purpose::PhoneOld, &index, key_old, code_old)
        .await
        .map_err(|e| renamed(e, "code_old"))?;
    let subject = st.store.keys().phone_index(&new);
    let fresh_new = check(st, Purpose::PhoneNew, &subject, key_new, code_new)
        .await
        .map_err(|e| renamed(e, "code_new"))?;
    if !(fresh_old && fresh_new)
        && ps
            .iter()
            .all(|p| p.registration.phone.as_deref() == Some(&new))
    {
        // The same form sent again after the change was made.
        return Ok(());
    }
    for p in ps
        .iter()
        .filter(|p| p.registration.phone.as_deref() != Some(&new))
    {
        let mut corrected = p.registration.clone();
        corrected.phone = Some(new.clone());
        decided_correction(
            st,
            p,
            ("phone", &new),
            (
                "changed by the participant, confirmed by codes sent to both numbers",
                "confirmed by codes sent to the old and the new number",
            ),
            &who.username,
            corrected,
        )
        .await?;
        audit(
            st,
            who,
            request_id,
            "participant.phone_change",
            format!("participant:{}", p.id),
            "data_subject_rights",
        )
        .await?;
    }
    Ok(())
}

/// A correction of `field` to `value` filed and decided at once by `by` (the participant who
/// proved both numbers, the officer who checked the KTP), `corrected` being the participation
/// as it becomes: kept like any correction, so the record says who changed what and when.
async fn decided_correction(
    st: &Context,
    p: &Participant,
    (field, value): (&str, &str),
    (reason, note): (&str, &str),
    by: &str,
    corrected: Registration,
) -> Result<(), AppError> {
    let now = cakupan_store::clock::now_secs();
    let mut c = cakupan_store::accounts::Correction {
        id: 0,
        participant_id: p.id,
        village_code: p.registration.village.to_string(),
        field: field.into(),
        value: value.into(),
        reason: reason.into(),
        requested_at: now,
        due_at: now,
        status: "open".into(),
        decided_at: None,
        decided_by: None,
        note: None,
    };
    c.id = st.store.add_correction(&c).await?;
    st.store
        .decide_correction(
            &st.rules,
            &cakupan_store::accounts::CorrectionDecision {
                id: c.id,
                status: "done".into(),
                decided_by: by.into(),
                decided_at: now,
                note: note.into(),
                corrected: Some(corrected),
            },
        )
        .await?;
    Ok(())
}

/// An error about the field `code` as one about `field` (the phone change has two codes).
fn renamed(e: AppError, field: &str) -> AppError {
    match e {
        AppError::Invalid(mut errs) => {
            for x in &mut errs.0 {
                if x.field == "code" {
                    x.field = field.into();
                    x.message = x.message.replacen("code", field, 1);
                }
            }
            AppError::Invalid(errs)
        }
        other => other,
    }
}

/// The token of a participation's public card link: its id and a keyed tag, so card links
/// cannot be made up or walked through.
pub fn card_token(st: &Context, participant_id: i64) -> String {
    let tag = st.store.keys().token_tag(&format!("card {participant_id}"));
    format!("{participant_id}-{}", hex::encode(&tag[..10]))
}

/// What anyone holding a card's link may see: the masked name and the last month protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicCard {
    pub masked_name: String,
    pub protected_until: Option<Month>,
    /// Whether this month is covered (paid).
    pub protected_now: bool,
}

/// The participation and its protection of a participant's own card.
pub async fn protection(st: &Context, p: &Participant) -> Result<Option<Month>, AppError> {
    let ledger = st.store.ledger(p.id).await?;
    let facts = cakupan_store::ledger::facts(
        p.registration.segment,
        Month::of(p.registration.registered_on),
        &ledger,
    );
    Ok(cakupan_domain::coverage::protected_until(&facts))
}

/// Opens a public card link (no sign-in). A wrong tag and an unknown id are the same
/// `NotFound`. Each opening is audited (a read of masked personal data by the public).
pub async fn public_card(
    st: &Context,
    token: &str,
    request_id: &str,
) -> Result<PublicCard, AppError> {
    let missing = || AppError::NotFound("no such card".into());
    let (id, tag) = token.trim().split_once('-').ok_or_else(missing)?;
    let id: i64 = id.parse().map_err(|_| missing())?;
    if !cakupan_store::enrolment::same_hash(&card_token(st, id), &format!("{id}-{tag}")) {
        return Err(missing());
    }
    let p = st.store.participant(id).await?.ok_or_else(missing)?;
    let until = protection(st, &p).await?;
    let public = Principal {
        user_id: 0,
        username: "public".into(),
        role: Role::Participant,
        region: RegionCode::NATION,
        agent_code: None,
        nik: None,
        employer_code: None,
    };
    st.store
        .append_audit(&[audit_entry(
            &public,
            request_id,
            "card.read",
            format!("participant:{id}"),
            "card_check",
        )])
        .await?;
    Ok(PublicCard {
        masked_name: cakupan_domain::enrolment::masked_name(&p.registration.name),
        protected_now: until.is_some_and(|m| m >= Month::of((st.today)())),
        protected_until: until,
    })
}

/// The self-registration funnel of an area, week by week over the policy's window.
pub async fn funnel(
    st: &Context,
    who: &Principal,
    region: RegionCode,
) -> Result<Vec<FunnelWeek>, AppError> {
    allow(who, Action::ReadAggregates, &Resource::Region(region))?;
    let weeks = policy(st)?.funnel_weeks;
    let today = (st.today)();
    let since = today.saturating_sub(time::Duration::days(7 * i64::from(weeks.saturating_sub(1))));
    let monday = since.saturating_sub(time::Duration::days(i64::from(
        since.weekday().number_days_from_monday(),
    )));
    Ok(st.store.funnel(region, monday, today).await?)
}

/// The participations of an area whose NIK warnings wait for the branch's review.
pub async fn reviews(
    st: &Context,
    who: &Principal,
    request_id: &str,
    region: RegionCode,
) -> Result<Vec<Participant>, AppError> {
    allow(who, Action::ReviewRequests, &Resource::Region(region))?;
    let list = st.store.to_review(region, 200).await?;
    let entries: Vec<_> = list
        .iter()
        .map(|p| {
            audit_entry(
                who,
                request_id,
                "participant.read",
                format!("participant:{}", p.id),
                "review",
            )
        })
        .collect();
    st.store.append_audit(&entries).await?;
    Ok(list)
}

/// Clears a participation's NIK warnings as reviewed, or corrects its birth date and sex
/// first (kept as a correction decided by the reviewer, validated like a registration; the
/// NIK's warnings are computed again). Reviewing again is a safe retry.
pub async fn review(
    st: &Context,
    who: &Principal,
    request_id: &str,
    participant_id: i64,
    corrected: Option<(&str, &str)>,
) -> Result<(), AppError> {
    let p = st
        .store
        .participant(participant_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no participant {participant_id}")))?;
    allow(
        who,
        Action::ReviewRequests,
        &Resource::Region(p.registration.village),
    )?;
    let now = cakupan_store::clock::now_secs();
    if let Some((birth_date, sex)) = corrected {
        let mut input = p.registration.to_input();
        input.birth_date = birth_date.trim().to_string();
        input.sex = sex.trim().to_string();
        let ctx = cakupan_domain::participants::Context {
            regions: &st.regions,
            rules: &st.rules,
            today: (st.today)(),
        };
        let (reg, _) =
            cakupan_domain::participants::validate(&ctx, &input).map_err(AppError::Invalid)?;
        for (field, before, after) in [
            (
                "birth_date",
                cakupan_domain::month::format_date(p.registration.birth_date),
                input.birth_date.clone(),
            ),
            ("sex", p.registration.sex.to_string(), input.sex.clone()),
        ] {
            if before == after {
                continue;
            }
            decided_correction(
                st,
                &p,
                (field, &after),
                (
                    "NIK warning reviewed by the branch",
                    "corrected after checking the KTP",
                ),
                &who.username,
                reg.clone(),
            )
            .await?;
        }
    }
    st.store.clear_review(p.id, &who.username, now).await?;
    audit(
        st,
        who,
        request_id,
        "participant.review",
        format!("participant:{}", p.id),
        "review",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_digits() {
        for _ in 0..200 {
            let c = draw_code(6).unwrap();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn a_code_hash_needs_the_key() {
        assert_ne!(code_hash("k1", "123456"), code_hash("k2", "123456"));
        assert_eq!(code_hash("k1", " 123456 "), code_hash("k1", "123456"));
    }

    #[test]
    fn identifiers() {
        assert!(matches!(ident("3273 0152 0390 0003"), Ok(Ident::Nik(_))));
        assert!(ident("12345").is_err());
    }
}
