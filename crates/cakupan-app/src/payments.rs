//! Payments through the channels Indonesians use (issue #19): the payment code of a
//! participation, from the biller rule in force today.

pub mod settlement;
pub mod snap;

use crate::Context;
use cakupan_domain::Month;
use cakupan_domain::kpj::Kpj;
use cakupan_domain::payments::{Payee, VirtualAccount};
use cakupan_store::Participant;

/// The payment code (virtual account) of participation `p`, under the biller rule in force
/// today; none when no rule is in force or the KPJ does not parse (neither happens with the
/// built-in rules and stored participations).
pub fn code_of(st: &Context, p: &Participant) -> Option<VirtualAccount> {
    code_of_kpj(st, &p.kpj)
}

/// The payment code of the participation with KPJ `kpj`, as [`code_of`].
pub fn code_of_kpj(st: &Context, kpj: &str) -> Option<VirtualAccount> {
    let biller = st.rules.biller(Month::of((st.today)()))?;
    let kpj = Kpj::parse(kpj).ok()?;
    Some(VirtualAccount::of(biller, Payee::Participation(kpj)))
}

/// The payment code (virtual account) of employer invoice `invoice_id`: what the employer
/// quotes at a bank to pay it (and the dues older than it, which are settled first).
pub fn invoice_code(st: &Context, invoice_id: i64) -> Option<VirtualAccount> {
    let biller = st.rules.biller(Month::of((st.today)()))?;
    Some(VirtualAccount::of(biller, Payee::Invoice(invoice_id)))
}

/// What a payer is asked for a number of months: the first unpaid month, each month's dues
/// under the rules in force for it (discounts included), and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub first_month: Month,
    pub per_month: Vec<(Month, cakupan_domain::Rupiah)>,
    pub total: cakupan_domain::Rupiah,
}

/// The contribution profile of a participation (what its dues depend on).
pub fn profile_of(p: &Participant) -> cakupan_domain::contribution::Profile {
    let r = &p.registration;
    cakupan_domain::contribution::Profile {
        segment: r.segment,
        income_base: r.income_base,
        programmes: r.programmes,
        sector: r.sector,
        budget_funded: r.budget_funded,
        risk_class: None,
    }
}

/// The month a new payment starts from: right after the last paid month while the
/// participation is still active or in arrears, else the current month (no back-payment of
/// lapsed months, DOMAIN.md §2.2).
pub fn next_month(
    st: &Context,
    p: &Participant,
    ledger: &[cakupan_store::ledger::LedgerRow],
) -> Month {
    use cakupan_domain::coverage::{Status, series};
    let now = Month::of((st.today)());
    let r = &p.registration;
    let facts = cakupan_store::ledger::facts(r.segment, Month::of(r.registered_on), ledger);
    let months =
        series(&st.rules, &facts, Month::of(r.registered_on), now.plus(24)).unwrap_or_default();
    let last_paid = months
        .iter()
        .filter(|m| m.status == Status::Active)
        .map(|m| m.month)
        .max();
    // Still protected or in arrears this month (the coverage rule's own judgement): go on
    // from the last paid month.
    let standing = months.iter().find(|m| m.month == now).map(|m| m.status);
    match (last_paid, standing) {
        (Some(l), Some(Status::Active | Status::InArrears)) => l.plus(1),
        _ => now.max(Month::of(r.registered_on)),
    }
}

/// The numbers of months participation `p` may pay for at once (`payment_periods` in force
/// today for its segment; one month where no row says otherwise).
pub fn periods(st: &Context, p: &Participant) -> Vec<u32> {
    st.rules
        .payment_periods(p.registration.segment, Month::of((st.today)()))
        .map(|r| r.months.clone())
        .unwrap_or_else(|| vec![1])
}

/// What participation `p` owes for its next `months` unpaid months: `months` must be one of
/// the payment periods in force for its segment (`rules/bpu.toml`, `payment_periods`), so a
/// payment code can only be asked an amount the rules allow.
pub async fn next_due(st: &Context, p: &Participant, months: u32) -> Result<Due, crate::AppError> {
    use cakupan_domain::FieldError;
    let periods = periods(st, p);
    if !periods.contains(&months) {
        let list: Vec<String> = periods.iter().map(u32::to_string).collect();
        return Err(crate::AppError::Invalid(
            FieldError::new(
                "months",
                "months.period",
                format!("months must be one of {}", list.join(", ")),
            )
            .into(),
        ));
    }
    let ledger = st.store.ledger(p.id).await?;
    dues_from(st, p, next_month(st, p, &ledger), months).map_err(crate::AppError::Invalid)
}

/// What `months` months from `first_month` cost participation `p`.
fn dues_from(
    st: &Context,
    p: &Participant,
    first_month: Month,
    months: u32,
) -> Result<Due, cakupan_domain::FieldErrors> {
    let per_month =
        cakupan_domain::contribution::dues(&st.rules, &profile_of(p), first_month, months)?;
    let total = cakupan_domain::Rupiah(per_month.iter().map(|(_, r)| r.0).sum());
    Ok(Due {
        first_month,
        per_month,
        total,
    })
}

/// What participation `p` owes for each period the rules allow, its ledger read once.
pub async fn offers(st: &Context, p: &Participant) -> Result<Vec<(u32, Due)>, crate::AppError> {
    let ledger = st.store.ledger(p.id).await?;
    let first = next_month(st, p, &ledger);
    Ok(periods(st, p)
        .into_iter()
        .filter_map(|m| dues_from(st, p, first, m).ok().map(|d| (m, d)))
        .collect())
}

// ---- Channel partners (issue #19 item 2) --------------------------------------------------

use cakupan_domain::Rupiah;
use cakupan_domain::access::{Action, Principal, Resource};
use cakupan_store::payments::{
    ChannelOutcome, ChannelPayee, ChannelPayment, ChannelRecord, Partner, PartnerSummary,
};
use snap::{Headers, Service, SnapError};

/// A partner as an administrator enters it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartner {
    pub code: String,
    pub name: String,
    /// `bank`, `aggregator`, `minimarket`, `ewallet` or `post`.
    pub kind: String,
    pub settlement_account: String,
    /// Rupiah per transaction the partner charges; 0 when none.
    #[serde(default)]
    pub fee: i64,
    /// The partner's RSA public key (PEM, at least 2048 bits).
    pub public_key: String,
    /// The client secret agreed with the partner for transaction signatures (at least 32
    /// characters).
    pub client_secret: String,
}

/// Adds a channel partner (head office): its details checked, its credentials sealed,
/// audited. The same partner again changes nothing (`false`).
pub async fn add_partner(
    st: &Context,
    who: &Principal,
    request_id: &str,
    p: &NewPartner,
) -> Result<bool, crate::AppError> {
    use cakupan_domain::FieldError;
    crate::auth::allow(who, Action::Administer, &Resource::System)?;
    let details = cakupan_domain::payments::PartnerDetails {
        code: &p.code,
        name: &p.name,
        kind: &p.kind,
        settlement_account: &p.settlement_account,
        fee: p.fee,
    };
    let mut errors = match cakupan_domain::payments::check_partner(&details) {
        Ok(()) => cakupan_domain::FieldErrors::default(),
        Err(e) => e,
    };
    if let Err(why) = snap::public_key(&p.public_key) {
        errors.push(FieldError::new("public_key", "partner.public_key", why));
    }
    if p.client_secret.trim().chars().count() < 32 {
        errors.push(FieldError::new(
            "client_secret",
            "partner.client_secret",
            "the client secret is at least 32 characters",
        ));
    }
    if !errors.is_empty() {
        return Err(crate::AppError::Invalid(errors));
    }
    let partner = Partner {
        code: p.code.clone(),
        name: p.name.trim().to_string(),
        kind: p.kind.trim().to_string(),
        settlement_account: p.settlement_account.trim().to_string(),
        fee: Rupiah(p.fee),
        public_key: p.public_key.trim().to_string(),
        client_secret: p.client_secret.trim().to_string(),
        active: true,
    };
    let added = st.store.add_partner(&partner, &who.username).await?;
    if added {
        crate::auth::audit(
            st,
            who,
            request_id,
            "partner.add",
            format!("partner:{}", p.code),
            "payments",
        )
        .await?;
    }
    Ok(added)
}

/// Switches a partner on or off (head office), audited.
pub async fn set_partner_active(
    st: &Context,
    who: &Principal,
    request_id: &str,
    code: &str,
    active: bool,
) -> Result<(), crate::AppError> {
    crate::auth::allow(who, Action::Administer, &Resource::System)?;
    if !st.store.set_partner_active(code, active).await? {
        return Err(crate::AppError::NotFound(format!(
            "no partner has code {code}"
        )));
    }
    crate::auth::audit(
        st,
        who,
        request_id,
        if active {
            "partner.activate"
        } else {
            "partner.deactivate"
        },
        format!("partner:{code}"),
        "payments",
    )
    .await
}

/// The partners (head office and branch finance), without credentials.
pub async fn partners(
    st: &Context,
    who: &Principal,
) -> Result<Vec<PartnerSummary>, crate::AppError> {
    crate::auth::allow(who, Action::Reconcile, &Resource::Region(who.region))?;
    Ok(st.store.partners().await?)
}

// ---- The biller endpoints (issue #19 item 3) ----------------------------------------------

/// A store failure as SNAP's general error (the detail goes to the log).
fn general(s: Service) -> impl Fn(cakupan_store::StoreError) -> SnapError {
    move |e| {
        tracing::error!("snap {}: {e}", s.code());
        SnapError::general(s)
    }
}

/// The rule of the biller in force today, or a general error.
fn biller(st: &Context, s: Service) -> Result<cakupan_domain::rules::BillerRule, SnapError> {
    st.rules
        .biller(Month::of((st.today)()))
        .cloned()
        .ok_or_else(|| {
            tracing::error!("no biller rule in force (rules/payments.toml)");
            SnapError::general(s)
        })
}

/// A header SNAP makes mandatory, or `400xx02` naming it.
fn required<'a>(s: Service, value: &'a Option<String>, name: &str) -> Result<&'a str, SnapError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| SnapError::mandatory(s, name))
}

/// The request's timestamp, within the biller's skew of our clock.
fn timestamp(
    s: Service,
    h: &Headers,
    b: &cakupan_domain::rules::BillerRule,
) -> Result<(String, time::OffsetDateTime), SnapError> {
    let ts = required(s, &h.timestamp, "X-TIMESTAMP")?;
    let at = snap::parse_timestamp(ts).ok_or_else(|| SnapError::invalid_field(s, "X-TIMESTAMP"))?;
    let skew = (cakupan_store::clock::now() - at).whole_seconds().abs();
    if skew > i64::from(b.timestamp_skew_secs) {
        return Err(SnapError::unauthorized(
            s,
            &format!(
                "X-TIMESTAMP is more than {} seconds from our clock",
                b.timestamp_skew_secs
            ),
        ));
    }
    Ok((ts.to_string(), at))
}

/// What the access-token service answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAnswer {
    pub response_code: String,
    pub response_message: String,
    pub access_token: String,
    pub token_type: String,
    pub expires_in: String,
}

/// `POST /snap/v1.0/access-token/b2b`: a partner proves itself with its RSA key
/// (`X-SIGNATURE` = SHA256withRSA of `X-CLIENT-KEY|X-TIMESTAMP`) and gets a token for the
/// biller's lifetime.
pub async fn access_token(
    st: &Context,
    h: &Headers,
    body: &[u8],
) -> Result<TokenAnswer, SnapError> {
    let s = Service::Token;
    let b = biller(st, s)?;
    let (ts, _) = timestamp(s, h, &b)?;
    let client = required(s, &h.client_key, "X-CLIENT-KEY")?;
    let sig = required(s, &h.signature, "X-SIGNATURE")?;
    let req: snap::TokenRequest = snap::parse_body(s, body)?;
    if req.grant_type != "client_credentials" {
        return Err(SnapError::invalid_field(s, "grantType"));
    }
    // An unknown or switched-off partner and a wrong signature get the same answer.
    let partner = st.store.partner(client).await.map_err(general(s))?;
    let holds = partner.as_ref().filter(|p| p.active).is_some_and(|p| {
        snap::public_key(&p.public_key).is_ok_and(|key| {
            snap::token_signature_holds(&key, &snap::token_string_to_sign(client, &ts), sig)
        })
    });
    if !holds {
        return Err(SnapError::unauthorized(s, "Signature"));
    }
    let expires = cakupan_store::clock::now_secs() + i64::from(b.token_lifetime_secs);
    Ok(TokenAnswer {
        response_code: snap::success(s),
        response_message: "Successful".into(),
        access_token: snap::mint_token(st.store.keys(), client, expires),
        token_type: "Bearer".into(),
        expires_in: b.token_lifetime_secs.to_string(),
    })
}

/// A transaction request checked: its partner, day and body.
struct Checked {
    partner: Partner,
    external_id: String,
    day: time::Date,
}

/// Checks a transaction request: the token (and that it is the partner's who signs), the
/// timestamp, the HMAC-SHA512 signature over method, path, token, body hash and timestamp,
/// and the mandatory headers.
async fn check_request(
    st: &Context,
    s: Service,
    h: &Headers,
    path: &str,
    body: &[u8],
) -> Result<Checked, SnapError> {
    let b = biller(st, s)?;
    let token = h
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .ok_or_else(|| SnapError::invalid_token(s))?;
    let partner_code =
        snap::token_partner(st.store.keys(), token, cakupan_store::clock::now_secs())
            .ok_or_else(|| SnapError::invalid_token(s))?;
    let (ts, at) = timestamp(s, h, &b)?;
    let sig = required(s, &h.signature, "X-SIGNATURE")?;
    let partner_id = required(s, &h.partner_id, "X-PARTNER-ID")?;
    if partner_id != partner_code {
        return Err(SnapError::unauthorized(
            s,
            "X-PARTNER-ID is not the token's partner",
        ));
    }
    let external_id = required(s, &h.external_id, "X-EXTERNAL-ID")?.to_string();
    if external_id.len() > 36
        || !external_id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-')
    {
        return Err(SnapError::invalid_field(s, "X-EXTERNAL-ID"));
    }
    required(s, &h.channel_id, "CHANNEL-ID")?;
    let partner = st
        .store
        .partner_recent(&partner_code, b.partner_cache_secs)
        .await
        .map_err(general(s))?
        .filter(|p| p.active)
        .ok_or_else(|| SnapError::invalid_token(s))?;
    if snap::minify(body).is_none() {
        return Err(SnapError::bad_request(s, "The body is not JSON"));
    }
    let data = snap::string_to_sign("POST", path, token, body, &ts);
    if !snap::transaction_signature_holds(&partner.client_secret, &data, sig) {
        return Err(SnapError::unauthorized(s, "Signature"));
    }
    Ok(Checked {
        partner,
        external_id,
        day: at.date(),
    })
}

/// Claims a request's X-EXTERNAL-ID when the request writes nothing else (an inquiry, a
/// status inquiry, a retry answered from its record): a conflict when the partner used it
/// that day already.
async fn claim(st: &Context, s: Service, c: &Checked) -> Result<(), SnapError> {
    if st
        .store
        .claim_external_id(&st.rules, &c.partner.code, c.day, &c.external_id)
        .await
        .map_err(general(s))?
    {
        Ok(())
    } else {
        Err(SnapError::conflict(s))
    }
}

/// What a virtual account asks, as found.
enum Bill {
    /// A participation: its record and what each period the rules allow costs.
    Participation {
        participant: Box<Participant>,
        offers: Vec<(u32, Due)>,
    },
    /// An employer invoice: the employer (its NIB and name) and what is outstanding up to it.
    Invoice {
        invoice_id: i64,
        employer_code: String,
        employer_name: String,
        outstanding: Rupiah,
    },
}

/// The bill a virtual account names today.
async fn bill_of(st: &Context, s: Service, va: &str) -> Result<Bill, SnapError> {
    use cakupan_domain::payments::parse_virtual_account;
    let b = biller(st, s)?;
    let payee =
        parse_virtual_account(&b, va).map_err(|_| SnapError::bill_not_found(s, "[Not Found]"))?;
    match payee {
        Payee::Participation(kpj) => {
            let p = st
                .store
                .payer_by_kpj(&kpj.to_string())
                .await
                .map_err(general(s))?
                .ok_or_else(|| SnapError::bill_not_found(s, "[Not Found]"))?;
            if p.registration.segment != cakupan_domain::Segment::Bpu {
                return Err(SnapError::bill_not_found(
                    s,
                    "[A wage earner's contributions are billed to the employer]",
                ));
            }
            let offers = match offers(st, &p).await {
                Ok(o) => o,
                Err(crate::AppError::Store(e)) => return Err(general(s)(e)),
                Err(_) => Vec::new(),
            };
            if offers.is_empty() {
                return Err(SnapError::bill_not_found(
                    s,
                    "[Nothing can be paid on this account]",
                ));
            }
            Ok(Bill::Participation {
                participant: Box::new(p),
                offers,
            })
        }
        Payee::Invoice(id) => {
            let code = st
                .store
                .invoice_owner(id)
                .await
                .map_err(general(s))?
                .ok_or_else(|| SnapError::bill_not_found(s, "[Not Found]"))?;
            let account = st
                .store
                .employer_account(&code, (st.today)())
                .await
                .map_err(general(s))?
                .ok_or_else(|| SnapError::bill_not_found(s, "[Not Found]"))?;
            // Payments settle the oldest dues first: the code asks what is outstanding on its
            // invoice and every older one.
            let outstanding = account
                .invoices
                .iter()
                .filter(|i| i.head.id <= id)
                .map(|i| i.outstanding.0)
                .sum();
            Ok(Bill::Invoice {
                invoice_id: id,
                employer_code: code,
                employer_name: account.employer.name.clone(),
                outstanding: Rupiah(outstanding),
            })
        }
    }
}

pub use cakupan_domain::enrolment::masked_name;

fn months_reason(months: u32) -> snap::Reason {
    snap::Reason {
        english: format!(
            "Contributions for {months} month{}",
            if months == 1 { "" } else { "s" }
        ),
        indonesia: format!("Iuran {months} bulan"),
    }
}

/// A transaction request checked ([`check_request`]) and its body read: the partner and day,
/// the body, and its virtual account as sent and as digits (no padding), its three fields
/// checked against each other.
async fn checked<T>(
    st: &Context,
    s: Service,
    h: &Headers,
    path: &str,
    body: &[u8],
) -> Result<(Checked, T, String, String), SnapError>
where
    T: serde::de::DeserializeOwned + snap::VirtualAccountFields,
{
    let c = check_request(st, s, h, path, body).await?;
    let req: T = snap::parse_body(s, body)?;
    let (service_id, customer_no, va) = req.va_fields();
    if format!("{service_id}{customer_no}") != va {
        return Err(SnapError::invalid_field(s, "virtualAccountNo"));
    }
    let digits = va.chars().filter(|c| !c.is_whitespace()).collect();
    let va = va.trim().to_string();
    Ok((c, req, va, digits))
}

/// `POST /snap/v1.0/transfer-va/inquiry`: what a code asks now. A participation's answer
/// offers each period the rules allow as a bill (`billDetails`), the total being the months
/// asked in `additionalInfo.months` (one by default); the name is masked.
pub async fn inquiry(
    st: &Context,
    h: &Headers,
    path: &str,
    body: &[u8],
) -> Result<serde_json::Value, SnapError> {
    let s = Service::Inquiry;
    let (c, req, va, _) = checked::<snap::InquiryRequest>(st, s, h, path, body).await?;
    let bill = bill_of(st, s, &va).await?;
    let (name, total, details, info) = match &bill {
        Bill::Participation {
            participant,
            offers,
        } => {
            let want = req
                .additional_info
                .as_ref()
                .and_then(|a| a.months)
                .unwrap_or(offers[0].0);
            let chosen = offers
                .iter()
                .find(|(m, _)| *m == want)
                .ok_or_else(|| SnapError::invalid_field(s, "additionalInfo.months"))?;
            let details: Vec<snap::BillDetail> = offers
                .iter()
                .map(|(m, d)| snap::BillDetail {
                    bill_code: format!("{m:02}"),
                    bill_name: format!("{m}"),
                    bill_description: months_reason(*m),
                    bill_amount: snap::Amount::idr(d.total.0),
                })
                .collect();
            (
                masked_name(&participant.registration.name),
                chosen.1.total.0,
                details,
                serde_json::json!({"kpj": participant.kpj, "firstMonth": chosen.1.first_month.to_string(), "months": chosen.0}),
            )
        }
        Bill::Invoice {
            outstanding,
            employer_name,
            invoice_id,
            ..
        } => {
            if outstanding.0 <= 0 {
                return Err(SnapError::paid_bill(s));
            }
            // An employer's name is not personal data: shown whole, as a bank shows a biller.
            (
                employer_name.clone(),
                outstanding.0,
                Vec::new(),
                serde_json::json!({"invoicePaymentCode": cakupan_domain::employers::payment_code(*invoice_id)}),
            )
        }
    };
    claim(st, s, &c).await?;
    Ok(serde_json::json!({
        "responseCode": snap::success(s),
        "responseMessage": "Successful",
        "virtualAccountData": {
            "inquiryStatus": "00",
            "inquiryReason": {"english": "Success", "indonesia": "Sukses"},
            "partnerServiceId": req.partner_service_id,
            "customerNo": req.customer_no,
            "virtualAccountNo": req.virtual_account_no,
            "virtualAccountName": name,
            "inquiryRequestId": req.inquiry_request_id,
            "totalAmount": snap::Amount::idr(total),
            "billDetails": details,
            "additionalInfo": info,
        }
    }))
}

/// The answer to a payment recorded (now or before: a retry gets the same).
fn payment_answer(req: &snap::PaymentRequest, r: &ChannelRecord) -> serde_json::Value {
    serde_json::json!({
        "responseCode": snap::success(Service::Payment),
        "responseMessage": "Successful",
        "virtualAccountData": {
            "paymentFlagStatus": "00",
            "paymentFlagReason": {"english": "Success", "indonesia": "Sukses"},
            "partnerServiceId": req.partner_service_id,
            "customerNo": req.customer_no,
            "virtualAccountNo": req.virtual_account_no,
            "paymentRequestId": r.payment_request_id,
            "paidAmount": snap::Amount::idr(r.amount.0),
            "trxDateTime": r.trx_date_time,
            "referenceNo": r.partner_reference,
            "additionalInfo": {
                "receipt": r.receipt,
                "firstMonth": r.first_month.map(|m| m.to_string()),
                "months": r.months,
            },
        }
    })
}

/// The ledger reference of a channel payment: the partner and its payment request id.
pub fn posting_reference(partner: &str, payment_request_id: &str) -> String {
    format!("VA-{partner}-{payment_request_id}")
}

/// `POST /snap/v1.0/transfer-va/payment`: records the payment and posts it in one
/// transaction. Idempotent per partner and `paymentRequestId`: a retry (with a new
/// X-EXTERNAL-ID) gets the first answer; another code or amount under the same id is refused
/// as inconsistent; an amount that is not what the code asks now is refused with what it
/// asks.
pub async fn payment(
    st: &Context,
    h: &Headers,
    path: &str,
    body: &[u8],
) -> Result<serde_json::Value, SnapError> {
    let s = Service::Payment;
    let (c, req, va, digits) = checked::<snap::PaymentRequest>(st, s, h, path, body).await?;
    if req.payment_request_id.trim().is_empty() || req.payment_request_id.len() > 128 {
        return Err(SnapError::invalid_field(s, "paymentRequestId"));
    }
    let amount = req
        .paid_amount
        .rupiah()
        .filter(|a| *a > 0)
        .ok_or_else(|| SnapError::invalid_field(s, "paidAmount"))?;
    let paid_at = snap::parse_timestamp(&req.trx_date_time)
        .ok_or_else(|| SnapError::invalid_field(s, "trxDateTime"))?;
    let b = biller(st, s)?;
    let paid_on = paid_at
        .to_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC))
        .date();
    let today = (st.today)();
    let earliest = today - time::Duration::days(i64::from(b.trx_max_age_days));
    let ahead = (paid_at - cakupan_store::clock::now()).whole_seconds();
    if paid_on < earliest || ahead > i64::from(b.timestamp_skew_secs) {
        return Err(SnapError::invalid_field(s, "trxDateTime"));
    }
    let paid_on = paid_on.min(today);
    let reference = posting_reference(&c.partner.code, &req.payment_request_id);
    let wanted = req.additional_info.as_ref().and_then(|a| a.months);
    // A retry whose months are still asked is answered by the store, which finds the first
    // record in the payment's transaction; one whose bill has moved (the first payment paid
    // it) is answered from the record here.
    let payee = match payee_for(st, s, &c.partner, &va, amount, wanted, reference, paid_on).await {
        Ok(payee) => payee,
        Err(refused) => {
            let Some(first) = st
                .store
                .channel_payment(&c.partner.code, &req.payment_request_id)
                .await
                .map_err(general(s))?
            else {
                return Err(refused);
            };
            if first.virtual_account != digits || first.amount.0 != amount {
                return Err(SnapError::inconsistent(s));
            }
            claim(st, s, &c).await?;
            return Ok(payment_answer(&req, &first));
        }
    };
    let record = ChannelPayment {
        partner_code: c.partner.code.clone(),
        payment_request_id: req.payment_request_id.clone(),
        external_id: c.external_id.clone(),
        day: c.day,
        virtual_account: digits,
        amount: Rupiah(amount),
        paid_on,
        trx_date_time: req.trx_date_time.clone(),
        partner_reference: req.reference_no.clone(),
        payee,
    };
    match st.store.pay_channel(&st.rules, &record).await {
        Ok(ChannelOutcome::Paid(r) | ChannelOutcome::Repeat(r)) => Ok(payment_answer(&req, &r)),
        Ok(ChannelOutcome::Inconsistent(_)) => Err(SnapError::inconsistent(s)),
        Ok(ChannelOutcome::ExternalIdUsed) => Err(SnapError::conflict(s)),
        Ok(ChannelOutcome::NoLongerDue) => Err(SnapError::invalid_amount(
            s,
            "The months asked were paid through another channel: inquire again",
        )),
        Err(cakupan_store::StoreError::Rejected(e)) => {
            tracing::warn!("snap payment refused by the ledger: {e}");
            Err(SnapError::invalid_amount(
                s,
                "The ledger refused this payment: inquire again",
            ))
        }
        Err(e) => Err(general(s)(e)),
    }
}

/// What a payment of `amount` on `va` pays, as the ledger or the employer's account will take
/// it: the months whose dues it is exactly (of those `months` allows), or the invoice's dues.
#[allow(clippy::too_many_arguments)]
async fn payee_for(
    st: &Context,
    s: Service,
    partner: &Partner,
    va: &str,
    amount: i64,
    months: Option<u32>,
    reference: String,
    paid_on: time::Date,
) -> Result<ChannelPayee, SnapError> {
    Ok(match bill_of(st, s, va).await? {
        Bill::Participation {
            participant,
            offers,
        } => {
            let chosen = offers
                .iter()
                .find(|(m, d)| months.is_none_or(|w| w == *m) && d.total.0 == amount);
            let Some((months, due)) = chosen else {
                let asks: Vec<String> = offers
                    .iter()
                    .map(|(m, d)| format!("{m} month(s): {}.00", d.total.0))
                    .collect();
                return Err(SnapError::invalid_amount(
                    s,
                    &format!("Due now: {}", asks.join("; ")),
                ));
            };
            let channel = match cakupan_domain::payments::PartnerKind::parse(&partner.kind) {
                Some(cakupan_domain::payments::PartnerKind::Bank) => {
                    cakupan_domain::contribution::PaymentChannel::Bank
                }
                _ => cakupan_domain::contribution::PaymentChannel::Aggregator,
            };
            ChannelPayee::Contribution {
                participant_id: participant.id,
                payment: cakupan_domain::contribution::Payment {
                    reference,
                    nik: participant.registration.nik,
                    segment: participant.registration.segment,
                    first_month: due.first_month,
                    months: *months,
                    amount: Rupiah(amount),
                    channel,
                    paid_on,
                    collected_by: None,
                    pu_basis: None,
                },
            }
        }
        Bill::Invoice {
            invoice_id,
            employer_code,
            outstanding,
            ..
        } => {
            if outstanding.0 <= 0 {
                return Err(SnapError::paid_bill(s));
            }
            if outstanding.0 != amount {
                return Err(SnapError::invalid_amount(
                    s,
                    &format!("Due now: {}.00", outstanding.0),
                ));
            }
            ChannelPayee::Invoice {
                invoice_id,
                payment: cakupan_store::employers::EmployerPayment {
                    reference,
                    employer_code,
                    amount: Rupiah(amount),
                    paid_on,
                    payment_code: Some(cakupan_domain::employers::payment_code(invoice_id)),
                    recorded_by: format!("partner:{}", partner.code),
                },
            }
        }
    })
}

/// `POST /snap/v1.0/transfer-va/status`: whether a payment request was recorded.
pub async fn status(
    st: &Context,
    h: &Headers,
    path: &str,
    body: &[u8],
) -> Result<serde_json::Value, SnapError> {
    let s = Service::Status;
    let (c, req, _, digits) = checked::<snap::StatusRequest>(st, s, h, path, body).await?;
    let r = st
        .store
        .channel_payment(&c.partner.code, &req.payment_request_id)
        .await
        .map_err(general(s))?
        .filter(|r| r.virtual_account == digits)
        .ok_or_else(|| SnapError::transaction_not_found(s))?;
    claim(st, s, &c).await?;
    let (flag, english, indonesia) = if r.reversed {
        ("01", "Reversed", "Dibatalkan")
    } else {
        ("00", "Success", "Sukses")
    };
    Ok(serde_json::json!({
        "responseCode": snap::success(s),
        "responseMessage": "Successful",
        "virtualAccountData": {
            "paymentFlagStatus": flag,
            "paymentFlagReason": {"english": english, "indonesia": indonesia},
            "partnerServiceId": req.partner_service_id,
            "customerNo": req.customer_no,
            "virtualAccountNo": req.virtual_account_no,
            "inquiryRequestId": req.inquiry_request_id,
            "paymentRequestId": r.payment_request_id,
            "paidAmount": snap::Amount::idr(r.amount.0),
            "trxDateTime": r.trx_date_time,
            "referenceNo": r.partner_reference,
            "additionalInfo": {"receipt": r.receipt},
        }
    }))
}

// ---- Reconciliation (issue #19 item 4) -----------------------------------------------------

use cakupan_store::payments::{DailyTotal, NewException, PaymentException, Resolution, Settlement};

/// Lines handed to the store at a time: one transaction each.
pub const SETTLEMENT_CHUNK: usize = 5_000;

/// What importing a settlement file did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SettlementReport {
    pub settlement_id: i64,
    /// The same file was imported before: nothing changed.
    pub repeat: bool,
    pub lines: u64,
    /// Lines that could not be read: (line number, why).
    pub bad_lines: Vec<(u64, String)>,
    /// New exceptions (lines that did not match, payments no settlement carried).
    pub exceptions: u64,
}

fn invalid(field: &str, rule: &'static str, message: impl Into<String>) -> crate::AppError {
    crate::AppError::Invalid(cakupan_domain::FieldError::new(field, rule, message.into()).into())
}

/// Where an exception is resolved: the payer's village for a participation, the nation
/// (head office) otherwise.
async fn region_of_va(st: &Context, va: &str) -> String {
    let Some(b) = st.rules.biller(Month::of((st.today)())) else {
        return String::new();
    };
    match cakupan_domain::payments::parse_virtual_account(b, va) {
        Ok(Payee::Participation(kpj)) => st
            .store
            .payer_by_kpj(&kpj.to_string())
            .await
            .ok()
            .flatten()
            .map(|p| p.registration.village.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Imports a partner's settlement file (head office finance) from `open`, which opens it
/// afresh for each of the two passes (its SHA-256 first: a file imported before changes
/// nothing). Lines are matched against the payments recorded here as they are stored;
/// what does not match becomes an exception in its payer's region. Then the partner's
/// payments of the days the file covers that no settlement carried are flagged, and those
/// unsettled for the rules' number of days are proposed for reversal.
pub async fn import_settlement<R, F>(
    st: &Context,
    who: &Principal,
    request_id: &str,
    partner: &str,
    file_name: &str,
    format: settlement::Format,
    open: F,
) -> Result<SettlementReport, crate::AppError>
where
    R: std::io::BufRead + Send + 'static,
    F: Fn() -> std::io::Result<R> + Send + Sync + Clone + 'static,
{
    use sha2::Digest;
    crate::auth::allow(
        who,
        Action::Reconcile,
        &Resource::Region(cakupan_domain::RegionCode::NATION),
    )?;
    let Some(the_partner) = st.store.partner(partner).await? else {
        return Err(invalid(
            "partner",
            "partner.unknown",
            format!("no partner has code {partner}"),
        ));
    };
    let opener = open.clone();
    let sha = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut r = opener()?;
        let mut h = sha2::Sha256::new();
        loop {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            h.update(buf);
            let n = buf.len();
            r.consume(n);
        }
        Ok(hex::encode(h.finalize()))
    })
    .await
    .map_err(|e| crate::AppError::Internal(e.to_string()))?
    .map_err(|e| invalid("file", "file.unreadable", e.to_string()))?;
    let (id, complete) = st
        .store
        .begin_settlement(&Settlement {
            id: 0,
            partner_code: partner.to_string(),
            sha256: sha,
            format: format.as_str().into(),
            file_name: file_name.to_string(),
            lines: -1,
            bad_lines: 0,
            imported_by: who.username.clone(),
            imported_at: String::new(),
        })
        .await?;
    if complete {
        return Ok(SettlementReport {
            settlement_id: id,
            repeat: true,
            lines: 0,
            bad_lines: Vec::new(),
            exceptions: 0,
        });
    }
    // A reader thread parses; the async side stores the previous chunk meanwhile.
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<Vec<cakupan_store::payments::SettlementLine>>(2);
    let reader = tokio::task::spawn_blocking(move || {
        let input = open().map_err(|e| settlement::ReadError::<()>::File(e.to_string()))?;
        settlement::read(format, input, SETTLEMENT_CHUNK, &mut |chunk| {
            tx.blocking_send(chunk).map_err(|_| ())
        })
    });
    let mut exceptions = 0u64;
    let mut days: Option<(time::Date, time::Date)> = None;
    while let Some(chunk) = rx.recv().await {
        for l in &chunk {
            days = Some(match days {
                None => (l.day, l.day),
                Some((a, b)) => (a.min(l.day), b.max(l.day)),
            });
        }
        let mut found: Vec<NewException> = st.store.settle_lines(id, partner, &chunk).await?;
        for e in &mut found {
            if e.kind == "missing_here" {
                // Settled money that cannot be posted here waits in suspense.
                let payable = payee_for(
                    st,
                    Service::Payment,
                    &the_partner,
                    &e.virtual_account,
                    e.settled_amount.unwrap_or(0),
                    None,
                    posting_reference(partner, &e.payment_request_id),
                    e.day,
                )
                .await
                .is_ok();
                if !payable {
                    e.kind = "suspense";
                }
            }
            if e.region.is_empty() {
                e.region = region_of_va(st, &e.virtual_account).await;
            }
        }
        exceptions += st.store.add_exceptions(&found).await?;
    }
    let (good, bad) = match reader
        .await
        .map_err(|e| crate::AppError::Internal(e.to_string()))?
    {
        Ok(x) => x,
        Err(settlement::ReadError::File(m)) => return Err(invalid("file", "settlement.format", m)),
        Err(settlement::ReadError::Caller(())) => {
            return Err(crate::AppError::Internal(
                "the settlement import stopped".into(),
            ));
        }
    };
    st.store
        .finish_settlement(
            id,
            i64::try_from(good).unwrap_or(i64::MAX),
            bad.len() as i64,
        )
        .await?;
    if let (Some((from, to)), Some(b)) = (days, st.rules.biller(Month::of((st.today)()))) {
        let before =
            (st.today)() - time::Duration::days(i64::from(b.unsettled_days_before_reversal));
        exceptions += st.store.flag_unsettled(partner, from, to, before).await?;
    }
    crate::auth::audit(
        st,
        who,
        request_id,
        "settlement.import",
        format!("settlement:{id}"),
        "payments",
    )
    .await?;
    Ok(SettlementReport {
        settlement_id: id,
        repeat: false,
        lines: good,
        bad_lines: bad.into_iter().map(|b| (b.line, b.message)).collect(),
        exceptions,
    })
}

/// The region an exception is resolved in.
fn exception_region(e: &PaymentException) -> cakupan_domain::RegionCode {
    cakupan_domain::RegionCode::parse(&e.region).unwrap_or(cakupan_domain::RegionCode::NATION)
}

/// The exceptions in `state` (all when None) that `who` resolves: those of their area.
pub async fn exceptions(
    st: &Context,
    who: &Principal,
    state: Option<&str>,
) -> Result<Vec<PaymentException>, crate::AppError> {
    crate::auth::allow(who, Action::Reconcile, &Resource::Region(who.region))?;
    Ok(st
        .store
        .payment_exceptions(state)
        .await?
        .into_iter()
        .filter(|e| who.region.contains(exception_region(e)))
        .collect())
}

/// One exception `who` may resolve, or not found.
async fn exception_for(
    st: &Context,
    who: &Principal,
    id: i64,
) -> Result<PaymentException, crate::AppError> {
    let e = st
        .store
        .payment_exception(id)
        .await?
        .ok_or_else(|| crate::AppError::NotFound(format!("there is no exception {id}")))?;
    crate::auth::allow(
        who,
        Action::Reconcile,
        &Resource::Region(exception_region(&e)),
    )?;
    Ok(e)
}

/// What acting on an exception did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionStep {
    /// Proposed: another person approves it.
    Proposed,
    Resolved,
    /// Resolved before: nothing changed.
    AlreadyResolved,
}

/// The actions on an exception: `post` the settled payment, `reverse` the recorded one (both
/// need a second person's approval), or `close` it with a reason (no money moves).
pub const EXCEPTION_ACTIONS: [&str; 3] = ["post", "reverse", "close"];

/// Acts on an exception as branch or head-office finance, with a reason, audited: `close`
/// resolves it; `post` and `reverse` are proposed for a second person to approve.
pub async fn act_on_exception(
    st: &Context,
    who: &Principal,
    request_id: &str,
    id: i64,
    action: &str,
    reason: &str,
) -> Result<ExceptionStep, crate::AppError> {
    let e = exception_for(st, who, id).await?;
    if !EXCEPTION_ACTIONS.contains(&action) {
        return Err(invalid(
            "action",
            "exception.action",
            "the action is post, reverse or close",
        ));
    }
    if reason.trim().chars().count() < 5 {
        return Err(invalid(
            "reason",
            "exception.reason",
            "say why, in at least 5 characters",
        ));
    }
    if e.state == "resolved" {
        return Ok(ExceptionStep::AlreadyResolved);
    }
    let step = if action == "close" {
        st.store
            .resolve_exception(
                &st.rules,
                id,
                &Resolution::Close,
                reason.trim(),
                &who.username,
            )
            .await?;
        ExceptionStep::Resolved
    } else {
        let possible = matches!(
            (action, e.kind.as_str()),
            ("post", "missing_here") | ("reverse", "missing_there" | "amount_differs")
        );
        if !possible {
            return Err(invalid(
                "action",
                "exception.action_kind",
                "post a payment the partner settled and we lack; reverse one we recorded that the partner did not settle; close anything else",
            ));
        }
        if !st
            .store
            .propose_exception(id, action, reason.trim(), &who.username)
            .await?
        {
            return Err(invalid(
                "exception",
                "exception.state",
                "this exception is not open",
            ));
        }
        ExceptionStep::Proposed
    };
    crate::auth::audit(
        st,
        who,
        request_id,
        &format!("exception.{action}"),
        format!("exception:{id}"),
        "payments",
    )
    .await?;
    Ok(step)
}

/// Approves a proposed action (four-eyes: not by who proposed it), which then moves the money
/// in the transaction that resolves the exception; audited.
pub async fn approve_exception(
    st: &Context,
    who: &Principal,
    request_id: &str,
    id: i64,
) -> Result<ExceptionStep, crate::AppError> {
    let e = exception_for(st, who, id).await?;
    if e.state == "resolved" {
        return Ok(ExceptionStep::AlreadyResolved);
    }
    if e.state != "proposed" {
        return Err(invalid(
            "exception",
            "exception.state",
            "nothing is proposed on this exception",
        ));
    }
    if e.proposed_by.as_deref() == Some(who.username.as_str()) {
        return Err(invalid(
            "exception",
            "exception.four_eyes",
            "another person approves what you proposed",
        ));
    }
    let today = (st.today)();
    let resolution = match e.action.as_deref() {
        Some("post") => {
            let partner = st
                .store
                .partner(&e.partner_code)
                .await?
                .ok_or_else(|| crate::AppError::NotFound("the partner is gone".into()))?;
            let amount = e.settled_amount.unwrap_or(0);
            let reference = posting_reference(&e.partner_code, &e.payment_request_id);
            let day = cakupan_store::employers::rows::date_of(&e.day)?;
            let payee = payee_for(st, Service::Payment, &partner, &e.virtual_account, amount, None, reference, day)
                .await
                .map_err(|x| invalid("exception", "exception.not_payable", format!("this payment cannot be posted now ({}): close it and hold the money in suspense", x.message)))?;
            Resolution::Post(Box::new(ChannelPayment {
                partner_code: e.partner_code.clone(),
                payment_request_id: e.payment_request_id.clone(),
                external_id: format!("exception-{id}"),
                day,
                virtual_account: e.virtual_account.clone(),
                amount: Rupiah(amount),
                paid_on: day,
                trx_date_time: e.day.clone(),
                partner_reference: String::new(),
                payee,
            }))
        }
        Some("reverse") => {
            let r = st
                .store
                .channel_payment(&e.partner_code, &e.payment_request_id)
                .await?
                .ok_or_else(|| crate::AppError::NotFound("the recorded payment is gone".into()))?;
            Resolution::Reverse {
                reference: r.posting_reference,
                on: today,
            }
        }
        _ => {
            return Err(invalid(
                "exception",
                "exception.state",
                "nothing is proposed on this exception",
            ));
        }
    };
    let reason = e
        .reason
        .clone()
        .unwrap_or_else(|| "unsettled past the rules' days".into());
    st.store
        .resolve_exception(&st.rules, id, &resolution, &reason, &who.username)
        .await?;
    crate::auth::audit(
        st,
        who,
        request_id,
        "exception.approve",
        format!("exception:{id}"),
        "payments",
    )
    .await?;
    Ok(ExceptionStep::Resolved)
}

/// Per partner and day: recorded here against settled.
pub async fn daily_totals(
    st: &Context,
    who: &Principal,
    from: time::Date,
    to: time::Date,
) -> Result<Vec<DailyTotal>, crate::AppError> {
    crate::auth::allow(who, Action::Reconcile, &Resource::Region(who.region))?;
    if to < from {
        return Err(invalid(
            "to",
            "period.order",
            "the last day is not before the first",
        ));
    }
    Ok(st.store.daily_totals(from, to).await?)
}

/// The daily totals as CSV: `day,partner,expected,expected_count,settled,settled_count,difference`.
pub fn totals_csv(rows: &[DailyTotal]) -> String {
    let mut out =
        String::from("day,partner,expected,expected_count,settled,settled_count,difference\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            r.day,
            r.partner_code,
            r.expected,
            r.expected_count,
            r.settled,
            r.settled_count,
            r.difference
        ));
    }
    out
}
