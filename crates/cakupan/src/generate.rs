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

pub use cakupan_domain::bps::{employed_by_province, national_employed};

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
    fn pick<'a, T>(&mut self, weighted: &'a [(T, u32)]) -> &'a T {
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

const FIRST_M: &[&str] = &[
    "Agus", "Budi", "Joko", "Slamet", "Bambang", "Hendra", "Rudi", "Dedi", "Andi", "Eko", "Ahmad",
    "Muhammad", "Wayan", "Made", "Ketut", "Yohanes", "Rizky", "Fajar", "Dimas", "Arif", "Hasan",
    "Teguh", "Sutrisno", "Wahyu", "Imam", "Asep", "Ujang", "Daeng", "Yusuf", "Irfan",
];
const FIRST_F: &[&str] = &[
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
const LAST: &[&str] = &[
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

/// Villages with a weight each: the province's employed persons shared over its villages.
fn village_weights(tree: &RegionTree) -> Vec<(String, u32, f64)> {
    let employed = employed_by_province();
    let mut villages_per_province: HashMap<u8, usize> = HashMap::new();
    for v in tree.villages() {
        *villages_per_province
            .entry(v.code.province_number())
            .or_default() += 1;
    }
    let known: f64 = employed.values().sum();
    let unknown_villages: usize = villages_per_province
        .iter()
        .filter(|(p, _)| !employed.contains_key(p))
        .map(|(_, n)| n)
        .sum();
    let national = national_employed("2023-08").unwrap_or(known);
    let per_unknown_village = ((national - known).max(0.0)) / unknown_villages.max(1) as f64;
    tree.villages()
        .map(|v| {
            let p = v.code.province_number();
            let w = match employed.get(&p) {
                Some(e) => e / villages_per_province[&p] as f64,
                None => per_unknown_village,
            };
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
    let villages = village_weights(tree);
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
        let segment_pu = rng.chance(0.7);
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
            let agent = if channel == "perisai" {
                format!("PRS-{}-{:04}", &village[..2], 1 + rng.below(400))
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

/// Simulated payment histories for the BPU participants of a participants.csv, written as
/// `contributions.csv`: some never pay, some pay steadily (monthly or 3, 6 or 12 months in
/// advance), many pay for a while and lapse, and some of those come back. Amounts are the dues
/// under the rules, discounts included. Returns the number of rows written.
pub fn contributions(
    rules: &RuleSet,
    participants: &std::path::Path,
    seed: u64,
    as_of: Date,
    out: &mut dyn Write,
) -> Result<u64> {
    use cakupan_domain::contribution::{FIELDS, Profile, dues};
    use cakupan_domain::{Month, ProgrammeSet, Rupiah, Segment};
    let f = std::fs::File::open(participants)
        .with_context(|| format!("opening {}", participants.display()))?;
    let mut rdr = csv::Reader::from_reader(std::io::BufReader::with_capacity(1 << 20, f));
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
    writeln!(w, "{}", FIELDS.join(","))?;
    let mut rng = Rng::new(seed ^ 0xc0ff_ee00);
    let last = Month::of(as_of);
    let mut written = 0u64;
    let mut rec = csv::StringRecord::new();
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
        let behaviour = rng.below(100);
        if behaviour < 12 {
            continue; // registered, never paid
        }
        let steady = behaviour < 50;
        let mut m = Month::of(registered).plus(i32::from(rng.chance(0.3)));
        let mut stop_after = if steady { u64::MAX } else { 1 + rng.below(24) };
        let mut n = 0u64;
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
            let Ok(per_month) = dues(rules, &profile, m, k) else {
                break;
            };
            let amount: i64 = per_month.iter().map(|d| d.1.0).sum();
            let day = 1 + rng.below(14) as u8;
            let paid_on = m.day(day).unwrap_or(m.first_day()).min(as_of);
            n += 1;
            writeln!(
                w,
                "SIM{seed}-{line}-{n},{},BPU,{m},{k},{amount},{},{}",
                g(0),
                *rng.pick(&[
                    ("bank", 40),
                    ("perisai", 30),
                    ("aggregator", 20),
                    ("autodebit", 10)
                ]),
                cakupan_domain::month::format_date(paid_on)
            )?;
            written += 1;
            m = m.plus(k as i32);
            stop_after = stop_after.saturating_sub(u64::from(k));
        }
    }
    w.flush()?;
    Ok(written)
}
