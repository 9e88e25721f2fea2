//! Who is protected in which month: the coverage status of one participation, month by month,
//! exactly as DOMAIN.md §4.1 defines it. Pure: the caller passes the facts from the ledger.
//!
//! For month M, with `paid(M)` true when a posted, non-reversed contribution covers M (whenever
//! it was received), G the segment's `months_unpaid_before_nonactive` and L its
//! `due_lag_months` (how many months after the contribution month it falls due: BPU 0, PU 1):
//! 1. TERMINATED if the participation was terminated in a month ≤ M;
//! 2. else PENDING if no month ≤ M is paid;
//! 3. else ACTIVE if M is paid;
//! 4. else, with k the consecutive unpaid months ending at M (back to, not including, the
//!    latest paid month before M): IN_ARREARS if k < G + L, NONACTIVE if k ≥ G + L.
//!
//! G counts months *overdue* (the agency's rule: non-active after three consecutive months
//! overdue), and in month M only k − L of the k unpaid months have fallen due: a wage earner
//! whose September is paid and nothing after is IN_ARREARS in October to December and
//! NONACTIVE in January, when December's due date (15 January) passes unpaid. Status stays a
//! pure function of the ledger; whether a month's own due date has passed on a given day is
//! [`not_yet_due`], for display.
//!
//! One addition for wage earners (issue #7): when the employer reports a worker stopped from
//! month S, the participation is NONACTIVE from S (not IN_ARREARS first) for every unpaid
//! month M ≥ S after its latest paid month, since nobody owes contributions for it any more;
//! a later payment (a new employer) reactivates it as rule 3 says. Without a stop nothing
//! changes.
//!
//! A payment after NONACTIVE reactivates from the first month it covers (rule 3); months before
//! the registration month have no status at all.

use crate::error::FieldError;
use crate::month::Month;
use crate::rules::RuleSet;
use crate::segment::Segment;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pending,
    Active,
    InArrears,
    NonActive,
    Terminated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Active => "ACTIVE",
            Status::InArrears => "IN_ARREARS",
            Status::NonActive => "NONACTIVE",
            Status::Terminated => "TERMINATED",
        }
    }
}

/// Why a month has its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Covered by this posting (its external reference).
    PaidBy { reference: String },
    /// This many consecutive months unpaid, up to and including this one, of which `overdue`
    /// had fallen due by the end of this month.
    Unpaid { months: u32, overdue: u32 },
    /// Registered, nothing paid for this month or before.
    NothingPaidYet,
    /// Terminated in this month.
    TerminatedIn { month: Month },
    /// The employer reported the employment ended from this month; nothing paid since.
    EmploymentEnded { month: Month },
}

/// One month of one participation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthStatus {
    pub month: Month,
    pub status: Status,
    pub reason: Reason,
    /// The first ever ACTIVE month.
    pub new: bool,
    /// NONACTIVE now, not NONACTIVE the month before.
    pub lapsed: bool,
    /// ACTIVE now, NONACTIVE the month before.
    pub reactivated: bool,
}

/// A contribution as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    pub reference: String,
    pub first_month: Month,
    pub months: u32,
    /// Reversed (a bounced payment): covers nothing.
    pub reversed: bool,
}

/// The facts about one participation that its coverage depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub segment: Segment,
    pub registered: Month,
    /// Month → the reference of the posting that covers it.
    pub paid: BTreeMap<Month, String>,
    pub terminated: Option<Month>,
    /// Months from which an employer reported the employment ended (PU stops), ascending.
    pub ended: Vec<Month>,
}

impl Facts {
    /// Facts from contributions in posting order: a month covered twice keeps the first
    /// posting that covered it; reversed contributions cover nothing.
    pub fn from_contributions(
        segment: Segment,
        registered: Month,
        contributions: &[Contribution],
        terminated: Option<Month>,
    ) -> Facts {
        let mut paid = BTreeMap::new();
        for c in contributions.iter().filter(|c| !c.reversed) {
            for i in 0..c.months {
                paid.entry(c.first_month.plus(i32::try_from(i).unwrap_or(i32::MAX)))
                    .or_insert_with(|| c.reference.clone());
            }
        }
        Facts {
            segment,
            registered,
            paid,
            terminated,
            ended: Vec::new(),
        }
    }

    /// The same facts with these employment ends (any order, repeats ignored).
    pub fn with_ended(mut self, mut ended: Vec<Month>) -> Facts {
        ended.sort();
        ended.dedup();
        self.ended = ended;
        self
    }

    /// The first employment end after `last_paid` and no later than `m`.
    fn ended_between(&self, last_paid: Month, m: Month) -> Option<Month> {
        self.ended
            .iter()
            .copied()
            .find(|e| *e > last_paid && *e <= m)
    }
}

/// The last month a participation is protected for: its latest paid month, unless it was
/// terminated by then (a terminated participation is protected for nothing after its end; what
/// was paid before stays paid). `None` when nothing is paid.
pub fn protected_until(facts: &Facts) -> Option<Month> {
    let last = match facts.terminated {
        Some(t) => facts.paid.range(..t).next_back(),
        None => facts.paid.iter().next_back(),
    };
    last.map(|(m, _)| *m)
}

/// Statuses from `from` to `to` inclusive (months before registration are skipped).
pub fn series(
    rules: &RuleSet,
    facts: &Facts,
    from: Month,
    to: Month,
) -> Result<Vec<MonthStatus>, FieldError> {
    let start = facts.registered;
    let mut out = Vec::new();
    // State carried month to month from the registration month on.
    let mut last_paid: Option<Month> = facts.paid.range(..start).next_back().map(|(m, _)| *m);
    let mut ever_active = false;
    let mut previous: Option<Status> = None;
    if to < start {
        return Ok(out);
    }
    for m in start.through(to) {
        let (g, lag) = rules
            .coverage_rule(facts.segment, m)
            .map(|r| (r.unpaid_months_before_nonactive(), r.due_lag_months))
            .ok_or_else(|| {
                FieldError::new(
                    "month",
                    "coverage.no_rule",
                    format!("no coverage rule for {} is in force in {m}", facts.segment),
                )
            })?;
        let (status, reason) = match (facts.terminated, facts.paid.get(&m)) {
            (Some(t), _) if t <= m => (Status::Terminated, Reason::TerminatedIn { month: t }),
            (_, Some(reference)) => (
                Status::Active,
                Reason::PaidBy {
                    reference: reference.clone(),
                },
            ),
            (_, None) => match last_paid {
                None => (Status::Pending, Reason::NothingPaidYet),
                Some(lp) => match facts.ended_between(lp, m) {
                    Some(e) => (Status::NonActive, Reason::EmploymentEnded { month: e }),
                    None => {
                        let k = u32::try_from(m.since(lp)).unwrap_or(u32::MAX);
                        let s = if k < g {
                            Status::InArrears
                        } else {
                            Status::NonActive
                        };
                        let overdue = k.saturating_sub(lag);
                        (s, Reason::Unpaid { months: k, overdue })
                    }
                },
            },
        };
        if status == Status::Active {
            last_paid = Some(m);
        }
        let item = MonthStatus {
            month: m,
            status,
            reason,
            new: status == Status::Active && !ever_active,
            lapsed: status == Status::NonActive && previous != Some(Status::NonActive),
            reactivated: status == Status::Active && previous == Some(Status::NonActive),
        };
        ever_active |= status == Status::Active;
        previous = Some(status);
        if m >= from {
            out.push(item);
        }
    }
    Ok(out)
}

/// A month still open on a given day: when it falls due, and how many earlier unpaid months
/// are overdue on that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NotYetDue {
    pub due: time::Date,
    pub overdue: u32,
}

/// Whether month `s` of a participation reads as *not yet due* (*belum jatuh tempo*) on
/// `today`: it is unpaid, its own due date has not passed (a payment on the due date itself is
/// on time), and fewer than G of its unpaid months are overdue on that day, so nothing yet
/// makes it a lapse. Status itself stays the ledger's ([`series`]); this is how a month still
/// open on `today` is shown.
pub fn not_yet_due(
    rules: &RuleSet,
    segment: Segment,
    s: &MonthStatus,
    today: time::Date,
) -> Option<NotYetDue> {
    let Reason::Unpaid { months, .. } = s.reason else {
        return None;
    };
    let due = crate::quote::due_date(rules, segment, s.month)?;
    if today > due {
        return None;
    }
    let g = rules
        .coverage_rule(segment, s.month)?
        .months_unpaid_before_nonactive;
    let overdue_today = (0..months)
        .filter_map(|i| i32::try_from(i).ok())
        .filter_map(|i| crate::quote::due_date(rules, segment, s.month.plus(-i)))
        .filter(|d| today > *d)
        .count();
    let overdue = u32::try_from(overdue_today).unwrap_or(u32::MAX);
    (overdue < g).then_some(NotYetDue { due, overdue })
}

/// Bumped whenever the engine's reading of a ledger or the counters it feeds change (v2: arrears
/// from due dates and `left_employment`, Dec 2026).
const COUNTING_VERSION: u32 = 2;

/// What the stored counters depend on besides the ledger: this engine's version and the rules
/// it reads (coverage thresholds and lags, due dates, holidays). Counters built under another
/// fingerprint are rebuilt from the ledger before they are read (`cakupan` does it on open).
/// FNV-1a over their text: a change detector, not a secret.
pub fn counting_fingerprint(rules: &RuleSet) -> String {
    let text = format!(
        "v{COUNTING_VERSION}|{:?}|{:?}|{:?}",
        rules.coverage, rules.due_dates, rules.holidays
    );
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("v{COUNTING_VERSION}-{h:016x}")
}

/// The monthly counts of DOMAIN.md §4.2 that one participation contributes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// State: registered in or before M and not TERMINATED at M.
    Registered,
    /// State: ACTIVE in M.
    PaidActive,
    /// State: ACTIVE or IN_ARREARS in M (the headline peserta aktif).
    StatusActive,
    /// State: NONACTIVE in M.
    NonActive,
    /// Flow: first ever ACTIVE month is M.
    New,
    /// Flow: became NONACTIVE in M.
    Lapsed,
    /// Flow: ACTIVE in M after NONACTIVE in M−1.
    Reactivated,
    /// Flow: became NONACTIVE in M because the employer reported the employment ended (a
    /// stop): the part of `lapsed` that left employment rather than stopped paying.
    LeftEmployment,
}

impl Metric {
    pub const STATES: [Metric; 4] = [
        Metric::Registered,
        Metric::PaidActive,
        Metric::StatusActive,
        Metric::NonActive,
    ];

    pub const FLOWS: [Metric; 4] = [
        Metric::New,
        Metric::Lapsed,
        Metric::Reactivated,
        Metric::LeftEmployment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Registered => "registered",
            Metric::PaidActive => "paid_active",
            Metric::StatusActive => "status_active",
            Metric::NonActive => "nonactive",
            Metric::New => "new",
            Metric::Lapsed => "lapsed",
            Metric::Reactivated => "reactivated",
            Metric::LeftEmployment => "left_employment",
        }
    }

    pub fn parse(s: &str) -> Option<Metric> {
        Metric::STATES
            .into_iter()
            .chain(Metric::FLOWS)
            .find(|m| m.as_str() == s.trim())
    }

    /// States are stored as changes (read them as the running sum up to M); flows as the
    /// month's own count.
    pub fn is_state(self) -> bool {
        Self::STATES.contains(&self)
    }

    fn of(self, s: &MonthStatus) -> bool {
        match self {
            Metric::Registered => s.status != Status::Terminated,
            Metric::PaidActive => s.status == Status::Active,
            Metric::StatusActive => matches!(s.status, Status::Active | Status::InArrears),
            Metric::NonActive => s.status == Status::NonActive,
            Metric::New => s.new,
            Metric::Lapsed => s.lapsed,
            Metric::Reactivated => s.reactivated,
            Metric::LeftEmployment => {
                s.lapsed && matches!(s.reason, Reason::EmploymentEnded { .. })
            }
        }
    }
}

/// The month after which a participation's status never changes again: G months past its last
/// paid or terminated month (or its registration), with G the longest gap any rule allows.
fn horizon(rules: &RuleSet, facts: &Facts) -> Month {
    let start = facts.registered;
    let last_event = [
        facts.paid.keys().next_back().copied(),
        facts.terminated,
        facts.ended.last().copied(),
        Some(start),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(start);
    // Thresholds may change over time: run past the longest gap any rule allows.
    let longest = rules
        .coverage
        .iter()
        .filter(|r| r.segment == facts.segment)
        .map(|r| r.unpaid_months_before_nonactive())
        .max()
        .unwrap_or(1);
    last_event.plus(i32::try_from(longest).unwrap_or(i32::MAX - 1) + 1)
}

/// One participation's contribution to the counters: for state metrics a change (+1 entering,
/// −1 leaving) in the month it happens, for flow metrics a count in its month.
///
/// A participation's statuses stop changing G months after its last paid or terminated month
/// (NONACTIVE or TERMINATED for ever), so the list is finite and no counter needs a horizon:
/// the count of a state metric in any month, however far ahead, is the running sum of its
/// changes. A posting updates the counters by the difference between this list before and
/// after it.
pub fn counter_deltas(
    rules: &RuleSet,
    facts: &Facts,
) -> Result<Vec<(Month, Metric, i64)>, FieldError> {
    let statuses = series(rules, facts, facts.registered, horizon(rules, facts))?;
    let mut out = Vec::new();
    let mut before: Option<&MonthStatus> = None;
    for s in &statuses {
        for metric in Metric::STATES {
            let now = i64::from(metric.of(s));
            let was = before.map(|b| i64::from(metric.of(b))).unwrap_or(0);
            if now != was {
                out.push((s.month, metric, now - was));
            }
        }
        for metric in Metric::FLOWS {
            if metric.of(s) {
                out.push((s.month, metric, 1));
            }
        }
        before = Some(s);
    }
    Ok(out)
}

/// How a status ranks when one person holds several participations: the person counts with
/// the best of them (ACTIVE, then IN_ARREARS, NONACTIVE, PENDING, TERMINATED).
fn rank(s: Status) -> u8 {
    match s {
        Status::Active => 4,
        Status::InArrears => 3,
        Status::NonActive => 2,
        Status::Pending => 1,
        Status::Terminated => 0,
    }
}

/// A person's contribution to the all-segment counters, where each NIK counts once
/// (DOMAIN.md §4.2). `members` are the person's participations with the region each is
/// counted in, in a stable order (the caller's: participant id).
///
/// In each month the person takes the best status of the participations registered by then
/// (ranked ACTIVE, IN_ARREARS, NONACTIVE, PENDING, TERMINATED) and is counted in the region
/// of the participation that gives it; ties go to the earliest registration, then the
/// earliest member. The flows follow the person's status: `new` is the first month any
/// participation is ACTIVE, `lapsed` the month the person's best status becomes NONACTIVE,
/// `reactivated` an ACTIVE month after a NONACTIVE one. For one participation this is exactly
/// [`counter_deltas`] in its region.
pub fn person_deltas<R: Copy + PartialEq>(
    rules: &RuleSet,
    members: &[(R, &Facts)],
) -> Result<Vec<(R, Month, Metric, i64)>, FieldError> {
    let Some(start) = members.iter().map(|(_, f)| f.registered).min() else {
        return Ok(Vec::new());
    };
    let end = members
        .iter()
        .map(|(_, f)| horizon(rules, f))
        .max()
        .unwrap_or(start);
    let all: Vec<Vec<MonthStatus>> = members
        .iter()
        .map(|(_, f)| series(rules, f, start, end))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    // The person's (region, status, new, lapsed, reactivated) in the month before.
    let mut before: Option<(R, MonthStatus)> = None;
    let mut ever_active = false;
    for m in start.through(end) {
        let mut best: Option<(usize, &MonthStatus)> = None;
        for (i, s) in all.iter().enumerate() {
            let registered = members[i].1.registered;
            let Some(s) = s.get(usize::try_from(m.since(registered)).unwrap_or(usize::MAX)) else {
                continue;
            };
            let better = match best {
                None => true,
                Some((j, b)) => {
                    (
                        rank(s.status),
                        std::cmp::Reverse(registered),
                        std::cmp::Reverse(i),
                    ) > (
                        rank(b.status),
                        std::cmp::Reverse(members[j].1.registered),
                        std::cmp::Reverse(j),
                    )
                }
            };
            if better {
                best = Some((i, s));
            }
        }
        let Some((i, s)) = best else { continue };
        let region = members[i].0;
        let previous = before.as_ref().map(|b| b.1.status);
        let now = MonthStatus {
            month: m,
            status: s.status,
            reason: s.reason.clone(),
            new: s.status == Status::Active && !ever_active,
            lapsed: s.status == Status::NonActive && previous != Some(Status::NonActive),
            reactivated: s.status == Status::Active && previous == Some(Status::NonActive),
        };
        for metric in Metric::STATES {
            let is = metric.of(&now);
            match &before {
                Some((r, b)) if metric.of(b) && (!is || *r != region) => {
                    out.push((*r, m, metric, -1));
                    if is {
                        out.push((region, m, metric, 1));
                    }
                }
                Some((_, b)) if metric.of(b) => {}
                _ if is => out.push((region, m, metric, 1)),
                _ => {}
            }
        }
        for metric in Metric::FLOWS {
            if metric.of(&now) {
                out.push((region, m, metric, 1));
            }
        }
        ever_active |= now.status == Status::Active;
        before = Some((region, now));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn rules() -> &'static RuleSet {
        static R: OnceLock<RuleSet> = OnceLock::new();
        R.get_or_init(|| RuleSet::builtin().unwrap())
    }

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    fn pay(reference: &str, first: &str, months: u32) -> Contribution {
        Contribution {
            reference: reference.into(),
            first_month: m(first),
            months,
            reversed: false,
        }
    }

    fn statuses(f: &Facts, from: &str, to: &str) -> Vec<(String, &'static str)> {
        series(rules(), f, m(from), m(to))
            .unwrap()
            .into_iter()
            .map(|s| (s.month.to_string(), s.status.as_str()))
            .collect()
    }

    fn st(list: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        list.iter().map(|(a, b)| (a.to_string(), *b)).collect()
    }

    #[test]
    fn worked_example_of_domain_4_1() {
        // BPU, G = 3: paid Jan–Mar 2026, nothing after.
        let mut c = vec![pay("P1", "2026-01", 3)];
        let f = Facts::from_contributions(Segment::Bpu, m("2026-01"), &c, None);
        assert_eq!(
            statuses(&f, "2026-01", "2026-07"),
            st(&[
                ("2026-01", "ACTIVE"),
                ("2026-02", "ACTIVE"),
                ("2026-03", "ACTIVE"),
                ("2026-04", "IN_ARREARS"),
                ("2026-05", "IN_ARREARS"),
                ("2026-06", "NONACTIVE"),
                ("2026-07", "NONACTIVE"),
            ])
        );
        // A later payment for Sep 2026 reactivates from Sep; Jun–Aug stay NONACTIVE.
        c.push(pay("P2", "2026-09", 1));
        let f = Facts::from_contributions(Segment::Bpu, m("2026-01"), &c, None);
        let s = series(rules(), &f, m("2026-06"), m("2027-01")).unwrap();
        let got: Vec<&str> = s.iter().map(|x| x.status.as_str()).collect();
        assert_eq!(
            got,
            [
                "NONACTIVE",
                "NONACTIVE",
                "NONACTIVE",
                "ACTIVE",
                "IN_ARREARS",
                "IN_ARREARS",
                "NONACTIVE",
                "NONACTIVE"
            ]
        );
        assert!(s[3].reactivated && !s[3].new);
        assert_eq!(
            s[3].reason,
            Reason::PaidBy {
                reference: "P2".into()
            }
        );
        assert_eq!(
            s[5].reason,
            Reason::Unpaid {
                months: 2,
                overdue: 2
            }
        );
        assert!(s[6].lapsed && !s[7].lapsed);
        let first = series(rules(), &f, m("2026-01"), m("2026-01")).unwrap();
        assert!(first[0].new);
    }

    #[test]
    fn pending_until_the_first_paid_month() {
        let f =
            Facts::from_contributions(Segment::Bpu, m("2026-01"), &[pay("P", "2026-03", 1)], None);
        assert_eq!(
            statuses(&f, "2025-11", "2026-04"),
            st(&[
                ("2026-01", "PENDING"),
                ("2026-02", "PENDING"),
                ("2026-03", "ACTIVE"),
                ("2026-04", "IN_ARREARS"),
            ])
        );
    }

    #[test]
    fn back_payment_restates_past_months() {
        let mut c = vec![pay("P1", "2026-01", 1)];
        let f = Facts::from_contributions(Segment::Bpu, m("2026-01"), &c, None);
        assert_eq!(
            statuses(&f, "2026-04", "2026-04"),
            st(&[("2026-04", "NONACTIVE")])
        );
        // Received later, covering Feb–Apr: those months become ACTIVE.
        c.push(pay("P2", "2026-02", 3));
        let f = Facts::from_contributions(Segment::Bpu, m("2026-01"), &c, None);
        assert_eq!(
            statuses(&f, "2026-02", "2026-05"),
            st(&[
                ("2026-02", "ACTIVE"),
                ("2026-03", "ACTIVE"),
                ("2026-04", "ACTIVE"),
                ("2026-05", "IN_ARREARS"),
            ])
        );
    }

    #[test]
    fn reversal_and_lump_payment_and_termination() {
        let mut bounced = pay("P1", "2026-01", 12);
        let f = Facts::from_contributions(Segment::Bpu, m("2026-01"), &[bounced.clone()], None);
        assert!(
            series(rules(), &f, m("2026-01"), m("2026-12"))
                .unwrap()
                .iter()
                .all(|s| s.status == Status::Active)
        );
        bounced.reversed = true;
        let f = Facts::from_contributions(Segment::Bpu, m("2026-01"), &[bounced], None);
        assert!(
            series(rules(), &f, m("2026-01"), m("2026-12"))
                .unwrap()
                .iter()
                .all(|s| s.status == Status::Pending)
        );
        let f = Facts::from_contributions(
            Segment::Bpu,
            m("2026-01"),
            &[pay("P", "2026-01", 12)],
            Some(m("2026-06")),
        );
        assert_eq!(
            statuses(&f, "2026-05", "2026-07"),
            st(&[
                ("2026-05", "ACTIVE"),
                ("2026-06", "TERMINATED"),
                ("2026-07", "TERMINATED")
            ])
        );
    }

    #[test]
    fn a_reported_stop_ends_the_participation_until_a_new_payment() {
        // PU paid Jan–Mar 2026, stopped from April by the employer, enrolled and paid by a new
        // employer from July.
        let f = Facts::from_contributions(
            Segment::Pu,
            m("2026-01"),
            &[pay("INV1-1", "2026-01", 3), pay("INV9-4", "2026-07", 1)],
            None,
        )
        .with_ended(vec![m("2026-04")]);
        let s = series(rules(), &f, m("2026-03"), m("2026-09")).unwrap();
        assert_eq!(
            s.iter().map(|x| x.status.as_str()).collect::<Vec<_>>(),
            [
                "ACTIVE",
                "NONACTIVE",
                "NONACTIVE",
                "NONACTIVE",
                "ACTIVE",
                "IN_ARREARS",
                "IN_ARREARS"
            ]
        );
        assert_eq!(
            s[1].reason,
            Reason::EmploymentEnded {
                month: m("2026-04")
            }
        );
        assert!(s[1].lapsed && s[4].reactivated);
        // Counted as a lapse, and apart as one who left employment (not one who stopped paying).
        let d = counter_deltas(rules(), &f).unwrap();
        for metric in [Metric::Lapsed, Metric::LeftEmployment] {
            assert!(
                d.contains(&(m("2026-04"), metric, 1)),
                "{metric:?} in {d:?}"
            );
        }
        // Without the stop the worker would have been IN_ARREARS in April and May.
        let g = Facts {
            ended: Vec::new(),
            ..f
        };
        assert_eq!(
            statuses(&g, "2026-04", "2026-05"),
            st(&[("2026-04", "IN_ARREARS"), ("2026-05", "IN_ARREARS")])
        );
    }

    /// DOMAIN.md §4.1 as corrected in Dec 2026: arrears run from due dates.
    #[test]
    fn arrears_run_from_due_dates() {
        // PU (due the 15th of the next month): September paid, nothing after → October to
        // December IN_ARREARS, January NONACTIVE (15 January, December's due date, is the
        // third to pass unpaid).
        let f = Facts::from_contributions(
            Segment::Pu,
            m("2026-01"),
            &[pay("INV-9", "2026-09", 1)],
            None,
        );
        let s = series(rules(), &f, m("2026-09"), m("2027-02")).unwrap();
        assert_eq!(
            s.iter().map(|x| x.status.as_str()).collect::<Vec<_>>(),
            [
                "ACTIVE",
                "IN_ARREARS",
                "IN_ARREARS",
                "IN_ARREARS",
                "NONACTIVE",
                "NONACTIVE"
            ]
        );
        assert!(s[4].lapsed && !s[3].lapsed);
        // A lapse by not paying: not one who left employment.
        let d = counter_deltas(rules(), &f).unwrap();
        assert!(d.contains(&(m("2027-01"), Metric::Lapsed, 1)));
        assert!(!d.iter().any(|x| x.1 == Metric::LeftEmployment), "{d:?}");
        assert_eq!(
            s[3].reason,
            Reason::Unpaid {
                months: 3,
                overdue: 2
            }
        );
        assert_eq!(
            s[4].reason,
            Reason::Unpaid {
                months: 4,
                overdue: 3
            }
        );
        // On 2 December only October is overdue: November and December are not yet due,
        // October is arrears.
        let on = time::macros::date!(2026 - 12 - 02);
        assert_eq!(not_yet_due(rules(), Segment::Pu, &s[1], on), None);
        let due = |d| NotYetDue { due: d, overdue: 1 };
        assert_eq!(
            not_yet_due(rules(), Segment::Pu, &s[2], on),
            Some(due(time::macros::date!(2026 - 12 - 15)))
        );
        assert_eq!(
            not_yet_due(rules(), Segment::Pu, &s[3], on),
            Some(due(time::macros::date!(2027 - 01 - 15)))
        );
        // Paid on time, never late: the due date itself is still on time.
        assert!(
            not_yet_due(
                rules(),
                Segment::Pu,
                &s[2],
                time::macros::date!(2026 - 12 - 15)
            )
            .is_some()
        );
        assert!(
            not_yet_due(
                rules(),
                Segment::Pu,
                &s[2],
                time::macros::date!(2026 - 12 - 16)
            )
            .is_none()
        );

        // An employer paying every month by its due date: every month of 2026 paid, 2027
        // nothing yet. Never NONACTIVE while the dues are met; on 2 January 2027 December is
        // not yet due (15 January) and January neither.
        let f = Facts::from_contributions(
            Segment::Pu,
            m("2026-01"),
            &[pay("INV", "2026-01", 12)],
            None,
        );
        let s = series(rules(), &f, m("2026-01"), m("2027-01")).unwrap();
        assert!(s.iter().all(|x| x.status != Status::NonActive));
        let on = time::macros::date!(2027 - 01 - 02);
        let jan = s.last().unwrap();
        assert_eq!(jan.status, Status::InArrears);
        assert!(not_yet_due(rules(), Segment::Pu, jan, on).is_some());

        // One missed due date (October unpaid, everything else paid): IN_ARREARS, never
        // NONACTIVE.
        let f = Facts::from_contributions(
            Segment::Pu,
            m("2026-01"),
            &[pay("A", "2026-01", 9), pay("B", "2026-11", 2)],
            None,
        );
        let s = series(rules(), &f, m("2026-09"), m("2026-12")).unwrap();
        assert_eq!(
            s.iter().map(|x| x.status.as_str()).collect::<Vec<_>>(),
            ["ACTIVE", "IN_ARREARS", "ACTIVE", "ACTIVE"]
        );

        // BPU (due the 15th of the month itself): January–March paid → April, May IN_ARREARS,
        // June NONACTIVE; on 5 June, June's own due date (15 June) has not passed and only
        // April and May are overdue: June reads as not yet due, not as a lapse.
        let f =
            Facts::from_contributions(Segment::Bpu, m("2026-01"), &[pay("P", "2026-01", 3)], None);
        let s = series(rules(), &f, m("2026-04"), m("2026-06")).unwrap();
        assert_eq!(
            s.iter().map(|x| x.status.as_str()).collect::<Vec<_>>(),
            ["IN_ARREARS", "IN_ARREARS", "NONACTIVE"]
        );
        assert_eq!(
            s[2].reason,
            Reason::Unpaid {
                months: 3,
                overdue: 3
            }
        );
        assert_eq!(
            not_yet_due(
                rules(),
                Segment::Bpu,
                &s[2],
                time::macros::date!(2026 - 06 - 05)
            ),
            Some(NotYetDue {
                due: time::macros::date!(2026 - 06 - 15),
                overdue: 2
            })
        );
        assert_eq!(
            not_yet_due(
                rules(),
                Segment::Bpu,
                &s[2],
                time::macros::date!(2026 - 06 - 16)
            ),
            None
        );
        // April on 5 June: long overdue.
        assert_eq!(
            not_yet_due(
                rules(),
                Segment::Bpu,
                &s[0],
                time::macros::date!(2026 - 06 - 05)
            ),
            None
        );
    }

    #[test]
    fn a_coverage_lag_that_disagrees_with_the_due_date_is_refused() {
        let text = include_str!("../../../rules/coverage.toml")
            .replace("due_lag_months = 1", "due_lag_months = 0");
        let files: Vec<(&str, &str)> = crate::rules::BUILTIN
            .iter()
            .map(|(n, t)| {
                (
                    *n,
                    if *n == "coverage.toml" {
                        text.as_str()
                    } else {
                        *t
                    },
                )
            })
            .collect();
        let err = RuleSet::from_sources(&files).unwrap_err().to_string();
        assert!(err.contains("due_lag_months"), "{err}");
    }

    /// DOMAIN.md §4.1 read literally, month by month, with no carried state: `g` months
    /// overdue, a month overdue in `month` when its due date (the due-date rules, not the
    /// coverage rule's lag) falls in `month` or before.
    fn brute(f: &Facts, g: u32, month: Month) -> Option<Status> {
        if month < f.registered {
            return None;
        }
        if f.terminated.is_some_and(|t| t <= month) {
            return Some(Status::Terminated);
        }
        if !f.paid.keys().any(|p| *p <= month) {
            return Some(Status::Pending);
        }
        if f.paid.contains_key(&month) {
            return Some(Status::Active);
        }
        let latest_paid = f.paid.keys().filter(|p| **p <= month).max().copied();
        if f.ended
            .iter()
            .any(|e| Some(*e) > latest_paid && *e <= month)
        {
            return Some(Status::NonActive);
        }
        let mut overdue = 0;
        let mut x = month;
        while !f.paid.contains_key(&x) {
            let due = crate::quote::due_date(rules(), f.segment, x).unwrap();
            if Month::of(due) <= month {
                overdue += 1;
            }
            x = x.plus(-1);
        }
        Some(if overdue < g {
            Status::InArrears
        } else {
            Status::NonActive
        })
    }

    proptest! {
        #[test]
        fn counter_deltas_sum_to_the_statuses(
            reg in 0i32..24, paid in proptest::collection::btree_set(0i32..36, 0..12),
            term in proptest::option::of(0i32..40),
            ended in proptest::collection::vec(0i32..40, 0..3), pu in any::<bool>(),
        ) {
            let base = m("2025-01");
            let facts = Facts {
                segment: if pu { Segment::Pu } else { Segment::Bpu },
                registered: base.plus(reg),
                paid: paid.iter().map(|p| (base.plus(*p), format!("P{p}"))).collect(),
                terminated: term.map(|t| base.plus(t)),
                ended: Vec::new(),
            }.with_ended(ended.iter().map(|e| base.plus(*e)).collect());
            let deltas = counter_deltas(rules(), &facts).unwrap();
            let months = series(rules(), &facts, base, base.plus(80)).unwrap();
            for metric in Metric::STATES.into_iter().chain(Metric::FLOWS) {
                for mm in base.through(base.plus(80)) {
                    let got: i64 = if metric.is_state() {
                        deltas.iter().filter(|(dm, x, _)| *x == metric && *dm <= mm).map(|d| d.2).sum()
                    } else {
                        deltas.iter().filter(|(dm, x, _)| *x == metric && *dm == mm).map(|d| d.2).sum()
                    };
                    let want = months.iter().find(|s| s.month == mm).map(|s| i64::from(metric.of(s))).unwrap_or(0);
                    prop_assert_eq!(got, want, "{:?} in {}", metric, mm);
                }
            }
        }

        #[test]
        fn one_participation_counts_as_its_person(
            reg in 0i32..24, paid in proptest::collection::btree_set(0i32..36, 0..12),
            term in proptest::option::of(0i32..40),
            ended in proptest::collection::vec(0i32..40, 0..3), pu in any::<bool>(),
        ) {
            let base = m("2025-01");
            let facts = Facts {
                segment: if pu { Segment::Pu } else { Segment::Bpu },
                registered: base.plus(reg),
                paid: paid.iter().map(|p| (base.plus(*p), format!("P{p}"))).collect(),
                terminated: term.map(|t| base.plus(t)),
                ended: Vec::new(),
            }.with_ended(ended.iter().map(|e| base.plus(*e)).collect());
            let one: Vec<_> = counter_deltas(rules(), &facts).unwrap().into_iter().map(|(mm, x, d)| ((), mm, x, d)).collect();
            prop_assert_eq!(person_deltas(rules(), &[((), &facts)]).unwrap(), one);
        }

        /// Two or three participations of one NIK, in regions 0, 1, 2: summed, the person's
        /// deltas give in every month exactly the brute-force best status, counted once, in
        /// the region of the participation that gives it.
        #[test]
        fn a_person_counts_once_with_their_best_status(
            people in proptest::collection::vec(
                (0i32..24, proptest::collection::btree_set(0i32..36, 0..8), proptest::option::of(0i32..40),
                 proptest::collection::vec(0i32..40, 0..2)),
                2..4,
            ),
        ) {
            let base = m("2025-01");
            let g = rules().coverage_rule(Segment::Bpu, base).unwrap().months_unpaid_before_nonactive;
            let facts: Vec<Facts> = people.iter().map(|(reg, paid, term, ended)| Facts {
                segment: Segment::Bpu,
                registered: base.plus(*reg),
                paid: paid.iter().map(|p| (base.plus(*p), format!("P{p}"))).collect(),
                terminated: term.map(|t| base.plus(t)),
                ended: Vec::new(),
            }.with_ended(ended.iter().map(|e| base.plus(*e)).collect())).collect();
            let members: Vec<(usize, &Facts)> = facts.iter().enumerate().collect();
            let deltas = person_deltas(rules(), &members).unwrap();
            let mut ever = false;
            let mut previous: Option<Status> = None;
            for mm in base.through(base.plus(80)) {
                // Brute force: the best status of the participations registered by now.
                let best = facts.iter().enumerate()
                    .filter_map(|(i, f)| brute(f, g, mm).map(|s| (rank(s), std::cmp::Reverse(f.registered), std::cmp::Reverse(i), s)))
                    .max_by_key(|t| (t.0, t.1, t.2));
                let (region, status) = match best {
                    Some((_, _, std::cmp::Reverse(i), s)) => (Some(i), Some(s)),
                    None => (None, None),
                };
                // The participation counted is NONACTIVE because its employment ended.
                let left_employment = |i: Option<usize>, mm: Month| {
                    i.is_some_and(|i| {
                        let f = &facts[i];
                        let lp = f.paid.keys().filter(|p| **p <= mm).max().copied();
                        lp.is_some() && f.ended.iter().any(|e| Some(*e) > lp && *e <= mm)
                    })
                };
                let want = |metric: Metric| -> bool {
                    let Some(s) = status else { return false };
                    match metric {
                        Metric::Registered => s != Status::Terminated,
                        Metric::PaidActive => s == Status::Active,
                        Metric::StatusActive => matches!(s, Status::Active | Status::InArrears),
                        Metric::NonActive => s == Status::NonActive,
                        Metric::New => s == Status::Active && !ever,
                        Metric::Lapsed => s == Status::NonActive && previous != Some(Status::NonActive),
                        Metric::Reactivated => s == Status::Active && previous == Some(Status::NonActive),
                        Metric::LeftEmployment => s == Status::NonActive && previous != Some(Status::NonActive)
                            && left_employment(region, mm),
                    }
                };
                for metric in Metric::STATES.into_iter().chain(Metric::FLOWS) {
                    for r in 0..facts.len() {
                        let got: i64 = deltas.iter()
                            .filter(|(dr, dm, x, _)| *dr == r && *x == metric && if metric.is_state() { *dm <= mm } else { *dm == mm })
                            .map(|d| d.3).sum();
                        let expected = i64::from(region == Some(r) && want(metric));
                        prop_assert_eq!(got, expected, "{:?} in {} region {}", metric, mm, r);
                    }
                }
                ever |= status == Some(Status::Active);
                if status.is_some() {
                    previous = status;
                }
            }
        }

        #[test]
        fn series_equals_the_definition(
            reg in 0i32..24, paid in proptest::collection::btree_set(0i32..36, 0..12),
            term in proptest::option::of(0i32..40), from in 0i32..36, len in 0i32..40,
            ended in proptest::collection::vec(0i32..40, 0..3), pu in any::<bool>(),
        ) {
            let base = m("2025-01");
            let facts = Facts {
                segment: if pu { Segment::Pu } else { Segment::Bpu },
                registered: base.plus(reg),
                paid: paid.iter().map(|p| (base.plus(*p), format!("P{p}"))).collect(),
                terminated: term.map(|t| base.plus(t)),
                ended: Vec::new(),
            }.with_ended(ended.iter().map(|e| base.plus(*e)).collect());
            let g = rules().coverage_rule(facts.segment, base).unwrap().months_unpaid_before_nonactive;
            let out = series(rules(), &facts, base.plus(from), base.plus(from + len)).unwrap();
            let expected: Vec<(Month, Status)> = base.plus(from).through(base.plus(from + len))
                .filter_map(|mm| brute(&facts, g, mm).map(|s| (mm, s)))
                .collect();
            let got: Vec<(Month, Status)> = out.iter().map(|s| (s.month, s.status)).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
