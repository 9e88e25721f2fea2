//! A realistic simulated population written as `participants.csv` (DESIGN.md §5).
//!
//! Reproducible: the same seed, count and as-of date give the same file. People are spread
//! over real villages in proportion to each province's employed population (BPS Sakernas
//! August 2023, `data/bps/`), with a PU/BPU mix, occupations, incomes, programmes and
//! channels in plausible proportions. NIKs follow the Dukcapil layout and are unique.

use anyhow::{Context, Result};
use cakupan_domain::month::format_date;
use cakupan_domain::{Level, RegionTree, RuleSet};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use time::{Date, Duration};

use cakupan_domain::bps::employed_by_province;

pub const HEADER: &str = "nik,name,birth_date,sex,phone,village_code,segment,occupation_code,income_base,programs,registered_on,channel,agent_code";

/// splitmix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    pub fn pick<'a, T>(&mut self, weighted: &'a [(T, u32)]) -> &'a T {
        let total: u32 = weighted.iter().map(|w| w.1).sum();
        let mut x = self.below(u64::from(total)) as u32;
        for (v, w) in weighted {
            if x < *w {
                return v;
            }
            x -= w;
        }
        &weighted[weighted.len() - 1].0
    }
}

pub const FIRST_M: &[&str] = &[
    "Agus", "Budi", "Joko", "Slamet", "Bambang", "Hendra", "Rudi", "Dedi", "Andi", "Eko", "Ahmad",
    "Muhammad", "Wayan", "Made", "Ketut", "Yohanes", "Rizky", "Fajar", "Dimas", "Arif", "Hasan",
    "Teguh", "Sutrisno", "Wahyu", "Imam", "Asep", "Ujang", "Daeng", "Yusuf", "Irfan",
];
pub const FIRST_F: &[&str] = &[
    "Siti",
    "Sri",
    "Dewi",
    "Ani",
    "Nur",
    "Rina",
    "Wati",
    "Yuni",
    "Lestari",
    "Putri",
    "Ayu",
    "Fitri",
    "Indah",
    "Ratna",
    "Nyoman",
    "Maria",
    "Kartini",
    "Endang",
    "Suryani",
    "Rahmawati",
    "Aisyah",
    "Fatimah",
    "Nining",
    "Euis",
    "Tuti",
    "Desi",
    "Intan",
    "Mega",
    "Novi",
    "Sari",
];
pub const LAST: &[&str] = &[
    "",
    "Santoso",
    "Wijaya",
    "Saputra",
    "Hidayat",
    "Setiawan",
    "Kurniawan",
    "Pratama",
    "Nugroho",
    "Siregar",
    "Nasution",
    "Harahap",
    "Simanjuntak",
    "Lubis",
    "Hutapea",
    "Sinaga",
    "Tanjung",
    "Rahman",
    "Hakim",
    "Gunawan",
    "Susanto",
    "Purnomo",
    "Syahputra",
    "Wulandari",
    "Manurung",
    "Pangaribuan",
    "Sembiring",
    "Tarigan",
    "Pohan",
    "Mahendra",
];

/// The published figures the simulation is calibrated to (`data/bps/`, BPJS Ketenagakerjaan,
/// December 2023).
pub const CALIBRATION_MONTH: &str = "2023-12";

/// What the simulation takes from the published figures.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// PU share of PU + BPU registrations (active + non-active).
    pub pu_share: f64,
    /// BPU peserta aktif as a share of registered BPU.
    pub bpu_active_share: f64,
    /// PU peserta aktif as a share of registered PU (reported; not simulated yet).
    pub pu_active_share: f64,
    /// Registered participants by province, where published.
    pub registered_by_province: HashMap<u8, f64>,
    /// National registered participants.
    pub registered_total: f64,
}

impl Calibration {
    pub fn published() -> Result<Calibration> {
        use cakupan_domain::bps::{national_figure, registered_by_province};
        let f = |metric: &str| {
            national_figure(CALIBRATION_MONTH, metric).with_context(|| {
                format!("data/bps/bpjstk_national.csv has no {metric} for {CALIBRATION_MONTH}")
            })
        };
        let (pu_a, pu_n, bpu_a, bpu_n) = (
            f("active_pu")?,
            f("nonactive_pu")?,
            f("active_bpu")?,
            f("nonactive_bpu")?,
        );
        Ok(Calibration {
            pu_share: (pu_a + pu_n) / (pu_a + pu_n + bpu_a + bpu_n),
            bpu_active_share: bpu_a / (bpu_a + bpu_n),
            pu_active_share: pu_a / (pu_a + pu_n),
            registered_by_province: registered_by_province(CALIBRATION_MONTH),
            registered_total: f("registered_total")?,
        })
    }

    /// Each province's share of registrations: the published count where there is one; the
    /// rest of the national count shared by the other provinces in proportion to employed
    /// persons (BPS), or to villages where BPS has no figure either.
    pub fn province_weights(&self, tree: &RegionTree) -> HashMap<u8, f64> {
        let employed = employed_by_province();
        let mut villages: HashMap<u8, f64> = HashMap::new();
        for v in tree.villages() {
            *villages.entry(v.code.province_number()).or_default() += 1.0;
        }
        let (emp_known, vil_known): (f64, f64) = employed
            .iter()
            .map(|(p, e)| (*e, villages.get(p).copied().unwrap_or(0.0)))
            .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        let per_village = emp_known / vil_known.max(1.0);
        let proxy = |p: u8| {
            employed
                .get(&p)
                .copied()
                .unwrap_or_else(|| villages.get(&p).copied().unwrap_or(0.0) * per_village)
        };
        let known: f64 = self.registered_by_province.values().sum();
        let rest = (self.registered_total - known).max(0.0);
        let others: Vec<u8> = villages
            .keys()
            .copied()
            .filter(|p| !self.registered_by_province.contains_key(p))
            .collect();
        let proxy_sum: f64 = others.iter().map(|p| proxy(*p)).sum();
        let mut out: HashMap<u8, f64> = self.registered_by_province.clone();
        for p in others {
            out.insert(p, rest * proxy(p) / proxy_sum.max(1.0));
        }
        out
    }
}

/// Villages with a weight each: the province's calibrated share shared over its villages.
fn village_weights(tree: &RegionTree, cal: &Calibration) -> Vec<(String, u32, f64)> {
    let provinces = cal.province_weights(tree);
    let mut villages_per_province: HashMap<u8, usize> = HashMap::new();
    for v in tree.villages() {
        *villages_per_province
            .entry(v.code.province_number())
            .or_default() += 1;
    }
    tree.villages()
        .map(|v| {
            let p = v.code.province_number();
            let w = provinces.get(&p).copied().unwrap_or(0.0) / villages_per_province[&p] as f64;
            let district = v
                .code
                .truncate(Level::District)
                .to_string()
                .replace('.', "");
            (v.code.to_string(), district.parse().unwrap_or(0), w)
        })
        .collect()
}

/// Writes `count` rows (plus the header) to `out`, registered from 2018 to `as_of`.
pub fn generate(
    tree: &RegionTree,
    rules: &RuleSet,
    count: u64,
    seed: u64,
    as_of: Date,
    out: &mut dyn Write,
) -> Result<()> {
    let since = Date::from_calendar_date(2018, time::Month::January, 1)?;
    generate_since(tree, rules, count, seed, since, as_of, out)
}

/// Writes `count` rows (plus the header) to `out`, registered between `since` and `as_of`.
pub fn generate_since(
    tree: &RegionTree,
    rules: &RuleSet,
    count: u64,
    seed: u64,
    since: Date,
    as_of: Date,
    out: &mut dyn Write,
) -> Result<()> {
    let cal = Calibration::published()?;
    let villages = village_weights(tree, &cal);
    // Cumulative weights for sampling a village.
    let mut cumulative = Vec::with_capacity(villages.len());
    let mut acc = 0.0;
    for v in &villages {
        acc += v.2;
        cumulative.push(acc);
    }
    let districts: Vec<u32> = {
        let mut d: Vec<u32> = villages.iter().map(|v| v.1).collect();
        d.dedup();
        d
    };
    let bpu_occupations: Vec<(&str, u32)> = vec![
        ("9", 24),
        ("11", 8),
        ("11.1", 2),
        ("84", 12),
        ("84.1", 8),
        ("84.2", 5),
        ("14.1", 10),
        ("14.2", 3),
        ("14.4", 4),
        ("19", 10),
        ("88", 9),
        ("23.1", 3),
        ("10", 2),
    ];
    let pu_occupations: Vec<(&str, u32)> = vec![
        ("15", 78),
        ("16", 4),
        ("17", 2),
        ("18", 5),
        ("81", 5),
        ("13", 6),
    ];
    for (code, _) in bpu_occupations.iter().chain(&pu_occupations) {
        rules.occupation(code).with_context(|| {
            format!("occupation {code} used by the generator is not in rules/occupations.toml")
        })?;
    }
    let bases = rules
        .bracket_table(cakupan_domain::Month::of(as_of))
        .map(|t| t.bases.clone())
        .context("no BPU bracket table in force")?;
    let start = since.min(as_of);
    let span_days = (as_of - start).whole_days().max(1) as u64;
    let mut rng = Rng::new(seed);
    let mut niks: HashSet<u64> = HashSet::with_capacity(count as usize);
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
    writeln!(w, "{HEADER}")?;
    for _ in 0..count {
        let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * acc;
        let vi = cumulative
            .partition_point(|c| *c < x)
            .min(villages.len() - 1);
        let (village, district, _) = &villages[vi];
        let segment_pu = rng.chance(cal.pu_share);
        let female = rng.chance(if segment_pu { 0.4 } else { 0.45 });
        let registered_on = start + Duration::days(rng.below(span_days) as i64);
        let age_days = (18 * 365 + rng.below(40 * 365)) as i64;
        let birth = registered_on - Duration::days(age_days);
        // Most people still live in the district that issued their NIK.
        let issuing = if rng.chance(0.85) {
            *district
        } else {
            districts[rng.below(districts.len() as u64) as usize]
        };
        let day = u64::from(birth.day()) + if female { 40 } else { 0 };
        let date_part =
            day * 10_000 + u64::from(u8::from(birth.month())) * 100 + (birth.year() % 100) as u64;
        let mut serial = 1 + rng.below(9_000);
        let nik = loop {
            let n = u64::from(issuing) * 10_000_000_000 + date_part * 10_000 + serial;
            if niks.insert(n) {
                break n;
            }
            serial = serial % 9_999 + 1;
        };
        let first = if female { FIRST_F } else { FIRST_M };
        let name = {
            let f = first[rng.below(first.len() as u64) as usize];
            let l = LAST[rng.below(LAST.len() as u64) as usize];
            if l.is_empty() {
                f.to_string()
            } else {
                format!("{f} {l}")
            }
        };
        let phone = if rng.chance(0.8) {
            format!("08{}{:09}", 1 + rng.below(9), rng.below(1_000_000_000))
        } else {
            String::new()
        };
        let (segment, occupation, income, programs, channel, agent) = if segment_pu {
            let occ = *rng.pick(&pu_occupations);
            // Wages: mostly near provincial minimum wages (Rp2–5 million), a long tail above.
            let wage = 2_000_000
                + rng.below(3_000_000)
                + if rng.chance(0.2) {
                    rng.below(15_000_000)
                } else {
                    0
                };
            let wage = wage / 1_000 * 1_000;
            let programs = *rng.pick(&[
                ("JKK+JKM+JHT+JP+JKP", 45),
                ("JKK+JKM+JHT+JP", 15),
                ("JKK+JKM+JHT", 30),
                ("JKK+JKM", 10),
            ]);
            let channel = *rng.pick(&[("employer", 95), ("branch", 5)]);
            ("PU", occ, wage, programs, channel, String::new())
        } else {
            let occ = *rng.pick(&bpu_occupations);
            let base = if rng.chance(0.7) {
                bases[0]
            } else {
                bases[rng.below(bases.len().min(40) as u64) as usize]
            };
            let programs = *rng.pick(&[("JKK+JKM", 75), ("JKK+JKM+JHT", 25)]);
            let channel = *rng.pick(&[("self", 40), ("perisai", 35), ("bank", 15), ("branch", 10)]);
            // One agent per regency.
            let agent = if channel == "perisai" {
                format!("PRS-{}{}-01", &village[..2], &village[3..5])
            } else {
                String::new()
            };
            ("BPU", occ, base as u64, programs, channel, agent)
        };
        writeln!(
            w,
            "{nik:016},{name},{},{},{phone},{village},{segment},{occupation},{income},{programs},{},{channel},{agent}",
            format_date(birth),
            if female { "P" } else { "L" },
            format_date(registered_on),
        )?;
    }
    w.flush()?;
    Ok(())
}

/// One simulated BPU payment: first month, months covered, day of the month paid, channel.
type Payment = (cakupan_domain::Month, u32, u8, &'static str);

/// The payments of one BPU participant registered in `registered`, up to `last`. `dropout`
/// (0–1) scales how many stop: at 1, 12% never pay and half pay for a while and lapse (a third
/// of those come back after a gap); the rest pay steadily, monthly or 3, 6 or 12 months ahead.
fn schedule(
    rng: &mut Rng,
    registered: cakupan_domain::Month,
    last: cakupan_domain::Month,
    dropout: f64,
) -> Vec<Payment> {
    let mut out = Vec::new();
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    if u < 0.12 * dropout {
        return out; // registered, never paid
    }
    let steady = u >= 0.12 * dropout + 0.50 * dropout;
    let mut m = registered.plus(i32::from(rng.chance(0.3)));
    let mut stop_after = if steady { u64::MAX } else { 1 + rng.below(24) };
    while m <= last {
        if stop_after == 0 {
            // A lapse: a third come back after a gap.
            if !rng.chance(0.33) {
                break;
            }
            m = m.plus(3 + rng.below(9) as i32);
            stop_after = 1 + rng.below(12);
            continue;
        }
        let k = *rng.pick(&[(1u32, 60), (3, 20), (6, 12), (12, 8)]);
        let day = 1 + rng.below(14) as u8;
        let channel = *rng.pick(&[
            ("bank", 40),
            ("perisai", 30),
            ("aggregator", 20),
            ("autodebit", 10),
        ]);
        out.push((m, k, day, channel));
        m = m.plus(k as i32);
        stop_after = stop_after.saturating_sub(u64::from(k));
    }
    out
}

/// The share of BPU participants registered in `registered` (a sample) who are peserta aktif
/// (ACTIVE or IN_ARREARS, DOMAIN.md §4.1) in `last` under `dropout`; the same random draws for
/// every `dropout`, so the share moves smoothly with it.
fn active_share(
    rules: &RuleSet,
    registered: &[cakupan_domain::Month],
    last: cakupan_domain::Month,
    dropout: f64,
    seed: u64,
) -> f64 {
    use cakupan_domain::Segment;
    use cakupan_domain::coverage::{Contribution, Facts, Status, series};
    let mut active = 0usize;
    for (i, r) in registered.iter().enumerate() {
        // Each participant's own draws: moving one across a threshold leaves the rest as
        // they were, so the share falls step by step as `dropout` rises.
        let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let pays: Vec<Contribution> = schedule(&mut rng, *r, last, dropout)
            .into_iter()
            .map(|(m, k, _, _)| Contribution {
                reference: i.to_string(),
                first_month: m,
                months: k,
                reversed: false,
            })
            .collect();
        let f = Facts::from_contributions(Segment::Bpu, *r, &pays, None);
        if series(rules, &f, last, last).is_ok_and(|s| {
            s.first()
                .is_some_and(|x| matches!(x.status, Status::Active | Status::InArrears))
        }) {
            active += 1;
        }
    }
    active as f64 / registered.len().max(1) as f64
}

/// The dropout (0–1) at which the simulated BPU population's peserta-aktif share in `last`
/// comes closest to `target`, found by bisection on a sample of registration months.
pub fn calibrate_dropout(
    rules: &RuleSet,
    registered: &[cakupan_domain::Month],
    last: cakupan_domain::Month,
    target: f64,
    seed: u64,
) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    if active_share(rules, registered, last, lo, seed) <= target {
        return lo;
    }
    if active_share(rules, registered, last, hi, seed) >= target {
        return hi;
    }
    for _ in 0..16 {
        let mid = (lo + hi) / 2.0;
        if active_share(rules, registered, last, mid, seed) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Simulated payment histories for the BPU participants of a participants.csv, written as
/// `contributions.csv`: some never pay, some pay steadily (monthly or 3, 6 or 12 months in
/// advance), many pay for a while and lapse, and some of those come back. How many stop is
/// calibrated so that the BPU peserta-aktif share in `as_of` matches the published one
/// (`Calibration::bpu_active_share`). Amounts are the dues under the rules, discounts included.
/// Returns the number of rows written and the dropout used.
pub fn contributions(
    rules: &RuleSet,
    participants: &std::path::Path,
    seed: u64,
    as_of: Date,
    out: &mut dyn Write,
) -> Result<(u64, f64)> {
    use cakupan_domain::contribution::{FIELDS, Profile, dues};
    use cakupan_domain::{Month, ProgrammeSet, Rupiah, Segment};
    let open = || -> Result<csv::Reader<std::io::BufReader<std::fs::File>>> {
        let f = std::fs::File::open(participants)
            .with_context(|| format!("opening {}", participants.display()))?;
        Ok(csv::Reader::from_reader(std::io::BufReader::with_capacity(
            1 << 20,
            f,
        )))
    };
    let last = Month::of(as_of);
    // First pass: the BPU registration months, a sample of which calibrates the dropout.
    let mut months = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut rdr = open()?;
    while rdr.read_record(&mut rec)? {
        if rec.get(6) == Some("BPU")
            && let Some(d) = rec.get(10).and_then(cakupan_domain::month::parse_date)
        {
            months.push(Month::of(d));
        }
    }
    let stride = (months.len() / 4_000).max(1);
    let sample: Vec<Month> = months.iter().step_by(stride).copied().collect();
    drop(months);
    let dropout = calibrate_dropout(
        rules,
        &sample,
        last,
        Calibration::published()?.bpu_active_share,
        seed,
    );
    let mut rdr = open()?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
    writeln!(w, "{},collected_by", FIELDS.join(","))?;
    let mut rng = Rng::new(seed ^ 0xc0ff_ee00);
    let mut written = 0u64;
    let mut line = 1u64;
    while rdr.read_record(&mut rec)? {
        line += 1;
        let g = |i: usize| rec.get(i).unwrap_or("");
        if g(6) != "BPU" {
            continue; // PU dues need the employer's risk class: they arrive with the employer channel
        }
        let (Some(occ), Some(base), Ok(programmes), Some(registered)) = (
            rules.occupation(g(7)),
            Rupiah::parse(g(8)),
            ProgrammeSet::parse(g(9)),
            cakupan_domain::month::parse_date(g(10)),
        ) else {
            continue;
        };
        let profile = Profile {
            segment: Segment::Bpu,
            income_base: base,
            programmes,
            sector: occ.sector,
            budget_funded: false,
            risk_class: None,
        };
        for (n, (m, k, day, channel)) in schedule(&mut rng, Month::of(registered), last, dropout)
            .into_iter()
            .enumerate()
        {
            let Ok(per_month) = dues(rules, &profile, m, k) else {
                break;
            };
            let amount: i64 = per_month.iter().map(|d| d.1.0).sum();
            let paid_on = m.day(day).unwrap_or(m.first_day()).min(as_of);
            // A participant an agent enrolled pays the agent in cash when paying by perisai.
            let collected_by = if channel == "perisai" { g(12) } else { "" };
            writeln!(
                w,
                "SIM{seed}-{line}-{},{},BPU,{m},{k},{amount},{channel},{},{collected_by}",
                n + 1,
                g(0),
                cakupan_domain::month::format_date(paid_on)
            )?;
            written += 1;
        }
    }
    w.flush()?;
    Ok((written, dropout))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cakupan_domain::Month;

    #[test]
    fn calibration_comes_from_the_published_figures() {
        let c = Calibration::published().unwrap();
        // December 2023: PU 25.004 + 18.53 million, BPU 9.19 million + 979 thousand.
        let pu = 25.004e6 + 18.53e6;
        let bpu = 9.19e6 + 979e3;
        assert!((c.pu_share - pu / (pu + bpu)).abs() < 1e-12);
        assert!((c.bpu_active_share - 9.19e6 / bpu).abs() < 1e-12);
        let tree = RegionTree::builtin().unwrap();
        let w = c.province_weights(&tree);
        assert_eq!(w.len(), 38);
        // The published provinces keep their counts; all of them add up to the national count.
        assert_eq!(w[&32], 4_855_121.0 + 3_057_496.0);
        assert!((w.values().sum::<f64>() - c.registered_total).abs() < 1.0);
    }

    #[test]
    fn dropout_is_calibrated_to_the_target_share() {
        let rules = RuleSet::builtin().unwrap();
        let last = Month::parse("2026-11").unwrap();
        let registered: Vec<Month> = (0..2_000).map(|i| last.plus(-(i % 36))).collect();
        for target in [0.7, 0.8, 0.9] {
            let d = calibrate_dropout(&rules, &registered, last, target, 7);
            let got = active_share(&rules, &registered, last, d, 7);
            assert!((got - target).abs() < 0.01, "target {target}: {got} at {d}");
        }
        // Nobody stops at dropout 0: almost everyone is active.
        assert!(active_share(&rules, &registered, last, 0.0, 7) > 0.95);
    }
}
