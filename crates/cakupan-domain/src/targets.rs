//! Progress toward a coverage target: the growth still required and a projection at the
//! recent run-rate (issue #3, DOMAIN.md §4).

use crate::coverage::Metric;
use crate::error::{FieldError, FieldErrors};
use crate::month::Month;
use crate::region::RegionCode;
use crate::segment::Segment;
use serde::Serialize;

/// A coverage target as the store keeps it (issue #3): `value` of `metric` for `segment` (all
/// segments when `None`) in `region` by `month`, with the baseline it starts from, how it was
/// set (`basis`: stated, or allocated from a parent and by what weight) and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetRecord {
    pub metric: Metric,
    pub segment: Option<Segment>,
    pub region: RegionCode,
    pub month: Month,
    pub value: i64,
    pub baseline: Option<(Month, i64)>,
    pub basis: String,
    pub source: String,
}

impl TargetRecord {
    /// Checks the rules a target must follow, each error naming its field.
    pub fn check(&self) -> Result<(), FieldErrors> {
        let mut errs = Vec::new();
        if !self.metric.is_state() {
            errs.push(FieldError::new(
                "metric",
                "metric.not_a_state",
                format!(
                    "a target is a level to reach: metric must be one of registered, paid_active, status_active, nonactive, not {}",
                    self.metric.as_str()
                ),
            ));
        }
        if self.value < 0 {
            errs.push(FieldError::new(
                "value",
                "value.negative",
                "a target value cannot be negative",
            ));
        }
        if let Some((m, v)) = self.baseline {
            if m >= self.month {
                errs.push(FieldError::new(
                    "baseline_month",
                    "baseline_month.not_before",
                    format!(
                        "the baseline month {m} must come before the target month {}",
                        self.month
                    ),
                ));
            }
            if v < 0 {
                errs.push(FieldError::new(
                    "baseline_value",
                    "baseline_value.negative",
                    "a baseline value cannot be negative",
                ));
            }
        }
        if self.source.trim().is_empty() {
            errs.push(FieldError::new(
                "source",
                "required",
                "say where the target comes from (a decision, a plan, a letter)",
            ));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(FieldErrors(errs))
        }
    }
}

/// Splits `total` over `weights` in proportion, in whole persons, so that the parts sum to the
/// total exactly (largest remainder; ties to the earlier entry). With no positive weight the
/// total is split evenly.
pub fn allocate<K: Clone>(total: i64, weights: &[(K, f64)]) -> Vec<(K, i64)> {
    if weights.is_empty() {
        return Vec::new();
    }
    let positive: f64 = weights.iter().map(|w| w.1.max(0.0)).sum();
    let share = |w: f64| {
        if positive > 0.0 {
            w.max(0.0) / positive
        } else {
            1.0 / weights.len() as f64
        }
    };
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * share(w.1)).collect();
    let mut parts: Vec<i64> = exact.iter().map(|x| x.floor() as i64).collect();
    let mut left = total - parts.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .partial_cmp(&(exact[a] - exact[a].floor()))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    for i in order.into_iter().cycle() {
        if left <= 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    weights
        .iter()
        .zip(parts)
        .map(|((k, _), p)| (k.clone(), p))
        .collect()
}

/// Splits `total` over `items` (key, weight, floor) in proportion to the weights, no part below
/// its floor (a region's target is never below what it has already reached): parts whose share
/// would fall below their floor get the floor, and the rest of the total is shared among the
/// others, again, until no share is below its floor. Whole persons; when the floors leave
/// something to share the parts sum to `total` exactly. When the floors alone exceed the total,
/// every part is its floor (and the sum exceeds the total). The flag says which parts are
/// floors.
pub fn allocate_with_floor<K: Clone>(total: i64, items: &[(K, f64, i64)]) -> Vec<(K, i64, bool)> {
    let n = items.len();
    let mut floored = vec![false; n];
    loop {
        let fixed: i64 = items
            .iter()
            .zip(&floored)
            .filter(|(_, f)| **f)
            .map(|(it, _)| it.2.max(0))
            .sum();
        let free: Vec<usize> = (0..n).filter(|i| !floored[*i]).collect();
        let left = total - fixed;
        if free.is_empty() || left <= 0 {
            break;
        }
        let weights: Vec<(usize, f64)> = free.iter().map(|i| (*i, items[*i].1)).collect();
        let parts = allocate(left, &weights);
        let mut changed = false;
        for (i, part) in &parts {
            if *part < items[*i].2 {
                floored[*i] = true;
                changed = true;
            }
        }
        if !changed {
            let mut out: Vec<(K, i64, bool)> = items
                .iter()
                .zip(&floored)
                .map(|(it, f)| (it.0.clone(), if *f { it.2.max(0) } else { 0 }, *f))
                .collect();
            for (i, part) in parts {
                out[i].1 = part;
            }
            return out;
        }
    }
    items
        .iter()
        .map(|it| (it.0.clone(), it.2.max(0), true))
        .collect()
}

/// Where a region stands against its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub now: Month,
    pub actual: i64,
    pub target_month: Month,
    pub target: i64,
    /// Months from `now` to the target month.
    pub months_left: i32,
    /// Net growth per month needed from now on to reach the target in time.
    pub required_per_month: f64,
    /// Net growth per month over the recent window.
    pub run_rate_per_month: f64,
    /// The value in the target month at the run-rate.
    pub projected: f64,
    /// The month the target is met at the run-rate (`None` if it never is).
    pub met_in: Option<Month>,
}

/// `history` holds the actual value for consecutive months ending at `now` (oldest first); the
/// run-rate is the average monthly change over it.
pub fn progress(history: &[(Month, i64)], target_month: Month, target: i64) -> Option<Progress> {
    let (now, actual) = *history.last()?;
    let (first_month, first) = *history.first()?;
    let span = now.since(first_month);
    let run_rate = if span > 0 {
        (actual - first) as f64 / f64::from(span)
    } else {
        0.0
    };
    let months_left = target_month.since(now);
    let gap = (target - actual) as f64;
    let required = if months_left > 0 {
        gap / f64::from(months_left)
    } else {
        gap
    };
    let met_in = if actual >= target {
        Some(now)
    } else if run_rate > 0.0 {
        let months = (gap / run_rate).ceil();
        (months < 12_000.0).then(|| now.plus(months as i32))
    } else {
        None
    };
    Some(Progress {
        now,
        actual,
        target_month,
        target,
        months_left,
        required_per_month: required,
        run_rate_per_month: run_rate,
        projected: actual as f64 + run_rate * f64::from(months_left.max(0)),
        met_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    #[test]
    fn no_part_below_its_floor() {
        // 100 by equal weights, but c has already reached 60: c keeps 60, a and b share 40.
        let w = [("a", 1.0, 0), ("b", 1.0, 10), ("c", 1.0, 60)];
        assert_eq!(
            allocate_with_floor(100, &w),
            vec![("a", 20, false), ("b", 20, false), ("c", 60, true)]
        );
        // The floors alone exceed the total: each keeps its floor.
        let w = [("a", 1.0, 70), ("b", 1.0, 50)];
        assert_eq!(
            allocate_with_floor(100, &w),
            vec![("a", 70, true), ("b", 50, true)]
        );
    }

    proptest::proptest! {
        #[test]
        fn floors_hold_and_the_total_is_shared(
            total in 0i64..10_000_000,
            items in proptest::collection::vec((0.0f64..1e6, 0i64..2_000_000), 1..40),
        ) {
            let items: Vec<(usize, f64, i64)> = items.iter().enumerate().map(|(i, (w, f))| (i, *w, *f)).collect();
            let out = allocate_with_floor(total, &items);
            let floors: i64 = items.iter().map(|i| i.2).sum();
            for (o, it) in out.iter().zip(&items) {
                proptest::prop_assert!(o.1 >= it.2, "{} below its floor {}", o.1, it.2);
            }
            if floors <= total {
                proptest::prop_assert_eq!(out.iter().map(|o| o.1).sum::<i64>(), total);
            } else {
                proptest::prop_assert!(out.iter().all(|o| o.2));
            }
        }
    }

    #[test]
    fn allocation_sums_to_the_total() {
        let w = [("a", 1.0), ("b", 1.0), ("c", 1.0)];
        assert_eq!(allocate(10, &w), vec![("a", 4), ("b", 3), ("c", 3)]);
        assert_eq!(
            allocate(70_000_000, &[("x", 23.5), ("y", 0.0), ("z", 116.35)])
                .iter()
                .map(|p| p.1)
                .sum::<i64>(),
            70_000_000
        );
        assert_eq!(
            allocate(5, &[("x", 0.0), ("y", 0.0)]),
            vec![("x", 3), ("y", 2)]
        );
        assert!(allocate::<&str>(5, &[]).is_empty());
    }

    #[test]
    fn a_target_names_its_faults() {
        let t = TargetRecord {
            metric: Metric::New,
            segment: None,
            region: RegionCode::NATION,
            month: m("2026-12"),
            value: -1,
            baseline: Some((m("2027-01"), 0)),
            basis: String::new(),
            source: " ".into(),
        };
        let rules: Vec<&str> = t.check().unwrap_err().0.iter().map(|e| e.rule).collect();
        assert_eq!(
            rules,
            [
                "metric.not_a_state",
                "value.negative",
                "baseline_month.not_before",
                "required"
            ]
        );
    }

    #[test]
    fn national_target_arithmetic() {
        // 41.0 M in Sep 2026 after +0.3 M a month; 70 M due Dec 2026.
        let h = [
            (m("2026-06"), 40_100_000),
            (m("2026-07"), 40_400_000),
            (m("2026-08"), 40_700_000),
            (m("2026-09"), 41_000_000),
        ];
        let p = progress(&h, m("2026-12"), 70_000_000).unwrap();
        assert_eq!(p.months_left, 3);
        assert!((p.run_rate_per_month - 300_000.0).abs() < 1e-6);
        assert!((p.required_per_month - 29_000_000.0 / 3.0).abs() < 1e-6);
        assert!((p.projected - 41_900_000.0).abs() < 1e-6);
        // 29 M at 0.3 M a month: 97 months after Sep 2026.
        assert_eq!(p.met_in, Some(m("2034-10")));
        let flat = [(m("2026-08"), 5), (m("2026-09"), 5)];
        assert_eq!(progress(&flat, m("2026-12"), 10).unwrap().met_in, None);
        let done = [(m("2026-09"), 12)];
        assert_eq!(
            progress(&done, m("2026-12"), 10).unwrap().met_in,
            Some(m("2026-09"))
        );
    }
}
