//! The ledger's shared logic: what a posting is, how the ledger rows of one participation turn
//! into coverage facts, and how a change of facts turns into counter changes at every level of
//! the region tree. Backends run it inside their transactions.

use crate::ActiveRow;
use crate::Result;
use crate::StoreError;
use cakupan_domain::contribution::{Payment, Profile, check_amount};
use cakupan_domain::coverage::{Contribution, Facts, Metric, counter_deltas, person_deltas};
use cakupan_domain::month::format_date;
use cakupan_domain::{FieldError, Level, Month, Nik, RegionCode, RuleSet, Segment};
use serde::Serialize;
use std::collections::HashMap;

/// Why a participation ended (DOMAIN.md §4.1 rule 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminationReason {
    Death,
    Withdrawal,
    MovedAbroad,
}

impl TerminationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TerminationReason::Death => "death",
            TerminationReason::Withdrawal => "withdrawal",
            TerminationReason::MovedAbroad => "moved_abroad",
        }
    }

    pub fn parse(s: &str) -> Option<TerminationReason> {
        [
            TerminationReason::Death,
            TerminationReason::Withdrawal,
            TerminationReason::MovedAbroad,
        ]
        .into_iter()
        .find(|r| r.as_str() == s.trim())
    }
}

/// A posting to the append-only ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewPosting {
    /// A contribution payment covering one or more months.
    Contribution(Payment),
    /// A payment that bounced: the contribution `target` covers nothing any more. `on` is the
    /// day it was recorded (the month an agent's fee is clawed back in); not part of the body,
    /// so a retry on another day is still the same reversal.
    Reversal {
        reference: String,
        target: String,
        on: time::Date,
    },
    /// The participation ends from `month` on.
    Termination {
        reference: String,
        nik: Nik,
        segment: Segment,
        month: Month,
        reason: TerminationReason,
    },
    /// The employer reported the worker stopped: their PU participation is NONACTIVE from
    /// `month` until a later payment (DOMAIN.md §4.1 as extended for wage reports, issue #7).
    Stop {
        reference: String,
        nik: Nik,
        month: Month,
        /// The employer's business registration number (NIB).
        employer: String,
    },
}

impl NewPosting {
    pub fn reference(&self) -> &str {
        match self {
            NewPosting::Contribution(p) => &p.reference,
            NewPosting::Reversal { reference, .. }
            | NewPosting::Termination { reference, .. }
            | NewPosting::Stop { reference, .. } => reference,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            NewPosting::Contribution(_) => "contribution",
            NewPosting::Reversal { .. } => "reversal",
            NewPosting::Termination { .. } => "termination",
            NewPosting::Stop { .. } => "stop",
        }
    }

    /// The canonical content: posting the same reference again with the same body is a retry.
    /// It is stored, so it names the person by the blind index of the NIK (`nik_index`, hex),
    /// never the NIK.
    pub fn body(&self, nik_index: &dyn Fn(&Nik) -> String) -> String {
        match self {
            NewPosting::Contribution(p) => {
                let mut body = format!(
                    "contribution|{}|{}|{}|{}|{}|{}|{}",
                    nik_index(&p.nik),
                    p.segment,
                    p.first_month,
                    p.months,
                    p.amount.0,
                    p.channel.as_str(),
                    format_date(p.paid_on)
                );
                if let Some(agent) = &p.collected_by {
                    body.push_str("|collected_by:");
                    body.push_str(agent);
                }
                // The wage is not written out: the body is stored in clear, and the wage is
                // personal data (the amount is checked against it before anything is stored).
                if let Some(b) = &p.pu_basis {
                    body.push_str(&format!("|pu:{}:{}", b.risk_class, b.programmes));
                }
                body
            }
            NewPosting::Reversal { target, .. } => format!("reversal|{target}"),
            NewPosting::Termination {
                nik,
                segment,
                month,
                reason,
                ..
            } => format!(
                "termination|{}|{segment}|{month}|{}",
                nik_index(nik),
                reason.as_str()
            ),
            NewPosting::Stop {
                nik,
                month,
                employer,
                ..
            } => format!("stop|{}|PU|{month}|{employer}", nik_index(nik)),
        }
    }
}

/// What a posting did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PostingOutcome {
    Posted {
        id: i64,
        participant_id: i64,
    },
    /// The same posting was already in the ledger (a retry): nothing changed.
    Existing {
        id: i64,
        participant_id: i64,
    },
}

/// One ledger row of a participation, as the backends read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub id: i64,
    pub reference: String,
    pub kind: String,
    pub first_month: Option<i32>,
    pub months: Option<i32>,
    pub amount: Option<i64>,
    pub paid_month: Option<i32>,
    pub target_reference: Option<String>,
    /// The Perisai agent who collected a contribution in cash.
    pub collected_by: Option<String>,
}

/// The coverage facts of a participation from its ledger rows (in posting order).
pub fn facts(segment: Segment, registered: Month, rows: &[LedgerRow]) -> Facts {
    let reversed: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|r| r.kind == "reversal")
        .filter_map(|r| r.target_reference.as_deref())
        .collect();
    let contributions: Vec<Contribution> = rows
        .iter()
        .filter(|r| r.kind == "contribution")
        .filter_map(|r| {
            Some(Contribution {
                reference: r.reference.clone(),
                first_month: Month::from_index(r.first_month?)?,
                months: u32::try_from(r.months?).ok()?,
                reversed: reversed.contains(r.reference.as_str()),
            })
        })
        .collect();
    let terminated = rows
        .iter()
        .filter(|r| r.kind == "termination")
        .filter_map(|r| r.first_month.and_then(Month::from_index))
        .min();
    let ended = rows
        .iter()
        .filter(|r| r.kind == "stop")
        .filter_map(|r| r.first_month.and_then(Month::from_index))
        .collect();
    Facts::from_contributions(segment, registered, &contributions, terminated).with_ended(ended)
}

/// Money collected per month from a participation's ledger (reversed payments excluded).
pub fn collected(rows: &[LedgerRow]) -> Vec<(Month, i64)> {
    let reversed: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|r| r.kind == "reversal")
        .filter_map(|r| r.target_reference.as_deref())
        .collect();
    rows.iter()
        .filter(|r| r.kind == "contribution" && !reversed.contains(r.reference.as_str()))
        .filter_map(|r| Some((Month::from_index(r.paid_month?)?, r.amount?)))
        .collect()
}

/// How many counter columns there are.
pub const COUNTERS: usize = 9;

/// Counter values in column order: registered, paid_active, status_active, nonactive, new,
/// lapsed, reactivated, amount, left_employment.
pub type CounterValues = [i64; COUNTERS];

pub const COUNTER_COLUMNS: [&str; COUNTERS] = [
    "registered",
    "paid_active",
    "status_active",
    "nonactive",
    "new",
    "lapsed",
    "reactivated",
    "amount",
    "left_employment",
];

fn column(metric: Metric) -> usize {
    match metric {
        Metric::Registered => 0,
        Metric::PaidActive => 1,
        Metric::StatusActive => 2,
        Metric::NonActive => 3,
        Metric::New => 4,
        Metric::Lapsed => 5,
        Metric::Reactivated => 6,
        Metric::LeftEmployment => 8,
    }
}

/// The series a counter row belongs to: one segment's participations, or the overlap
/// correction. Summed over every series, the counters count each NIK once (DOMAIN.md §4.2):
/// the overlap rows hold, for people with more than one participation, what counting the
/// person once differs from counting each participation ([`person_deltas`] less the
/// participations' own deltas). They are zero, and not stored, for everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Series {
    Segment(Segment),
    Overlap,
}

impl Series {
    /// The stored spelling (the counters' `segment` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Series::Segment(s) => s.as_str(),
            Series::Overlap => "OVERLAP",
        }
    }

    pub fn parse(s: &str) -> Option<Series> {
        if s == "OVERLAP" {
            Some(Series::Overlap)
        } else {
            Segment::parse(s).map(Series::Segment)
        }
    }
}

impl std::fmt::Display for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The levels a change is counted in, the nation first and the village last.
const LEVELS: [Level; 5] = [
    Level::Nation,
    Level::Province,
    Level::Regency,
    Level::District,
    Level::Village,
];

/// The counters' column of registrations (the first of [`COUNTER_COLUMNS`]).
pub const REGISTERED: usize = 0;

/// Counter changes keyed by (region, series, month); the nation is [`RegionCode::NATION`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterChanges(pub HashMap<(RegionCode, Series, i32), CounterValues>);

impl CounterChanges {
    fn add(&mut self, village: RegionCode, segment: Series, month: Month, col: usize, v: i64) {
        self.add_at(&LEVELS, village, segment, month, col, v);
    }

    fn add_at(
        &mut self,
        levels: &[Level],
        village: RegionCode,
        segment: Series,
        month: Month,
        col: usize,
        v: i64,
    ) {
        if v == 0 {
            return;
        }
        for &level in levels {
            let region = village.truncate(level);
            self.0
                .entry((region, segment, month.index()))
                .or_insert([0; COUNTERS])[col] += v;
        }
    }

    /// A new registration: counted as registered from its registration month (PENDING counts
    /// nowhere else).
    pub fn register(&mut self, village: RegionCode, segment: Segment, month: Month) {
        self.add(village, Series::Segment(segment), month, REGISTERED, 1);
    }

    /// `n` new registrations of one village, segment and month, counted in the levels above
    /// the village only: a bulk load writes the villages' own rows from its staged rows in one
    /// statement (`REGISTERED` is their column), and keeps in memory only the regions above
    /// them, whose number does not grow with the registry.
    pub fn register_above_village(
        &mut self,
        village: RegionCode,
        segment: Segment,
        month: Month,
        n: i64,
    ) {
        self.add_at(
            &LEVELS[..4],
            village,
            Series::Segment(segment),
            month,
            REGISTERED,
            n,
        );
    }

    /// Adds (`sign` = 1) or removes (`sign` = −1) what one participation contributes.
    pub fn apply(
        &mut self,
        rules: &RuleSet,
        village: RegionCode,
        facts: &Facts,
        rows: &[LedgerRow],
        sign: i64,
    ) -> Result<(), FieldError> {
        let series = Series::Segment(facts.segment);
        for (month, metric, d) in counter_deltas(rules, facts)? {
            self.add(village, series, month, column(metric), sign * d);
        }
        for (month, amount) in collected(rows) {
            self.add(village, series, month, 7, sign * amount);
        }
        Ok(())
    }

    /// Adds (`sign` = 1) or removes (`sign` = −1) the overlap correction of one person: their
    /// participations (village, facts) in participant-id order. Nothing for a single one.
    pub fn apply_person(
        &mut self,
        rules: &RuleSet,
        members: &[(RegionCode, &Facts)],
        sign: i64,
    ) -> Result<(), FieldError> {
        if members.len() < 2 {
            return Ok(());
        }
        for (village, month, metric, d) in person_deltas(rules, members)? {
            self.add(village, Series::Overlap, month, column(metric), sign * d);
        }
        for (village, facts) in members {
            for (month, metric, d) in counter_deltas(rules, facts)? {
                self.add(*village, Series::Overlap, month, column(metric), -sign * d);
            }
        }
        Ok(())
    }

    /// The changes that are not all zero, in no order, one at a time: what writes them where
    /// the order does not matter (a bulk load builds the counters' keys after).
    pub fn unsorted_rows(&self) -> impl Iterator<Item = (String, i16, Series, i32, CounterValues)> {
        self.0
            .iter()
            .filter(|(_, v)| v.iter().any(|x| *x != 0))
            .map(|((r, s, m), v)| (r.to_string(), i16::from(r.level().depth()), *s, *m, *v))
    }

    /// The changes that are not all zero, ready to be added to the stored counters.
    pub fn rows(&self) -> Vec<(String, i16, Series, i32, CounterValues)> {
        let mut out: Vec<_> = self.unsorted_rows().collect();
        out.sort_by(|a, b| (&a.0, a.2, a.3).cmp(&(&b.0, b.2, b.3)));
        out
    }
}

/// What a posting adds to the ledger, once checked against the participation it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPosting {
    /// The new ledger row (its `id` is assigned when stored).
    pub row: LedgerRow,
    pub channel: Option<String>,
    pub paid_on: Option<String>,
    pub reason: Option<String>,
}

fn rejected(field: &str, rule: &'static str, message: String) -> crate::StoreError {
    crate::StoreError::Rejected(FieldError::new(field, rule, message).into())
}

/// Checks a posting against its participation and the ledger so far: a contribution's amount
/// must equal the dues of its months (DESIGN.md §5) and its months must not precede the
/// registration; a termination must not precede the registration or repeat.
pub fn check_posting(
    rules: &RuleSet,
    participant: &crate::Participant,
    before: &[LedgerRow],
    posting: &NewPosting,
) -> crate::Result<CheckedPosting> {
    let reg = &participant.registration;
    let registered = Month::of(reg.registered_on);
    let terminated = before
        .iter()
        .filter(|r| r.kind == "termination")
        .filter_map(|r| r.first_month.and_then(Month::from_index))
        .min();
    let blank = LedgerRow {
        id: 0,
        reference: posting.reference().to_string(),
        kind: posting.kind().to_string(),
        first_month: None,
        months: None,
        amount: None,
        paid_month: None,
        target_reference: None,
        collected_by: None,
    };
    match posting {
        NewPosting::Contribution(p) => {
            if p.first_month < registered {
                return Err(rejected(
                    "first_month",
                    "first_month.before_registration",
                    format!(
                        "first_month {} is before the registration month {registered}",
                        p.first_month
                    ),
                ));
            }
            if let Some(t) = terminated {
                return Err(rejected(
                    "nik",
                    "participation.terminated",
                    format!("this participation was terminated in {t}"),
                ));
            }
            let profile = match (reg.segment, &p.pu_basis) {
                (Segment::Pu, Some(b)) => Profile {
                    segment: Segment::Pu,
                    income_base: b.wage,
                    programmes: b.programmes,
                    sector: reg.sector,
                    budget_funded: reg.budget_funded,
                    risk_class: Some(b.risk_class),
                },
                (Segment::Pu, None) => {
                    return Err(rejected(
                        "segment",
                        "pu.basis_required",
                        "PU contributions are billed through the employer's invoice, at the month's wage and the employer's risk class".into(),
                    ));
                }
                _ => Profile {
                    segment: reg.segment,
                    income_base: reg.income_base,
                    programmes: reg.programmes,
                    sector: reg.sector,
                    budget_funded: reg.budget_funded,
                    risk_class: None,
                },
            };
            check_amount(rules, &profile, p).map_err(crate::StoreError::Rejected)?;
            Ok(CheckedPosting {
                row: LedgerRow {
                    first_month: Some(p.first_month.index()),
                    months: i32::try_from(p.months).ok(),
                    amount: Some(p.amount.0),
                    paid_month: Some(Month::of(p.paid_on).index()),
                    collected_by: p.collected_by.clone(),
                    ..blank
                },
                channel: Some(p.channel.as_str().to_string()),
                paid_on: Some(format_date(p.paid_on)),
                reason: None,
            })
        }
        NewPosting::Reversal { target, on, .. } => Ok(CheckedPosting {
            row: LedgerRow {
                target_reference: Some(target.clone()),
                paid_month: Some(Month::of(*on).index()),
                ..blank
            },
            channel: None,
            paid_on: Some(format_date(*on)),
            reason: None,
        }),
        NewPosting::Termination { month, reason, .. } => {
            if *month < registered {
                return Err(rejected(
                    "month",
                    "month.before_registration",
                    format!(
                        "termination month {month} is before the registration month {registered}"
                    ),
                ));
            }
            if let Some(t) = terminated {
                return Err(rejected(
                    "nik",
                    "participation.terminated",
                    format!("this participation was already terminated in {t}"),
                ));
            }
            Ok(CheckedPosting {
                row: LedgerRow {
                    first_month: Some(month.index()),
                    ..blank
                },
                channel: None,
                paid_on: None,
                reason: Some(reason.as_str().to_string()),
            })
        }
        NewPosting::Stop {
            month, employer, ..
        } => {
            if reg.segment != Segment::Pu {
                return Err(rejected(
                    "segment",
                    "stop.segment",
                    "only a wage earner's (PU) participation is stopped by an employer".into(),
                ));
            }
            if *month < registered {
                return Err(rejected(
                    "month",
                    "month.before_registration",
                    format!("stop month {month} is before the registration month {registered}"),
                ));
            }
            if let Some(t) = terminated {
                return Err(rejected(
                    "nik",
                    "participation.terminated",
                    format!("this participation was terminated in {t}"),
                ));
            }
            Ok(CheckedPosting {
                row: LedgerRow {
                    first_month: Some(month.index()),
                    ..blank
                },
                channel: None,
                paid_on: None,
                reason: Some(employer.clone()),
            })
        }
    }
}

/// What recomputing needs of a participation besides its ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Base {
    pub id: i64,
    pub segment: Segment,
    pub village: RegionCode,
    pub registered: Month,
}

impl Base {
    pub fn parse(
        id: i64,
        segment: &str,
        village: &str,
        registered_on: &str,
    ) -> crate::Result<Base> {
        let bad = |what: &str, v: &str| {
            crate::StoreError::Corrupt(format!("participant {id}: {what} '{v}'"))
        };
        Ok(Base {
            id,
            segment: Segment::parse(segment).ok_or_else(|| bad("segment", segment))?,
            village: RegionCode::parse(village).map_err(|_| bad("village_code", village))?,
            registered: cakupan_domain::month::parse_date(registered_on)
                .map(Month::of)
                .ok_or_else(|| bad("registered_on", registered_on))?,
        })
    }

    /// The recompute view of a stored participation.
    pub fn of(p: &crate::Participant) -> Base {
        Base {
            id: p.id,
            segment: p.registration.segment,
            village: p.registration.village,
            registered: Month::of(p.registration.registered_on),
        }
    }

    /// Adds this participation's share of every counter.
    pub fn add_to(
        &self,
        rules: &RuleSet,
        ledger: &[LedgerRow],
        changes: &mut CounterChanges,
    ) -> crate::Result<()> {
        let f = facts(self.segment, self.registered, ledger);
        changes
            .apply(rules, self.village, &f, ledger, 1)
            .map_err(|e| crate::StoreError::Rejected(e.into()))
    }
}

/// Adds (`sign` = 1) or removes (`sign` = −1) the overlap correction of one person: all their
/// participations, each with its ledger (any order).
pub fn add_person(
    rules: &RuleSet,
    group: &[(Base, &[LedgerRow])],
    sign: i64,
    changes: &mut CounterChanges,
) -> crate::Result<()> {
    if group.len() < 2 {
        return Ok(());
    }
    let mut sorted: Vec<&(Base, &[LedgerRow])> = group.iter().collect();
    sorted.sort_by_key(|(b, _)| b.id);
    let facts: Vec<(RegionCode, Facts)> = sorted
        .iter()
        .map(|(b, l)| (b.village, facts(b.segment, b.registered, l)))
        .collect();
    let members: Vec<(RegionCode, &Facts)> = facts.iter().map(|(v, f)| (*v, f)).collect();
    changes
        .apply_person(rules, &members, sign)
        .map_err(|e| crate::StoreError::Rejected(e.into()))
}

/// The counter changes of moving participation `moved` to another village (a corrected
/// domicile): its whole share leaves the old village's counters and joins the new one's, and
/// the person's overlap correction moves with it. `group` holds every participation of the
/// person (the moved one included) with its ledger.
pub fn relocation(
    rules: &RuleSet,
    moved: i64,
    to: RegionCode,
    group: &[(Base, Vec<LedgerRow>)],
) -> crate::Result<CounterChanges> {
    let mut changes = CounterChanges::default();
    let Some((from, ledger)) = group.iter().find(|(b, _)| b.id == moved) else {
        return Ok(changes);
    };
    if from.village == to {
        return Ok(changes);
    }
    let f = facts(from.segment, from.registered, ledger);
    let reject = |e: FieldError| crate::StoreError::Rejected(e.into());
    changes
        .apply(rules, from.village, &f, ledger, -1)
        .map_err(reject)?;
    changes.apply(rules, to, &f, ledger, 1).map_err(reject)?;
    let before: Vec<(Base, &[LedgerRow])> = group.iter().map(|(b, l)| (*b, l.as_slice())).collect();
    let after: Vec<(Base, &[LedgerRow])> = before
        .iter()
        .map(|(b, l)| {
            if b.id == moved {
                (Base { village: to, ..*b }, *l)
            } else {
                (*b, *l)
            }
        })
        .collect();
    add_person(rules, &before, -1, &mut changes)?;
    add_person(rules, &after, 1, &mut changes)?;
    Ok(changes)
}

/// The overlap correction a batch of registrations adds for one person: `group` holds all
/// their participations now stored, `new` the ids this batch created, `ledgers` the ledgers of
/// the others.
pub fn registration_overlap(
    rules: &RuleSet,
    group: &[crate::Participant],
    new: &std::collections::HashSet<i64>,
    ledgers: &HashMap<i64, Vec<LedgerRow>>,
    changes: &mut CounterChanges,
) -> crate::Result<()> {
    let empty = Vec::new();
    let all: Vec<(Base, &[LedgerRow])> = group
        .iter()
        .map(|p| (Base::of(p), ledgers.get(&p.id).unwrap_or(&empty).as_slice()))
        .collect();
    let old: Vec<(Base, &[LedgerRow])> = all
        .iter()
        .filter(|(b, _)| !new.contains(&b.id))
        .copied()
        .collect();
    add_person(rules, &old, -1, changes)?;
    add_person(rules, &all, 1, changes)
}

impl CounterChanges {
    /// The active report computed from these changes (the recompute path of `report active
    /// --recompute`): the same rows the store's counters give.
    pub fn active_report(
        &self,
        level: Level,
        within: RegionCode,
        segment: Option<Segment>,
        month: Month,
    ) -> Vec<crate::ActiveRow> {
        let mut sums: std::collections::BTreeMap<RegionCode, [i64; 4]> = Default::default();
        for ((region, seg, m), v) in &self.0 {
            if region.level() != level
                || !within.contains(*region)
                || segment.is_some_and(|s| Series::Segment(s) != *seg)
                || *m > month.index()
            {
                continue;
            }
            let e = sums.entry(*region).or_insert([0; 4]);
            for i in 0..4 {
                e[i] += v[i];
            }
        }
        sums.into_iter()
            .map(|(r, v)| crate::ActiveRow {
                code: r.to_string(),
                registered: v[0],
                paid_active: v[1],
                status_active: v[2],
                nonactive: v[3],
            })
            .collect()
    }
}

/// What a batch of postings needs from the store, loaded before planning.
#[derive(Debug, Clone, Default)]
pub struct BatchState {
    /// Postings already in the ledger, by reference: (id, participant id, body).
    pub existing: HashMap<String, (i64, i64, String)>,
    /// Participations named by NIK and segment in the batch.
    pub by_key: HashMap<(Nik, Segment), crate::Participant>,
    /// Participations by id (those of reversal targets, and every one above).
    pub by_id: HashMap<i64, crate::Participant>,
    /// Postings that reversals in the batch point at: reference → (participant id, kind).
    pub targets: HashMap<String, (i64, String)>,
    /// Contributions already reversed: target reference → reversal reference.
    pub reversed: HashMap<String, String>,
    /// The ledger of every participation involved, in posting order.
    pub ledgers: HashMap<i64, Vec<LedgerRow>>,
}

/// One posting of a batch that passed its checks and is to be inserted.
#[derive(Debug, Clone)]
pub struct PlannedInsert {
    /// Index of the posting in the batch.
    pub index: usize,
    pub participant_id: i64,
    pub checked: CheckedPosting,
    pub body: String,
}

/// The outcome of each posting of a batch; `None` for those to insert (they become `Posted`
/// once they have their ids).
pub type BatchOutcomes = Vec<Option<Result<PostingOutcome, cakupan_domain::FieldErrors>>>;

impl BatchState {
    /// Decides every posting of the batch in order, as if posted one by one.
    pub fn plan(
        &mut self,
        rules: &RuleSet,
        keys: &crate::crypto::Keys,
        postings: &[NewPosting],
    ) -> (BatchOutcomes, Vec<PlannedInsert>) {
        let index = |n: &Nik| hex::encode(keys.nik_index(n));
        let mut outcomes: BatchOutcomes = vec![None; postings.len()];
        let mut inserts: Vec<PlannedInsert> = Vec::new();
        let mut in_batch: HashMap<String, usize> = HashMap::new();
        let err = |field: &str,
                   rule: &'static str,
                   msg: String|
         -> Result<PostingOutcome, cakupan_domain::FieldErrors> {
            Err(FieldError::new(field, rule, msg).into())
        };
        for (i, p) in postings.iter().enumerate() {
            let reference = p.reference().to_string();
            if reference.trim().is_empty() {
                outcomes[i] = Some(err("reference", "required", "reference is required".into()));
                continue;
            }
            if let Some((id, pid, body)) = self.existing.get(&reference) {
                outcomes[i] = Some(if *body == p.body(&index) {
                    Ok(PostingOutcome::Existing {
                        id: *id,
                        participant_id: *pid,
                    })
                } else {
                    err(
                        "reference",
                        "reference.reused",
                        format!("reference {reference} was already posted with different content"),
                    )
                });
                continue;
            }
            if let Some(&j) = in_batch.get(&reference) {
                // Settled after insertion: the same body is the same posting.
                if postings[j].body(&index) != p.body(&index) {
                    outcomes[i] = Some(err(
                        "reference",
                        "reference.reused",
                        format!("reference {reference} was already posted with different content"),
                    ));
                }
                continue;
            }
            let participant = match p {
                NewPosting::Contribution(pay) => self.by_key.get(&(pay.nik, pay.segment)).cloned(),
                NewPosting::Termination { nik, segment, .. } => {
                    self.by_key.get(&(*nik, *segment)).cloned()
                }
                NewPosting::Stop { nik, .. } => self.by_key.get(&(*nik, Segment::Pu)).cloned(),
                NewPosting::Reversal { target, .. } => {
                    let Some((pid, kind)) = self.targets.get(target).cloned() else {
                        outcomes[i] = Some(err(
                            "reverses",
                            "reverses.unknown",
                            format!("no posting has reference {target}"),
                        ));
                        continue;
                    };
                    if kind != "contribution" {
                        outcomes[i] = Some(err(
                            "reverses",
                            "reverses.not_contribution",
                            format!("{target} is a {kind}, not a contribution"),
                        ));
                        continue;
                    }
                    if let Some(by) = self.reversed.get(target) {
                        outcomes[i] = Some(err(
                            "reverses",
                            "reverses.already",
                            format!("{target} was already reversed by {by}"),
                        ));
                        continue;
                    }
                    self.by_id.get(&pid).cloned()
                }
            };
            let Some(participant) = participant else {
                outcomes[i] = Some(err(
                    "nik",
                    "nik.not_registered",
                    "no participation is registered for this NIK in this segment".into(),
                ));
                continue;
            };
            let ledger = self.ledgers.entry(participant.id).or_default();
            match check_posting(rules, &participant, ledger, p) {
                Err(crate::StoreError::Rejected(e)) => outcomes[i] = Some(Err(e)),
                Err(e) => {
                    outcomes[i] = Some(Err(FieldError::new(
                        "posting",
                        "posting.store",
                        e.to_string(),
                    )
                    .into()))
                }
                Ok(checked) => {
                    ledger.push(checked.row.clone());
                    if let NewPosting::Contribution(_) = p {
                        self.targets
                            .insert(reference.clone(), (participant.id, "contribution".into()));
                    }
                    if let NewPosting::Reversal { target, .. } = p {
                        self.reversed.insert(target.clone(), reference.clone());
                    }
                    in_batch.insert(reference, i);
                    inserts.push(PlannedInsert {
                        index: i,
                        participant_id: participant.id,
                        checked,
                        body: p.body(&index),
                    });
                }
            }
        }
        (outcomes, inserts)
    }

    /// The counter changes of the planned batch: each involved participation's share after the
    /// batch less its share before (`before` = the ledgers as loaded).
    pub fn changes(
        &self,
        rules: &RuleSet,
        before: &HashMap<i64, Vec<LedgerRow>>,
        inserts: &[PlannedInsert],
    ) -> crate::Result<CounterChanges> {
        let mut changes = CounterChanges::default();
        let touched: std::collections::BTreeSet<i64> =
            inserts.iter().map(|p| p.participant_id).collect();
        for pid in touched {
            let Some(p) = self.by_id.get(&pid) else {
                continue;
            };
            let reg = &p.registration;
            let registered = Month::of(reg.registered_on);
            let empty = Vec::new();
            let old = before.get(&pid).unwrap_or(&empty);
            let new = self.ledgers.get(&pid).unwrap_or(&empty);
            let reject = |e: FieldError| crate::StoreError::Rejected(e.into());
            changes
                .apply(
                    rules,
                    reg.village,
                    &facts(reg.segment, registered, old),
                    old,
                    -1,
                )
                .map_err(reject)?;
            changes
                .apply(
                    rules,
                    reg.village,
                    &facts(reg.segment, registered, new),
                    new,
                    1,
                )
                .map_err(reject)?;
        }
        // People with more than one participation: their overlap correction, before and after.
        let touched_niks: std::collections::BTreeSet<Nik> = inserts
            .iter()
            .filter_map(|p| self.by_id.get(&p.participant_id))
            .map(|p| p.registration.nik)
            .collect();
        let mut by_nik: HashMap<Nik, Vec<Base>> = HashMap::new();
        for p in self.by_id.values() {
            if touched_niks.contains(&p.registration.nik) {
                by_nik
                    .entry(p.registration.nik)
                    .or_default()
                    .push(Base::of(p));
            }
        }
        let empty = Vec::new();
        for group in by_nik.values().filter(|g| g.len() > 1) {
            let of = |ledgers: &'_ HashMap<i64, Vec<LedgerRow>>| -> Vec<(Base, Vec<LedgerRow>)> {
                group
                    .iter()
                    .map(|b| (*b, ledgers.get(&b.id).unwrap_or(&empty).clone()))
                    .collect()
            };
            for (ledgers, sign) in [(before, -1), (&self.ledgers, 1)] {
                let owned = of(ledgers);
                let view: Vec<(Base, &[LedgerRow])> =
                    owned.iter().map(|(b, l)| (*b, l.as_slice())).collect();
                add_person(rules, &view, sign, &mut changes)?;
            }
        }
        Ok(changes)
    }
}

/// The rows to insert for a planned batch: (participant id, kind, checked posting, body).
pub fn insert_rows<'a>(
    postings: &'a [NewPosting],
    inserts: &'a [PlannedInsert],
) -> Vec<(i64, &'a str, &'a CheckedPosting, &'a str)> {
    inserts
        .iter()
        .map(|ins| {
            (
                ins.participant_id,
                postings[ins.index].kind(),
                &ins.checked,
                ins.body.as_str(),
            )
        })
        .collect()
}

/// Marks the inserted postings of a batch as posted with their new ids.
pub fn mark_posted(outcomes: &mut BatchOutcomes, inserts: &[PlannedInsert], ids: Vec<i64>) {
    for (ins, id) in inserts.iter().zip(ids) {
        outcomes[ins.index] = Some(Ok(PostingOutcome::Posted {
            id,
            participant_id: ins.participant_id,
        }));
    }
}

/// Fills in the outcomes of postings that repeat an earlier posting of the same batch.
pub fn resolve_repeats(postings: &[NewPosting], outcomes: &mut BatchOutcomes) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for i in 0..postings.len() {
        let r = postings[i].reference();
        match first.get(r) {
            None => {
                first.insert(r, i);
            }
            Some(&j) if outcomes[i].is_none() => {
                outcomes[i] = Some(match &outcomes[j] {
                    Some(Ok(PostingOutcome::Posted { id, participant_id }))
                    | Some(Ok(PostingOutcome::Existing { id, participant_id })) => {
                        Ok(PostingOutcome::Existing {
                            id: *id,
                            participant_id: *participant_id,
                        })
                    }
                    Some(Err(e)) => Err(e.clone()),
                    None => Err(FieldError::new(
                        "reference",
                        "reference.unsettled",
                        "repeat of an unsettled posting",
                    )
                    .into()),
                });
            }
            Some(_) => {}
        }
    }
}

/// One month of a region's figures: the four states as of the month (running sums) and the
/// month's own flows (new, lapsed, reactivated, amount), in the counters' column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MonthFigures {
    pub month: Month,
    pub values: CounterValues,
}

impl MonthFigures {
    pub fn registered(&self) -> i64 {
        self.values[0]
    }
    pub fn paid_active(&self) -> i64 {
        self.values[1]
    }
    pub fn status_active(&self) -> i64 {
        self.values[2]
    }
    pub fn nonactive(&self) -> i64 {
        self.values[3]
    }
    pub fn new_active(&self) -> i64 {
        self.values[4]
    }
    pub fn lapsed(&self) -> i64 {
        self.values[5]
    }
    pub fn reactivated(&self) -> i64 {
        self.values[6]
    }
    pub fn amount(&self) -> i64 {
        self.values[7]
    }
    /// The part of `lapsed` whose employment ended (a stop), not who stopped paying.
    pub fn left_employment(&self) -> i64 {
        self.values[8]
    }
}

/// A region's counter history ([`crate::Store::region_history`]) read month by month, for all
/// segments (each person once: the overlap series included) or one segment.
#[derive(Debug, Clone, Default)]
pub struct RegionHistory {
    rows: Vec<(Series, i32, CounterValues)>,
}

impl RegionHistory {
    pub fn new(mut rows: Vec<(Series, i32, CounterValues)>) -> RegionHistory {
        rows.sort_by_key(|r| r.1);
        RegionHistory { rows }
    }

    /// Figures for every month `from..=to`; `segment` `None` counts every person once.
    pub fn months(&self, segment: Option<Segment>, from: Month, to: Month) -> Vec<MonthFigures> {
        let wanted = |s: Series| match segment {
            None => true,
            Some(seg) => s == Series::Segment(seg),
        };
        let mut states = [0i64; 4];
        let mut out = Vec::new();
        let mut rows = self.rows.iter().filter(|r| wanted(r.0)).peekable();
        // Everything before `from` only moves the states.
        while let Some(r) = rows.peek() {
            if r.1 >= from.index() {
                break;
            }
            for (i, s) in states.iter_mut().enumerate() {
                *s += r.2[i];
            }
            rows.next();
        }
        for m in from.through(to) {
            let mut flows = [0i64; COUNTERS - 4];
            while let Some(r) = rows.peek() {
                if r.1 != m.index() {
                    break;
                }
                for (i, s) in states.iter_mut().enumerate() {
                    *s += r.2[i];
                }
                for (i, f) in flows.iter_mut().enumerate() {
                    *f += r.2[4 + i];
                }
                rows.next();
            }
            let mut values = [0i64; COUNTERS];
            values[..4].copy_from_slice(&states);
            values[4..].copy_from_slice(&flows);
            out.push(MonthFigures { month: m, values });
        }
        out
    }

    /// The figures of one month.
    pub fn at(&self, segment: Option<Segment>, month: Month) -> MonthFigures {
        self.months(segment, month, month)
            .into_iter()
            .next()
            .unwrap_or(MonthFigures {
                month,
                values: [0; COUNTERS],
            })
    }
}

#[cfg(test)]
mod history_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn states_run_and_flows_stay_in_their_month() {
        let m = |s: &str| Month::parse(s).unwrap();
        let bpu = Series::Segment(Segment::Bpu);
        let pu = Series::Segment(Segment::Pu);
        let h = RegionHistory::new(vec![
            (bpu, m("2026-01").index(), [2, 1, 1, 0, 1, 0, 0, 16_800, 0]),
            (pu, m("2026-01").index(), [1, 0, 0, 0, 0, 0, 0, 0, 0]),
            (
                Series::Overlap,
                m("2026-01").index(),
                [-1, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
            (bpu, m("2026-03").index(), [0, -1, 0, 1, 0, 1, 0, 0, 0]),
        ]);
        let all = h.months(None, m("2026-02"), m("2026-03"));
        assert_eq!(all[0].values, [2, 1, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(all[1].values, [2, 0, 1, 1, 0, 1, 0, 0, 0]);
        assert_eq!(
            h.at(Some(Segment::Bpu), m("2026-01")).values,
            [2, 1, 1, 0, 1, 0, 0, 16_800, 0]
        );
        assert_eq!(h.at(Some(Segment::Pu), m("2025-12")).values, [0; COUNTERS]);
    }
}

/// Changes to the agents' monthly figures (`agent_months`), keyed by (agent code, month index),
/// in the order of `cakupan_domain::agents::AGENT_COLUMNS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentChanges(pub HashMap<(String, i32), [i64; 7]>);

impl AgentChanges {
    fn add(&mut self, agent: &str, month: i32, col: usize, v: i64) {
        if v != 0 {
            self.0.entry((agent.to_string(), month)).or_insert([0; 7])[col] += v;
        }
    }

    /// Adds (`sign` = 1) or removes (`sign` = −1) what one participation contributes to the
    /// figures of the agent who acquired it (`acquired_by`) and of the agents who collected its
    /// contributions (see `cakupan_domain::agents` for the definitions).
    pub fn apply(
        &mut self,
        acquired_by: Option<&str>,
        three_programmes: bool,
        rows: &[LedgerRow],
        sign: i64,
    ) {
        let contributions: HashMap<&str, &LedgerRow> = rows
            .iter()
            .filter(|r| r.kind == "contribution")
            .map(|r| (r.reference.as_str(), r))
            .collect();
        if let Some(agent) = acquired_by {
            if let Some(first) = contributions.values().filter_map(|r| r.paid_month).min() {
                self.add(agent, first, 0, sign);
                if three_programmes {
                    self.add(agent, first, 1, sign);
                }
            }
            for r in contributions.values() {
                if let Some(m) = r.paid_month {
                    self.add(agent, m, 2, sign * r.amount.unwrap_or(0));
                }
            }
        }
        for r in contributions.values() {
            if let (Some(by), Some(m)) = (&r.collected_by, r.paid_month) {
                self.add(by, m, 4, sign);
                self.add(by, m, 5, sign * r.amount.unwrap_or(0));
            }
        }
        for rev in rows.iter().filter(|r| r.kind == "reversal") {
            let Some(target) = rev
                .target_reference
                .as_deref()
                .and_then(|t| contributions.get(t))
            else {
                continue;
            };
            // Reversals stored before they carried a date count in their payment's month.
            let Some(m) = rev.paid_month.or(target.paid_month) else {
                continue;
            };
            let amount = target.amount.unwrap_or(0);
            if let Some(agent) = acquired_by {
                self.add(agent, m, 3, sign * amount);
            }
            if let Some(by) = &target.collected_by {
                self.add(by, m, 6, sign * amount);
            }
        }
    }

    /// The changes that are not all zero, sorted.
    pub fn rows(&self) -> Vec<(String, i32, [i64; 7])> {
        let mut out: Vec<_> = self
            .0
            .iter()
            .filter(|(_, v)| v.iter().any(|x| *x != 0))
            .map(|((a, m), v)| (a.clone(), *m, *v))
            .collect();
        out.sort();
        out
    }
}

/// Whether a participation's programmes count it as a three-programme acquisition (JHT).
pub fn three_programmes(p: &crate::Participant) -> bool {
    p.registration
        .programmes
        .contains(cakupan_domain::Programme::Jht)
}

impl BatchState {
    /// The self-registrations the planned batch pays for the first time, counted in the
    /// enrolment funnel's `paid` stage under their registration's week and village (issue
    /// #22: the funnel reads counters, never the registry). A contribution reversed later
    /// still counts, as the funnel always counted a self-registration with any contribution.
    pub fn first_paid_self_registrations(
        &self,
        before: &HashMap<i64, Vec<LedgerRow>>,
        inserts: &[PlannedInsert],
    ) -> Vec<(String, RegionCode, cakupan_domain::enrolment::Stage, u64)> {
        let paid = |rows: Option<&Vec<LedgerRow>>| {
            rows.is_some_and(|r| r.iter().any(|x| x.kind == "contribution"))
        };
        let touched: std::collections::BTreeSet<i64> =
            inserts.iter().map(|p| p.participant_id).collect();
        let mut out: std::collections::BTreeMap<(String, RegionCode), u64> = Default::default();
        for pid in touched {
            let Some(p) = self.by_id.get(&pid) else {
                continue;
            };
            let reg = &p.registration;
            if reg.channel == cakupan_domain::Channel::SelfService
                && !paid(before.get(&pid))
                && paid(self.ledgers.get(&pid))
            {
                *out.entry((
                    cakupan_domain::enrolment::week_of(reg.registered_on),
                    reg.village,
                ))
                .or_default() += 1;
            }
        }
        out.into_iter()
            .map(|((week, village), n)| (week, village, cakupan_domain::enrolment::Stage::Paid, n))
            .collect()
    }

    /// The agents' figures changed by the planned batch: each involved participation's share
    /// after the batch less its share before.
    pub fn agent_changes(
        &self,
        before: &HashMap<i64, Vec<LedgerRow>>,
        inserts: &[PlannedInsert],
    ) -> AgentChanges {
        let mut changes = AgentChanges::default();
        let touched: std::collections::BTreeSet<i64> =
            inserts.iter().map(|p| p.participant_id).collect();
        let empty = Vec::new();
        for pid in touched {
            let Some(p) = self.by_id.get(&pid) else {
                continue;
            };
            let acquired = p.registration.agent_code.as_deref();
            let three = three_programmes(p);
            changes.apply(acquired, three, before.get(&pid).unwrap_or(&empty), -1);
            changes.apply(acquired, three, self.ledgers.get(&pid).unwrap_or(&empty), 1);
        }
        changes
    }
}

/// Defines `recompute_on(conn, rules)` for a sqlx backend: every counter recomputed from the
/// participants and the ledger alone (`Store::recompute`, `verify`, `rebuild_counters`). It
/// streams: the people with more than one participation (their overlap correction) with their
/// ledgers first, then every participation a page of ids at a time with the postings of that id
/// range, so memory holds one page and the counters, not the registry (at 10 M participants the
/// whole-table version held 13 GB). Uses the calling crate's `db(sqlx::Error)`,
/// `LEDGER_COLUMNS` and the given ledger-row decoder (the same names in both backends);
/// `registered` is the expression giving `registered_on` as `YYYY-MM-DD`, `p1`/`p2` the
/// backend's first two placeholders.
#[macro_export]
macro_rules! recompute_on_impl {
    (conn: $conn:ty, row: $row:ty, ledger_row: $ledger:path, registered: $reg:literal, p1: $p1:literal, p2: $p2:literal) => {
        async fn recompute_on(
            conn: &mut $conn,
            rules: &::cakupan_domain::RuleSet,
        ) -> $crate::Result<$crate::ledger::CounterChanges> {
            use $crate::ledger::{Base, LedgerRow};
            use ::std::collections::HashMap;
            const SHARED: &str =
                "SELECT nik_index FROM participants GROUP BY nik_index HAVING COUNT(*) > 1";
            const PAGE: i64 = 50_000;
            let ledger_sql = |filter: &str| {
                format!(
                    "SELECT participant_id, {LEDGER_COLUMNS} FROM postings WHERE {filter} ORDER BY participant_id, id"
                )
            };
            let read_ledgers = |rows: Vec<$row>| -> $crate::Result<HashMap<i64, Vec<LedgerRow>>> {
                let mut ledgers: HashMap<i64, Vec<LedgerRow>> = HashMap::new();
                for row in rows {
                    let pid: i64 = row.try_get(0).map_err(db)?;
                    ledgers.entry(pid).or_default().push($ledger(&row, 1)?);
                }
                Ok(ledgers)
            };
            let base = |row: &$row| -> $crate::Result<Base> {
                let (id, segment, village, registered): (i64, String, String, String) = (
                    row.try_get(0).map_err(db)?,
                    row.try_get(1).map_err(db)?,
                    row.try_get(2).map_err(db)?,
                    row.try_get(3).map_err(db)?,
                );
                Base::parse(id, &segment, &village, &registered)
            };
            let mut changes = $crate::ledger::CounterChanges::default();
            // People with more than one participation first: the overlap correction.
            let ledgers = read_ledgers(
                sqlx::query(sqlx::AssertSqlSafe(ledger_sql(&format!(
                    "participant_id IN (SELECT id FROM participants WHERE nik_index IN ({SHARED}))"
                ))))
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?,
            )?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                concat!(
                    "SELECT id, segment, village_code, ",
                    $reg,
                    ", nik_index FROM participants WHERE nik_index IN ({}) ORDER BY nik_index, id"
                ),
                SHARED
            )))
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
            let empty = Vec::new();
            let mut group: Vec<(Base, &[LedgerRow])> = Vec::new();
            let mut current: Option<Vec<u8>> = None;
            for row in &rows {
                let nik: Vec<u8> = row.try_get(4).map_err(db)?;
                if current.as_ref() != Some(&nik) {
                    $crate::ledger::add_person(rules, &group, 1, &mut changes)?;
                    group.clear();
                    current = Some(nik);
                }
                let b = base(row)?;
                group.push((b, ledgers.get(&b.id).unwrap_or(&empty).as_slice()));
            }
            $crate::ledger::add_person(rules, &group, 1, &mut changes)?;
            drop(group);
            drop(ledgers);
            // Every participation, a page of ids at a time.
            let mut after = 0i64;
            loop {
                let rows = sqlx::query(concat!(
                    "SELECT id, segment, village_code, ",
                    $reg,
                    " FROM participants WHERE id > ",
                    $p1,
                    " ORDER BY id LIMIT ",
                    $p2
                ))
                .bind(after)
                .bind(PAGE)
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
                let Some(last) = rows.last() else { break };
                let last: i64 = last.try_get(0).map_err(db)?;
                let mut ledgers = read_ledgers(
                    sqlx::query(sqlx::AssertSqlSafe(ledger_sql(concat!(
                        "participant_id > ",
                        $p1,
                        " AND participant_id <= ",
                        $p2
                    ))))
                    .bind(after)
                    .bind(last)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db)?,
                )?;
                for row in rows {
                    let b = base(&row)?;
                    let ledger = ledgers.remove(&b.id).unwrap_or_default();
                    b.add_to(rules, &ledger, &mut changes)?;
                }
                after = last;
            }
            Ok(changes)
        }
    };
}

/// The ledger: postings, and the counters they move in the same transaction.
#[async_trait::async_trait]
pub trait LedgerStore: crate::Keyed {
    /// Appends one posting to the ledger and updates the counters in the same transaction.
    /// Posting a reference again with the same content returns the first result.
    async fn post(&self, rules: &RuleSet, posting: &NewPosting) -> Result<PostingOutcome> {
        match self
            .post_batch(rules, std::slice::from_ref(posting))
            .await?
            .into_iter()
            .next()
        {
            Some(Ok(outcome)) => Ok(outcome),
            Some(Err(errors)) => Err(StoreError::Rejected(errors)),
            None => Err(StoreError::Database("batch returned no outcome".into())),
        }
    }

    /// Posts many postings in one transaction, in order, as if posted one by one: one result
    /// per posting (rejected ones carry their errors; nothing of them is stored).
    async fn post_batch(
        &self,
        rules: &RuleSet,
        postings: &[NewPosting],
    ) -> Result<Vec<std::result::Result<PostingOutcome, cakupan_domain::FieldErrors>>>;

    /// The ledger rows of one participation, in posting order.
    async fn ledger(&self, participant_id: i64) -> Result<Vec<LedgerRow>>;

    /// Every stored counter row: (region, level, segment, month, values).
    async fn counters(&self) -> Result<Vec<(String, i16, Series, i32, CounterValues)>>;

    /// For `month`: per region of `level` (inside `within`, for `segment` or all), the state
    /// counts (registered, paid_active, status_active, nonactive) as of that month.
    async fn active_report(
        &self,
        level: Level,
        within: RegionCode,
        segment: Option<Segment>,
        month: Month,
    ) -> Result<Vec<ActiveRow>>;

    /// The counter rows of one region (every series) for months up to `to`, oldest first: the
    /// changes from which its states in any month (running sums) and its flows (each month's
    /// own) are read ([`RegionHistory`]), from one indexed range.
    async fn region_history(
        &self,
        region: RegionCode,
        to: Month,
    ) -> Result<Vec<(Series, i32, CounterValues)>>;

    /// Recomputes every counter from the ledger alone (participants and postings), for
    /// `cakupan verify` and as the baseline of the report benchmarks.
    async fn recompute(&self, rules: &RuleSet) -> Result<CounterChanges>;

    /// Replaces every counter with a recompute from the ledger, in one transaction that holds
    /// off writers (`cakupan verify --repair`, and after an upgrade that adds a counter).
    /// Returns the number of counter rows written.
    async fn rebuild_counters(&self, rules: &RuleSet) -> Result<u64>;

    /// The counting fingerprint (`coverage::counting_fingerprint`) the stored counters were
    /// last rebuilt under; None before the first rebuild.
    async fn counters_fingerprint(&self) -> Result<Option<String>>;

    /// The participant a posting concerns (to authorise a reversal before it is posted).
    async fn participant_of_posting(&self, reference: &str) -> Result<Option<i64>>;
}
