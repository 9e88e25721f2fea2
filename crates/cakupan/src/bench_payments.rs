//! `cakupan bench payments` (issue #19): a load generator acting as a bank over loopback,
//! with its own RSA key and client secret, against the real server on the database given by
//! --db. It runs inquiry + payment pairs on many connections (10% of payments retried after a
//! "timeout" with a new X-EXTERNAL-ID, 1% sent again with the same one), measures each
//! request, and against the same server's `/healthz` in the same run. Then it checks what the
//! issue asks: no payment posted twice, none acknowledged and missing, a settlement built from
//! its own log reconciles with no exception, and the counters agree with the ledger.

use crate::Reference;
use anyhow::{Context as _, Result, bail};
use cakupan_app::payments::snap::{self, Client, Service};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One keep-alive HTTP/1.1 connection (what a bank's client keeps open to a biller).
pub(crate) struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    pub(crate) async fn open(addr: std::net::SocketAddr) -> Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(s),
        })
    }

    /// Sends one request and reads its answer: (status, body).
    pub(crate) async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let w = self.stream.get_mut();
        w.write_all(head.as_bytes()).await?;
        w.write_all(body).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP answer: {line:?}"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut out = vec![0; length];
        self.stream.read_exact(&mut out).await?;
        Ok((status, out))
    }
}

/// Latencies of one kind of request, in milliseconds.
#[derive(Debug, Default)]
struct Times(Vec<f64>);

impl Times {
    fn quantile(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_by(|a, b| a.total_cmp(b));
        let i = ((self.0.len() as f64 - 1.0) * q).round() as usize;
        self.0[i.min(self.0.len() - 1)]
    }
}

/// What one worker did.
#[derive(Debug, Default)]
struct Worker {
    health: Times,
    inquiry: Times,
    payment: Times,
    /// Payments acknowledged (2002500): (request id, virtual account, amount, day).
    paid: Vec<(String, String, i64, time::Date)>,
    retries_same: u64,
    duplicates_refused: u64,
    unexpected: Vec<String>,
}

async fn healthz(addr: std::net::SocketAddr, stop: Arc<AtomicBool>) -> Result<Worker> {
    let mut c = Conn::open(addr).await?;
    let mut w = Worker::default();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let (s, _) = c.send("GET", "/healthz", &[], b"").await?;
        w.health.0.push(t.elapsed().as_secs_f64() * 1000.0);
        if s != 200 {
            w.unexpected.push(format!("healthz {s}"));
        }
    }
    Ok(w)
}

/// The partner's token (renewed by the caller when it nears its end).
async fn token(c: &mut Conn, bank: &Client) -> Result<String> {
    let h = bank
        .token_headers(&cakupan_store::clock::now_rfc3339())
        .map_err(|e| anyhow::anyhow!(e))?;
    let path = format!("{}{}", snap::PREFIX, Service::Token.path());
    let (s, b) = c
        .send("POST", &path, &h, br#"{"grantType":"client_credentials"}"#)
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&b)?;
    if s != 200 {
        bail!("access token refused: {v}");
    }
    Ok(v["accessToken"].as_str().unwrap_or_default().to_string())
}

#[allow(clippy::too_many_arguments)]
async fn pairs(
    addr: std::net::SocketAddr,
    bank: Client,
    codes: Arc<Vec<String>>,
    me: usize,
    workers: usize,
    run: String,
    stop: Arc<AtomicBool>,
) -> Result<Worker> {
    let mut c = Conn::open(addr).await?;
    let mut w = Worker::default();
    let mut tok = token(&mut c, &bank).await?;
    let mut tok_at = Instant::now();
    let (inq, pay) = (
        format!("{}{}", snap::PREFIX, Service::Inquiry.path()),
        format!("{}{}", snap::PREFIX, Service::Payment.path()),
    );
    let mut n = 0u64;
    // This connection's codes: every `workers`-th from `me`, none shared with another
    // connection; when each was paid once, round again (a worker paying a month ahead).
    let mine: Vec<&String> = codes.iter().skip(me).step_by(workers.max(1)).collect();
    let mut i = 0usize;
    // A cheap deterministic generator for the retries and duplicates.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (me as u64);
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % 1000
    };
    while !stop.load(Ordering::Relaxed) && !mine.is_empty() {
        if tok_at.elapsed() > Duration::from_secs(600) {
            tok = token(&mut c, &bank).await?;
            tok_at = Instant::now();
        }
        let code = mine[i % mine.len()];
        i += 1;
        let (biller, customer) = code.split_at(code.len() - 13);
        let padded = cakupan_domain::payments::padded(biller);
        let va = serde_json::json!({"partnerServiceId": padded, "customerNo": customer,
                                     "virtualAccountNo": format!("{padded}{customer}")});
        n += 1;
        let ext = |k: &str| format!("{run}-{me}-{n}-{k}");
        // Inquiry.
        let mut body = va.clone();
        body["inquiryRequestId"] = serde_json::json!(ext("i"));
        let text = serde_json::to_vec(&body)?;
        let ts = cakupan_store::clock::now_rfc3339();
        let h = bank.transaction_headers(&tok, &inq, &text, &ts, &ext("i"));
        let t = Instant::now();
        let (s, b) = c.send("POST", &inq, &h, &text).await?;
        w.inquiry.0.push(t.elapsed().as_secs_f64() * 1000.0);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
        if s != 200 {
            w.unexpected.push(format!("inquiry {s} {v}"));
            continue;
        }
        let amount = v["virtualAccountData"]["totalAmount"].clone();
        // Payment.
        let request = format!("{run}-{me}-{n}");
        let mut body = va.clone();
        body["paymentRequestId"] = serde_json::json!(request);
        body["paidAmount"] = amount.clone();
        body["trxDateTime"] = serde_json::json!(ts);
        body["referenceNo"] = serde_json::json!(format!("R{n}"));
        let text = serde_json::to_vec(&body)?;
        let h = bank.transaction_headers(&tok, &pay, &text, &ts, &ext("p"));
        let t = Instant::now();
        let (s, first) = c.send("POST", &pay, &h, &text).await?;
        w.payment.0.push(t.elapsed().as_secs_f64() * 1000.0);
        if s != 200 {
            w.unexpected
                .push(format!("payment {s} {}", String::from_utf8_lossy(&first)));
            continue;
        }
        let value: i64 = amount["value"]
            .as_str()
            .and_then(|v| v.strip_suffix(".00"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let digits = code.clone();
        w.paid.push((
            request.clone(),
            digits,
            value,
            cakupan_store::clock::today_wib(),
        ));
        let roll = next();
        if roll < 100 {
            // A retry after a timeout: a new external id, the first answer again.
            let h = bank.transaction_headers(&tok, &pay, &text, &ts, &ext("r"));
            let t = Instant::now();
            let (s, again) = c.send("POST", &pay, &h, &text).await?;
            w.payment.0.push(t.elapsed().as_secs_f64() * 1000.0);
            if s == 200 && again == first {
                w.retries_same += 1;
            } else {
                w.unexpected.push(format!("retry {s}"));
            }
        } else if roll < 110 {
            // A duplicate: the same request, the same external id: refused, nothing posted.
            let t = Instant::now();
            let (s, _) = c.send("POST", &pay, &h, &text).await?;
            w.payment.0.push(t.elapsed().as_secs_f64() * 1000.0);
            if s == 409 {
                w.duplicates_refused += 1;
            } else {
                w.unexpected.push(format!("duplicate {s}"));
            }
        }
    }
    Ok(w)
}

/// The bench: see the module documentation.
pub async fn payments_bench(
    (db, pg_pool): (&str, u32),
    keys: Arc<cakupan_store::crypto::Keys>,
    reference: &Reference,
    seconds: u64,
    connections: usize,
) -> Result<()> {
    let store = crate::store::open(db, pg_pool, keys).await?;
    store.ensure_regions(&reference.regions).await?;
    // The payment codes of the BPU participations, one pair each at most.
    let mut codes = Vec::new();
    let total = store.count_participants().await?;
    let st = crate::agents::operations(store.clone(), reference)?;
    for id in 1..=(total as i64 + 10) {
        if let Some(p) = store.participant(id).await?
            && p.registration.segment == cakupan_domain::Segment::Bpu
            && let Some(code) = cakupan_app::payments::code_of(&st, &p)
        {
            codes.push(code.digits());
        }
    }
    if codes.is_empty() {
        bail!("the database holds no BPU participant: fill it first (`cakupan simulate`)");
    }
    // The bench's own bank: a fresh key pair and secret each run.
    let run = format!("B{}", cakupan_store::clock::now_secs());
    let (private, public) = snap::new_key_pair(2048).map_err(|e| anyhow::anyhow!(e))?;
    let secret = cakupan_app::auth::new_token().map_err(|e| anyhow::anyhow!(e))?;
    let code = run.clone();
    store
        .add_partner(
            &cakupan_store::payments::Partner {
                code: code.clone(),
                name: "Bench bank".into(),
                kind: "bank".into(),
                settlement_account: "1234567890".into(),
                fee: cakupan_domain::Rupiah(0),
                public_key: public,
                client_secret: secret.clone(),
                active: true,
            },
            "bench",
        )
        .await?;
    let bank = Client {
        code: code.clone(),
        private_key: private,
        client_secret: secret,
    };
    let state = st;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(cakupan_server::serve(listener, state.clone()));
    println!(
        "{} BPU payment codes in {}; {connections} connections, {seconds} s each, over loopback",
        codes.len(),
        crate::store::redact(db)
    );
    // Baseline: /healthz on the same connections.
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        tasks.push(tokio::spawn(healthz(addr, stop.clone())));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut health = Times::default();
    for t in tasks {
        health.0.extend(t.await??.health.0);
    }
    let health_rate = health.0.len() as f64 / seconds as f64;
    // The pairs.
    let stop = Arc::new(AtomicBool::new(false));
    let codes = Arc::new(codes);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for me in 0..connections {
        tasks.push(tokio::spawn(pairs(
            addr,
            bank.clone(),
            codes.clone(),
            me,
            connections,
            run.clone(),
            stop.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Worker::default();
    for t in tasks {
        let w = t.await??;
        all.inquiry.0.extend(w.inquiry.0);
        all.payment.0.extend(w.payment.0);
        all.paid.extend(w.paid);
        all.retries_same += w.retries_same;
        all.duplicates_refused += w.duplicates_refused;
        all.unexpected.extend(w.unexpected);
    }
    let elapsed = started.elapsed().as_secs_f64();
    server.abort();
    let paid_rate = all.paid.len() as f64 / elapsed;
    println!("| load | requests/s | ÷ /healthz | p50 (ms) | p99 (ms) | requests |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| baseline: GET /healthz | {health_rate:.0} | 1× | {:.2} | {:.2} | {} |",
        health.quantile(0.5),
        health.quantile(0.99),
        health.0.len()
    );
    let requests = all.inquiry.0.len() + all.payment.0.len();
    let mut snap_times = Times(
        all.inquiry
            .0
            .iter()
            .chain(&all.payment.0)
            .copied()
            .collect(),
    );
    println!(
        "| SNAP requests (inquiry + payment, retries, duplicates) | {:.0} | {:.3}× | {:.2} | {:.2} | {requests} |",
        requests as f64 / elapsed,
        requests as f64 / elapsed / health_rate.max(1e-9),
        snap_times.quantile(0.5),
        snap_times.quantile(0.99),
    );
    println!(
        "| inquiry | | | {:.2} | {:.2} | {} |",
        all.inquiry.quantile(0.5),
        all.inquiry.quantile(0.99),
        all.inquiry.0.len()
    );
    println!(
        "| payment (posts the contribution) | | | {:.2} | {:.2} | {} |",
        all.payment.quantile(0.5),
        all.payment.quantile(0.99),
        all.payment.0.len()
    );
    println!(
        "\npaid VA transactions: {} ({paid_rate:.0}/s, {:.3}× the /healthz rate); retries answered with the first answer: {}; duplicates refused: {}; unexpected answers: {}",
        all.paid.len(),
        paid_rate / health_rate.max(1e-9),
        all.retries_same,
        all.duplicates_refused,
        all.unexpected.len()
    );
    for u in all.unexpected.iter().take(5) {
        eprintln!("  unexpected: {u}");
    }
    // Every acknowledged payment recorded once and posted once.
    let day = cakupan_app::today_wib();
    let mut recorded = 0usize;
    let mut missing = 0usize;
    for (id, _, _, _) in &all.paid {
        match store.channel_payment(&code, id).await? {
            Some(_) => recorded += 1,
            None => missing += 1,
        }
    }
    let mut posted = 0usize;
    for r in store.channel_payments_on(&code, day).await? {
        if store
            .participant_of_posting(&r.posting_reference)
            .await?
            .is_some()
        {
            posted += 1;
        }
    }
    println!(
        "acknowledged and recorded: {recorded}; acknowledged and missing: {missing}; channel payments with their posting: {posted} (duplicate postings: {})",
        posted.saturating_sub(all.paid.len())
    );
    // A settlement built from the generator's own log.
    let lines: Vec<cakupan_store::payments::SettlementLine> = all
        .paid
        .iter()
        .map(
            |(id, va, amount, d)| cakupan_store::payments::SettlementLine {
                line_no: 0,
                day: *d,
                payment_request_id: id.clone(),
                virtual_account: va.clone(),
                amount: cakupan_domain::Rupiah(*amount),
            },
        )
        .collect();
    let csv = cakupan_app::payments::settlement::to_csv(&lines);
    let t = Instant::now();
    let bytes = csv.into_bytes();
    let report = cakupan_app::payments::import_settlement(
        &state,
        &crate::accounts::cli_admin(),
        "bench",
        &code,
        "bench.csv",
        cakupan_app::payments::settlement::Format::Csv,
        move || Ok(std::io::Cursor::new(bytes.clone())),
    )
    .await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "settlement of the generator's log: {} lines in {secs:.2} s ({:.0} lines/s), {} bad, {} exceptions",
        report.lines,
        report.lines as f64 / secs.max(1e-9),
        report.bad_lines.len(),
        report.exceptions
    );
    let ok = crate::ledger::verify(store.as_ref(), reference).await?;
    println!(
        "verify: {}",
        if ok {
            "the counters agree with the ledger"
        } else {
            "the counters DIFFER"
        }
    );
    if missing > 0 || report.exceptions > 0 || !ok || !all.unexpected.is_empty() {
        bail!("the payments bench found a fault (see above)");
    }
    Ok(())
}

/// The process's peak resident memory so far (VmHWM), in MiB, where Linux reports it.
fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// `cakupan bench settlement`: settlement files of `sizes` lines (CSV, written to a temporary
/// directory, then imported from disk as `payments settle` does) into the database given by
/// --db, each line a payment nobody recorded with a code that names nobody: every line becomes
/// an exception, the costliest case. Lines/s and the process's peak memory after each size.
pub async fn settlement_bench(
    (db, pg_pool): (&str, u32),
    keys: Arc<cakupan_store::crypto::Keys>,
    reference: &Reference,
    sizes: &[u64],
) -> Result<()> {
    use std::io::Write as _;
    let store = crate::store::open(db, pg_pool, keys).await?;
    store.ensure_regions(&reference.regions).await?;
    let st = crate::agents::operations(store.clone(), reference)?;
    let run = format!("S{}", cakupan_store::clock::now_secs());
    let (_, public) = snap::new_key_pair(2048).map_err(|e| anyhow::anyhow!(e))?;
    store
        .add_partner(
            &cakupan_store::payments::Partner {
                code: run.clone(),
                name: "Bench settlement".into(),
                kind: "bank".into(),
                settlement_account: "1234567890".into(),
                fee: cakupan_domain::Rupiah(0),
                public_key: public,
                client_secret: cakupan_app::auth::new_token().map_err(|e| anyhow::anyhow!(e))?,
                active: true,
            },
            "bench",
        )
        .await?;
    let dir = std::env::temp_dir().join(format!("cakupan-bench-settlement-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let day = cakupan_domain::month::format_date(cakupan_app::today_wib());
    println!("| lines | seconds | lines/s | peak memory after (MiB) |\n|---:|---:|---:|---:|");
    for &n in sizes {
        let path = dir.join(format!("{n}.csv"));
        {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
            writeln!(f, "{}", cakupan_app::payments::settlement::CSV_HEADER)?;
            for i in 0..n {
                writeln!(f, "{day},{run}-{n}-{i},888991000000000000,16800")?;
            }
        }
        let p = path.clone();
        let t = Instant::now();
        let r = cakupan_app::payments::import_settlement(
            &st,
            &crate::accounts::cli_admin(),
            "bench",
            &run,
            &format!("{n}.csv"),
            cakupan_app::payments::settlement::Format::Csv,
            move || std::fs::File::open(&p).map(std::io::BufReader::new),
        )
        .await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "| {} | {secs:.1} | {:.0} | {:.0} |",
            r.lines,
            r.lines as f64 / secs.max(1e-9),
            peak_rss_mib().unwrap_or(0.0)
        );
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
