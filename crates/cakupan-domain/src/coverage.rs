//! Who is protected in which month: the coverage status of one participation, month by month,
//! exactly as DOMAIN.md §4.1 defines it. Pure: the caller passes the facts from the ledger.
//!
//! For month M, with `paid(M)` true when a posted, non-reversed contribution covers M (whenever
//! it was received) and G the segment's `months_unpaid_before_nonactive`:
//! 1. TERMINATED if the participation was terminated in a month ≤ M;
//! 2. else PENDING if no month ≤ M is paid;
//! 3. else ACTIVE if M is paid;
//! 4. else, with k the consecutive unpaid months ending at M (back to, not including, the
//!    latest paid month before M): IN_ARREARS if k < G, NONACTIVE if k ≥ G.
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
    /// This many consecutive months unpaid, up to and including this one.
    Unpaid { months: u32 },
    /// Registered, nothing paid for this month or before.
    NothingPaidYet,
    /// Terminated in this month.
    TerminatedIn { month: Month },
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
        }
    }
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
        let g = rules
            .coverage_rule(facts.segment, m)
            .map(|r| r.months_unpaid_before_nonactive)
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
                Some(lp) => {
                    let k = u32::try_from(m.since(lp)).unwrap_or(u32::MAX);
                    let s = if k < g {
                        Status::InArrears
                    } else {
                        Status::NonActive
                    };
                    (s, Reason::Unpaid { months: k })
                }
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
}

impl Metric {
    pub const STATES: [Metric; 4] = [
        Metric::Registered,
        Metric::PaidActive,
        Metric::StatusActive,
        Metric::NonActive,
    ];

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
        }
    }
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
    let start = facts.registered;
    let last_event = [
        facts.paid.keys().next_back().copied(),
        facts.terminated,
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
        .map(|r| r.months_unpaid_before_nonactive)
        .max()
        .unwrap_or(1);
    let end = last_event.plus(i32::try_from(longest).unwrap_or(i32::MAX - 1) + 1);
    let statuses = series(rules, facts, start, end)?;
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
        for metric in [Metric::New, Metric::Lapsed, Metric::Reactivated] {
            if metric.of(s) {
                out.push((s.month, metric, 1));
            }
        }
        before = Some(s);
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
        assert_eq!(s[5].reason, Reason::Unpaid { months: 2 });
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

    /// DOMAIN.md §4.1 read literally, month by month, with no carried state.
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
        let mut k = 0;
        let mut x = month;
        while !f.paid.contains_key(&x) {
            k += 1;
            x = x.plus(-1);
        }
        Some(if k < g {
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
        ) {
            let base = m("2025-01");
            let facts = Facts {
                segment: Segment::Bpu,
                registered: base.plus(reg),
                paid: paid.iter().map(|p| (base.plus(*p), format!("P{p}"))).collect(),
                terminated: term.map(|t| base.plus(t)),
            };
            let deltas = counter_deltas(rules(), &facts).unwrap();
            let months = series(rules(), &facts, base, base.plus(80)).unwrap();
            for metric in [Metric::Registered, Metric::PaidActive, Metric::StatusActive, Metric::NonActive,
                           Metric::New, Metric::Lapsed, Metric::Reactivated] {
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
        fn series_equals_the_definition(
            reg in 0i32..24, paid in proptest::collection::btree_set(0i32..36, 0..12),
            term in proptest::option::of(0i32..40), from in 0i32..36, len in 0i32..40,
        ) {
            let base = m("2025-01");
            let facts = Facts {
                segment: Segment::Bpu,
                registered: base.plus(reg),
                paid: paid.iter().map(|p| (base.plus(*p), format!("P{p}"))).collect(),
                terminated: term.map(|t| base.plus(t)),
            };
            let g = rules().coverage_rule(Segment::Bpu, base).unwrap().months_unpaid_before_nonactive;
            let out = series(rules(), &facts, base.plus(from), base.plus(from + len)).unwrap();
            let expected: Vec<(Month, Status)> = base.plus(from).through(base.plus(from + len))
                .filter_map(|mm| brute(&facts, g, mm).map(|s| (mm, s)))
                .collect();
            let got: Vec<(Month, Status)> = out.iter().map(|s| (s.month, s.status)).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
