//! Progress toward a coverage target: the growth still required and a projection at the
//! recent run-rate (issue #3, DOMAIN.md §4).

use crate::month::Month;
use serde::Serialize;

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
