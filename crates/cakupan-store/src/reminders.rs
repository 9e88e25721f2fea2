//! Reminders' storage contract (issue #21): each participation's coverage state (kept beside
//! the ledger by every posting), the reminders planned and sent with their experiment arm, the
//! agents' tasks, the replies that came back by SMS, and the figures of the experiments and of
//! retention. Its SQL, written once for both backends, is in `reminders_sql.rs`.

use crate::Result;
use cakupan_domain::RegionCode;
use cakupan_domain::reminders::Arm;
use serde::Serialize;
use time::Date;

/// A participation's coverage state as the planner reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageState {
    pub participant_id: i64,
    pub segment: String,
    /// Month index of the registration month.
    pub registered: i32,
    /// The latest month a non-reversed contribution covers (before any termination).
    pub last_paid: Option<i32>,
    /// The month a termination took effect.
    pub terminated: Option<i32>,
}

/// A participation a rule's target reaches, with what the campaign needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCandidate {
    pub participant_id: i64,
    pub village_code: String,
    pub segment: String,
    /// The Perisai agent who serves them: the one who enrolled them, else one assigned to
    /// their village.
    pub agent_code: Option<String>,
    /// Their latest consent decision about reminders is a withdrawal (a STOP reply).
    pub opted_out: bool,
    /// Reminders (not holdouts) already planned for them this month.
    pub this_month: i64,
}

/// An unpaid employer invoice a rule's date reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueInvoice {
    pub invoice_id: i64,
    pub employer_code: String,
    pub region: String,
    pub month: i32,
    pub total: i64,
}

/// A reminder to plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReminder {
    pub rule: String,
    pub month: i32,
    /// `P<participant id>` or `I<invoice id>`: with rule and month, the idempotency key.
    pub subject: String,
    pub participant_id: Option<i64>,
    pub invoice_id: Option<i64>,
    pub employer_code: Option<String>,
    pub region: String,
    pub segment: String,
    pub arm: Arm,
    pub agent_code: Option<String>,
    pub planned_on: Date,
    pub window_end: Date,
    pub pay_by: Date,
    pub status: String,
}

/// A stored reminder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    pub id: i64,
    pub rule: String,
    pub month: i32,
    pub participant_id: Option<i64>,
    pub invoice_id: Option<i64>,
    pub employer_code: Option<String>,
    pub region: String,
    pub segment: String,
    pub arm: String,
    pub agent_code: Option<String>,
    pub planned_on: String,
    pub pay_by: String,
    pub status: String,
    pub sms_id: Option<i64>,
    pub sent_at: Option<i64>,
    pub outcome: Option<String>,
    pub outcome_at: Option<i64>,
}

/// Reminders of one rule, arm, segment and province, and how many of them paid within the
/// window (a contribution received from the planning day to the window's end), as counted at
/// `computed_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArmCount {
    pub rule: String,
    pub arm: String,
    pub segment: String,
    pub province: String,
    pub n: i64,
    pub paid: i64,
    /// When the snapshot was taken (seconds).
    pub computed_at: i64,
}

/// How many reminders of a day are in each rule, province, arm and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanCount {
    pub rule: String,
    pub province: String,
    pub arm: String,
    pub status: String,
    pub n: i64,
}

/// A reply received by SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReply {
    pub received_at: i64,
    pub participant_id: Option<i64>,
    pub region: String,
    /// `stop`, `start` or `question`.
    pub kind: String,
    pub phone: String,
    pub text: String,
    pub due_at: i64,
}

/// A stored reply, its sealed fields opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub id: i64,
    pub received_at: i64,
    pub participant_id: Option<i64>,
    pub region: String,
    pub kind: String,
    pub phone: String,
    pub text: String,
    pub due_at: i64,
    pub answered_at: Option<i64>,
    pub answered_by: Option<String>,
}

/// BPU participations that became non-active in a month (and have not paid since), and how
/// many of them had been reminded (SMS or agent) in the months before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LapseCount {
    pub month: i32,
    pub lapsed: i64,
    pub reminded: i64,
    /// When the snapshot was taken (seconds).
    pub computed_at: i64,
}

/// Reminders' storage.
#[async_trait::async_trait]
pub trait ReminderStore: Send + Sync {
    /// Participations of `segment`, not terminated, whose latest paid month is `last_paid`,
    /// and (never paid) registered in one of `pending`; with their reminders of `month`.
    async fn due_candidates(
        &self,
        segment: &str,
        last_paid: i32,
        pending: &[i32],
        month: i32,
    ) -> Result<Vec<DueCandidate>>;

    /// Unpaid invoices due on `due_on`.
    async fn due_invoices(&self, due_on: Date) -> Result<Vec<DueInvoice>>;

    /// Stores reminders; one already planned (same subject, rule and month) is left as it is.
    /// Returns how many were new.
    async fn add_reminders(&self, rows: &[NewReminder]) -> Result<u64>;

    /// Planned SMS reminders after `after_id`, in id order.
    async fn reminders_to_send(&self, after_id: i64, limit: i64) -> Result<Vec<Reminder>>;

    /// Reminders claimed for sending and not finished (a crash between claim and answer).
    async fn reminders_in_doubt(&self) -> Result<Vec<Reminder>>;

    /// Claims a planned reminder for sending under SMS `sms_id`; false when it was not
    /// planned any more (another sender took it).
    async fn claim_reminder(&self, id: i64, sms_id: i64) -> Result<bool>;

    /// Moves a reminder from one of `from` to `to` (and records the time when sent).
    async fn set_reminder_status(&self, id: i64, from: &[&str], to: &str, now: i64)
    -> Result<bool>;

    async fn reminder(&self, id: i64) -> Result<Option<Reminder>>;

    /// Every reminder of a participation, newest first.
    async fn reminders_of(&self, participant_id: i64) -> Result<Vec<Reminder>>;

    /// An agent's tasks (the newest 200), only the open ones when `open_only`.
    async fn agent_tasks(&self, agent_code: &str, open_only: bool) -> Result<Vec<Reminder>>;

    /// Records an agent's outcome of their open task; false when it is not theirs or done.
    async fn record_task(
        &self,
        id: i64,
        agent_code: &str,
        outcome: &str,
        by: &str,
        now: i64,
    ) -> Result<bool>;

    /// Rewrites the experiment's snapshot: the reminders planned since `since` whose window
    /// closed before `closed_before`, counted by rule, arm, segment and province, with those
    /// who paid within the window. Returns the rows written.
    async fn refresh_experiment(&self, closed_before: Date, since: Date, now: i64) -> Result<u64>;

    /// The experiment's snapshot (a few rows per rule and province).
    async fn experiment(&self) -> Result<Vec<ArmCount>>;

    /// The reminders planned on a day, counted.
    async fn plan_counts(&self, planned_on: Date) -> Result<Vec<PlanCount>>;

    async fn add_reply(&self, reply: &NewReply) -> Result<i64>;

    /// Replies from an area (its participants' villages; '' also the unknown senders when the
    /// area is the nation), newest first.
    async fn replies(&self, within: RegionCode, open_only: bool, limit: u32) -> Result<Vec<Reply>>;

    /// Marks a reply answered; false when it was already.
    async fn answer_reply(&self, id: i64, by: &str, now: i64) -> Result<bool>;

    /// Participations found by their phone's keyed index.
    async fn participants_by_phone(&self, phone_index: &[u8]) -> Result<Vec<i64>>;

    /// Rewrites the lapse snapshot: for every region of every level, the lapses of each month
    /// in `from..=to` (BPU, first non-active month `last_paid + threshold`, still lapsed) and
    /// those reminded in that month or the `lookback` months before it. Returns the rows
    /// written.
    async fn refresh_lapses(
        &self,
        from: i32,
        to: i32,
        threshold: i32,
        lookback: i32,
        now: i64,
    ) -> Result<u64>;

    /// An area's lapses by month in `from..=to`, from the snapshot (by key).
    async fn lapses(&self, within: RegionCode, from: i32, to: i32) -> Result<Vec<LapseCount>>;

    /// Every coverage state (for `verify`).
    async fn coverage_states(&self) -> Result<Vec<CoverageState>>;

    /// Every participation's coverage state recomputed from the registry and the ledger alone
    /// (for `verify`), in participant order.
    async fn recompute_coverage_states(&self) -> Result<Vec<CoverageState>>;
}
