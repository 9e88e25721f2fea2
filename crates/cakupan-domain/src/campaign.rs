//! The statistics of the village campaign "Kerja Keras Bebas Cemas" (issue #8): how a survey's
//! sample is shared among its strata, what the answers say about the whole population with
//! their margin of error, how two waves of a survey compare, and how much the campaign's
//! sessions raised enrolment (difference in differences against villages not yet reached).
//!
//! Pure functions over plain numbers; the store, the pages and the simulation feed them.
//! Every interval is two-sided at 95%, from the normal approximation (`Z95`): the campaign's
//! comparisons are over hundreds of villages and respondents, where it is accurate; with fewer
//! than 30 on a side the intervals are somewhat too narrow, and the results say how many there
//! were so that a reader can judge.

use crate::rules::CampaignPlanner;
use crate::{FieldError, Level, RegionCode};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The 97.5th percentile of the standard normal distribution: a two-sided 95% interval is the
/// estimate ± `Z95` standard errors. A property of the normal distribution, not a policy.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Shares a sample of `n` among strata of the given population sizes: first `min_each` to each
/// stratum (or all of it, when smaller), then the rest in proportion to what is left of each,
/// by largest remainder (ties to the earlier stratum), so that the parts sum to `n` exactly and
/// no stratum is asked for more people than it has.
pub fn allocate(populations: &[u64], n: u64, min_each: u64) -> Result<Vec<u64>, FieldError> {
    let total: u128 = populations.iter().map(|&p| u128::from(p)).sum();
    if u128::from(n) > total {
        return Err(FieldError::new(
            "sample_size",
            "sample.too_large",
            format!("a sample of {n} is larger than the {total} people of the frame"),
        ));
    }
    let mut parts: Vec<u64> = populations.iter().map(|&p| p.min(min_each)).collect();
    let floor: u64 = parts.iter().sum();
    if floor > n {
        return Err(FieldError::new(
            "sample_size",
            "sample.too_small",
            format!(
                "a sample of {n} cannot give each of the {} strata its minimum ({floor} in all)",
                populations.len()
            ),
        ));
    }
    let rest = u128::from(n - floor);
    let room: Vec<u128> = populations
        .iter()
        .zip(&parts)
        .map(|(&p, &g)| u128::from(p - g))
        .collect();
    let all_room: u128 = room.iter().sum();
    if rest == 0 || all_room == 0 {
        return Ok(parts);
    }
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(parts.len());
    let mut given: u128 = 0;
    for (i, r) in room.iter().enumerate() {
        let share = rest * r;
        let whole = share / all_room;
        given += whole;
        parts[i] += u64::try_from(whole).unwrap_or(0);
        remainders.push((share % all_room, i));
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders
        .iter()
        .take(usize::try_from(rest - given).unwrap_or(0))
    {
        parts[i] += 1;
    }
    Ok(parts)
}

/// A simple random sample without replacement of `n` of the positions `0..population`
/// (Floyd's algorithm: `n` draws whatever the population), in increasing order. `seed` makes it
/// reproducible: the same frame, size and seed give the same people, so a sample can be drawn
/// again to check it. Draws from SplitMix64, reduced without bias by rejection.
pub fn draw(population: u64, n: u64, seed: u64) -> Result<Vec<u64>, FieldError> {
    if n > population {
        return Err(FieldError::new(
            "sample_size",
            "sample.too_large",
            format!("a sample of {n} is larger than the stratum's {population} people"),
        ));
    }
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    // A uniform integer in 0..=bound.
    let mut below_or = |bound: u64| -> u64 {
        if bound == u64::MAX {
            return next();
        }
        let range = bound + 1;
        let zone = u64::MAX - (u64::MAX % range + 1) % range;
        loop {
            let x = next();
            if x <= zone {
                return x % range;
            }
        }
    };
    let mut chosen = std::collections::BTreeSet::new();
    for j in (population - n)..population {
        let t = below_or(j);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    Ok(chosen.into_iter().collect())
}

/// The answers of one stratum's respondents to one question (1.0 / 0.0 for yes / no, or a
/// number such as the amount a person would pay), with the stratum's population.
#[derive(Debug, Clone, PartialEq)]
pub struct StratumAnswers {
    pub population: u64,
    pub values: Vec<f64>,
}

/// An estimate for the whole population with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The weighted mean (a proportion for yes/no answers).
    pub value: f64,
    pub std_error: f64,
    /// Half the width of the 95% interval.
    pub margin: f64,
    pub respondents: u64,
    /// The population the estimate speaks for.
    pub population: u64,
}

impl Estimate {
    pub fn low(&self) -> f64 {
        self.value - self.margin
    }
    pub fn high(&self) -> f64 {
        self.value + self.margin
    }
}

/// Each respondent's weight: the number of people of their stratum they stand for
/// (population ÷ respondents). The weights of a stratum sum to its population.
pub fn weight(population: u64, respondents: usize) -> Option<f64> {
    (respondents > 0).then(|| population as f64 / respondents as f64)
}

fn mean_and_variance(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

/// The stratified estimate of a mean: each stratum's mean weighted by its share of the
/// population, with the variance Σ W_h² (1 − n_h/N_h) s_h² / n_h (finite-population correction
/// included). A stratum with a single respondent has no variance of its own: it is given the
/// variance of all respondents pooled, the usual conservative choice. A stratum with no
/// respondent cannot be estimated and is an error naming it (`strata[i]`): merge it with a
/// neighbour or ask more people.
pub fn stratified_mean(strata: &[StratumAnswers]) -> Result<Estimate, FieldError> {
    if strata.is_empty() {
        return Err(FieldError::new(
            "strata",
            "survey.no_strata",
            "the survey has no strata to estimate from",
        ));
    }
    for (i, s) in strata.iter().enumerate() {
        if s.values.is_empty() {
            return Err(FieldError::new(
                format!("strata[{i}]"),
                "survey.empty_stratum",
                "this stratum has no respondents: merge it with another or sample more",
            ));
        }
        if (s.values.len() as u64) > s.population {
            return Err(FieldError::new(
                format!("strata[{i}]"),
                "survey.more_than_population",
                format!(
                    "{} respondents in a stratum of {} people",
                    s.values.len(),
                    s.population
                ),
            ));
        }
        if s.values.iter().any(|v| !v.is_finite()) {
            return Err(FieldError::new(
                format!("strata[{i}]"),
                "survey.value",
                "an answer is not a number",
            ));
        }
    }
    let population: u64 = strata.iter().map(|s| s.population).sum();
    let all: Vec<f64> = strata
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .collect();
    let (_, pooled) = mean_and_variance(&all);
    let big_n = population as f64;
    let mut value = 0.0;
    let mut variance = 0.0;
    for s in strata {
        let (mean, var) = mean_and_variance(&s.values);
        let var = if s.values.len() == 1 { pooled } else { var };
        let w = s.population as f64 / big_n;
        let n = s.values.len() as f64;
        value += w * mean;
        variance += w * w * (1.0 - n / s.population as f64) * var / n;
    }
    let std_error = variance.max(0.0).sqrt();
    Ok(Estimate {
        value,
        std_error,
        margin: Z95 * std_error,
        respondents: all.len() as u64,
        population,
    })
}

/// The change from one wave's estimate to a later one's (independent samples): the difference
/// and its 95% interval.
pub fn compare(earlier: &Estimate, later: &Estimate) -> Estimate {
    let std_error = (earlier.std_error.powi(2) + later.std_error.powi(2)).sqrt();
    Estimate {
        value: later.value - earlier.value,
        std_error,
        margin: Z95 * std_error,
        respondents: earlier.respondents + later.respondents,
        population: later.population,
    }
}

/// One village in an uplift comparison: whether the campaign reached it (its session was held
/// in the period) and its outcome before and after (for example enrolments per 1,000 working
/// people in the weeks before and after the session date).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Village {
    pub reached: bool,
    pub before: f64,
    pub after: f64,
}

/// The campaign's effect estimated by difference in differences.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Uplift {
    /// Mean change in reached villages minus mean change in the others.
    pub effect: f64,
    pub std_error: f64,
    pub low: f64,
    pub high: f64,
    pub reached: usize,
    pub comparison: usize,
    /// Mean change in each group, for the reader.
    pub change_reached: f64,
    pub change_comparison: f64,
}

/// Difference in differences over villages: (after − before) averaged over reached villages,
/// minus the same over comparison villages (similar ones not yet reached), with the standard
/// error of a difference of two independent means (Welch: s²_r/n_r + s²_c/n_c). Each group
/// needs at least two villages (`uplift.too_few`).
pub fn difference_in_differences(villages: &[Village]) -> Result<Uplift, FieldError> {
    if villages
        .iter()
        .any(|v| !v.before.is_finite() || !v.after.is_finite())
    {
        return Err(FieldError::new(
            "villages",
            "uplift.value",
            "an outcome is not a number",
        ));
    }
    let change = |reached: bool| -> Vec<f64> {
        villages
            .iter()
            .filter(|v| v.reached == reached)
            .map(|v| v.after - v.before)
            .collect()
    };
    let (r, c) = (change(true), change(false));
    for (group, d) in [("reached", &r), ("comparison", &c)] {
        if d.len() < 2 {
            return Err(FieldError::new(
                group,
                "uplift.too_few",
                format!(
                    "{} {group} villages: at least two on each side are needed to estimate an uplift",
                    d.len()
                ),
            ));
        }
    }
    let (mr, vr) = mean_and_variance(&r);
    let (mc, vc) = mean_and_variance(&c);
    let effect = mr - mc;
    let std_error = (vr / r.len() as f64 + vc / c.len() as f64).sqrt();
    Ok(Uplift {
        effect,
        std_error,
        low: effect - Z95 * std_error,
        high: effect + Z95 * std_error,
        reached: r.len(),
        comparison: c.len(),
        change_reached: mr,
        change_comparison: mc,
    })
}

/// A village the planner may choose for the next wave.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub village: RegionCode,
    /// Working people estimated to live there (how: the caller's `basis`).
    pub workers: f64,
    /// Peserta aktif living there now.
    pub active: u64,
    /// The share of its work that is informal (0 to 1).
    pub informal_share: f64,
    /// Awareness of the programmes measured by a survey (0 to 1); `None`: the rules' prior.
    pub awareness: Option<f64>,
    /// Already held in an earlier wave: not proposed again.
    pub reached: bool,
}

/// What one wave can hold: sessions a district can host a week, and the agents of each
/// district (each can run so many sessions a week). A district with no agent gets no session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    pub weeks: u32,
    pub sessions_per_district_week: u32,
    pub sessions_per_agent_week: u32,
    /// Agents available, by district code.
    pub agents: HashMap<RegionCode, u32>,
}

/// Why a village was chosen: every figure that went into its potential, its rank, and its
/// place in its district's schedule. The pages say it in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub village: RegionCode,
    pub district: RegionCode,
    /// 1-based week of the wave.
    pub week: u32,
    /// 1-based rank among all villages by potential.
    pub rank: usize,
    pub potential: f64,
    pub uncovered: f64,
    pub workers: f64,
    pub active: u64,
    pub informal_share: f64,
    pub awareness: f64,
    /// Whether `awareness` was measured (else the rules' prior).
    pub awareness_measured: bool,
    /// Its session among the district's in this wave, and how many the district can hold.
    pub district_slot: u32,
    pub district_slots: u32,
}

/// A proposed wave: the villages chosen (by week, then rank) and how many were left out for
/// each reason. An editable proposal: the caller stores it as planned entries that people may
/// change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub chosen: Vec<Choice>,
    /// Passed over because their district's sessions were all taken.
    pub over_capacity: usize,
    /// In a district with no agent available.
    pub no_agent: usize,
    /// Fewer uncovered workers than the rules' minimum.
    pub too_small: usize,
    pub already_reached: usize,
}

fn share(ppm: i64) -> f64 {
    ppm as f64 / 1_000_000.0
}

/// A village's potential: its uncovered workers (estimated workers less peserta aktif, at
/// least 0), weighted by how informal its work is and by how unaware its people are.
pub fn potential(rule: &CampaignPlanner, c: &Candidate) -> (f64, f64, f64) {
    let uncovered = (c.workers - c.active as f64).max(0.0);
    let w = share(rule.informal_weight_ppm);
    let awareness = c
        .awareness
        .unwrap_or_else(|| share(rule.prior_awareness_ppm))
        .clamp(0.0, 1.0);
    let informal = c.informal_share.clamp(0.0, 1.0);
    (
        uncovered * (1.0 - w + w * informal) * (1.0 - awareness),
        uncovered,
        awareness,
    )
}

/// Proposes the villages of the next wave: every village not yet reached, ranked by
/// potential (ties by code), taken in that order while its district still has a session free
/// (`weeks × min(sessions a district hosts a week, its agents × sessions an agent runs a
/// week)`), each scheduled in the first week with room. O(n log n): the whole country's
/// villages in well under a second.
pub fn plan_wave(
    rule: &CampaignPlanner,
    candidates: &[Candidate],
    capacity: &Capacity,
) -> Result<Plan, FieldError> {
    if capacity.weeks == 0 || capacity.sessions_per_district_week == 0 {
        return Err(FieldError::new(
            "capacity",
            "plan.capacity",
            "a wave needs at least one week and one session per district a week",
        ));
    }
    if let Some(c) = candidates
        .iter()
        .find(|c| c.village.level() != Level::Village)
    {
        return Err(FieldError::new(
            "village",
            "plan.not_a_village",
            format!("{} is not a village code", c.village),
        ));
    }
    let mut plan = Plan::default();
    let mut ranked: Vec<(f64, f64, f64, &Candidate)> = Vec::with_capacity(candidates.len());
    for c in candidates {
        if c.reached {
            plan.already_reached += 1;
            continue;
        }
        let (p, uncovered, awareness) = potential(rule, c);
        if uncovered < rule.min_uncovered as f64 {
            plan.too_small += 1;
            continue;
        }
        ranked.push((p, uncovered, awareness, c));
    }
    ranked.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.3.village.cmp(&b.3.village))
    });
    let per_week = |district: &RegionCode| -> u32 {
        let agents = capacity.agents.get(district).copied().unwrap_or(0);
        capacity
            .sessions_per_district_week
            .min(agents.saturating_mul(capacity.sessions_per_agent_week))
    };
    let mut used: HashMap<RegionCode, u32> = HashMap::new();
    for (i, (p, uncovered, awareness, c)) in ranked.into_iter().enumerate() {
        let district = c.village.truncate(Level::District);
        let week_room = per_week(&district);
        if week_room == 0 {
            plan.no_agent += 1;
            continue;
        }
        let slots = week_room.saturating_mul(capacity.weeks);
        let n = used.entry(district).or_insert(0);
        if *n >= slots {
            plan.over_capacity += 1;
            continue;
        }
        *n += 1;
        plan.chosen.push(Choice {
            village: c.village,
            district,
            week: (*n - 1) / week_room + 1,
            rank: i + 1,
            potential: p,
            uncovered,
            workers: c.workers,
            active: c.active,
            informal_share: c.informal_share,
            awareness,
            awareness_measured: c.awareness.is_some(),
            district_slot: *n,
            district_slots: slots,
        });
    }
    plan.chosen.sort_by_key(|c| (c.week, c.rank));
    Ok(plan)
}

/// Where a village stands in a campaign. It moves forward only: planned → coordinated (the
/// village official has signed off) → surveyed (optional: not every village is surveyed) →
/// held (a session took place) → followed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Planned,
    Coordinated,
    Surveyed,
    Held,
    FollowedUp,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Planned,
        Stage::Coordinated,
        Stage::Surveyed,
        Stage::Held,
        Stage::FollowedUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Planned => "planned",
            Stage::Coordinated => "coordinated",
            Stage::Surveyed => "surveyed",
            Stage::Held => "held",
            Stage::FollowedUp => "followed_up",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether a village at `self` may be moved to `to` by hand. Coordination is recorded with
    /// its sign-off and a session moves a village to held, so neither is a bare move; a
    /// village never moves back. Moving to where it already is, is a retry.
    pub fn check_move(self, to: Stage) -> Result<(), FieldError> {
        let ok = match to {
            _ if to == self => true,
            Stage::Planned | Stage::Coordinated | Stage::Held => false,
            Stage::Surveyed => matches!(self, Stage::Coordinated),
            Stage::FollowedUp => matches!(self, Stage::Held),
        };
        if ok {
            Ok(())
        } else {
            Err(FieldError::new(
                "stage",
                "campaign.stage_order",
                match to {
                    Stage::Coordinated => {
                        "a village is coordinated by recording the official's sign-off".to_string()
                    }
                    Stage::Held => "a village is held by recording its session".to_string(),
                    _ => format!(
                        "a village that is {} cannot be moved to {}: planned → coordinated → surveyed → held → followed_up",
                        self.as_str(),
                        to.as_str()
                    ),
                },
            ))
        }
    }
}

/// Checks a session's attendance (people by audience code) against the village's estimated
/// workers: at least one person, none of an unknown audience, and no more than
/// `max_attendance_ppm_of_workers` of the estimate (the rules' plausibility limit).
pub fn check_attendance(
    rule: &CampaignPlanner,
    audiences: &[&str],
    attendance: &[(String, u32)],
    workers: f64,
) -> Result<u64, FieldError> {
    let mut total: u64 = 0;
    let mut seen = std::collections::HashSet::new();
    for (code, n) in attendance {
        let field = format!("attendance.{code}");
        if code != OTHER && !audiences.contains(&code.as_str()) {
            return Err(FieldError::new(
                field,
                "session.audience",
                format!("the audiences are {} and {OTHER}", audiences.join(", ")),
            ));
        }
        if !seen.insert(code.as_str()) {
            return Err(FieldError::new(
                field,
                "session.audience_twice",
                "this audience is counted twice",
            ));
        }
        total += u64::from(*n);
    }
    if total == 0 {
        return Err(FieldError::new(
            "attendance",
            "session.attendance_empty",
            "a session was attended by at least one person",
        ));
    }
    let limit = (workers * share(rule.max_attendance_ppm_of_workers)).floor();
    if total as f64 > limit {
        return Err(FieldError::new(
            "attendance",
            "session.attendance_implausible",
            format!(
                "{total} people is more than the village could plausibly hold ({limit:.0}: {:.0}% of its {workers:.0} estimated workers)",
                100.0 * share(rule.max_attendance_ppm_of_workers)
            ),
        ));
    }
    Ok(total)
}

/// The audience of people in none of the rules' campaign audiences.
pub const OTHER: &str = "other";

#[cfg(test)]
mod tests {
    use super::*;

    fn stratum(population: u64, values: &[f64]) -> StratumAnswers {
        StratumAnswers {
            population,
            values: values.to_vec(),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn allocation_is_proportional_and_exact() {
        // 1,000 people in strata of 500, 300, 200; a sample of 100: 50, 30, 20.
        assert_eq!(
            allocate(&[500, 300, 200], 100, 0).unwrap(),
            vec![50, 30, 20]
        );
        // 7 among 1, 1, 1 by largest remainder after the minimum of 2 (capped at each size):
        // every stratum has only 1 person, so 3 is the most that can be asked.
        assert_eq!(
            allocate(&[1, 1, 1], 7, 2).unwrap_err().rule,
            "sample.too_large"
        );
        // Minimum 5 each: 15 given, 85 left shared over rooms 495, 295, 195 (985):
        // 42.71…, 25.45…, 16.82… → 42, 25, 16 (83), the 2 left to the largest remainders
        // (.82 and .71): 43, 25, 17; plus the 5 each.
        assert_eq!(
            allocate(&[500, 300, 200], 100, 5).unwrap(),
            vec![48, 30, 22]
        );
        // A stratum smaller than the minimum gives all it has.
        assert_eq!(allocate(&[3, 997], 50, 5).unwrap(), vec![3, 47]);
        assert_eq!(
            allocate(&[10, 10, 10], 20, 8).unwrap_err().rule,
            "sample.too_small"
        );
        // The whole frame.
        assert_eq!(allocate(&[4, 6], 10, 0).unwrap(), vec![4, 6]);
        let parts = allocate(&[83_762, 7_285, 514, 38], 1_234, 3).unwrap();
        assert_eq!(parts.iter().sum::<u64>(), 1_234);
    }

    #[test]
    fn a_stratified_proportion_by_hand() {
        // Stratum A: 600 people, 4 asked, 3 know the programme: mean 3/4, s² = 1/4.
        // Stratum B: 400 people, 3 asked, 1 knows it: mean 1/3, s² = 1/3.
        // W = 0.6, 0.4. Mean = 0.6·3/4 + 0.4·1/3 = 0.45 + 0.1333… = 0.58333…
        // Var = 0.36·(1 − 4/600)·(1/4)/4 + 0.16·(1 − 3/400)·(1/3)/3
        //     = 0.36·(596/600)/16 + 0.16·(397/400)/9 = 0.02235 + 0.017644… = 0.039994…
        let est = stratified_mean(&[
            stratum(600, &[1.0, 1.0, 0.0, 1.0]),
            stratum(400, &[0.0, 0.0, 1.0]),
        ])
        .unwrap();
        assert!(close(est.value, 0.45 + 0.4 / 3.0), "{est:?}");
        let var: f64 = 0.36 * (596.0 / 600.0) / 16.0 + 0.16 * (397.0 / 400.0) / 9.0;
        assert!(close(est.std_error, var.sqrt()), "{est:?}");
        assert!(close(est.margin, Z95 * var.sqrt()));
        assert!((est.margin - 0.391_97).abs() < 1e-4, "{est:?}");
        assert_eq!((est.respondents, est.population), (7, 1_000));
        // Each respondent of A stands for 150 people, of B for 133.3…; they sum to 1,000.
        assert_eq!(weight(600, 4), Some(150.0));
        assert!(close(
            4.0 * weight(600, 4).unwrap() + 3.0 * weight(400, 3).unwrap(),
            1_000.0
        ));
        assert_eq!(weight(10, 0), None);
    }

    #[test]
    fn strata_that_cannot_be_estimated_are_named() {
        let bad = stratified_mean(&[stratum(10, &[1.0]), stratum(10, &[])]).unwrap_err();
        assert_eq!(
            (bad.field.as_str(), bad.rule),
            ("strata[1]", "survey.empty_stratum")
        );
        let over = stratified_mean(&[stratum(1, &[1.0, 0.0])]).unwrap_err();
        assert_eq!(over.rule, "survey.more_than_population");
        assert_eq!(stratified_mean(&[]).unwrap_err().rule, "survey.no_strata");
        // A stratum of one respondent borrows the pooled variance (here of 1, 0, 1: 1/3).
        let one = stratified_mean(&[stratum(100, &[1.0]), stratum(100, &[0.0, 1.0])]).unwrap();
        let var: f64 =
            0.25 * (1.0 - 1.0 / 100.0) * (1.0 / 3.0) + 0.25 * (1.0 - 2.0 / 100.0) * 0.5 / 2.0;
        assert!(close(one.std_error, var.sqrt()), "{one:?}");
    }

    #[test]
    fn waves_compare_as_independent_samples() {
        let a = Estimate {
            value: 0.30,
            std_error: 0.03,
            margin: Z95 * 0.03,
            respondents: 400,
            population: 10_000,
        };
        let b = Estimate {
            value: 0.42,
            std_error: 0.04,
            margin: Z95 * 0.04,
            respondents: 350,
            population: 10_000,
        };
        let d = compare(&a, &b);
        assert!(close(d.value, 0.12));
        assert!(close(d.std_error, 0.05));
        assert!(
            d.low() > 0.0,
            "a rise of 12 points ± 9.8 is a real rise: {d:?}"
        );
    }

    #[test]
    fn difference_in_differences_by_hand() {
        // Reached: changes 3, 5, 3 (mean 11/3, s² 4/3). Others: 1, 0, 2 (mean 1, s² 1).
        // Effect 8/3; standard error √(4/9 + 1/3) = √(7/9).
        let v = |reached, before, after| Village {
            reached,
            before,
            after,
        };
        let u = difference_in_differences(&[
            v(true, 2.0, 5.0),
            v(true, 1.0, 6.0),
            v(true, 3.0, 6.0),
            v(false, 2.0, 3.0),
            v(false, 1.0, 1.0),
            v(false, 4.0, 6.0),
        ])
        .unwrap();
        assert!(close(u.effect, 8.0 / 3.0), "{u:?}");
        assert!(close(u.std_error, (7.0f64 / 9.0).sqrt()), "{u:?}");
        assert!(close(u.low, 8.0 / 3.0 - Z95 * (7.0f64 / 9.0).sqrt()));
        assert_eq!((u.reached, u.comparison), (3, 3));
        assert!(close(u.change_reached, 11.0 / 3.0) && close(u.change_comparison, 1.0));
        let few =
            difference_in_differences(&[v(true, 1.0, 2.0), v(false, 1.0, 1.0), v(false, 0.0, 1.0)])
                .unwrap_err();
        assert_eq!(
            (few.field.as_str(), few.rule),
            ("reached", "uplift.too_few")
        );
        let nan = difference_in_differences(&[v(true, f64::NAN, 2.0)]).unwrap_err();
        assert_eq!(nan.rule, "uplift.value");
    }

    fn rule() -> CampaignPlanner {
        let rules = crate::RuleSet::builtin().unwrap();
        rules
            .campaign_planner(crate::Month::parse("2026-11").unwrap())
            .unwrap()
            .clone()
    }

    fn village(
        code: &str,
        workers: f64,
        active: u64,
        informal: f64,
        aware: Option<f64>,
    ) -> Candidate {
        Candidate {
            village: RegionCode::parse(code).unwrap(),
            workers,
            active,
            informal_share: informal,
            awareness: aware,
            reached: false,
        }
    }

    #[test]
    fn potential_by_hand() {
        // rules/campaign.toml: w = 0.5, prior awareness 0.3, at least 25 uncovered.
        let r = rule();
        // 1,000 workers, 200 active: 800 uncovered; 80% informal → ×0.9; unmeasured
        // awareness 0.3 → ×0.7: 504.
        let (p, u, a) = potential(&r, &village("32.73.01.1001", 1_000.0, 200, 0.8, None));
        assert!(close(u, 800.0) && close(a, 0.3));
        assert!((p - 504.0).abs() < 1e-9, "{p}");
        // Measured awareness of 60%: 800 × 0.9 × 0.4 = 288.
        let (p, ..) = potential(&r, &village("32.73.01.1001", 1_000.0, 200, 0.8, Some(0.6)));
        assert!((p - 288.0).abs() < 1e-9, "{p}");
        // More active than estimated workers: nothing uncovered.
        let (p, u, _) = potential(&r, &village("32.73.01.1001", 100.0, 150, 1.0, None));
        assert_eq!((p, u), (0.0, 0.0));
    }

    #[test]
    fn a_wave_within_capacity_by_hand() {
        let r = rule();
        let d1 = RegionCode::parse("32.73.01").unwrap();
        let d2 = RegionCode::parse("32.73.02").unwrap();
        // District 1: one agent at 2 sessions a week, but the district hosts 1 a week; two
        // weeks: 2 sessions. District 2: 3 agents, capped at 1 a week: 2 sessions. District 3:
        // no agent.
        let capacity = Capacity {
            weeks: 2,
            sessions_per_district_week: 1,
            sessions_per_agent_week: 2,
            agents: HashMap::from([(d1, 1), (d2, 3)]),
        };
        let mut reached = village("32.73.01.1005", 5_000.0, 0, 1.0, None);
        reached.reached = true;
        let plan = plan_wave(
            &r,
            &[
                village("32.73.01.1001", 1_000.0, 200, 0.8, None), // 504
                village("32.73.01.1002", 1_000.0, 200, 0.8, Some(0.6)), // 288
                village("32.73.01.1003", 2_000.0, 0, 0.0, None),   // 2,000 × 0.5 × 0.7 = 700
                village("32.73.02.1001", 300.0, 0, 1.0, Some(0.0)), // 300
                village("32.73.02.1002", 20.0, 0, 1.0, None),      // 20 uncovered: too small
                village("32.73.03.1001", 9_000.0, 0, 1.0, None),   // 6,300, no agent
                reached,
            ],
            &capacity,
        )
        .unwrap();
        let got: Vec<(String, u32, usize, u32, u32)> = plan
            .chosen
            .iter()
            .map(|c| {
                (
                    c.village.to_string(),
                    c.week,
                    c.rank,
                    c.district_slot,
                    c.district_slots,
                )
            })
            .collect();
        // Ranks: 32.73.03.1001 (6,300), .01.1003 (700), .01.1001 (504), .02.1001 (300),
        // .01.1002 (288). District 1 takes 1003 then 1001, and has no room for 1002.
        assert_eq!(
            got,
            vec![
                ("32.73.01.1003".into(), 1, 2, 1, 2),
                ("32.73.02.1001".into(), 1, 4, 1, 2),
                ("32.73.01.1001".into(), 2, 3, 2, 2),
            ]
        );
        assert_eq!(
            (
                plan.over_capacity,
                plan.no_agent,
                plan.too_small,
                plan.already_reached
            ),
            (1, 1, 1, 1)
        );
        let first = &plan.chosen[0];
        assert!((first.potential - 700.0).abs() < 1e-9);
        assert!(!first.awareness_measured && close(first.awareness, 0.3));
        let bad = plan_wave(&r, &[village("32.73.01", 10.0, 0, 0.0, None)], &capacity).unwrap_err();
        assert_eq!(bad.rule, "plan.not_a_village");
        let none = Capacity {
            weeks: 0,
            ..capacity
        };
        assert_eq!(plan_wave(&r, &[], &none).unwrap_err().rule, "plan.capacity");
    }

    #[test]
    fn a_drawn_sample_is_uniform_and_reproducible() {
        let a = draw(1_000, 50, 7).unwrap();
        assert_eq!(a.len(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[49] < 1_000);
        assert_eq!(
            a,
            draw(1_000, 50, 7).unwrap(),
            "the same seed, the same people"
        );
        assert_ne!(a, draw(1_000, 50, 8).unwrap());
        assert_eq!(draw(5, 5, 1).unwrap(), vec![0, 1, 2, 3, 4]);
        assert!(draw(5, 0, 1).unwrap().is_empty());
        assert_eq!(draw(5, 6, 1).unwrap_err().rule, "sample.too_large");
        // Every one of 20 people is drawn about 5,000 times in 20,000 samples of 5 (a
        // binomial with standard deviation 61): a biased draw would fall outside ±300.
        let mut seen = [0u32; 20];
        for seed in 0..20_000 {
            for i in draw(20, 5, seed).unwrap() {
                seen[i as usize] += 1;
            }
        }
        assert!(
            seen.iter().all(|&k| (4_700..=5_300).contains(&k)),
            "{seen:?}"
        );
    }

    /// A small deterministic generator (SplitMix64) and normal draws (Box–Muller).
    struct Draws(u64);
    impl Draws {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (a, b) = (self.uniform(), self.uniform());
            (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
        }
    }

    #[test]
    fn a_known_effect_is_recovered_within_its_interval() {
        // 300 villages with their own level and a common trend; the 120 reached gain 4 more
        // enrolments per 1,000 workers. Over 400 such campaigns the 95% interval holds the true
        // effect in about 95% of them, and the mean estimate is unbiased.
        let truth = 4.0;
        let mut d = Draws(2026);
        let mut held = 0;
        let mut sum = 0.0;
        let runs = 400;
        for _ in 0..runs {
            let villages: Vec<Village> = (0..300)
                .map(|i| {
                    let reached = i < 120;
                    let level = 20.0 + 8.0 * d.normal();
                    let trend = 1.5;
                    Village {
                        reached,
                        before: level + 3.0 * d.normal(),
                        after: level + trend + if reached { truth } else { 0.0 } + 3.0 * d.normal(),
                    }
                })
                .collect();
            let u = difference_in_differences(&villages).unwrap();
            sum += u.effect;
            if u.low <= truth && truth <= u.high {
                held += 1;
            }
        }
        let coverage = f64::from(held) / f64::from(runs);
        assert!((0.92..=0.98).contains(&coverage), "coverage {coverage}");
        assert!(
            (sum / f64::from(runs) - truth).abs() < 0.1,
            "mean {}",
            sum / f64::from(runs)
        );
    }
}
