//! The carried region tree in a compact form (issue #23, item 0): the four Kemendagri files
//! (`data/regions/`) read once at build time into `OUT_DIR/regions.bin`, which
//! `RegionTree::builtin` decodes without parsing text (its layout: `region::decode_compact`).
//! `RegionTree::from_csv` still reads and checks the files themselves, and a test holds the
//! two trees equal.

use std::path::Path;

#[path = "src/region_csv.rs"]
mod region_csv;

type Error = Box<dyn std::error::Error>;

const FILES: [(&str, usize); 4] = [
    ("provinces.csv", 2),
    ("regencies.csv", 4),
    ("districts.csv", 3),
    ("villages.csv", 4),
];

/// (province, regency, district, village, depth, kind, name), as `RegionCode` orders them.
type Packed = (u8, u8, u8, u16, u8, u8, String);

fn main() -> Result<(), Error> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/regions");
    let mut kinds: Vec<String> = vec![String::new()];
    let mut regions: Vec<Packed> = Vec::with_capacity(92_000);
    let mut counts = [0u32; 4];
    for (depth, (file, columns)) in FILES.iter().enumerate() {
        let path = dir.join(file);
        println!("cargo::rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path)?;
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |why: &str| -> Error { format!("{file} line {}: {why}", i + 1).into() };
            let f = region_csv::split_csv_line(line);
            if f.len() != *columns {
                return Err(bad("wrong number of columns"));
            }
            let parts = f[0]
                .split('.')
                .map(|p| {
                    p.parse::<u16>()
                        .map_err(|_| bad("a code part is not a number"))
                })
                .collect::<Result<Vec<u16>, Error>>()?;
            if parts.len() != depth + 1 {
                return Err(bad("a code at the wrong level"));
            }
            let part = |k: usize| parts.get(k).copied().unwrap_or(0);
            let small = |k: usize| u8::try_from(part(k)).map_err(|_| bad("a code part too large"));
            let (name, kind) = match columns {
                2 => (&f[1], ""),
                3 => (&f[2], ""),
                _ => (&f[2], &*f[3]),
            };
            let k = match kinds.iter().position(|x| x == kind) {
                Some(k) => k,
                None => {
                    kinds.push(kind.to_string());
                    kinds.len() - 1
                }
            };
            regions.push((
                small(0)?,
                small(1)?,
                small(2)?,
                part(3),
                u8::try_from(depth + 1)?,
                u8::try_from(k)?,
                name.to_string(),
            ));
            counts[depth] += 1;
        }
    }
    regions.sort_by_key(|a| (a.0, a.1, a.2, a.3, a.4));
    let mut out: Vec<u8> = Vec::with_capacity(3 << 20);
    for c in counts {
        out.extend_from_slice(&c.to_le_bytes());
    }
    out.push(u8::try_from(kinds.len())?);
    for k in &kinds {
        out.push(u8::try_from(k.len())?);
        out.extend_from_slice(k.as_bytes());
    }
    for (p, r, d, v, depth, kind, name) in &regions {
        out.extend_from_slice(&[*p, *r, *d]);
        out.extend_from_slice(&v.to_le_bytes());
        out.extend_from_slice(&[*depth, *kind]);
        out.extend_from_slice(&u16::try_from(name.len())?.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    std::fs::write(
        Path::new(&std::env::var("OUT_DIR")?).join("regions.bin"),
        out,
    )?;
    Ok(())
}
