//! Labour-force figures carried in the binary (`data/bps/`, BPS Sakernas, each row with its
//! source): the denominators of coverage shares and the weights that allocate targets.

use std::collections::HashMap;

const EMPLOYED: &str = include_str!("../../../data/bps/employed_by_province_2023-08.csv");
const NATIONAL: &str = include_str!("../../../data/bps/sakernas_national.csv");
const PROVINCE: &str = include_str!("../../../data/bps/sakernas_province.csv");

/// The share of informal work (0 to 1) and its Sakernas period, from a row's `informal_pct`
/// or else 100 − `formal_pct` (columns `informal_col`, `formal_col`).
fn informal_of(f: &[&str], informal_col: usize, formal_col: usize) -> Option<f64> {
    let pct = |i: usize| f.get(i).and_then(|v| v.trim().parse::<f64>().ok());
    pct(informal_col)
        .or_else(|| pct(formal_col).map(|formal| 100.0 - formal))
        .filter(|p| (0.0..=100.0).contains(p))
        .map(|p| p / 100.0)
}

/// The share of informal work by province number, from each province's latest Sakernas
/// period that publishes it, with that period.
pub fn informal_share_by_province() -> HashMap<u8, (f64, String)> {
    let mut out: HashMap<u8, (f64, String)> = HashMap::new();
    for line in PROVINCE.lines().skip(1) {
        // The columns used come before the quoted source notes.
        let f: Vec<&str> = line.split(',').collect();
        let (Some(code), Some(period)) = (f.first().and_then(|c| c.parse::<u8>().ok()), f.get(2))
        else {
            continue;
        };
        let Some(share) = informal_of(&f, 10, 7) else {
            continue;
        };
        if out.get(&code).is_none_or(|(_, p)| p.as_str() < *period) {
            out.insert(code, (share, (*period).to_string()));
        }
    }
    out
}

/// The national share of informal work in the latest Sakernas period that publishes it.
pub fn national_informal_share() -> Option<(f64, String)> {
    NATIONAL
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Some((informal_of(&f, 5, 3)?, (*f.first()?).to_string()))
        })
        .max_by(|a, b| a.1.cmp(&b.1))
}

/// The edition of the province figures.
pub const EMPLOYED_PERIOD: &str = "2023-08";
/// How the figures are cited in outputs.
pub const EMPLOYED_SOURCE: &str = "employed persons, BPS Sakernas August 2023 (data/bps/)";

const POPULATION: &str = include_str!("../../../data/regions/population.csv");

pub const POPULATION_SOURCE: &str =
    "residents, Kemendagri administrative population 2025 (data/regions/population.csv)";

/// Residents per province and regency (Kemendagri 2025; districts and villages have no
/// figure), by region code; the nation under [`RegionCode::NATION`]. Population is not the
/// employed population: whoever uses it in place of one says so.
pub fn population() -> HashMap<crate::RegionCode, i64> {
    let mut out = HashMap::new();
    for line in POPULATION.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 4 {
            continue;
        }
        let code = if f[0].is_empty() {
            Ok(crate::RegionCode::NATION)
        } else {
            crate::RegionCode::parse(f[0])
        };
        if let (Ok(code), Ok(total)) = (code, f[3].trim().parse::<i64>()) {
            out.insert(code, total);
        }
    }
    out
}

/// Provinces whose published figure covers an area since split: (the province the figure is
/// published for, the present-day provinces it covers, itself included), read from the rows'
/// own notes ("covers present-day 91+93+94+95").
pub fn employed_pre_split() -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    for line in EMPLOYED.lines().skip(1) {
        let Some((_, rest)) = line.split_once("covers present-day ") else {
            continue;
        };
        let Some(code) = line.split(',').next().and_then(|c| c.parse::<u8>().ok()) else {
            continue;
        };
        let members: Vec<u8> = rest
            .split(|c: char| !c.is_ascii_digit() && c != '+')
            .next()
            .unwrap_or("")
            .split('+')
            .filter_map(|p| p.parse().ok())
            .collect();
        if members.contains(&code) {
            out.push((code, members));
        }
    }
    out
}

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

const BPJSTK_NATIONAL: &str = include_str!("../../../data/bps/bpjstk_national.csv");
const BPJSTK_PROVINCE: &str = include_str!("../../../data/bps/bpjstk_province.csv");

/// One published BPJS Ketenagakerjaan figure, in persons.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// `YYYY-MM`.
    pub as_of: String,
    /// Province number, for the province figures.
    pub province: Option<u8>,
    /// As the source file names it: `active_total`, `nonactive_pu`, `registered_total`, …
    pub metric: String,
    pub persons: f64,
    pub source_url: String,
}

fn persons(value: &str, unit: &str) -> Option<f64> {
    let v: f64 = value.trim().parse().ok()?;
    match unit.trim() {
        "juta" => Some(v * 1e6),
        "ribu" => Some(v * 1e3),
        "orang" => Some(v),
        _ => None,
    }
}

/// The rows of a carried CSV whose value is a count of persons (others, such as counts of
/// employers, are skipped).
fn published(src: &str, with_province: bool) -> Vec<Published> {
    let mut rdr = csv::Reader::from_reader(src.as_bytes());
    let mut out = Vec::new();
    for rec in rdr.records().flatten() {
        let g = |i: usize| rec.get(i).unwrap_or("");
        let (as_of, province, rest) = if with_province {
            (g(0), g(1).parse::<u8>().ok(), 3)
        } else {
            (g(0), None, 1)
        };
        let Some(n) = persons(g(rest + 1), g(rest + 2)) else {
            continue;
        };
        out.push(Published {
            as_of: as_of.to_string(),
            province,
            metric: g(rest).to_string(),
            persons: n,
            source_url: g(rest + 3).to_string(),
        });
    }
    out
}

/// National BPJS Ketenagakerjaan figures (`data/bps/bpjstk_national.csv`).
pub fn bpjstk_national() -> Vec<Published> {
    published(BPJSTK_NATIONAL, false)
}

/// Province BPJS Ketenagakerjaan figures (`data/bps/bpjstk_province.csv`).
pub fn bpjstk_province() -> Vec<Published> {
    published(BPJSTK_PROVINCE, true)
}

/// The first national figure for `metric` as of `as_of`.
pub fn national_figure(as_of: &str, metric: &str) -> Option<f64> {
    bpjstk_national()
        .into_iter()
        .find(|p| p.as_of == as_of && p.metric == metric)
        .map(|p| p.persons)
}

/// Registered participants (active + non-active, as published in persons) by province as of
/// `as_of`, for the provinces with both figures.
pub fn registered_by_province(as_of: &str) -> HashMap<u8, f64> {
    let rows = bpjstk_province();
    let exact = |p: u8, metric: &str| {
        rows.iter()
            .filter(|r| r.as_of == as_of && r.province == Some(p) && r.metric == metric)
            // Prefer the count in persons over a rounded figure in millions.
            .map(|r| r.persons)
            .find(|n| n.fract() == 0.0 && *n > 0.0)
    };
    let provinces: std::collections::BTreeSet<u8> =
        rows.iter().filter_map(|r| r.province).collect();
    provinces
        .into_iter()
        .filter_map(|p| Some((p, exact(p, "active_total")? + exact(p, "nonactive_total")?)))
        .collect()
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

    #[test]
    fn bpjstk_figures_parse() {
        assert_eq!(national_figure("2023-12", "active_total"), Some(41.56e6));
        assert_eq!(national_figure("2023-12", "nonactive_bpu"), Some(979e3));
        let r = registered_by_province("2023-12");
        assert_eq!(r.len(), 28);
        // DKI Jakarta: 7,498,532 active and 4,699,958 non-active, in persons.
        assert_eq!(r[&31], 7_498_532.0 + 4_699_958.0);
        assert!(r.values().sum::<f64>() < national_figure("2023-12", "registered_total").unwrap());
    }
}

#[cfg(test)]
mod informal_tests {
    use super::*;

    #[test]
    fn informal_shares_are_read_with_their_period() {
        let by = informal_share_by_province();
        // Aceh publishes only its formal share: 38.55% in 2022-08, 34.50% in 2023-02 (its
        // 2023-08 row has none): 65.5% informal, from 2023-02.
        let (aceh, period) = &by[&11];
        assert_eq!(period, "2023-02");
        assert!((aceh - 0.655).abs() < 1e-12, "{aceh}");
        // Kepulauan Riau publishes its informal share: 33.67% in 2023-08.
        let (kepri, period) = &by[&21];
        assert_eq!(period, "2023-08");
        assert!((kepri - 0.3367).abs() < 1e-12, "{kepri}");
        assert!(by.values().all(|(s, _)| (0.0..=1.0).contains(s)));
        // Nationally, the latest period with a figure: February 2024, 59.17%.
        let (nat, period) = national_informal_share().unwrap();
        assert_eq!(period, "2024-02");
        assert!((nat - 0.5917).abs() < 1e-12, "{nat}");
    }
}
