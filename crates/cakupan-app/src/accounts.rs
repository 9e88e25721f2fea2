//! Accounts' operations: passwords (change, reset), disabling, ending sessions, second
//! factors and recovery codes, each checked and audited; the API, the pages and the CLI call
//! them.

use crate::Context;
use crate::auth::Auth;
use crate::error::AppError;
use cakupan_domain::FieldError;
use cakupan_domain::access::Principal;
use cakupan_store::accounts::{AuditEntry, UserRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A one-time password: 18 random bytes as lower-case letters and digits in groups of six
/// (about 108 bits, easy to read aloud), never stored.
pub fn one_time_password() -> Result<String, String> {
    let mut b = [0u8; 18];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    Ok(b.iter()
        .map(|x| char::from(ALPHABET[usize::from(*x) % ALPHABET.len()]))
        .collect::<Vec<_>>()
        .chunks(6)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

pub fn busy(b: crate::auth::Busy) -> AppError {
    AppError::Busy {
        message: "the server is checking too many passwords at once: try again in a moment".into(),
        retry_after_secs: b.retry_after.as_secs().max(1),
    }
}

/// Hashes a new password within the hashing budget.
pub async fn hash(st: &Context, password: String) -> Result<String, AppError> {
    st.auth
        .hash(password)
        .await
        .map_err(busy)?
        .map_err(AppError::Internal)
}

pub async fn audit(
    st: &Context,
    by: &Principal,
    request_id: &str,
    action: &str,
    user: &UserRow,
) -> Result<(), AppError> {
    let entry: AuditEntry = crate::auth::audit_entry(
        by,
        request_id,
        action,
        format!("user:{}", user.id),
        "access",
    );
    st.store.append_audit(&[entry]).await?;
    Ok(())
}

/// The account named `username`, for an administrator.
pub async fn account(st: &Context, by: &Principal, username: &str) -> Result<UserRow, AppError> {
    crate::auth::authorize_admin(by)?;
    st.store
        .user_by_username(&username.trim().to_lowercase())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no account is named {}", username.trim())))
}

/// Checks a signed-in user's password again before a sensitive change, as signing in does:
/// within the hashing budget and under the sign-in limits (so a stolen session cannot guess
/// it); a wrong one is audited as `refused` and answered `password.current`.
pub async fn confirm_password(
    st: &Context,
    who: &Principal,
    request_id: &str,
    user: &UserRow,
    ip: &str,
    password: String,
    refused: &str,
) -> Result<(), AppError> {
    let cost = crate::auth::Cost::of_stored(&user.password_hash).unwrap_or(st.auth.cost);
    let permit = st.auth.hashing_permit(cost).map_err(busy)?;
    let reserved = st
        .auth
        .reserve(&user.username, ip)
        .map_err(|l| AppError::TooManyAttempts {
            message: format!(
                "too many wrong passwords for {}: try again in {} minute(s)",
                l.what,
                l.retry_after.as_secs().div_ceil(60)
            ),
            retry_after_secs: l.retry_after.as_secs().max(1),
        })?;
    if !Auth::verify(permit, user.password_hash.clone(), password).await {
        audit(st, who, request_id, refused, user).await?;
        return Err(AppError::Invalid(
            FieldError::new(
                "current_password",
                "password.current",
                "the current password is not right",
            )
            .into(),
        ));
    }
    st.auth.succeeded(&user.username, ip, reserved);
    Ok(())
}

/// Changes `who`'s own password: the current one is checked (under the sign-in limits, so a
/// stolen session cannot guess it), the new one must pass the password rules, and every
/// other session of the account ends (`keep`, this session's token hash, stays).
pub async fn change_own_password(
    st: &Context,
    who: &Principal,
    request_id: &str,
    keep: Option<&str>,
    ip: &str,
    current: String,
    new: &str,
) -> Result<(), AppError> {
    let user = st
        .store
        .user_by_username(&who.username)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("the account no longer exists".into()))?;
    cakupan_domain::password::check("new_password", new, &user.username, &st.auth.policy)
        .map_err(|e| AppError::Invalid(e.into()))?;
    let same = current == new;
    confirm_password(
        st,
        who,
        request_id,
        &user,
        ip,
        current,
        "user.password_change_refused",
    )
    .await?;
    // Compared as typed: a second hash here would run outside the hashing budget.
    if same {
        return Err(AppError::Invalid(
            FieldError::new(
                "new_password",
                "password.same",
                "the new password must differ from the current one",
            )
            .into(),
        ));
    }
    let hashed = hash(st, new.to_string()).await?;
    st.store.set_password(user.id, &hashed, false).await?;
    st.store.end_sessions(user.id, keep).await?;
    audit(st, who, request_id, "user.password_changed", &user).await
}

/// Resets an account's password to a one-time one (returned once, never stored) that must be
/// changed at the next sign-in; the account's sessions end.
pub async fn reset_password(
    st: &Context,
    by: &Principal,
    request_id: &str,
    username: &str,
) -> Result<String, AppError> {
    let user = account(st, by, username).await?;
    let password = one_time_password().map_err(AppError::Internal)?;
    let hashed = hash(st, password.clone()).await?;
    st.store.set_password(user.id, &hashed, true).await?;
    st.store.end_sessions(user.id, None).await?;
    audit(st, by, request_id, "user.password_reset", &user).await?;
    Ok(password)
}

/// Disables (and ends the sessions of) or enables an account.
pub async fn set_disabled(
    st: &Context,
    by: &Principal,
    request_id: &str,
    username: &str,
    disabled: bool,
) -> Result<u64, AppError> {
    let user = account(st, by, username).await?;
    if disabled && user.id == by.user_id {
        return Err(AppError::Invalid(
            FieldError::new(
                "username",
                "user.self",
                "an administrator cannot disable their own account",
            )
            .into(),
        ));
    }
    st.store.set_disabled(user.id, disabled).await?;
    let ended = if disabled {
        st.store.end_sessions(user.id, None).await?
    } else {
        0
    };
    let action = if disabled {
        "user.disabled"
    } else {
        "user.enabled"
    };
    audit(st, by, request_id, action, &user).await?;
    Ok(ended)
}

/// Ends every session of an account (a lost phone, a shared computer).
pub async fn end_sessions(
    st: &Context,
    by: &Principal,
    request_id: &str,
    username: &str,
) -> Result<u64, AppError> {
    let user = account(st, by, username).await?;
    let ended = st.store.end_sessions(user.id, None).await?;
    audit(st, by, request_id, "user.sessions_ended", &user).await?;
    Ok(ended)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetBody {
    /// The one-time password, shown once: hand it over in person.
    pub password: String,
    pub must_change_password: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

/// The issuer an authenticator app shows next to the account.
pub const TOTP_ISSUER: &str = "Cakupan";

pub fn totp_for(secret: Vec<u8>, username: &str) -> Result<totp_rs::TOTP, AppError> {
    // RFC 6238 as authenticator apps expect it: SHA-1, 6 digits, 30-second steps, one step of
    // clock drift either way.
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        Some(TOTP_ISSUER.into()),
        username.replace(':', "_"),
    )
    .map_err(|e| AppError::Internal(format!("TOTP: {e}")))
}

/// A recovery code as stored: SHA-256 of the user and the code (the codes are random, about 60
/// bits each, so a plain hash is not a dictionary).
pub fn recovery_hash(user_id: i64, code: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"cakupan recovery code\0");
    h.update(user_id.to_be_bytes());
    h.update(
        code.trim()
            .to_ascii_lowercase()
            .replace([' ', '-'], "")
            .as_bytes(),
    );
    hex::encode(h.finalize())
}

/// A second factor just set up: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret to type into an authenticator app (base 32).
    pub secret: String,
    /// The same as an `otpauth://` address (what a QR code would carry).
    pub otpauth_url: String,
    /// One-time codes for when the phone is lost: each signs in once instead of a TOTP code.
    pub recovery_codes: Vec<String>,
}

/// Sets up (or replaces) a TOTP second factor for `user`: a new secret, sealed in the store,
/// and new recovery codes; the old ones stop working.
pub async fn enrol(st: &Context, user: &UserRow) -> Result<TotpEnrolment, AppError> {
    let mut secret = vec![0u8; 20];
    getrandom::fill(&mut secret).map_err(|e| AppError::Internal(e.to_string()))?;
    let totp = totp_for(secret.clone(), &user.username)?;
    let encoded = totp.get_secret_base32();
    let sealed = st
        .store
        .keys()
        .seal("users", user.id, "totp_secret", &encoded)?;
    let mut codes = Vec::new();
    for _ in 0..st.auth.policy.recovery_codes {
        let c = one_time_password().map_err(AppError::Internal)?;
        codes.push(c.chars().take(13).collect::<String>());
    }
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(user.id, c)).collect();
    st.store.set_totp(user.id, Some(&sealed), &hashes).await?;
    Ok(TotpEnrolment {
        secret: encoded,
        otpauth_url: totp.get_url(),
        recovery_codes: codes,
    })
}

/// Whether `user`'s role must sign in with a second factor.
pub fn second_factor_required(st: &Context, user: &UserRow) -> bool {
    st.auth
        .policy
        .second_factor_roles
        .iter()
        .any(|r| r == &user.role)
}

/// Checks the second factor of a sign-in whose password was right: a TOTP code (each time
/// step good once) or an unspent recovery code. `Err` says what is missing: a user of a role
/// that must have one and has none cannot sign in until an administrator sets it up.
pub async fn check_second_factor(
    st: &Context,
    user: &UserRow,
    code: Option<&str>,
) -> Result<(), AppError> {
    let Some(sealed) = st.store.totp_secret(user.id).await? else {
        if second_factor_required(st, user) {
            return Err(AppError::SecondFactor {
                error: "second_factor_not_set_up",
                message: "this role signs in with a second factor, and this account has none yet: ask an administrator to set it up (cakupan user totp)".into(),
            });
        }
        return Ok(());
    };
    let code = code
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AppError::SecondFactor {
            error: "second_factor_required",
            message: "send the code of your authenticator app (or a recovery code) as totp".into(),
        })?;
    let wrong = || AppError::SecondFactor {
        error: "second_factor_wrong",
        message: "wrong or already used code".into(),
    };
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let encoded = st
            .store
            .keys()
            .open("users", user.id, "totp_secret", &sealed)?;
        let secret = totp_rs::Secret::Encoded(encoded)
            .to_bytes()
            .map_err(|e| AppError::Internal(format!("TOTP secret: {e:?}")))?;
        let totp = totp_for(secret, &user.username)?;
        // Real time: the authenticator app's clock, not a day set for tests.
        let now = u64::try_from(cakupan_store::clock::wall_secs()).unwrap_or(0);
        for off in [-30i64, 0, 30] {
            let at = now.saturating_add_signed(off);
            if crate::auth::same_secret(totp.generate(at).as_bytes(), code.as_bytes()) {
                let step = i64::try_from(at / 30).unwrap_or(i64::MAX);
                return if st.store.advance_totp_step(user.id, step).await? {
                    Ok(())
                } else {
                    Err(wrong())
                };
            }
        }
        return Err(wrong());
    }
    if st
        .store
        .use_recovery_code(
            user.id,
            &recovery_hash(user.id, code),
            cakupan_store::clock::now_secs(),
        )
        .await?
    {
        Ok(())
    } else {
        Err(wrong())
    }
}

/// Sets up a second factor for `username` (administrators, or the command line).
pub async fn enrol_totp(
    st: &Context,
    by: &Principal,
    request_id: &str,
    username: &str,
) -> Result<TotpEnrolment, AppError> {
    let user = account(st, by, username).await?;
    let e = enrol(st, &user).await?;
    audit(st, by, request_id, "user.totp_set", &user).await?;
    Ok(e)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpRequest {
    /// Your password again: setting up a second factor is as sensitive as changing it.
    pub current_password: String,
}

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A new account, as an administrator gives it (the API's body, the page's form, the
/// command's flags). Empty optional fields count as absent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// 3 to 64 letters, digits or `. _ - @`; stored in lower case.
    pub username: String,
    /// `admin`, `analyst`, `branch_officer`, `agent`, `village_official`, `participant` or
    /// `employer`.
    pub role: String,
    /// The region the account works in (a Kemendagri code): none for head office, a village
    /// for a village official, none for an employer's staff (their employer's region).
    #[serde(default)]
    pub region: Option<String>,
    /// Agents: their agent code.
    #[serde(default)]
    pub agent_code: Option<String>,
    /// Participants: their NIK (only its blind index is kept with the account).
    #[serde(default)]
    pub nik: Option<String>,
    /// Employers' staff: their employer's NIB.
    #[serde(default)]
    pub employer: Option<String>,
}

/// What creating an account answers: the password, shown once and never stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAccount {
    pub username: String,
    pub role: String,
    /// Generated unless one was given; shown once.
    #[schema(value_type = Option<String>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A generated password must be changed at the first sign-in.
    pub must_change_password: bool,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Creates an account (administrators). Every problem of the form is answered at once, each
/// naming its field and rule. Without `password` one is generated (about 108 bits), returned
/// once and must be changed at the first sign-in; with one (the command line's password
/// file) it must meet the password policy. Audited as `user.add`.
pub async fn create_account(
    st: &Context,
    by: &Principal,
    request_id: &str,
    new: &NewAccount,
    password: Option<String>,
) -> Result<CreatedAccount, AppError> {
    use cakupan_domain::access::{Capability, Role};
    use cakupan_domain::{FieldErrors, RegionCode};
    crate::auth::authorize_admin(by)?;
    let mut errs = FieldErrors::default();
    let username = new.username.trim().to_lowercase();
    if username.len() < 3
        || username.len() > 64
        || !username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
    {
        errs.push(FieldError::new(
            "username",
            "username.format",
            "3 to 64 letters, digits or . _ - @",
        ));
    }
    let Some(role) = Role::parse(&new.role) else {
        errs.push(FieldError::new(
            "role",
            "role.value",
            "one of admin, analyst, branch_officer, agent, village_official, participant, employer",
        ));
        return Err(AppError::Invalid(errs));
    };
    let employer = match given(&new.employer) {
        Some(code) => {
            let e = st.store.employer(code).await?;
            if e.is_none() {
                errs.push(FieldError::new(
                    "employer",
                    "employer.unknown",
                    "no employer is registered with this NIB",
                ));
            }
            e
        }
        None => None,
    };
    if role.can(Capability::ActsForEmployer) != given(&new.employer).is_some() {
        errs.push(FieldError::new(
            "employer",
            "employer.role",
            "required for employers' staff and only for them",
        ));
    }
    let region = match (given(&new.region), &employer) {
        (Some(_), Some(_)) => {
            errs.push(FieldError::new(
                "region",
                "region.role_scope",
                "an employer's staff work in their employer's region; give none",
            ));
            None
        }
        (None, Some(e)) => Some(e.region),
        (None, None) => Some(RegionCode::NATION),
        (Some(r), None) => match RegionCode::parse(r) {
            Err(e) => {
                errs.push(FieldError::new("region", "region.format", e.to_string()));
                None
            }
            Ok(c) if !st.regions.contains_code(c) => {
                errs.push(
                    FieldError::new(
                        "region",
                        "region.unknown",
                        format!("{c} is not in the Kemendagri region list"),
                    )
                    .with_args([c.to_string()]),
                );
                None
            }
            Ok(c) => Some(c),
        },
    };
    if let Some(r) = region
        && let Err(m) = role.check_scope(r)
    {
        errs.push(FieldError::new("region", "region.role_scope", m));
    }
    let agent_code = given(&new.agent_code);
    if role.can(Capability::FieldAgent) != agent_code.is_some() {
        errs.push(FieldError::new(
            "agent_code",
            "agent_code.role",
            "required for agents and only for them",
        ));
    }
    let nik = match given(&new.nik) {
        Some(n) => match cakupan_domain::Nik::parse(n) {
            Ok(n) => Some(st.store.nik_index(&n)),
            Err(e) => {
                errs.push(FieldError::new("nik", e.rule(), e.to_string()));
                None
            }
        },
        None => None,
    };
    if role.can(Capability::OwnRecord) != given(&new.nik).is_some() {
        errs.push(FieldError::new(
            "nik",
            "nik.role",
            "required for participants and only for them",
        ));
    }
    let generated = password.is_none();
    let password = match password {
        Some(p) => {
            if let Err(e) =
                cakupan_domain::password::check("password", &p, &username, &st.auth.policy)
            {
                errs.push(e);
            }
            p
        }
        None => one_time_password().map_err(AppError::Internal)?,
    };
    let region = match region {
        Some(r) if errs.is_empty() => r,
        _ => return Err(AppError::Invalid(errs)),
    };
    let hashed = hash(st, password.clone()).await?;
    let id = st
        .store
        .create_user(
            &cakupan_store::accounts::NewUser {
                username: username.clone(),
                password_hash: hashed.clone(),
                role,
                region,
                agent_code: agent_code.map(String::from),
                nik_index: nik,
                employer_code: employer.map(|e| e.code),
            },
            crate::auth::now_secs(),
        )
        .await?;
    if generated {
        st.store.set_password(id, &hashed, true).await?;
    }
    st.store
        .append_audit(&[crate::auth::audit_entry(
            by,
            request_id,
            "user.add",
            format!("user:{id}"),
            "administration",
        )])
        .await?;
    Ok(CreatedAccount {
        username,
        role: role.as_str().into(),
        password: generated.then_some(password),
        must_change_password: generated,
    })
}
