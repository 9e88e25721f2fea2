//! Every page as every role, in both languages (issue #22), on a simulated population: each
//! page reached by following the links a user sees opens (no link leads to a refusal or an
//! error), every word on it comes from that language's word tables or is data (a name, a
//! place, a number), no rule code, field name or file path reaches the reader, and Indonesian
//! pages write decimals with a comma. The same crawl in a real Chromium measures the width at
//! 390 px and runs axe-core (tests/browser).

use crate::api::{App, app_on, auth, user};
use crate::harness;
use crate::pages::{Browser, people, perisai_agent};
use axum::http::StatusCode;
use cakupan_server::web::i18n::Lang;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

/// How many pages of one shape (the path with its numbers and query values blanked) to read.
const PER_SHAPE: usize = 2;
/// How many pages one role reads at most.
const PER_ROLE: usize = 160;

/// The text a reader sees: the page without its tags, scripts and styles, with the attributes
/// a reader meets (`title`, `aria-label`, `placeholder`, `alt`).
pub(crate) fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    // Drop the head (the title is checked with the body's headings) and inline scripts.
    if let Some(at) = rest.find("<body") {
        rest = &rest[at..];
    }
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        rest = &rest[open..];
        let lower: String = rest
            .chars()
            .take(8)
            .collect::<String>()
            .to_ascii_lowercase();
        for (tag, close) in [("<script", "</script>"), ("<style", "</style>")] {
            if lower.starts_with(tag)
                && let Some(end) = rest.find(close)
            {
                rest = &rest[end..];
            }
        }
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        // A passage marked as another language (the English licence text, the language
        // switch) is not this page's language: skip it whole.
        if tag.contains(" lang=\"") && !tag.starts_with("<html") {
            let name: String = tag[1..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            if let Some(close) = rest.find(&format!("</{name}>")) {
                rest = &rest[close + name.len() + 3..];
                continue;
            }
        }
        for attr in ["title=\"", "aria-label=\"", "placeholder=\"", "alt=\""] {
            if let Some(a) = tag.find(attr) {
                let v = &tag[a + attr.len()..];
                if let Some(q) = v.find('"') {
                    out.push(' ');
                    out.push_str(&v[..q]);
                    out.push(' ');
                }
            }
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    decode(&out)
}

fn decode(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// The words of a text: runs of letters.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 2)
}

/// The string values of a table's `Debug` text (not its field names).
fn quoted(debug: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    let mut escaped = false;
    for c in debug.chars() {
        if inside {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                inside = false;
                out.push(' ');
                continue;
            }
            out.push(c);
        } else if c == '"' {
            inside = true;
        }
    }
    out
}

/// Every word one language's tables hold, lower-cased.
fn vocabulary(lang: Lang) -> HashSet<String> {
    let mut all = String::new();
    for m in 1..=12u8 {
        all.push(' ');
        all.push_str(&lang.month(harness::month(&format!("2026-{m:02}"))));
    }
    for text in cakupan_server::web::i18n::all_words(lang) {
        all.push(' ');
        // A table comes as its `Debug` text (`Tr { title: "…", … }`): its values only.
        if text.contains(": \"") && text.ends_with('}') {
            all.push_str(&quoted(&text));
        } else {
            all.push_str(&text);
        }
    }
    words(&all).map(str::to_lowercase).collect()
}

/// The words of the data a page may show in `lang`: region names, the rules' labels in that
/// language (occupations, campaign audiences), the questionnaire's texts, the test's users.
fn data_words(lang: Lang) -> HashSet<String> {
    let mut all = String::from("admin ana bandung agen lurah siti hrd");
    for r in harness::regions().iter() {
        all.push(' ');
        all.push_str(&r.name);
    }
    let rules = harness::rules();
    for o in &rules.occupations {
        all.push(' ');
        all.push_str(if lang == Lang::Id {
            &o.name_id
        } else {
            &o.name_en
        });
    }
    for a in &rules.campaign_audiences {
        all.push(' ');
        all.push_str(if lang == Lang::Id {
            &a.name_id
        } else {
            &a.name_en
        });
    }
    let q: serde_json::Value =
        serde_json::from_str(include_str!("../../../../data/campaign/kkbc-1.json")).unwrap();
    let key = if lang == Lang::Id { "_id" } else { "_en" };
    let mut texts = vec![
        q[format!("title{key}")]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ];
    for question in q["questions"].as_array().into_iter().flatten() {
        texts.push(
            question[format!("text{key}")]
                .as_str()
                .unwrap_or_default()
                .into(),
        );
        for l in question[format!("labels{key}")]
            .as_array()
            .into_iter()
            .flatten()
        {
            texts.push(l.as_str().unwrap_or_default().into());
        }
    }
    for t in texts {
        all.push(' ');
        all.push_str(&t);
    }
    words(&all).map(str::to_lowercase).collect()
}

/// Codes a reader must never see: field names and raw values (`village_code`, `non_transport`),
/// rule codes (`amount.changed`), file paths (`DOMAIN.md`, `data/bps/`).
fn codes(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for token in text.split_whitespace() {
        let t = token.trim_matches(|c: char| !c.is_alphanumeric() && c != '_' && c != '/');
        let b = t.as_bytes();
        let snake = b
            .windows(3)
            .any(|w| w[0].is_ascii_alphabetic() && w[1] == b'_' && w[2].is_ascii_alphabetic());
        let dotted = b
            .windows(3)
            .any(|w| w[0].is_ascii_lowercase() && w[1] == b'.' && w[2].is_ascii_alphabetic());
        // A web address (an attribution on the About page) is not a code.
        let url = t.contains("://") || t.contains(".com/") || t.contains(".id/");
        let file = [".md", ".toml", ".rs", ".csv", "rules/", "data/"]
            .iter()
            .any(|s| t.contains(s))
            && !t.starts_with('/');
        if (snake || dotted || file) && !url {
            found.push(t.to_string());
        }
    }
    found
}

/// Decimals written with a point in an Indonesian text (`3.09`), where a comma belongs: a
/// number with one or two digits after a single point that is neither a time (`09.15 WIB`) nor
/// a region code.
fn point_decimals(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && (chars[i - 1].is_ascii_digit())) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < chars.len() && (chars[end].is_ascii_digit() || chars[end] == '.') {
            end += 1;
        }
        let token: String = chars[start..end].iter().collect();
        let token = token.trim_end_matches('.').to_string();
        let after: String = chars[end..(end + 4).min(chars.len())].iter().collect();
        let before_dot = i > 0 && chars[i - 1] == '.';
        let groups: Vec<&str> = token.split('.').collect();
        let is_decimal = groups.len() == 2 && (1..=2).contains(&groups[1].len());
        let is_time =
            groups.len() == 2 && groups[1].len() == 2 && after.trim_start().starts_with("WI");
        let is_region = cakupan_domain::RegionCode::parse(&token)
            .ok()
            .is_some_and(|c| harness::regions().get(c).is_some());
        if is_decimal && !is_time && !is_region && !before_dot {
            found.push(token);
        }
        i = end.max(i + 1);
    }
    found
}

/// The shape of a link: its path with every number blanked, and its query's keys.
fn shape(link: &str) -> String {
    let (path, query) = link.split_once('?').unwrap_or((link, ""));
    let mut s = String::new();
    let mut last_digit = false;
    for c in path.chars() {
        if c.is_ascii_digit() {
            if !last_digit {
                s.push('9');
            }
            last_digit = true;
        } else {
            s.push(c);
            last_digit = false;
        }
    }
    let mut keys: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort_unstable();
    format!("{s}?{}", keys.join("&"))
}

/// The links of a page worth following: our own pages, read with GET.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("href=\"") {
        rest = &rest[at + 6..];
        let Some(end) = rest.find('"') else { break };
        let link = decode(&rest[..end]);
        let link = link.split('#').next().unwrap_or_default().to_string();
        if link.starts_with('/')
            && !link.starts_with("//")
            && !link.starts_with("/assets/")
            && !link.contains(".csv")
            && !link.contains("format=csv")
            && !link.contains("lang=")
            && !link.starts_with("/logout")
            && !link.is_empty()
        {
            out.push(link);
        }
    }
    out
}

/// What one role found wrong, by page.
#[derive(Default)]
struct Findings {
    pages: usize,
    problems: BTreeMap<String, BTreeSet<String>>,
}

impl Findings {
    fn add(&mut self, what: String, page: &str) {
        let e = self.problems.entry(what).or_default();
        if e.len() < 3 {
            e.insert(page.to_string());
        }
    }
}

async fn crawl(app: &App, who: &str, lang: Lang) -> Findings {
    let own = vocabulary(lang);
    let other = vocabulary(lang.other());
    let data = data_words(lang);
    let mut b = Browser::new(app);
    let signed = b.sign_in(who).await;
    assert_eq!(
        signed.status,
        StatusCode::SEE_OTHER,
        "{who}: {}",
        signed.body
    );
    let mut queue = VecDeque::from([format!("/?lang={}", lang.code())]);
    let mut seen_links = HashSet::new();
    let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
    let mut f = Findings::default();
    while let Some(link) = queue.pop_front() {
        if f.pages >= PER_ROLE {
            break;
        }
        let mut page = b.get(&link).await;
        let mut at = link.clone();
        for _ in 0..3 {
            match page.location.clone() {
                Some(to) if page.status.is_redirection() => {
                    page = b.get(&to).await;
                    at = to;
                }
                _ => break,
            }
        }
        f.pages += 1;
        if page.status != StatusCode::OK {
            f.add(format!("answers {}", page.status.as_u16()), &at);
            continue;
        }
        // Web addresses (the About page's attributions) are not words.
        let text: String = visible_text(&page.body)
            .split_whitespace()
            .filter(|w| !(w.contains("://") || w.contains(".com/") || w.contains(".id/")))
            .collect::<Vec<_>>()
            .join(" ");
        // CAKUPAN_CRAWL_DUMP=dir keeps each page's text, to read what was found in context.
        if let Ok(dir) = std::env::var("CAKUPAN_CRAWL_DUMP") {
            let name: String = format!("{who}-{}{at}", lang.code())
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(
                format!("{dir}/{name}.txt"),
                text.split_whitespace().collect::<Vec<_>>().join(" "),
            );
        }
        for w in words(&text) {
            let lower = w.to_lowercase();
            if own.contains(&lower) {
                continue;
            }
            if data.contains(&lower) {
                continue;
            }
            let proper = w.chars().next().is_some_and(char::is_uppercase);
            // In Indonesian, a capitalised word not of the English tables is a name (of a
            // person, a place, an employer) and any other word must come from the Indonesian
            // tables. In English (whose messages of refusal come from the rules' own prose),
            // no lower-case word of the Indonesian tables that neither the English ones nor the
            // data hold (a capitalised one may be a name: "Koperasi Braga").
            let untranslated = match lang {
                Lang::Id => other.contains(&lower) || !proper,
                Lang::En => other.contains(&lower) && !proper,
            };
            if untranslated {
                f.add(format!("word {w:?}"), &at);
            }
        }
        for c in codes(&text) {
            f.add(format!("code {c:?}"), &at);
        }
        if lang == Lang::Id {
            for d in point_decimals(&text) {
                f.add(format!("point decimal {d:?}"), &at);
            }
        }
        for next in links(&page.body) {
            if seen_links.insert(next.clone()) {
                let n = shapes.entry(shape(&next)).or_default();
                if *n < PER_SHAPE {
                    *n += 1;
                    queue.push_back(next);
                }
            }
        }
    }
    f
}

/// Every page as every role, in both languages, on a simulated population.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_speaks_its_language() {
    let db = harness::sqlite(true).await;
    let url = db.url();
    let sim = std::process::Command::new(env!("CARGO_BIN_EXE_cakupan"))
        .args([
            "simulate",
            "--participants",
            "1500",
            "--months",
            "24",
            "--seed",
            "5",
            "--employer-months",
            "2",
            "--campaign-region",
            "32.73",
        ])
        .env("CAKUPAN_DB", &url)
        .env(cakupan_store::clock::TODAY_VAR, harness::today_text())
        .env("CAKUPAN_KEYS", harness::KEYS_TEXT)
        .env("CAKUPAN_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let app = app_on(db.store.clone(), &auth()).await;
    people(&app).await;
    perisai_agent(&app, "2026-05").await;
    // An employer's staff, of the first simulated employer the head office lists.
    let mut admin = Browser::new(&app);
    admin.sign_in("admin").await;
    let employers = admin.get("/pemberi-kerja").await;
    let nib = links(&employers.body)
        .into_iter()
        .find_map(|l| {
            l.strip_prefix("/pemberi-kerja/")
                .filter(|c| c.len() == 13 && c.bytes().all(|b| b.is_ascii_digit()))
                .map(String::from)
        })
        .expect("a simulated employer");
    user(&app, &auth(), "hrd", "employer", None, Some(&nib), None).await;
    let mut report = String::new();
    for who in ["admin", "ana", "bandung", "agen", "lurah", "siti", "hrd"] {
        for lang in [Lang::Id, Lang::En] {
            let f = crawl(&app, who, lang).await;
            assert!(f.pages > 0, "{who} read no page");
            for (what, pages) in &f.problems {
                report.push_str(&format!(
                    "{who} ({}): {what} on {}\n",
                    lang.code(),
                    pages.iter().cloned().collect::<Vec<_>>().join(" ")
                ));
            }
        }
    }
    assert!(report.is_empty(), "found on the pages:\n{report}");

    // Lists that scale: the employers 50 a page with a filter and the whole list as CSV.
    let list = admin.get("/pemberi-kerja").await;
    let total: usize = list
        .body
        .split("data-testid=\"employers\"")
        .nth(1)
        .map(|t| t.matches("<tr>").count().saturating_sub(1))
        .unwrap_or(0);
    assert!(total > 0 && total <= crate::harness::PAGE_ROWS, "{total}");
    let csv = admin.get("/pemberi-kerja?format=csv").await;
    let csv_rows = csv.body.lines().count() - 1;
    assert!(csv.body.starts_with("nib,name,size"), "{}", csv.body);
    // The simulation has hundreds: more than a page.
    assert!(csv_rows > crate::harness::PAGE_ROWS, "{csv_rows}");
    assert!(list.body.contains("data-testid=\"pager\""), "{}", list.body);
    let second = admin.get("/pemberi-kerja?hal=2").await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.body.contains("rel=\"prev\""), "{}", second.body);
    // A page past the end shows the last one.
    let past = admin.get("/pemberi-kerja?hal=9999").await;
    assert_eq!(past.status, StatusCode::OK);
    assert!(past.body.contains("rel=\"prev\""), "{}", past.body);
    assert!(!past.body.contains("rel=\"next\""), "{}", past.body);
    // One whose offset would overflow too.
    let far = admin.get("/pemberi-kerja?hal=4000000000000000000").await;
    assert_eq!(far.status, StatusCode::OK);
    assert!(far.body.contains("rel=\"prev\""), "{}", far.body);
    let first_name = csv
        .body
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .trim_matches('"')
        .to_string();
    let found = admin
        .get(&format!(
            "/pemberi-kerja?q={}",
            first_name.replace(' ', "+")
        ))
        .await;
    assert!(found.body.contains(&first_name), "{first_name}");
    // A region found by name, among those the reader may open.
    let hits = admin.get("/wilayah/cari?q=sukasari").await;
    assert!(hits.body.contains("/wilayah/32.73.01"), "{}", hits.body);
    let mut agen = Browser::new(&app);
    agen.sign_in("agen").await;
    let theirs = agen.get("/wilayah/cari?q=bandung").await;
    assert!(!theirs.body.contains("/wilayah/32.04\""), "{}", theirs.body);
    // The month picker: an earlier month; a month to come shows this one.
    let june = admin.get("/wilayah/32?bulan=2026-06").await;
    assert!(
        june.body
            .contains("data-testid=\"kpi-active-month\">Jun 2026"),
        "{}",
        june.body
    );
    // A map cell withheld from an analyst (fewer than 5) says so, apart from missing data.
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let nation = ana.get("/").await;
    assert!(
        nation
            .body
            .contains("disembunyikan (kurang dari 5 peserta)"),
        "{}",
        nation.body
    );
    assert!(
        !admin
            .get("/")
            .await
            .body
            .contains("disembunyikan (kurang dari 5")
    );
    let later = admin.get("/wilayah/32?bulan=2030-01").await;
    assert!(
        later
            .body
            .contains("data-testid=\"kpi-active-month\">Nov 2026")
    );
    // This month is still running: the latest complete one is named beside it, with its
    // figure and a link; a past month shown needs no such line.
    assert!(
        later.body.contains("data-testid=\"kpi-complete\">Bulan lengkap terakhir, <a href=\"?bulan=2026-10\">Okt 2026</a>"),
        "{}",
        later.body
    );
    assert!(!june.body.contains("data-testid=\"kpi-complete\""));
    db.finish().await;
}

#[test]
fn the_checks_catch_what_they_are_for() {
    let text = visible_text(
        "<body><p title=\"x_y\">allocated from Indonesia <b>3.09</b> at 09.15 WIB in 32.73 \
         (amount.changed) village_code: wajib diisi, see DOMAIN.md &amp; data/bps/</p>\
         <script>var a_b = 1.5;</script></body>",
    );
    assert_eq!(
        codes(&text),
        [
            "x_y",
            "amount.changed",
            "village_code",
            "DOMAIN.md",
            "data/bps/"
        ]
    );
    assert_eq!(point_decimals(&text), ["3.09"]);
    assert!(!text.contains("a_b"));
    assert_eq!(shape("/peserta/123?sort=name&p=2"), "/peserta/9?p&sort");
    let id = vocabulary(Lang::Id);
    assert!(id.contains("peserta") && !id.contains("allocated"));
}

/// Every rule code the workspace refuses input with has its Indonesian words: a page never
/// falls back to the English message or shows the code.
#[test]
fn every_rule_has_indonesian_words() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut missing = BTreeSet::new();
    let mut found = 0;
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("tests") && !path.ends_with("target") {
                    dirs.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let src = std::fs::read_to_string(&path).unwrap();
            // The code before the unit tests only.
            let src = src.split("#[cfg(test)]").next().unwrap_or_default();
            for rule in rule_codes(src) {
                found += 1;
                if !cakupan_server::web::i18n::has_words(&rule) {
                    missing.insert(format!("{rule} ({})", path.display()));
                }
            }
        }
    }
    assert!(
        found > 100,
        "only {found} rule codes found: the scan is broken"
    );
    assert!(
        missing.is_empty(),
        "rules without Indonesian words: {missing:#?}"
    );
}

/// The rule codes a source file refuses input with: the second argument of
/// `FieldError::new`, `invalid` and `rejected`, the third of `problem` and `problem_with`,
/// and `rule: "…"` fields.
fn rule_codes(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (call, skip) in [
        ("FieldError::new(", 1),
        ("invalid(", 1),
        ("rejected(", 1),
        ("problem(", 2),
        ("problem_with(", 2),
        ("rule: ", 0),
    ] {
        let mut rest = src;
        while let Some(at) = rest.find(call) {
            rest = &rest[at + call.len()..];
            // Skip `skip` top-level arguments, then read a string literal if one follows.
            let (mut depth, mut commas, mut i) = (0i32, 0, 0);
            let bytes = rest.as_bytes();
            while i < bytes.len() && commas < skip {
                match bytes[i] {
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => {
                        if depth == 0 {
                            break;
                        }
                        depth -= 1
                    }
                    b',' if depth == 0 => commas += 1,
                    b'"' => {
                        i += 1;
                        while i < bytes.len() && bytes[i] != b'"' {
                            i += 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            if commas < skip {
                continue;
            }
            let arg = rest[i..].trim_start();
            if let Some(lit) = arg.strip_prefix('"')
                && let Some(end) = lit.find('"')
            {
                let code = &lit[..end];
                if !code.is_empty()
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
                {
                    out.push(code.to_string());
                }
            }
        }
    }
    out
}

/// An error is a page in the reader's language with their menu and name: an unknown address,
/// an address whose number is not one (`/peserta/daftar`), a refusal; the API keeps its JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_pages_in_the_readers_language() {
    let db = harness::sqlite(true).await;
    let app = app_on(db.store.clone(), &auth()).await;
    people(&app).await;
    let mut b = Browser::new(&app);
    b.sign_in("bandung").await;
    for (path, status) in [
        ("/tidak-ada", StatusCode::NOT_FOUND),
        ("/peserta/daftar", StatusCode::NOT_FOUND),
        ("/wilayah/33", StatusCode::FORBIDDEN),
        ("/pengguna", StatusCode::FORBIDDEN),
    ] {
        let p = b.get(path).await;
        assert_eq!(p.status, status, "{path}: {}", p.body);
        let text = visible_text(&p.body)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(text.contains("Masuk sebagai bandung"), "{path}: {text}");
        assert!(text.contains("Pemberi kerja"), "{path}: the menu: {text}");
        assert!(
            !text.contains("Invalid URL") && !text.contains("Cannot parse"),
            "{path}: {text}"
        );
        assert!(
            text.contains("tidak ada") || text.contains("tidak berwenang"),
            "{path}: {text}"
        );
    }
    // A form the router cannot read is a bad request, in words (not a missing page).
    let garbled = b
        .send_raw(
            "POST",
            "/peserta/cari",
            Some((
                "application/x-www-form-urlencoded".into(),
                "q=%ZZ&&=".into(),
            )),
            &[],
        )
        .await;
    let text = visible_text(&garbled.body);
    assert!(
        garbled.status.is_client_error() && garbled.status != StatusCode::NOT_FOUND,
        "{}: {text}",
        garbled.status
    );
    assert!(text.contains("tidak dapat dibaca"), "{text}");
    let en = b.get("/tidak-ada?lang=en").await;
    let en = visible_text(&en.body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(en.contains("Signed in as bandung"), "{en}");
    // A visitor gets the same page, with the sign-in links.
    let mut visitor = Browser::new(&app);
    let p = visitor.get("/tidak-ada").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(visible_text(&p.body).contains("Daftar"), "{}", p.body);
    // The API's unknown address stays JSON.
    let api = b.get("/api/v1/tidak-ada").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(!api.body.contains("<html"), "{}", api.body);
    db.finish().await;
}
