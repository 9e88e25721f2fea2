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

/// Partners with their credentials opened, kept by a store for a few seconds (the biller
/// rule's `partner_cache_secs`) so that a SNAP request neither reads nor opens them again.
/// Only partners that exist are kept (a request reaches the look-up with a token only we can
/// issue, so nobody fills it with made-up codes); adding or switching a partner forgets it.
#[derive(Debug, Clone, Default)]
pub struct PartnerCache(
    std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Partner)>>,
    >,
);

impl PartnerCache {
    /// The partner, when read less than `max_age` ago.
    pub fn get(&self, code: &str, max_age: std::time::Duration) -> Option<Partner> {
        let kept = self.0.lock().ok()?;
        kept.get(code)
            .filter(|(at, _)| at.elapsed() < max_age)
            .map(|(_, p)| p.clone())
    }

    /// Keeps `partner` as read now.
    pub fn put(&self, partner: &Partner) {
        if let Ok(mut kept) = self.0.lock() {
            kept.insert(
                partner.code.clone(),
                (std::time::Instant::now(), partner.clone()),
            );
        }
    }

    /// Forgets a partner (its row changed).
    pub fn forget(&self, code: &str) {
        if let Ok(mut kept) = self.0.lock() {
            kept.remove(code);
        }
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
    /// One partner as this store read it at most `max_age_secs` ago (the SNAP endpoints'
    /// look-up: see [`PartnerCache`]).
    async fn partner_recent(&self, code: &str, max_age_secs: u32) -> Result<Option<Partner>>;
    /// The employer an invoice belongs to.
    async fn invoice_owner(&self, invoice_id: i64) -> Result<Option<String>>;
    /// Records a channel payment and, in the same transaction, posts its contribution (or the
    /// employer payment), claims its X-EXTERNAL-ID and moves the counters. Concurrent
    /// payments and claims are committed together ([`ChannelCommit`]); each gets its own
    /// outcome, a payment the ledger refuses `StoreError::Rejected`.
    async fn pay_channel(
        &self,
        rules: &cakupan_domain::RuleSet,
        payment: &ChannelPayment,
    ) -> Result<ChannelOutcome>;
    /// Claims an X-EXTERNAL-ID for an answered request that writes nothing else (an
    /// inquiry): `false` when the partner used it that day already. Committed with
    /// concurrent payments (the rules are for them).
    async fn claim_external_id(
        &self,
        rules: &cakupan_domain::RuleSet,
        partner: &str,
        day: Date,
        external_id: &str,
    ) -> Result<bool>;
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

/// A write of the payment path, queued for the next group commit of channel writes.
#[derive(Debug, Clone)]
pub enum ChannelWork {
    /// A payment to record and post.
    Pay(Box<ChannelPayment>),
    /// An X-EXTERNAL-ID to claim for a request that writes nothing else (an inquiry).
    Claim {
        partner: String,
        day: Date,
        external_id: String,
    },
}

impl ChannelWork {
    /// The partner, day and X-EXTERNAL-ID the work claims.
    pub fn external_id(&self) -> (&str, Date, &str) {
        match self {
            ChannelWork::Pay(p) => (&p.partner_code, p.day, &p.external_id),
            ChannelWork::Claim {
                partner,
                day,
                external_id,
            } => (partner, *day, external_id),
        }
    }
}

/// What a channel write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelReply {
    Paid(Box<ChannelOutcome>),
    /// Whether the X-EXTERNAL-ID was claimed now (`false`: used that day already).
    Claimed(bool),
}

/// What a backend provides for a group commit of channel writes.
#[async_trait::async_trait]
pub trait ChannelWriter: Clone + Send + Sync + 'static {
    /// In one transaction: every work's claim, then the payments, then commits. One reply
    /// per work, in order; a payment the ledger refuses gets its refusal
    /// (`StoreError::Rejected`) without failing the others. An error of the whole group
    /// leaves nothing written.
    async fn write_channel_group(
        &self,
        rules: &cakupan_domain::RuleSet,
        work: &[ChannelWork],
    ) -> Result<Vec<Result<ChannelReply>>>;
}

type ChannelPending = (
    ChannelWork,
    tokio::sync::oneshot::Sender<Result<ChannelReply>>,
);

/// The payment path's writes waiting to be committed together. A payment costs one write
/// transaction of a dozen statements on the one writer (SQLite) or on the counters' rows
/// every payment of a month updates (PostgreSQL), so concurrent payments and claims are
/// committed in one transaction by whichever request holds the leader lock, as
/// registrations are (`crate::group`). A group holds at most one payment per participation,
/// invoice and payment request id: a second one waits for the next group, so that it sees
/// the first one's posting. If the group's transaction fails, each write is tried alone.
#[derive(Debug, Clone, Default)]
pub struct ChannelCommit {
    queue: std::sync::Arc<std::sync::Mutex<Vec<ChannelPending>>>,
    leader: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn queue_poisoned() -> crate::StoreError {
    crate::StoreError::Database("the channel write queue's lock was poisoned".into())
}

impl ChannelCommit {
    /// Queues `work` and returns its reply, committing a group when this request holds the
    /// leader lock and its work is still queued.
    pub async fn submit<W: ChannelWriter>(
        &self,
        writer: &W,
        rules: &cakupan_domain::RuleSet,
        work: ChannelWork,
    ) -> Result<ChannelReply> {
        use tokio::sync::oneshot::error::TryRecvError;
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| queue_poisoned())?
            .push((work, reply));
        loop {
            let leader = self.leader.clone().lock_owned().await;
            match answer.try_recv() {
                Ok(r) => return r,
                Err(TryRecvError::Closed) => {
                    return Err(crate::StoreError::Database(
                        "the payment's group was abandoned before it committed: retry".into(),
                    ));
                }
                Err(TryRecvError::Empty) => {}
            }
            let jobs = next_group(&mut *self.queue.lock().map_err(|_| queue_poisoned())?);
            // Committed in a task of its own, holding the lock: if this request is dropped
            // (its client went away), the group still commits and every request in it is
            // answered.
            let writer = writer.clone();
            let rules = rules.clone();
            let _ = tokio::spawn(async move {
                commit_channel_group(&writer, &rules, jobs).await;
                drop(leader);
            })
            .await;
            // This request's payment waited for the next group (another payment of the same
            // participation was in this one): go round again.
        }
    }
}

/// At most this many writes in a group: a group's payments are recorded in one statement
/// of 14 parameters each, well within SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_CHANNEL_GROUP: usize = 256;

/// Takes the next group from the queue, in order: every claim, and each payment whose
/// participation, invoice and payment request id no payment before it in the group has.
fn next_group(queue: &mut Vec<ChannelPending>) -> Vec<ChannelPending> {
    let mut seen = std::collections::HashSet::new();
    let mut group = Vec::new();
    let mut rest = Vec::new();
    for job in queue.drain(..) {
        if group.len() == MAX_CHANNEL_GROUP {
            rest.push(job);
            continue;
        }
        let keys = match &job.0 {
            ChannelWork::Pay(p) => {
                let payee = match &p.payee {
                    ChannelPayee::Contribution { participant_id, .. } => {
                        format!("participant/{participant_id}")
                    }
                    ChannelPayee::Invoice { invoice_id, .. } => format!("invoice/{invoice_id}"),
                };
                vec![
                    payee,
                    format!("request/{}/{}", p.partner_code, p.payment_request_id),
                ]
            }
            ChannelWork::Claim { .. } => Vec::new(),
        };
        if keys.iter().any(|k| seen.contains(k)) {
            rest.push(job);
        } else {
            seen.extend(keys);
            group.push(job);
        }
    }
    *queue = rest;
    group
}

/// Commits a group in one transaction and answers each write; if the group fails, each is
/// tried alone.
async fn commit_channel_group<W: ChannelWriter>(
    writer: &W,
    rules: &cakupan_domain::RuleSet,
    jobs: Vec<ChannelPending>,
) {
    if jobs.is_empty() {
        return;
    }
    let (work, replies): (Vec<ChannelWork>, Vec<_>) = jobs.into_iter().unzip();
    match writer.write_channel_group(rules, &work).await {
        Ok(outs) if outs.len() == work.len() => {
            for (reply, out) in replies.into_iter().zip(outs) {
                let _ = reply.send(out);
            }
        }
        _ => {
            for (w, reply) in work.into_iter().zip(replies) {
                let out = match writer
                    .write_channel_group(rules, std::slice::from_ref(&w))
                    .await
                {
                    Ok(mut outs) if outs.len() == 1 => outs.remove(0),
                    Ok(_) => Err(crate::StoreError::Database(
                        "a channel write returned no reply".into(),
                    )),
                    Err(e) => Err(e),
                };
                let _ = reply.send(out);
            }
        }
    }
}
