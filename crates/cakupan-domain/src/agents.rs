//! Perisai agents (Penggerak Jaminan Sosial Indonesia, DOMAIN.md §5): what an agent earns in a
//! month, whether they are active, and when the cash they hold needs attention. Pure: the
//! monthly figures come from the ledger (the store keeps them as counters), the rules from
//! `rules/perisai.toml`.
//!
//! Definitions used throughout:
//! * an agent's **participants** are those they acquired (registered through the `perisai`
//!   channel under their agent code);
//! * an **acquisition** counts in the month the participant's first contribution is received
//!   (a registration nobody pays for earns nothing and is no sign of activity);
//! * the **fee base** of a month is the contributions received that month from the agent's
//!   participants, whoever collected them; a reversal received in a later month is **clawed
//!   back** in that month, at that month's rate, so that a month's statement never changes;
//! * a **collection** is a contribution the agent took in cash (`collected_by`): it is held
//!   by the agent until deposited.

use crate::error::FieldError;
use crate::money::Rupiah;
use crate::month::Month;
use crate::rules::RuleSet;
use serde::Serialize;
use std::collections::BTreeSet;

/// The monthly figures kept per agent, in this order.
pub const AGENT_COLUMNS: [&str; 7] = [
    "acquisitions",
    "acquisitions_3",
    "fee_base",
    "fee_reversed",
    "collections",
    "collected",
    "collected_reversed",
];

/// One agent's figures for one month (see [`AGENT_COLUMNS`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AgentMonth {
    /// New participants: first contribution received this month.
    pub acquisitions: i64,
    /// Of which with three programmes (JKK+JKM+JHT).
    pub acquisitions_3: i64,
    /// Contributions received this month from the agent's participants (Rp).
    pub fee_base: i64,
    /// Contributions of the agent's participants reversed this month (Rp).
    pub fee_reversed: i64,
    /// Contributions the agent collected in cash this month (count and Rp).
    pub collections: i64,
    pub collected: i64,
    /// Collections reversed this month (Rp).
    pub collected_reversed: i64,
}

impl AgentMonth {
    pub fn from_values(v: [i64; 7]) -> AgentMonth {
        AgentMonth {
            acquisitions: v[0],
            acquisitions_3: v[1],
            fee_base: v[2],
            fee_reversed: v[3],
            collections: v[4],
            collected: v[5],
            collected_reversed: v[6],
        }
    }

    pub fn values(&self) -> [i64; 7] {
        [
            self.acquisitions,
            self.acquisitions_3,
            self.fee_base,
            self.fee_reversed,
            self.collections,
            self.collected,
            self.collected_reversed,
        ]
    }

    pub fn add(&mut self, other: &AgentMonth) {
        let (a, b) = (self.values(), other.values());
        let mut v = [0; 7];
        for i in 0..7 {
            v[i] = a[i] + b[i];
        }
        *self = AgentMonth::from_values(v);
    }

    /// Whether the agent counts as active this month (DOMAIN.md §5: idle means no new
    /// acquisition and no contribution received): an acquisition, a cash collection, or any
    /// contribution received from their participants through any channel (a bank, an
    /// aggregator, autodebit).
    pub fn active(&self) -> bool {
        self.acquisitions > 0 || self.collections > 0 || self.fee_base > 0
    }
}

/// A monthly fee statement of one agent (or, summed, of an office).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub month: Month,
    pub acquisitions: i64,
    pub acquisitions_3: i64,
    pub fee_base: Rupiah,
    pub fee_reversed: Rupiah,
    pub fee_ppm: i64,
    /// `fee_base` × the rate.
    pub contribution_fee: Rupiah,
    /// `fee_reversed` × the rate (subtracted).
    pub clawback: Rupiah,
    /// The acquisition incentive, when the month's acquisitions reach the threshold.
    pub incentive: Rupiah,
    pub threshold: i64,
    /// contribution fee − clawback + incentive.
    pub total: Rupiah,
    pub agent_share: Rupiah,
    pub office_share: Rupiah,
    /// The scheme's source and status, for the statement's footnote.
    pub source: String,
    pub status: String,
}

/// The statement of a month from its figures, under the fee scheme in force then.
pub fn statement(rules: &RuleSet, month: Month, m: &AgentMonth) -> Result<Statement, FieldError> {
    let scheme = rules.perisai_fee(month).ok_or_else(|| {
        FieldError::new(
            "month",
            "perisai_fee.missing",
            format!("no Perisai fee scheme is in force in {month} (rules/perisai.toml)"),
        )
    })?;
    let rounding = rules.rounding(month);
    let contribution_fee = Rupiah(m.fee_base).times_ppm(scheme.fee_ppm, rounding);
    let clawback = Rupiah(m.fee_reversed).times_ppm(scheme.fee_ppm, rounding);
    let incentive = if m.acquisitions >= scheme.acquisition_threshold && m.acquisitions > 0 {
        let three = m.acquisitions_3.clamp(0, m.acquisitions);
        let two = m.acquisitions - three;
        scheme.acquisition_lump
            + two * scheme.acquisition_each_2
            + three * scheme.acquisition_each_3
    } else {
        0
    };
    let total = Rupiah(contribution_fee.0 - clawback.0 + incentive);
    // The split is taken of what the scheme says; the rest is the agent's whole.
    let applies = |what: &str| scheme.agent_share_applies_to.iter().any(|x| x == what);
    let split = Rupiah(
        if applies("contribution_fee") {
            contribution_fee.0 - clawback.0
        } else {
            0
        } + if applies("incentive") { incentive } else { 0 },
    );
    let agent_share =
        Rupiah(split.times_ppm(scheme.agent_share_ppm, rounding).0 + (total.0 - split.0));
    Ok(Statement {
        month,
        acquisitions: m.acquisitions,
        acquisitions_3: m.acquisitions_3,
        fee_base: Rupiah(m.fee_base),
        fee_reversed: Rupiah(m.fee_reversed),
        fee_ppm: scheme.fee_ppm,
        contribution_fee,
        clawback,
        incentive: Rupiah(incentive),
        threshold: scheme.acquisition_threshold,
        total,
        agent_share,
        office_share: Rupiah(total.0 - agent_share.0),
        source: scheme.provenance.source.clone(),
        status: scheme.provenance.status.clone(),
    })
}

/// An agent's standing in a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Active,
    Inactive,
    Terminated,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Active => "active",
            AgentStatus::Inactive => "inactive",
            AgentStatus::Terminated => "terminated",
        }
    }
}

/// What an office or the branch recorded about an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgentEvent {
    /// Reactivated at the office's request (only after the cooling period).
    Reactivated { month: Month },
    /// Terminated (fraud, end of agreement, resignation): for good.
    Terminated { month: Month, reason: String },
}

impl AgentEvent {
    pub fn month(&self) -> Month {
        match self {
            AgentEvent::Reactivated { month } | AgentEvent::Terminated { month, .. } => *month,
        }
    }
}

/// One month of an agent's standing, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentMonthStatus {
    pub month: Month,
    pub status: AgentStatus,
    /// Consecutive months without an acquisition or a contribution received, up to and including this one
    /// (while active).
    pub idle_months: u32,
    /// The month the current inactivity began.
    pub inactive_since: Option<Month>,
}

/// The standing of an agent appointed in `appointed` for every month up to `to`, from the
/// months in which they were active and the recorded events (DOMAIN.md §5): inactive after
/// `idle_months_before_inactive` idle months (the appointment month counts); back only through
/// a reactivation at least `reactivation_cooling_months` after becoming inactive; terminated
/// for good. A reactivation before the cooling period ends is ignored here (and refused when
/// it is recorded, by [`check_reactivation`]).
pub fn status_series(
    rules: &RuleSet,
    appointed: Month,
    active_months: &BTreeSet<Month>,
    events: &[AgentEvent],
    to: Month,
) -> Vec<AgentMonthStatus> {
    let mut out = Vec::new();
    let mut status = AgentStatus::Active;
    let mut idle = 0u32;
    let mut inactive_since = None;
    if to < appointed {
        return out;
    }
    for m in appointed.through(to) {
        // Without a lifecycle rule an agent never becomes inactive.
        let (limit, cooling) = lifecycle_limits(rules, m).unwrap_or((u32::MAX, u32::MAX));
        if status != AgentStatus::Terminated
            && events
                .iter()
                .any(|e| matches!(e, AgentEvent::Terminated { month, .. } if *month <= m))
        {
            status = AgentStatus::Terminated;
            inactive_since = None;
        }
        if status == AgentStatus::Inactive
            && let Some(since) = inactive_since
            && events.iter().any(|e| {
                matches!(e, AgentEvent::Reactivated { month } if *month == m)
                    && m.since(since) >= i32::try_from(cooling).unwrap_or(i32::MAX)
            })
        {
            status = AgentStatus::Active;
            inactive_since = None;
            idle = 0;
        }
        if status == AgentStatus::Active {
            if active_months.contains(&m) {
                idle = 0;
            } else {
                idle += 1;
            }
            if idle >= limit {
                status = AgentStatus::Inactive;
                inactive_since = Some(m);
            }
        }
        out.push(AgentMonthStatus {
            month: m,
            status,
            idle_months: if status == AgentStatus::Active {
                idle
            } else {
                0
            },
            inactive_since,
        });
    }
    out
}

/// One month of an office against its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfficeMonth {
    pub month: Month,
    /// New participants a month the office is to reach (its target in force that month).
    pub target: i64,
    /// New participants its agents acquired that month.
    pub acquisitions: i64,
    pub below: bool,
}

/// An office's standing against its targets (DOMAIN.md §5: a Kantor Perisai that misses its
/// minimum target for `office_months_below_target` consecutive months has its agreement
/// terminated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfficeStanding {
    /// Each complete month since the first target, oldest first.
    pub months: Vec<OfficeMonth>,
    /// Consecutive months below target up to the last complete month (or up to the end).
    pub below_in_a_row: u32,
    /// The limit of the rules in force.
    pub limit: u32,
    /// The first month without an agreement: the month after the limit was reached.
    pub ended_from: Option<Month>,
}

/// An office's standing on `now`: only complete months (before `now`) are judged, each
/// against the target in force then (none set: not judged); when `limit` consecutive months
/// are below target, the agreement ends from the next month and nothing after counts.
pub fn office_standing(
    rules: &RuleSet,
    targets: &[(Month, i64)],
    acquisitions: &std::collections::BTreeMap<Month, i64>,
    now: Month,
) -> OfficeStanding {
    let mut out = OfficeStanding {
        months: Vec::new(),
        below_in_a_row: 0,
        limit: 0,
        ended_from: None,
    };
    let Some(first) = targets.iter().map(|t| t.0).min() else {
        return out;
    };
    let target_in = |m: Month| {
        targets
            .iter()
            .filter(|t| t.0 <= m)
            .max_by_key(|t| t.0)
            .map(|t| t.1)
    };
    let mut run = 0u32;
    let last = now.plus(-1);
    if last < first {
        return out;
    }
    for m in first.through(last) {
        let limit = rules
            .perisai_lifecycle(m)
            .map(|l| l.office_months_below_target.max(1))
            .unwrap_or(u32::MAX);
        out.limit = limit;
        let Some(target) = target_in(m) else {
            continue;
        };
        let got = acquisitions.get(&m).copied().unwrap_or(0);
        let below = got < target;
        run = if below { run + 1 } else { 0 };
        out.months.push(OfficeMonth {
            month: m,
            target,
            acquisitions: got,
            below,
        });
        if run >= limit {
            out.ended_from = Some(m.plus(1));
            break;
        }
    }
    out.below_in_a_row = run;
    out
}

/// The lifecycle limits that govern month `m` (rules/perisai.toml): consecutive idle months
/// before an agent becomes inactive (at least 1) and the cooling period before reactivation.
/// `None`: the rules have no lifecycle row.
pub fn lifecycle_limits(rules: &RuleSet, m: Month) -> Option<(u32, u32)> {
    rules.perisai_lifecycle(m).map(|l| {
        (
            l.idle_months_before_inactive.max(1),
            l.reactivation_cooling_months,
        )
    })
}

/// The first month an agent inactive since `since` may be reactivated under the rule that
/// governs `m`, with that rule's cooling period.
pub fn earliest_reactivation(rules: &RuleSet, since: Month, m: Month) -> Option<(Month, u32)> {
    let (_, cooling) = lifecycle_limits(rules, m)?;
    Some((
        since.plus(i32::try_from(cooling).unwrap_or(i32::MAX)),
        cooling,
    ))
}

/// Whether an agent with this standing may be reactivated in `month`; the error names the
/// rule and the first month it becomes possible.
pub fn check_reactivation(
    rules: &RuleSet,
    series: &[AgentMonthStatus],
    month: Month,
) -> Result<(), FieldError> {
    let Some(now) = series.iter().find(|s| s.month == month).or(series.last()) else {
        return Err(FieldError::new(
            "month",
            "agent.not_appointed",
            "the agent was not appointed yet in that month",
        ));
    };
    match now.status {
        AgentStatus::Active => Err(FieldError::new(
            "kind",
            "agent.already_active",
            format!("the agent is active in {month}: there is nothing to reactivate"),
        )),
        AgentStatus::Terminated => Err(FieldError::new(
            "kind",
            "agent.terminated",
            "a terminated agent cannot be reactivated; appoint them again under a new code",
        )),
        AgentStatus::Inactive => {
            let since = now.inactive_since.unwrap_or(month);
            let Some((earliest, cooling)) = earliest_reactivation(rules, since, month) else {
                return Err(FieldError::new(
                    "month",
                    "agent.no_rule",
                    "no perisai_lifecycle rule in rules/perisai.toml says when an agent may be reactivated",
                ));
            };
            if month < earliest {
                Err(FieldError::new(
                    "month",
                    "agent.cooling",
                    format!(
                        "inactive since {since}: reactivation is possible from {earliest} ({cooling} months, rules/perisai.toml)"
                    ),
                )
                .with_args([since.to_string(), earliest.to_string()]))
            } else {
                Ok(())
            }
        }
    }
}

/// Why the cash an agent holds needs attention (empty: it does not).
pub fn custody_alerts(
    rules: &RuleSet,
    month: Month,
    held: i64,
    oldest_days: Option<i64>,
) -> Vec<FieldError> {
    let Some(c) = rules.perisai_custody(month) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if held > c.alert_amount {
        out.push(
            FieldError::new(
                "held",
                "custody.amount",
                format!(
                    "holds {} not yet deposited, above {}",
                    Rupiah(held),
                    Rupiah(c.alert_amount)
                ),
            )
            .with_args([held, c.alert_amount]),
        );
    }
    if let Some(d) = oldest_days
        && d > i64::from(c.alert_days)
    {
        out.push(
            FieldError::new(
                "held",
                "custody.age",
                format!(
                    "the oldest collection not yet deposited is {d} days old, above {} days",
                    c.alert_days
                ),
            )
            .with_args([d, i64::from(c.alert_days)]),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rules() -> RuleSet {
        RuleSet::builtin().unwrap()
    }

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    #[test]
    fn an_office_three_months_below_target_loses_its_agreement() {
        // Target 10 new participants a month from January 2026 (8 from April). January met,
        // February, March below; April met (8 of 8); May, June, July below: the third month
        // below in a row is July, so the agreement ends from August. Judged on 15 September:
        // August is not judged after the end.
        let targets = [(m("2026-01"), 10), (m("2026-04"), 8)];
        let got: std::collections::BTreeMap<Month, i64> = [
            ("2026-01", 12),
            ("2026-02", 4),
            ("2026-03", 9),
            ("2026-04", 8),
            ("2026-05", 7),
            ("2026-06", 0),
            ("2026-07", 3),
            ("2026-08", 20),
        ]
        .into_iter()
        .map(|(k, v)| (m(k), v))
        .collect();
        let s = office_standing(&rules(), &targets, &got, m("2026-09"));
        assert_eq!(s.ended_from, Some(m("2026-08")));
        assert_eq!(s.below_in_a_row, 3);
        assert_eq!(s.months.len(), 7);
        assert!(!s.months[3].below && s.months[3].target == 8);
        // On 15 July only May and June are judged (July is not complete): still in agreement.
        let s = office_standing(&rules(), &targets, &got, m("2026-07"));
        assert_eq!((s.ended_from, s.below_in_a_row), (None, 2));
        // No target set: nothing is judged.
        let s = office_standing(&rules(), &[], &got, m("2026-09"));
        assert!(s.months.is_empty() && s.ended_from.is_none());
    }

    #[test]
    fn contributions_through_any_channel_keep_an_agent_active() {
        // Autodebit payments of the agent's participants, no cash, no one new: active.
        let autodebit = AgentMonth {
            fee_base: 16_800,
            ..AgentMonth::default()
        };
        assert!(autodebit.active());
        assert!(!AgentMonth::default().active());
        // An agent whose participants pay by autodebit every month never goes idle.
        let months: BTreeSet<Month> = m("2026-01")
            .through(m("2026-12"))
            .filter(|_| autodebit.active())
            .collect();
        let s = status_series(&rules(), m("2026-01"), &months, &[], m("2026-12"));
        assert!(s.iter().all(|x| x.status == AgentStatus::Active));
    }

    #[test]
    fn a_statement_by_hand_under_each_scheme() {
        // 2018 (7.5%, Rp500,000 from 50 acquisitions, 90/10): Rp1,680,000 received from the
        // agent's participants, Rp16,800 of earlier ones reversed, 50 acquisitions.
        let month = AgentMonth {
            acquisitions: 50,
            acquisitions_3: 10,
            fee_base: 1_680_000,
            fee_reversed: 16_800,
            ..AgentMonth::default()
        };
        let s = statement(&rules(), m("2018-06"), &month).unwrap();
        assert_eq!(s.contribution_fee, Rupiah(126_000)); // 7.5% of 1,680,000
        assert_eq!(s.clawback, Rupiah(1_260)); // 7.5% of 16,800
        assert_eq!(s.incentive, Rupiah(500_000));
        assert_eq!(s.total, Rupiah(624_740));
        // The 90/10 split is of the fee on contributions (124,740): office 12,474; the
        // incentive is the agent's whole.
        assert_eq!(s.agent_share, Rupiah(112_266 + 500_000)); // 90% of 124,740, half up
        assert_eq!(s.office_share, Rupiah(12_474));
        // 2026 (15%, per head from 25: Rp10,000 for two programmes, Rp15,000 for three):
        // Rp84,000 received, 26 acquisitions of which 6 with JHT.
        let month = AgentMonth {
            acquisitions: 26,
            acquisitions_3: 6,
            fee_base: 84_000,
            ..AgentMonth::default()
        };
        let s = statement(&rules(), m("2026-11"), &month).unwrap();
        assert_eq!(s.contribution_fee, Rupiah(12_600));
        assert_eq!(s.incentive, Rupiah(20 * 10_000 + 6 * 15_000));
        assert_eq!(s.total, Rupiah(302_600));
        assert_eq!(
            (s.agent_share, s.office_share),
            (Rupiah(11_340 + 290_000), Rupiah(1_260))
        );
        // Below the threshold: no incentive.
        let few = AgentMonth {
            acquisitions: 24,
            fee_base: 84_000,
            ..AgentMonth::default()
        };
        assert_eq!(
            statement(&rules(), m("2026-11"), &few).unwrap().incentive,
            Rupiah(0)
        );
    }

    #[test]
    fn idle_agents_go_inactive_and_come_back_only_after_the_cooling_period() {
        let r = rules();
        // Appointed Jan 2026; active in Jan and Feb; idle from March.
        let active: BTreeSet<Month> = [m("2026-01"), m("2026-02")].into_iter().collect();
        let s = status_series(&r, m("2026-01"), &active, &[], m("2026-12"));
        let st = |x: &str| s.iter().find(|e| e.month == m(x)).unwrap().status;
        assert_eq!(st("2026-04"), AgentStatus::Active); // idle Mar, Apr
        assert_eq!(st("2026-05"), AgentStatus::Inactive); // third idle month
        assert_eq!(st("2026-12"), AgentStatus::Inactive);
        // Reactivation: refused in October (5 months), allowed in November (6 months).
        let e = check_reactivation(&r, &s, m("2026-10")).unwrap_err();
        assert_eq!(e.rule, "agent.cooling");
        assert!(e.message.contains("from 2026-11"), "{}", e.message);
        assert!(check_reactivation(&r, &s, m("2026-11")).is_ok());
        let back = [AgentEvent::Reactivated {
            month: m("2026-11"),
        }];
        let s2 = status_series(&r, m("2026-01"), &active, &back, m("2027-03"));
        let st2 = |x: &str| s2.iter().find(|e| e.month == m(x)).unwrap().status;
        assert_eq!(st2("2026-11"), AgentStatus::Active);
        assert_eq!(st2("2027-01"), AgentStatus::Inactive); // idle Nov, Dec, Jan again
        // A reactivation recorded too early is ignored.
        let early = [AgentEvent::Reactivated {
            month: m("2026-08"),
        }];
        let s3 = status_series(&r, m("2026-01"), &active, &early, m("2026-09"));
        assert_eq!(s3.last().unwrap().status, AgentStatus::Inactive);
        // Termination is for good, and cannot be undone.
        let fraud = [AgentEvent::Terminated {
            month: m("2026-02"),
            reason: "fraud".into(),
        }];
        let s4 = status_series(&r, m("2026-01"), &active, &fraud, m("2026-12"));
        assert_eq!(s4[0].status, AgentStatus::Active);
        assert!(s4[1..].iter().all(|x| x.status == AgentStatus::Terminated));
        assert_eq!(
            check_reactivation(&r, &s4, m("2026-12")).unwrap_err().rule,
            "agent.terminated"
        );
    }

    #[test]
    fn cash_held_too_long_or_too_much_is_flagged() {
        let r = rules();
        assert!(custody_alerts(&r, m("2026-11"), 100_000, Some(1)).is_empty());
        let a = custody_alerts(&r, m("2026-11"), 2_500_000, Some(5));
        let rules: Vec<&str> = a.iter().map(|e| e.rule).collect();
        assert_eq!(rules, ["custody.amount", "custody.age"]);
    }
}
