//! Charts and maps drawn on the server as SVG: no script, no CDN, readable on a phone, and
//! styled by the page's stylesheet (classes, never inline styles, so the content security
//! policy needs no `unsafe-inline`).
//!
//! The map comes from the boundary files carried in `data/geo` (cahyadsn/wilayah_boundaries,
//! MIT; see `data/geo/README.md`): parsed once, simplified once more for the screen
//! (Douglas–Peucker), projected equirectangularly (Indonesia straddles the equator, so the
//! distortion is small) and cached.

use super::i18n::Lang;
use cakupan_domain::{Month, RegionCode};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A short axis label: `70 jt` / `70M`, `250 rb` / `250k`.
pub fn short(lang: Lang, v: f64) -> String {
    let (m, k) = (lang.tr().short_million, lang.tr().short_thousand);
    let a = v.abs();
    let (x, unit) = if a >= 1e6 {
        (v / 1e6, m)
    } else if a >= 1e3 {
        (v / 1e3, k)
    } else {
        (v, "")
    };
    let s = if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    };
    let s = if lang == Lang::Id {
        s.replace('.', ",")
    } else {
        s
    };
    format!("{s}{unit}")
}

/// A tick step of 1, 2 or 5 × 10ⁿ giving about four intervals up to `max`.
fn nice_step(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 4.0;
    let p = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if raw <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// The CSS class that colours and dashes it.
    pub class: &'static str,
    pub label: String,
    pub points: Vec<(Month, f64)>,
}

/// A line chart over the months `from..=to`, with its title for screen readers.
pub fn line_chart(lang: Lang, title: &str, from: Month, to: Month, lines: &[Line]) -> String {
    // About a phone's width in user units: its 12-unit labels read at about 12 px there.
    const W: f64 = 340.0;
    const H: f64 = 210.0;
    const L: f64 = 40.0;
    const R: f64 = 8.0;
    const T: f64 = 10.0;
    const B: f64 = 26.0;
    let span = f64::from(to.since(from).max(1));
    let max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let step = nice_step(max * 1.05);
    let top = (max * 1.05 / step).ceil().max(1.0) * step;
    let x = |m: Month| L + (W - L - R) * f64::from(m.since(from)) / span;
    let y = |v: f64| T + (H - T - B) * (1.0 - v / top);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{}"><title>{}</title>"#,
        esc(title),
        esc(title)
    );
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let _ = write!(
            s,
            r#"<line class="grid" x1="{L}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - R,
            L - 6.0,
            y(v) + 4.0,
            esc(&short(lang, v)),
            y = y(v)
        );
        v += step;
    }
    for (i, m) in from.through(to).enumerate() {
        // A label a year apart (and the last month), so none overlaps at this width.
        if (i.is_multiple_of(12) && to.since(m) >= 6) || m == to {
            let anchor = if m == to {
                "end"
            } else if i == 0 {
                "start"
            } else {
                "middle"
            };
            let _ = write!(
                s,
                r#"<text class="tick" x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
                x(m),
                H - 8.0,
                esc(&lang.month(m))
            );
        }
    }
    for l in lines {
        if l.points.is_empty() {
            continue;
        }
        let pts: Vec<String> = l
            .points
            .iter()
            .filter(|(m, _)| *m >= from && *m <= to)
            .map(|(m, v)| format!("{:.1},{:.1}", x(*m), y(*v)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline class="{}" points="{}" vector-effect="non-scaling-stroke"><title>{}</title></polyline>"#,
            l.class,
            pts.join(" "),
            esc(&l.label)
        );
    }
    s.push_str("</svg>");
    s
}

/// One region on a map: its share (`None`: no data) and where it links to.
#[derive(Debug, Clone)]
pub struct Shade {
    pub share: Option<f64>,
    pub label: String,
    pub href: Option<String>,
}

type Ring = Vec<(f64, f64)>;

#[derive(Debug)]
struct Feature {
    code: String,
    parent: String,
    rings: Vec<Ring>,
}

const PROVINCES: &str = include_str!("../../../../data/geo/provinces.geojson");
const REGENCIES: &str = include_str!("../../../../data/geo/regencies.geojson");

fn perpendicular(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len == 0.0 {
        return ((p.0 - a.0).powi(2) + (p.1 - a.1).powi(2)).sqrt();
    }
    ((p.0 - a.0) * dy - (p.1 - a.1) * dx).abs() / len
}

/// Douglas–Peucker, iterative (no recursion depth to worry about on long coastlines).
fn simplify(ring: &[(f64, f64)], tolerance: f64) -> Ring {
    if ring.len() < 4 {
        return ring.to_vec();
    }
    let mut keep = vec![false; ring.len()];
    keep[0] = true;
    keep[ring.len() - 1] = true;
    let mut stack = vec![(0usize, ring.len() - 1)];
    while let Some((a, b)) = stack.pop() {
        let mut worst = (0.0, 0usize);
        for i in a + 1..b {
            let d = perpendicular(ring[i], ring[a], ring[b]);
            if d > worst.0 {
                worst = (d, i);
            }
        }
        if worst.0 > tolerance {
            keep[worst.1] = true;
            stack.push((a, worst.1));
            stack.push((worst.1, b));
        }
    }
    ring.iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(p, _)| *p)
        .collect()
}

fn area(ring: &[(f64, f64)]) -> f64 {
    let mut a = 0.0;
    for w in ring.windows(2) {
        a += w[0].0 * w[1].1 - w[1].0 * w[0].1;
    }
    (a / 2.0).abs()
}

/// The outer rings of every feature of a GeoJSON layer, simplified at `tolerance` degrees,
/// parts smaller than `min_area` square degrees dropped (islets a screen cannot show).
fn load(text: &str, tolerance: f64, min_area: f64) -> Vec<Feature> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let ring_of = |v: &serde_json::Value| -> Ring {
        v.as_array()
            .map(|pts| {
                pts.iter()
                    .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for f in doc["features"].as_array().into_iter().flatten() {
        let code = f["properties"]["code"].as_str().unwrap_or("").to_string();
        let parent = f["properties"]["province_code"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let geometry = &f["geometry"];
        let polygons: Vec<&serde_json::Value> = match geometry["type"].as_str() {
            Some("Polygon") => vec![&geometry["coordinates"]],
            Some("MultiPolygon") => geometry["coordinates"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut rings: Vec<Ring> = Vec::new();
        for poly in polygons {
            if let Some(outer) = poly.get(0) {
                let r = ring_of(outer);
                if area(&r) >= min_area {
                    let s = simplify(&r, tolerance);
                    if s.len() >= 4 {
                        rings.push(s);
                    }
                }
            }
        }
        // A feature whose every part is small keeps its largest, so no region vanishes.
        if rings.is_empty() {
            let mut best: Option<Ring> = None;
            for poly in geometry["coordinates"].as_array().into_iter().flatten() {
                let outer = if geometry["type"] == "Polygon" {
                    ring_of(poly)
                } else {
                    poly.get(0).map(ring_of).unwrap_or_default()
                };
                if best.as_ref().is_none_or(|b| area(&outer) > area(b)) {
                    best = Some(outer);
                }
            }
            rings.extend(best);
        }
        out.push(Feature {
            code,
            parent,
            rings,
        });
    }
    out
}

fn provinces() -> &'static [Feature] {
    static P: OnceLock<Vec<Feature>> = OnceLock::new();
    P.get_or_init(|| load(PROVINCES, 0.03, 0.002))
}

fn regencies() -> &'static [Feature] {
    static R: OnceLock<Vec<Feature>> = OnceLock::new();
    R.get_or_init(|| load(REGENCIES, 0.008, 0.0004))
}

/// The colour class of a share on a scale up to `max`: five steps, `nodata` without one.
fn class_of(share: Option<f64>, max: f64) -> &'static str {
    match share {
        None => "nodata",
        Some(s) if max <= 0.0 || s <= 0.0 => "q0",
        Some(s) => match ((s / max) * 5.0).ceil() as i64 {
            ..=1 => "q1",
            2 => "q2",
            3 => "q3",
            4 => "q4",
            _ => "q5",
        },
    }
}

/// The legend's class bounds for a scale up to `max`.
/// Each bound is written with as many decimals as it takes for neighbouring bounds to differ
/// (never "0,2% – 0,2%").
pub fn legend(lang: Lang, max: f64) -> Vec<(&'static str, String)> {
    let step = max / 5.0 * 100.0;
    let places = if step > 0.0 {
        (-step.log10()).ceil().clamp(0.0, 6.0) as usize
    } else {
        1
    };
    let mut out = Vec::new();
    for (i, class) in ["q1", "q2", "q3", "q4", "q5"].iter().enumerate() {
        let lo = max * i as f64 / 5.0;
        let hi = max * (i + 1) as f64 / 5.0;
        out.push((
            *class,
            format!(
                "{} – {}",
                lang.pct_places(lo, places),
                lang.pct_places(hi, places)
            ),
        ));
    }
    out
}

fn draw(features: &[&Feature], shades: &HashMap<String, Shade>, title: &str) -> String {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for f in features {
        for r in &f.rings {
            for (x, y) in r {
                x0 = x0.min(*x);
                x1 = x1.max(*x);
                y0 = y0.min(*y);
                y1 = y1.max(*y);
            }
        }
    }
    if x0 > x1 {
        return String::new();
    }
    const W: f64 = 800.0;
    let k = W / (x1 - x0).max(1e-9);
    let h = ((y1 - y0) * k).clamp(120.0, 640.0);
    let k = k.min(h / (y1 - y0).max(1e-9));
    let max = shades
        .values()
        .filter_map(|s| s.share)
        .fold(0.0f64, f64::max);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="map" viewBox="0 0 {W} {h:.0}" role="group" aria-label="{}">"#,
        esc(title)
    );
    for f in features {
        let shade = shades.get(&f.code);
        let mut d = String::new();
        for r in &f.rings {
            for (i, (x, y)) in r.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1} {:.1}",
                    if i == 0 { "M" } else { "L" },
                    (x - x0) * k,
                    (y1 - y) * k
                );
            }
            d.push('Z');
        }
        let class = class_of(shade.and_then(|s| s.share), max);
        let label = shade.map(|s| s.label.as_str()).unwrap_or(&f.code);
        match shade.and_then(|s| s.href.as_deref()) {
            Some(href) => {
                let _ = write!(
                    s,
                    r#"<a href="{}" aria-label="{}"><path class="{class}" d="{d}"><title>{}</title></path></a>"#,
                    esc(href),
                    esc(label),
                    esc(label)
                );
            }
            None => {
                let _ = write!(
                    s,
                    r#"<path class="{class}" d="{d}"><title>{}</title></path>"#,
                    esc(label)
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// The 38 provinces, shaded by `shades` (keyed by 2-digit code).
pub fn province_map(shades: &HashMap<String, Shade>, title: &str) -> String {
    let all: Vec<&Feature> = provinces().iter().collect();
    draw(&all, shades, title)
}

/// The regencies of one province, shaded by `shades` (keyed by dotted code).
pub fn regency_map(province: RegionCode, shades: &HashMap<String, Shade>, title: &str) -> String {
    let code = province.to_string();
    let mine: Vec<&Feature> = regencies().iter().filter(|f| f.parent == code).collect();
    if mine.is_empty() {
        return String::new();
    }
    draw(&mine, shades, title)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_province_and_regency_has_a_shape() {
        assert_eq!(provinces().len(), 38);
        assert!(provinces().iter().all(|f| !f.rings.is_empty()));
        assert_eq!(regencies().len(), 514);
        assert!(regencies().iter().all(|f| !f.rings.is_empty()));
        let total: usize = provinces()
            .iter()
            .map(|f| f.rings.iter().map(Vec::len).sum::<usize>())
            .sum();
        // Simplified well below the file's 53,017 vertices, so the page stays light.
        assert!(total < 12_000, "{total} vertices");
    }

    #[test]
    fn the_map_links_shaded_regions() {
        let mut shades = HashMap::new();
        shades.insert(
            "32".to_string(),
            Shade {
                share: Some(0.4),
                label: "Jawa Barat: 40%".into(),
                href: Some("/wilayah/32".into()),
            },
        );
        let svg = province_map(&shades, "Peta");
        assert!(svg.contains(r#"<a href="/wilayah/32""#));
        assert!(svg.contains("q5"));
        assert!(svg.contains("nodata"));
        assert!(svg.len() < 200_000, "{} bytes", svg.len());
        let bandung = regency_map(RegionCode::parse("32").unwrap(), &HashMap::new(), "Peta");
        assert_eq!(bandung.matches("<path").count(), 27);
    }

    #[test]
    fn simplification_keeps_the_ends_and_drops_the_flat() {
        let line = [(0.0, 0.0), (1.0, 0.001), (2.0, 0.0), (2.0, 2.0), (0.0, 0.0)];
        let s = simplify(&line, 0.01);
        assert_eq!(s, vec![(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 0.0)]);
        assert_eq!(short(Lang::Id, 70_000_000.0), "70 jt");
        // Neighbouring bounds always differ, however small the scale.
        for max in [0.0025, 0.000_05, 0.6, 1.0] {
            let l = legend(Lang::Id, max);
            for (_, b) in &l {
                let (lo, hi) = b.split_once(" – ").unwrap();
                assert_ne!(lo, hi, "{max}: {l:?}");
            }
        }
        assert_eq!(legend(Lang::Id, 0.0025)[0].1, "0,00% – 0,05%");
        assert_eq!(short(Lang::En, 2_500.0), "2.5k");
        assert_eq!(nice_step(70_000_000.0), 20_000_000.0);
    }
}
