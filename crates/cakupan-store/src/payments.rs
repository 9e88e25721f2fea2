//! Payment rails (issue #19): the channel partners, the payments they record through the SNAP
//! biller endpoints, their settlements and the exceptions reconciliation finds. The SQL is
//! written once (`payments_sql.rs`).

use crate::Result;
use crate::employers::EmployerPayment;
use crate::ledger::PostingOutcome;
use cakupan_domain::contribution::Payment;
use cakupan_domain::{Month, Rupiah};
use serde::Serialize;
use time::Date;

/// The columns `payments_store_impl!` reads, in its decoders' order.
pub const CHANNEL_COLUMNS: &str = "id, partner_code, payment_request_id, virtual_account, amount, paid_on, trx_date_time, partner_reference, posting_reference, participant_id, invoice_id, first_month, months, receipt, reversed, recorded_at";

/// The columns of an exception, in `exception_at`'s order.
pub const EXCEPTION_COLUMNS: &str = "id, partner_code, day, kind, payment_request_id, virtual_account, settled_amount, recorded_amount, settlement_id, line_no, region, state, action, reason, proposed_by, proposed_at, resolved_by, resolved_at, found_at";

/// The columns of a settlement, in `settlement_at`'s order.
pub const SETTLEMENT_COLUMNS: &str =
    "id, partner_code, sha256, format, file_name, lines, bad_lines, imported_by, imported_at";

/// A channel partner with its credentials in clear (they are sealed in the store).
#[derive(Clone, PartialEq, Eq)]
pub struct Partner {
    pub code: String,
    pub name: String,
    /// `bank`, `aggregator`, `minimarket`, `ewallet` or `post`
    /// (`cakupan_domain::payments::PartnerKind`).
    pub kind: String,
    pub settlement_account: String,
    /// What the partner charges the agency per transaction, rupiah.
    pub fee: Rupiah,
    /// The partner's RSA public key (PEM): it signs its access-token requests.
    pub public_key: String,
    /// The secret both sides sign transaction requests with (HMAC-SHA512).
    pub client_secret: String,
    pub active: bool,
}

impl std::fmt::Debug for Partner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partner")
            .field("code", &self.code)
            .field("kind", &self.kind)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// A partner as lists show it: no credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerSummary {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub settlement_account: String,
    pub fee: Rupiah,
    pub active: bool,
    pub added_by: String,
    pub added_at: String,
}

/// What a payment through a channel pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelPayee {
    /// A participation's next unpaid months: the contribution to post. The store refuses it
    /// as no longer due when a contribution posted since (through another channel) covers
    /// its first month or a later one.
    Contribution {
        participant_id: i64,
        payment: Payment,
    },
    /// An employer's dues, through an invoice's code.
    Invoice {
        invoice_id: i64,
        payment: EmployerPayment,
    },
}

/// A payment a partner reports through the SNAP payment service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPayment {
    pub partner_code: String,
    pub payment_request_id: String,
    pub external_id: String,
    /// The partner's day the request was sent on (X-EXTERNAL-ID is unique per day).
    pub day: Date,
    /// The virtual account's digits (no padding).
    pub virtual_account: String,
    pub amount: Rupiah,
    pub paid_on: Date,
    /// `trxDateTime` as the partner sent it.
    pub trx_date_time: String,
    /// `referenceNo`, the partner's own reference.
    pub partner_reference: String,
    pub payee: ChannelPayee,
}

/// A payment recorded from a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelRecord {
    pub id: i64,
    pub partner_code: String,
    pub payment_request_id: String,
    pub virtual_account: String,
    pub amount: Rupiah,
    pub paid_on: Date,
    pub trx_date_time: String,
    pub partner_reference: String,
    /// The ledger posting's reference (a contribution) or the employer payment's.
    pub posting_reference: String,
    pub participant_id: Option<i64>,
    pub invoice_id: Option<i64>,
    pub first_month: Option<Month>,
    pub months: Option<i32>,
    pub receipt: String,
    pub reversed: bool,
    pub recorded_at: String,
}

/// What recording a channel payment came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelOutcome {
    /// Recorded now, with the posting it made.
    Paid(ChannelRecord),
    /// The same partner and payment request id was recorded before with the same code and
    /// amount: the first answer again, nothing changed.
    Repeat(ChannelRecord),
    /// The payment request id was recorded before with another code or amount.
    Inconsistent(ChannelRecord),
    /// The partner used this X-EXTERNAL-ID today already.
    ExternalIdUsed,
    /// The months asked are no longer the next unpaid ones (a contribution was posted since
    /// the inquiry): nothing recorded.
    NoLongerDue,
}

/// One line of a partner's settlement: a payment the partner says it settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementLine {
    pub line_no: i64,
    pub day: Date,
    pub payment_request_id: String,
    pub virtual_account: String,
    pub amount: Rupiah,
}

/// A settlement file as imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settlement {
    pub id: i64,
    pub partner_code: String,
    pub sha256: String,
    /// `mt940` or `csv`.
    pub format: String,
    pub file_name: String,
    pub lines: i64,
    pub bad_lines: i64,
    pub imported_by: String,
    pub imported_at: String,
}

/// The kinds of reconciliation exception.
pub const EXCEPTION_KINDS: [&str; 5] = [
    "missing_here",
    "missing_there",
    "amount_differs",
    "duplicate",
    "suspense",
];

/// An item reconciliation could not match, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentException {
    pub id: i64,
    pub partner_code: String,
    pub day: String,
    /// `missing_here` (settled by the partner, not recorded here), `missing_there` (recorded
    /// here, not in the partner's settlement), `amount_differs`, `duplicate` (settled twice),
    /// `suspense` (settled money that cannot be posted: unknown code, amount not due).
    pub kind: String,
    pub payment_request_id: String,
    pub virtual_account: String,
    pub settled_amount: Option<i64>,
    pub recorded_amount: Option<i64>,
    pub settlement_id: Option<i64>,
    pub line_no: Option<i64>,
    /// The region whose branch finance resolves it (the payer's village, or the nation).
    pub region: String,
    /// `open`, `proposed` (an action awaits a second person) or `resolved`.
    pub state: String,
    /// `post`, `reverse` or `close`.
    pub action: Option<String>,
    pub reason: Option<String>,
    pub proposed_by: Option<String>,
    pub proposed_at: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub found_at: String,
}

/// A new exception, as reconciliation finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewException {
    pub partner_code: String,
    pub day: Date,
    pub kind: &'static str,
    pub payment_request_id: String,
    pub virtual_account: String,
    pub settled_amount: Option<i64>,
    pub recorded_amount: Option<i64>,
    pub settlement_id: Option<i64>,
    pub line_no: Option<i64>,
    pub region: String,
    /// `open`, or `proposed` with `action` for what the rules propose by themselves (a
    /// reversal of a payment unsettled for too long).
    pub state: &'static str,
    pub action: Option<&'static str>,
}

/// A partner's day: what was recorded here against what the partner settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyTotal {
    pub partner_code: String,
    pub day: String,
    pub expected: i64,
    pub expected_count: i64,
    pub settled: i64,
    pub settled_count: i64,
    pub difference: i64,
}

/// How an exception is resolved in the store: the money movement it makes, if any, in the
/// transaction that closes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Record the settled payment now (a payment that reached the partner but not us).
    Post(Box<ChannelPayment>),
    /// Reverse the recorded payment's posting (the money never arrived).
    Reverse { reference: String, on: Date },
    /// Close with a reason; no money moves.
    Close,
}

/// What resolving did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveOutcome {
    Resolved(Option<PostingOutcome>),
    /// The exception was resolved before (a retry): nothing changed.
    AlreadyResolved,
}

/// The payment rails' records.
#[async_trait::async_trait]
pub trait PaymentStore: crate::Keyed {
    /// Adds a partner. The same partner again changes nothing (`false`); other details under
    /// a code in use are refused (`code.taken`).
    async fn add_partner(&self, partner: &Partner, by: &str) -> Result<bool>;
    /// Switches a partner on or off (a partner switched off is refused a token). `false` when
    /// there is no such partner.
    async fn set_partner_active(&self, code: &str, active: bool) -> Result<bool>;
    /// Every partner, by code, without credentials.
    async fn partners(&self) -> Result<Vec<PartnerSummary>>;
    /// One partner with its credentials opened.
    async fn partner(&self, code: &str) -> Result<Option<Partner>>;
    /// The employer an invoice belongs to.
    async fn invoice_owner(&self, invoice_id: i64) -> Result<Option<String>>;
    /// Records a channel payment and, in the same transaction, posts its contribution (or the
    /// employer payment), claims its X-EXTERNAL-ID and moves the counters.
    async fn pay_channel(
        &self,
        rules: &cakupan_domain::RuleSet,
        payment: &ChannelPayment,
    ) -> Result<ChannelOutcome>;
    /// Claims an X-EXTERNAL-ID for an answered request that writes nothing else (an
    /// inquiry): `false` when the partner used it that day already.
    async fn claim_external_id(&self, partner: &str, day: Date, external_id: &str) -> Result<bool>;
    /// A partner's recorded payment by its payment request id.
    async fn channel_payment(
        &self,
        partner: &str,
        request_id: &str,
    ) -> Result<Option<ChannelRecord>>;
    /// The recorded payment whose receipt number is `receipt`, with its partner's name.
    async fn channel_payment_by_receipt(
        &self,
        receipt: &str,
    ) -> Result<Option<(ChannelRecord, String)>>;
    /// A partner's recorded payments of a day, by id.
    async fn channel_payments_on(&self, partner: &str, day: Date) -> Result<Vec<ChannelRecord>>;

    /// Starts importing a settlement file: its id, and whether the same file (by SHA-256)
    /// was imported completely before (then nothing is written).
    async fn begin_settlement(&self, s: &Settlement) -> Result<(i64, bool)>;
    /// Adds lines of a settlement being imported; each line is matched against the payments
    /// recorded here in the same transaction; what does not match is returned as an exception
    /// (for [`PaymentStore::add_exceptions`], once the caller has placed it in a region).
    /// A line already stored (a resumed import) is not stored twice, and is matched again.
    async fn settle_lines(
        &self,
        settlement_id: i64,
        partner: &str,
        lines: &[SettlementLine],
    ) -> Result<Vec<NewException>>;
    /// Records the exceptions found (one found again changes nothing); how many are new.
    async fn add_exceptions(&self, found: &[NewException]) -> Result<u64>;
    /// Marks a settlement complete with its line counts.
    async fn finish_settlement(&self, settlement_id: i64, lines: i64, bad_lines: i64)
    -> Result<()>;
    /// Settlements, newest first.
    async fn settlements(&self, partner: Option<&str>) -> Result<Vec<Settlement>>;
    /// Flags the partner's recorded payments of the days `from..=to` that no settlement line
    /// covers, for days some settlement of the partner covers; proposes reversing those
    /// unsettled on or before `propose_before`. Flagging again changes nothing.
    async fn flag_unsettled(
        &self,
        partner: &str,
        from: Date,
        to: Date,
        propose_before: Date,
    ) -> Result<u64>;
    /// Exceptions in `state` (every state when None), oldest first.
    async fn payment_exceptions(&self, state: Option<&str>) -> Result<Vec<PaymentException>>;
    async fn payment_exception(&self, id: i64) -> Result<Option<PaymentException>>;
    /// Proposes an action on an open exception (four-eyes: another person resolves it).
    /// `false` when it is not open.
    async fn propose_exception(
        &self,
        id: i64,
        action: &str,
        reason: &str,
        by: &str,
    ) -> Result<bool>;
    /// Resolves an exception with `resolution` in one transaction.
    async fn resolve_exception(
        &self,
        rules: &cakupan_domain::RuleSet,
        id: i64,
        resolution: &Resolution,
        reason: &str,
        by: &str,
    ) -> Result<ResolveOutcome>;
    /// Per partner and day in `from..=to`: recorded against settled.
    async fn daily_totals(&self, from: Date, to: Date) -> Result<Vec<DailyTotal>>;
}
