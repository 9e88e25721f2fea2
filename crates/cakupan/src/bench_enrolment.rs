//! `cakupan bench enrolment` (issue #20), against the real server on the database given by --db
//! and Kannel on loopback (started here through `scripts/kannel.sh` unless --sms-url is given):
//! the village search's latency beside `/healthz` in the same run; SMS handed to Kannel per second
//! and carried to its SMS centre; and whole self-registrations per second, each asking for a
//! code, waiting for the SMS centre to receive it, and registering with it.
//!
//! Every request comes from one address here, so the bench lifts the per-address limit of codes
//! (`otp_per_address_per_hour`) in its own copy of the rules; nothing else is changed.

use crate::Reference;
use crate::bench_payments::Conn;
use anyhow::{Context as _, Result, bail};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[(((v.len() - 1) as f64) * q).round() as usize]
}

/// The codes the SMS centre received, by phone: one reader of the log for every waiter.
#[derive(Default)]
struct Inbox {
    seen: usize,
    texts: HashMap<String, Vec<String>>,
}

impl Inbox {
    fn read(&mut self, log: &std::path::Path) -> usize {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("Got message "))
            .collect();
        for l in lines.iter().skip(self.seen) {
            if let Some((_, body)) = l.split_once(": <") {
                let mut parts = body.trim_end_matches('>').splitn(4, ' ');
                if let (Some(_), Some(to), Some(_), Some(text)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                {
                    self.texts
                        .entry(to.to_string())
                        .or_default()
                        .push(text.to_string());
                }
            }
        }
        self.seen = lines.len();
        self.seen
    }
}

/// A valid NIK and its birth date and sex, numbered `n` (distinct for distinct `n`).
fn person(district: &str, n: u64) -> (String, String, &'static str) {
    let year = 1960 + (n % 40);
    let month = 1 + (n / 40) % 12;
    let day = 1 + (n / 480) % 28;
    let female = n.is_multiple_of(2);
    let serial = 1 + (n / 13_440) % 9_999;
    let dd = if female { day + 40 } else { day };
    (
        format!("{district}{dd:02}{month:02}{:02}{serial:04}", year % 100),
        format!("{year}-{month:02}-{day:02}"),
        if female { "P" } else { "L" },
    )
}

pub async fn enrolment_bench(
    (db, pg_pool): (&str, u32),
    keys: Arc<cakupan_store::crypto::Keys>,
    reference: &Reference,
    (seconds, connections, sms_count): (u64, usize, usize),
    sms: &crate::enrolment::SmsArgs,
) -> Result<()> {
    let store = crate::store::open(db, pg_pool, keys).await?;
    store.ensure_regions(&reference.regions).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (gateway, own) = bench_gateway(sms, &format!("http://{addr}"))?;
    let log = match (&sms.sms_log, &own) {
        (Some(l), _) => l.clone(),
        (None, Some(kannel)) => kannel.join("fakesmsc.log"),
        (None, None) => {
            bail!("--sms-log: the SMS centre's log of the gateway given, to read the codes from")
        }
    };
    let mut rules = (*reference.rules).clone();
    for r in &mut rules.enrolment {
        r.otp_per_address_per_hour = u32::MAX;
    }
    let mut st = crate::agents::operations(store.clone(), reference)?;
    st.rules = Arc::new(rules);
    st.sms = Some(Arc::new(gateway));
    let server = tokio::spawn(cakupan_server::serve(listener, st.clone()));
    let outcome = run(
        &st,
        addr,
        &log,
        reference,
        (seconds, connections, sms_count),
    )
    .await;
    server.abort();
    stop_bench_gateway(own);
    outcome
}

/// The gateway a bench sends through: the one given by the SMS settings, else a Kannel of its
/// own on loopback (started through `scripts/kannel.sh`; its directory is returned, for
/// [`stop_bench_gateway`]). Delivery reports go to `reports`.
pub fn bench_gateway(
    sms: &crate::enrolment::SmsArgs,
    reports: &str,
) -> Result<(cakupan_app::sms::Gateway, Option<std::path::PathBuf>)> {
    if let Some(g) = sms.gateway(reports) {
        return Ok((g, None));
    }
    let kannel = std::env::temp_dir().join(format!("cakupan-bench-kannel-{}", std::process::id()));
    let g = crate::enrolment::demo_gateway(&kannel, reports, false)
        .context("no SMS gateway: give --sms-url or run from the repository (scripts/kannel.sh)")?;
    Ok((g, Some(kannel)))
}

/// Stops the bench's own Kannel, if it started one.
pub fn stop_bench_gateway(own: Option<std::path::PathBuf>) {
    if let Some(kannel) = own {
        crate::enrolment::stop_demo_gateway(&kannel);
        let _ = std::fs::remove_dir_all(&kannel);
    }
}

async fn run(
    st: &cakupan_app::Context,
    addr: std::net::SocketAddr,
    log: &std::path::Path,
    reference: &Reference,
    (seconds, connections, sms_count): (u64, usize, usize),
) -> Result<()> {
    // 1. The village search beside /healthz, on one keep-alive connection.
    let names: Vec<String> = reference
        .regions
        .villages()
        .step_by(97)
        .map(|r| r.name.chars().take(5).collect::<String>().to_lowercase())
        .filter(|n| n.chars().count() >= 3)
        .collect();
    let mut conn = Conn::open(addr).await?;
    let (mut search, mut health) = (Vec::new(), Vec::new());
    for (i, q) in names.iter().cycle().take(2_000).enumerate() {
        let t = Instant::now();
        let (s, _) = conn
            .send(
                "GET",
                &format!("/api/v1/villages?q={}", cakupan_app::sms::url_encode(q)),
                &[],
                b"",
            )
            .await?;
        if s != 200 {
            bail!("village search {q:?} answered {s}");
        }
        search.push(t.elapsed().as_secs_f64() * 1e3);
        if i.is_multiple_of(2) {
            let t = Instant::now();
            conn.send("GET", "/healthz", &[], b"").await?;
            health.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    println!(
        "village search over {} villages: p50 {:.2} ms, p99 {:.2} ms (/healthz p50 {:.2} ms, p99 {:.2} ms; p99 ratio {:.1}×), {} queries",
        reference.regions.counts()[3],
        quantile(&mut search, 0.5),
        quantile(&mut search, 0.99),
        quantile(&mut health, 0.5),
        quantile(&mut health, 0.99),
        quantile(&mut search, 0.99) / quantile(&mut health, 0.99).max(1e-6),
        search.len()
    );

    // 2. SMS through Kannel: handed over (HTTP answered) and carried to the SMS centre.
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let before = inbox.lock().map(|mut i| i.read(log)).unwrap_or(0);
    let base = 8_100_000_000u64 + (cakupan_store::clock::now_secs() as u64 % 90_000) * 1_000;
    let started = Instant::now();
    let mut tasks = Vec::new();
    let per = sms_count.div_ceil(connections.max(1));
    for c in 0..connections.max(1) {
        let st = st.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..per {
                let to = format!("+62{}", base + (c * per + k) as u64);
                cakupan_app::sms::send(&st, "bench", &to, "Tes kecepatan gateway SMS Cakupan.")
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let handed = started.elapsed().as_secs_f64();
    let want = before + per * connections.max(1);
    let deadline = Instant::now() + Duration::from_secs(120);
    while inbox.lock().map(|mut i| i.read(log)).unwrap_or(0) < want {
        if Instant::now() > deadline {
            bail!("Kannel's SMS centre did not receive the bench's SMS within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let carried = started.elapsed().as_secs_f64();
    let n = per * connections.max(1);
    println!(
        "SMS through Kannel: {n} handed over in {handed:.2} s ({:.0}/s), all received by the SMS centre after {carried:.2} s ({:.0}/s)",
        n as f64 / handed,
        n as f64 / carried
    );

    // 3. Whole self-registrations: ask for a code, wait for the SMS, register with it.
    let reader = {
        let inbox = inbox.clone();
        let log = log.to_path_buf();
        tokio::spawn(async move {
            loop {
                if let Ok(mut i) = inbox.lock() {
                    i.read(&log);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let districts: Vec<String> = reference
        .regions
        .iter()
        .filter(|r| r.code.level() == cakupan_domain::Level::District)
        .step_by(53)
        .map(|r| r.code.to_string().replace('.', ""))
        .collect();
    let villages: Vec<String> = reference
        .regions
        .villages()
        .step_by(211)
        .map(|r| r.code.to_string())
        .collect();
    let occupation = reference
        .rules
        .occupations
        .first()
        .map(|o| o.code.clone())
        .unwrap_or_default();
    let base_n = cakupan_store::clock::now_secs() as u64 % 1_000 * 1_000_000;
    let stop_at = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..connections.max(1) {
        let (inbox, districts, villages, occupation) = (
            inbox.clone(),
            districts.clone(),
            villages.clone(),
            occupation.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut times = Vec::new();
            let mut k = 0u64;
            while Instant::now() < stop_at {
                let n = base_n + (c as u64) * 100_000 + k;
                k += 1;
                let district = &districts[(n as usize) % districts.len()];
                let (nik, birth, sex) = person(district, n);
                let village = &villages[(n as usize) % villages.len()];
                let phone = format!("+6281{:09}", n % 1_000_000_000);
                let mut body = serde_json::json!({
                    "nik": nik, "name": "Pekerja Uji", "birth_date": birth, "sex": sex,
                    "phone": phone, "village_code": village, "occupation_code": occupation,
                    "income_base": "1000000", "consent": true
                });
                let t = Instant::now();
                let (s, v) = conn
                    .send(
                        "POST",
                        "/api/v1/enrolment/code",
                        &[],
                        body.to_string().as_bytes(),
                    )
                    .await?;
                if s != 202 {
                    bail!(
                        "asking for a code answered {s}: {}",
                        String::from_utf8_lossy(&v)
                    );
                }
                let v: serde_json::Value = serde_json::from_slice(&v)?;
                let code = loop {
                    let got = inbox
                        .lock()
                        .ok()
                        .and_then(|i| i.texts.get(&phone).and_then(|t| t.last().cloned()));
                    if let Some(text) = got {
                        break text
                            .split_once("Cakupan: ")
                            .map(|(_, r)| {
                                r.chars()
                                    .take_while(char::is_ascii_digit)
                                    .collect::<String>()
                            })
                            .unwrap_or_default();
                    }
                    if t.elapsed() > Duration::from_secs(60) {
                        bail!("no code reached {phone} within 60 s");
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                };
                body["key"] = v["key"].clone();
                body["code"] = serde_json::Value::String(code);
                let (s, v) = conn
                    .send(
                        "POST",
                        "/api/v1/enrolment",
                        &[],
                        body.to_string().as_bytes(),
                    )
                    .await?;
                if s != 201 {
                    bail!("registering answered {s}: {}", String::from_utf8_lossy(&v));
                }
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<_, anyhow::Error>(times)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let took = started.elapsed().as_secs_f64();
    reader.abort();
    println!(
        "self-registrations (code asked, SMS received through Kannel, registered): {} in {took:.1} s on {connections} connections = {:.1}/s, p50 {:.0} ms, p99 {:.0} ms",
        all.len(),
        all.len() as f64 / took,
        quantile(&mut all, 0.5),
        quantile(&mut all, 0.99)
    );
    Ok(())
}
