//! Labour-force figures carried in the binary (`data/bps/`, BPS Sakernas, each row with its
//! source): the denominators of coverage shares and the weights that allocate targets.

use std::collections::HashMap;

const EMPLOYED: &str = include_str!("../../../data/bps/employed_by_province_2023-08.csv");
const NATIONAL: &str = include_str!("../../../data/bps/sakernas_national.csv");

/// The edition of the province figures.
pub const EMPLOYED_PERIOD: &str = "2023-08";
/// How the figures are cited in outputs.
pub const EMPLOYED_SOURCE: &str = "employed persons, BPS Sakernas August 2023 (data/bps/)";

/// Employed persons by province number (Sakernas August 2023), for the provinces with a
/// published figure.
pub fn employed_by_province() -> HashMap<u8, f64> {
    let mut employed = HashMap::new();
    for line in EMPLOYED.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 4 {
            continue;
        }
        let (Ok(code), Ok(v)) = (f[0].parse::<u8>(), f[2].parse::<f64>()) else {
            continue;
        };
        let persons = match f[3] {
            "juta" => v * 1e6,
            "ribu" => v * 1e3,
            _ => v,
        };
        employed.insert(code, persons);
    }
    employed
}

/// National employed persons in a Sakernas period (`YYYY-MM`), if published.
pub fn national_employed(period: &str) -> Option<f64> {
    NATIONAL.lines().skip(1).find_map(|l| {
        let mut f = l.split(',');
        (f.next()? == period).then(|| f.next()?.parse::<f64>().ok().map(|juta| juta * 1e6))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carried_figures_parse() {
        let e = employed_by_province();
        assert_eq!(e.len(), 27);
        // Jawa Barat, August 2023: 23.50 million employed, as published.
        assert!((e[&32] - 23.5e6).abs() < 1.0, "{}", e[&32]);
        let n = national_employed(EMPLOYED_PERIOD).unwrap();
        assert!((n - 139.85e6).abs() < 1.0);
        assert!(e.values().sum::<f64>() < n);
    }
}
