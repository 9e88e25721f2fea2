//! Kemendagri region codes and the region tree (province → regency/city → district → village).
//!
//! Codes are hierarchical (`32`, `32.73`, `32.73.01`, `32.73.01.1001`), so subtree membership
//! is a comparison of code parts and needs no lookup at all; that is what access checks use
//! on every request. The tree adds names, kinds and children, held in sorted vectors.

use crate::region_csv::split_csv_line;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Nation,
    Province,
    Regency,
    District,
    Village,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Nation => "nation",
            Level::Province => "province",
            Level::Regency => "regency",
            Level::District => "district",
            Level::Village => "village",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        [
            Level::Nation,
            Level::Province,
            Level::Regency,
            Level::District,
            Level::Village,
        ]
        .into_iter()
        .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The level at a depth of the tree (0 = nation … 4 = village).
    pub fn from_depth(depth: u8) -> Option<Level> {
        [
            Level::Nation,
            Level::Province,
            Level::Regency,
            Level::District,
            Level::Village,
        ]
        .get(usize::from(depth))
        .copied()
    }

    pub fn depth(self) -> u8 {
        match self {
            Level::Nation => 0,
            Level::Province => 1,
            Level::Regency => 2,
            Level::District => 3,
            Level::Village => 4,
        }
    }
}

/// A dotted Kemendagri code at one of the four levels, or the nation (the empty code).
///
/// Ordering is the numeric order of the dotted parts, which is also the files' order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode {
    // Field order gives the derived ordering: by province, regency, district, village, and a
    // parent (zeros below its level, and a smaller depth) sorts before its children.
    province: u8,
    regency: u8,
    district: u8,
    village: u16,
    depth: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionCodeError {
    #[error(
        "must be a dotted Kemendagri code: NN (province), NN.NN (regency), NN.NN.NN (district) or NN.NN.NN.NNNN (village)"
    )]
    Format,
    #[error("code parts must not be zero")]
    Zero,
}

impl RegionCode {
    pub const NATION: RegionCode = RegionCode {
        province: 0,
        regency: 0,
        district: 0,
        village: 0,
        depth: 0,
    };

    pub fn parse(s: &str) -> Result<RegionCode, RegionCodeError> {
        let s = s.trim();
        let mut code = RegionCode::NATION;
        if s.is_empty() {
            return Err(RegionCodeError::Format);
        }
        for (i, part) in s.split('.').enumerate() {
            let want = if i == 3 { 4 } else { 2 };
            if i > 3 || part.len() != want || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RegionCodeError::Format);
            }
            let v = part
                .bytes()
                .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
            if v == 0 {
                return Err(RegionCodeError::Zero);
            }
            // Two-digit parts are < 100.
            match i {
                0 => code.province = v as u8,
                1 => code.regency = v as u8,
                2 => code.district = v as u8,
                _ => code.village = v,
            }
            code.depth += 1;
        }
        Ok(code)
    }

    /// Parses the undotted form used inside NIKs and some partner files (`3273011001`).
    pub fn parse_compact(s: &str) -> Result<RegionCode, RegionCodeError> {
        let s = s.trim();
        if !s.is_ascii() {
            return Err(RegionCodeError::Format);
        }
        let dotted = match s.len() {
            2 => s.to_string(),
            4 => format!("{}.{}", &s[..2], &s[2..]),
            6 => format!("{}.{}.{}", &s[..2], &s[2..4], &s[4..]),
            10 => format!("{}.{}.{}.{}", &s[..2], &s[2..4], &s[4..6], &s[6..]),
            _ => return Err(RegionCodeError::Format),
        };
        RegionCode::parse(&dotted)
    }

    pub fn level(self) -> Level {
        match self.depth {
            0 => Level::Nation,
            1 => Level::Province,
            2 => Level::Regency,
            3 => Level::District,
            _ => Level::Village,
        }
    }

    pub fn parent(self) -> Option<RegionCode> {
        let mut p = self;
        match self.depth {
            0 => return None,
            1 => p.province = 0,
            2 => p.regency = 0,
            3 => p.district = 0,
            _ => p.village = 0,
        }
        p.depth -= 1;
        Some(p)
    }

    /// This code cut to `level` (the province of a village, say). Unchanged if already above it.
    pub fn truncate(self, level: Level) -> RegionCode {
        let mut c = self;
        while c.depth > level.depth() {
            match c.parent() {
                Some(p) => c = p,
                None => break,
            }
        }
        c
    }

    /// Whether `other` is this region or lies inside it.
    pub fn contains(self, other: RegionCode) -> bool {
        other.depth >= self.depth && other.truncate(self.level()) == self
    }

    pub fn province_number(self) -> u8 {
        self.province
    }

    /// Ancestors from the province down to this code (the nation is not included).
    pub fn path(self) -> Vec<RegionCode> {
        let mut v = Vec::with_capacity(4);
        let mut c = self;
        while c.depth > 0 {
            v.push(c);
            match c.parent() {
                Some(p) => c = p,
                None => break,
            }
        }
        v.reverse();
        v
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.depth {
            0 => String::new(),
            1 => format!("{:02}", self.province),
            2 => format!("{:02}.{:02}", self.province, self.regency),
            3 => format!(
                "{:02}.{:02}.{:02}",
                self.province, self.regency, self.district
            ),
            _ => format!(
                "{:02}.{:02}.{:02}.{:04}",
                self.province, self.regency, self.district, self.village
            ),
        };
        f.pad(&s)
    }
}

impl FromStr for RegionCode {
    type Err = RegionCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegionCode::parse(s)
    }
}

impl Serialize for RegionCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The nation is written as the empty string (its `Display`), and read back from it: what is
/// stored can always be read (a campaign over the whole nation was once unreadable).
impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(RegionCode::NATION);
        }
        RegionCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One region with its name and kind (`kabupaten`/`kota`, `desa`/`kelurahan`/`desa_adat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
    /// Empty for provinces and districts, which the source does not subdivide into kinds.
    pub kind: String,
}

impl Region {
    /// The parent region as the region table stores it: none for a province, whose parent is
    /// the nation.
    pub fn parent_below_nation(&self) -> Option<RegionCode> {
        self.code.parent().filter(|p| p.level() != Level::Nation)
    }
}

/// The whole region tree, in memory, built from the four Kemendagri CSV files.
#[derive(Debug, Clone, Default)]
pub struct RegionTree {
    /// Sorted by code, so each region's descendants follow it contiguously; a region is found
    /// by binary search (17 comparisons of four bytes for 91,599 regions), which needs no
    /// index to build at start.
    regions: Vec<Region>,
    /// For each region, the indexes of its direct children.
    children: Vec<Vec<usize>>,
    counts: [usize; 4],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionTreeError {
    #[error("{file} line {line}: {message}")]
    Row {
        file: &'static str,
        line: usize,
        message: String,
    },
}

/// The four source files' contents (see `data/regions/README.md`).
#[derive(Debug, Clone, Copy)]
pub struct RegionSources<'a> {
    pub provinces: &'a str,
    pub regencies: &'a str,
    pub districts: &'a str,
    pub villages: &'a str,
}

/// The Kemendagri region files carried inside the binary (`data/regions/`, MIT licence:
/// see `data/regions/README.md`).
pub const BUILTIN_SOURCES: RegionSources<'static> = RegionSources {
    provinces: include_str!("../../../data/regions/provinces.csv"),
    regencies: include_str!("../../../data/regions/regencies.csv"),
    districts: include_str!("../../../data/regions/districts.csv"),
    villages: include_str!("../../../data/regions/villages.csv"),
};

/// The carried region files packed by the build script (`build.rs`), little-endian: four
/// `u32` counts (provinces, regencies, districts, villages); the kinds (a count byte, then each
/// as a length byte and its text, kind 0 the empty one); then every region in code order: its
/// province, regency and district parts (a byte each), village part (`u16`), depth and kind (a
/// byte each), its name's length (`u16`) and the name.
const COMPACT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/regions.bin"));

/// Reads [`COMPACT`]'s layout; a short or malformed input is an error, never a panic.
fn decode_compact(bytes: &[u8]) -> Result<RegionTree, RegionTreeError> {
    let bad = |message: &str| RegionTreeError::Row {
        file: "regions.bin",
        line: 0,
        message: message.to_string(),
    };
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], RegionTreeError> {
        let out = bytes.get(at..at + n).ok_or_else(|| bad("ends too early"))?;
        at += n;
        Ok(out)
    };
    let mut counts = [0usize; 4];
    for c in &mut counts {
        let b = take(4)?;
        *c = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    }
    let mut kinds = Vec::new();
    for _ in 0..take(1)?[0] {
        let len = usize::from(take(1)?[0]);
        let text = std::str::from_utf8(take(len)?).map_err(|_| bad("a kind is not text"))?;
        kinds.push(text.to_string());
    }
    let total: usize = counts.iter().sum();
    let mut regions = Vec::with_capacity(total);
    for _ in 0..total {
        let h = take(9)?;
        let depth = h[5];
        if !(1..=4).contains(&depth) {
            return Err(bad("a depth outside 1 to 4"));
        }
        let code = RegionCode {
            province: h[0],
            regency: h[1],
            district: h[2],
            village: u16::from_le_bytes([h[3], h[4]]),
            depth,
        };
        let kind = kinds
            .get(usize::from(h[6]))
            .cloned()
            .ok_or_else(|| bad("an unknown kind"))?;
        let len = usize::from(u16::from_le_bytes([h[7], h[8]]));
        let name = std::str::from_utf8(take(len)?).map_err(|_| bad("a name is not text"))?;
        regions.push(Region {
            code,
            name: name.to_string(),
            kind,
        });
    }
    if at != bytes.len() {
        return Err(bad("bytes left after the last region"));
    }
    assemble(regions, counts)
}

/// The tree of `regions` (any order) with the files' row counts: sorted by code, a code twice
/// or a region without its parent refused, each region's children listed.
fn assemble(mut regions: Vec<Region>, counts: [usize; 4]) -> Result<RegionTree, RegionTreeError> {
    // The files and the packed form are in code order; sorting what is sorted is one pass.
    regions.sort_by_key(|r| r.code);
    if let Some(w) = regions.windows(2).find(|w| w[0].code == w[1].code) {
        return Err(RegionTreeError::Row {
            file: "regions",
            line: 0,
            message: format!("duplicate code {}", w[0].code),
        });
    }
    let mut children = vec![Vec::new(); regions.len()];
    for (i, r) in regions.iter().enumerate() {
        if let Some(p) = r.code.parent()
            && p != RegionCode::NATION
        {
            match regions.binary_search_by_key(&p, |x| x.code) {
                Ok(pi) => children[pi].push(i),
                Err(_) => {
                    return Err(RegionTreeError::Row {
                        file: "regions",
                        line: 0,
                        message: format!("{} has no parent {p}", r.code),
                    });
                }
            }
        }
    }
    Ok(RegionTree {
        regions,
        children,
        counts,
    })
}

impl RegionTree {
    /// The tree of the region files this binary carries, from their compact form packed at
    /// build time ([`COMPACT`]): no text to parse at start. It equals
    /// `from_csv(BUILTIN_SOURCES)` (tested).
    pub fn builtin() -> Result<RegionTree, RegionTreeError> {
        decode_compact(COMPACT)
    }

    /// Builds the tree, checking every code's format, level and parent.
    pub fn from_csv(src: RegionSources<'_>) -> Result<RegionTree, RegionTreeError> {
        let mut regions = Vec::with_capacity(92_000);
        let files: [(&'static str, &str, Level, usize); 4] = [
            ("provinces.csv", src.provinces, Level::Province, 2),
            ("regencies.csv", src.regencies, Level::Regency, 4),
            ("districts.csv", src.districts, Level::District, 3),
            ("villages.csv", src.villages, Level::Village, 4),
        ];
        let mut counts = [0usize; 4];
        for (file, text, level, columns) in files {
            let mut n = 0;
            for (i, line) in text.lines().enumerate().skip(1) {
                if line.trim().is_empty() {
                    continue;
                }
                let err = |message: String| RegionTreeError::Row {
                    file,
                    line: i + 1,
                    message,
                };
                let fields = split_csv_line(line);
                if fields.len() != columns {
                    return Err(err(format!(
                        "expected {columns} columns, found {}",
                        fields.len()
                    )));
                }
                let code = RegionCode::parse(&fields[0])
                    .map_err(|e| err(format!("code '{}': {e}", fields[0])))?;
                if code.level() != level {
                    return Err(err(format!("code {code} is not a {}", level.as_str())));
                }
                if columns >= 3 {
                    let parent = RegionCode::parse(&fields[1])
                        .map_err(|e| err(format!("parent code '{}': {e}", fields[1])))?;
                    if code.parent() != Some(parent) {
                        return Err(err(format!("parent {parent} does not match code {code}")));
                    }
                }
                let (name, kind) = match columns {
                    2 => (fields[1].to_string(), String::new()),
                    3 => (fields[2].to_string(), String::new()),
                    _ => (fields[2].to_string(), fields[3].to_string()),
                };
                regions.push(Region { code, name, kind });
                n += 1;
            }
            counts[usize::from(level.depth()) - 1] = n;
        }
        assemble(regions, counts)
    }

    fn position(&self, code: RegionCode) -> Option<usize> {
        self.regions.binary_search_by_key(&code, |r| r.code).ok()
    }

    pub fn get(&self, code: RegionCode) -> Option<&Region> {
        self.position(code).map(|i| &self.regions[i])
    }

    pub fn contains_code(&self, code: RegionCode) -> bool {
        self.position(code).is_some()
    }

    /// The region and its ancestors, province first.
    pub fn path(&self, code: RegionCode) -> Option<Vec<&Region>> {
        code.path().into_iter().map(|c| self.get(c)).collect()
    }

    /// The names from the province down to `code`, joined with " › " (the code itself when
    /// it is not in the tree).
    pub fn path_label(&self, code: RegionCode) -> String {
        self.path(code)
            .map(|v| {
                v.iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" › ")
            })
            .unwrap_or_else(|| code.to_string())
    }

    /// Direct children; for the nation, the provinces.
    pub fn children(&self, code: RegionCode) -> Vec<&Region> {
        if code == RegionCode::NATION {
            return self
                .regions
                .iter()
                .filter(|r| r.code.level() == Level::Province)
                .collect();
        }
        match self.position(code) {
            Some(i) => self.children[i].iter().map(|&c| &self.regions[c]).collect(),
            None => Vec::new(),
        }
    }

    /// Number of provinces, regencies, districts and villages.
    pub fn counts(&self) -> [usize; 4] {
        self.counts
    }

    /// Regencies split into kabupaten and kota, villages into desa, kelurahan and desa adat.
    pub fn kinds(&self) -> Vec<(Level, String, usize)> {
        let mut m: std::collections::BTreeMap<(Level, String), usize> = Default::default();
        for r in &self.regions {
            if !r.kind.is_empty() {
                *m.entry((r.code.level(), r.kind.clone())).or_default() += 1;
            }
        }
        m.into_iter().map(|((l, k), n)| (l, k, n)).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Region> {
        self.regions.iter()
    }

    pub fn len(&self) -> usize {
        self.regions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    pub fn villages(&self) -> impl Iterator<Item = &Region> {
        self.regions
            .iter()
            .filter(|r| r.code.level() == Level::Village)
    }

    /// A fingerprint of the content (FNV-1a over codes, names and kinds), so a store can tell
    /// whether the regions it holds are the ones this binary carries.
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for r in &self.regions {
            for b in r
                .code
                .to_string()
                .bytes()
                .chain([0])
                .chain(r.name.bytes())
                .chain([0])
                .chain(r.kind.bytes())
                .chain([1])
            {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{:016x}-{}", h, self.regions.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_code_reads_back_as_written_the_nation_too() {
        for c in [
            RegionCode::NATION,
            RegionCode::parse("32.73.01.1001").unwrap(),
        ] {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(
                serde_json::from_str::<RegionCode>(&json).unwrap(),
                c,
                "{json}"
            );
        }
        assert!(serde_json::from_str::<RegionCode>("\"32.7\"").is_err());
    }

    #[test]
    fn codes() {
        let v = RegionCode::parse("32.73.01.1001").unwrap();
        assert_eq!(v.level(), Level::Village);
        assert_eq!(v.to_string(), "32.73.01.1001");
        assert_eq!(v.parent().unwrap().to_string(), "32.73.01");
        assert_eq!(v.truncate(Level::Province).to_string(), "32");
        let p = RegionCode::parse("32").unwrap();
        assert!(p.contains(v));
        assert!(!v.contains(p));
        assert!(!RegionCode::parse("33").unwrap().contains(v));
        assert!(RegionCode::NATION.contains(v));
        assert_eq!(
            RegionCode::parse_compact("3273011001").unwrap(),
            RegionCode::parse("32.73.01.1001").unwrap()
        );
        assert!(RegionCode::parse("32.7").is_err());
        assert!(RegionCode::parse("32.73.01.101").is_err());
        assert!(RegionCode::parse("00").is_err());
        assert!(RegionCode::parse("32.73.01.1001.1").is_err());
        let mut v = [v, p, RegionCode::parse("32.73").unwrap()];
        v.sort();
        assert_eq!(v[0], p);
    }

    #[test]
    fn small_tree() {
        let tree = RegionTree::from_csv(RegionSources {
            provinces: "code,name\n32,Jawa Barat\n",
            regencies: "code,province_code,name,kind\n32.73,32,Kota Bandung,kota\n",
            districts: "code,regency_code,name\n32.73.01,32.73,Sukasari\n",
            villages: "code,district_code,name,kind\n32.73.01.1001,32.73.01,\"Sarijadi, Utara\",kelurahan\n",
        })
        .unwrap();
        let v = RegionCode::parse("32.73.01.1001").unwrap();
        let path = tree.path(v).unwrap();
        assert_eq!(path.len(), 4);
        assert_eq!(path[3].name, "Sarijadi, Utara");
        assert_eq!(tree.children(RegionCode::NATION).len(), 1);
        assert_eq!(tree.counts(), [1, 1, 1, 1]);
        let bad = RegionTree::from_csv(RegionSources {
            provinces: "code,name\n32,Jawa Barat\n",
            regencies: "code,province_code,name,kind\n33.73,32,Kota X,kota\n",
            districts: "code,regency_code,name\n",
            villages: "code,district_code,name,kind\n",
        });
        assert!(matches!(bad, Err(RegionTreeError::Row { line: 2, .. })));
        // A code twice, and a village whose district is missing, are refused by name.
        let twice = RegionTree::from_csv(RegionSources {
            provinces: "code,name\n32,Jawa Barat\n32,Jawa Barat\n",
            regencies: "code,province_code,name,kind\n",
            districts: "code,regency_code,name\n",
            villages: "code,district_code,name,kind\n",
        });
        assert!(
            matches!(&twice, Err(RegionTreeError::Row { message, .. }) if message == "duplicate code 32"),
            "{twice:?}"
        );
        let orphan = RegionTree::from_csv(RegionSources {
            provinces: "code,name\n32,Jawa Barat\n",
            regencies: "code,province_code,name,kind\n32.73,32,Kota Bandung,kota\n",
            districts: "code,regency_code,name\n",
            villages: "code,district_code,name,kind\n32.73.01.1001,32.73.01,Sarijadi,kelurahan\n",
        });
        assert!(
            matches!(&orphan, Err(RegionTreeError::Row { message, .. }) if message.contains("has no parent 32.73.01")),
            "{orphan:?}"
        );
    }

    /// The packed form the binary starts from is the tree the files give, region for region
    /// with the same children and counts; a truncated one is an error.
    #[test]
    fn the_packed_tree_is_the_files_tree() {
        let packed = RegionTree::builtin().unwrap();
        let files = RegionTree::from_csv(BUILTIN_SOURCES).unwrap();
        assert_eq!(packed.regions, files.regions);
        assert_eq!(packed.children, files.children);
        assert_eq!(packed.counts, files.counts);
        assert!(decode_compact(&COMPACT[..COMPACT.len() - 1]).is_err());
        assert!(decode_compact(&[]).is_err());
    }

    /// Every region of the carried tree is found by its code, with its children, and a code
    /// that is not there is not (the look-up is a binary search over the sorted regions).
    #[test]
    fn every_carried_region_is_found() {
        let tree = RegionTree::builtin().unwrap();
        let mut villages = 0;
        for r in tree.iter() {
            assert_eq!(tree.get(r.code).map(|x| &x.name), Some(&r.name));
            for c in tree.children(r.code) {
                assert_eq!(c.code.parent(), Some(r.code));
            }
            if r.code.level() == Level::District {
                villages += tree.children(r.code).len();
            }
        }
        assert_eq!(villages, tree.counts()[3]);
        assert!(
            tree.get(RegionCode::parse("99.99.99.9999").unwrap())
                .is_none()
        );
        assert!(!tree.contains_code(RegionCode::parse("32.73.99").unwrap()));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = RegionCode::parse(&s);
            let _ = RegionCode::parse_compact(&s);
        }

        #[test]
        fn round_trip(p in 1u8..100, r in 1u8..100, d in 1u8..100, v in 1u16..10000, depth in 1u8..=4) {
            let code = RegionCode { province: p, regency: if depth >= 2 { r } else { 0 },
                district: if depth >= 3 { d } else { 0 }, village: if depth >= 4 { v } else { 0 }, depth };
            prop_assert_eq!(RegionCode::parse(&code.to_string()), Ok(code));
            prop_assert!(code.truncate(Level::Province).contains(code));
        }
    }
}
