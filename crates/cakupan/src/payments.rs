//! `cakupan payments …` (issue #19): channel partners, settlement files, the exceptions and
//! the daily totals, through the same services as the API (the operator acts as head office,
//! `cli` in the audit log). Approving a proposed posting or reversal needs a second, named
//! person: that is done on the page or through the API, where each person signs in.

use crate::Reference;
use anyhow::{Context as _, Result, anyhow, bail};
use cakupan_app::payments::{self as pay, NewPartner, settlement};
use cakupan_store::Store;
use clap::Subcommand;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum PaymentCommand {
    /// Add a channel partner (bank, aggregator, minimarket, e-wallet, post office); the same
    /// partner again changes nothing.
    PartnerAdd {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// bank, aggregator, minimarket, ewallet or post.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        settlement_account: String,
        /// Rupiah per transaction the partner charges.
        #[arg(long, default_value_t = 0)]
        fee: i64,
        /// The partner's RSA public key, a PEM file.
        #[arg(long)]
        public_key: std::path::PathBuf,
        /// A file holding the client secret agreed with the partner.
        #[arg(long)]
        client_secret_file: std::path::PathBuf,
    },
    /// The partners (no credentials).
    Partners,
    /// Switch a partner off (no new tokens) or on again.
    PartnerActive {
        #[arg(long)]
        code: String,
        /// true (on) or false (off).
        #[arg(long, action = clap::ArgAction::Set)]
        active: bool,
    },
    /// Import a partner's settlement file (CSV or MT940), streamed; the same file again changes
    /// nothing. Bad lines are listed by number.
    Settle {
        #[arg(long)]
        partner: String,
        #[arg(long)]
        file: std::path::PathBuf,
        /// csv or mt940 (default: from the file's extension, .sta or .mt940 being MT940).
        #[arg(long)]
        format: Option<String>,
    },
    /// The exceptions (open, proposed or resolved; all by default).
    Exceptions {
        #[arg(long)]
        state: Option<String>,
    },
    /// Close an exception with a reason (no money moves), or propose posting or reversing it.
    Resolve {
        #[arg(long)]
        id: i64,
        /// post, reverse or close.
        #[arg(long)]
        action: String,
        #[arg(long)]
        reason: String,
    },
    /// Per partner and day: recorded here, settled, difference (CSV).
    Totals {
        /// YYYY-MM-DD
        #[arg(long)]
        from: String,
        /// YYYY-MM-DD
        #[arg(long)]
        to: String,
    },
}

fn date(field: &str, v: &str) -> Result<time::Date> {
    cakupan_domain::month::parse_date(v.trim())
        .ok_or_else(|| anyhow!("--{field} is a date, YYYY-MM-DD"))
}

pub async fn run(store: Arc<dyn Store>, reference: &Reference, cmd: PaymentCommand) -> Result<()> {
    let st = crate::agents::operations(store, reference)?;
    let who = crate::accounts::cli_admin();
    let rid = "cli";
    match cmd {
        PaymentCommand::PartnerAdd {
            code,
            name,
            kind,
            settlement_account,
            fee,
            public_key,
            client_secret_file,
        } => {
            let p = NewPartner {
                code,
                name,
                kind,
                settlement_account,
                fee,
                public_key: std::fs::read_to_string(&public_key)
                    .with_context(|| format!("reading {}", public_key.display()))?,
                client_secret: std::fs::read_to_string(&client_secret_file)
                    .with_context(|| format!("reading {}", client_secret_file.display()))?
                    .trim()
                    .to_string(),
            };
            let added = pay::add_partner(&st, &who, rid, &p).await?;
            println!(
                "{} {}",
                if added { "added" } else { "already there:" },
                p.code
            );
        }
        PaymentCommand::Partners => {
            println!("code,name,kind,settlement_account,fee,active");
            for p in pay::partners(&st, &who).await? {
                println!(
                    "{},{},{},{},{},{}",
                    p.code, p.name, p.kind, p.settlement_account, p.fee.0, p.active
                );
            }
        }
        PaymentCommand::PartnerActive { code, active } => {
            pay::set_partner_active(&st, &who, rid, &code, active).await?;
            println!("{code}: {}", if active { "active" } else { "switched off" });
        }
        PaymentCommand::Settle {
            partner,
            file,
            format,
        } => {
            let format = match format {
                Some(f) => settlement::Format::parse(&f)
                    .ok_or_else(|| anyhow!("--format is csv or mt940"))?,
                None => match file.extension().and_then(|e| e.to_str()) {
                    Some("sta" | "mt940") => settlement::Format::Mt940,
                    _ => settlement::Format::Csv,
                },
            };
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("settlement")
                .to_string();
            let path = file.clone();
            let open = move || std::fs::File::open(&path).map(std::io::BufReader::new);
            let r = pay::import_settlement(&st, &who, rid, &partner, &name, format, open).await?;
            if r.repeat {
                println!(
                    "settlement {}: imported before, nothing changed",
                    r.settlement_id
                );
            } else {
                println!(
                    "settlement {}: {} lines, {} bad, {} new exceptions",
                    r.settlement_id,
                    r.lines,
                    r.bad_lines.len(),
                    r.exceptions
                );
                for (line, why) in r.bad_lines.iter().take(20) {
                    eprintln!("line {line}: {why}");
                }
            }
        }
        PaymentCommand::Exceptions { state } => {
            println!(
                "id,partner,day,kind,payment_request_id,virtual_account,settled,recorded,region,state,action,reason"
            );
            for e in pay::exceptions(&st, &who, state.as_deref()).await? {
                println!(
                    "{},{},{},{},{},{},{},{},{},{},{},{}",
                    e.id,
                    e.partner_code,
                    e.day,
                    e.kind,
                    e.payment_request_id,
                    e.virtual_account,
                    e.settled_amount.map(|v| v.to_string()).unwrap_or_default(),
                    e.recorded_amount.map(|v| v.to_string()).unwrap_or_default(),
                    e.region,
                    e.state,
                    e.action.unwrap_or_default(),
                    e.reason.unwrap_or_default().replace(',', ";")
                );
            }
        }
        PaymentCommand::Resolve { id, action, reason } => {
            let step = pay::act_on_exception(&st, &who, rid, id, &action, &reason).await?;
            println!("exception {id}: {step:?}");
        }
        PaymentCommand::Totals { from, to } => {
            let rows = pay::daily_totals(&st, &who, date("from", &from)?, date("to", &to)?).await?;
            print!("{}", pay::totals_csv(&rows));
        }
    }
    Ok(())
}

/// What the simulated partners did.
#[derive(Debug, Default)]
pub struct PartnerSimulation {
    pub paid: usize,
    pub retried: usize,
    pub duplicates_refused: usize,
    pub settled_lines: u64,
    pub exceptions: Vec<(String, usize)>,
}

/// `simulate` and `demo` (issue #19 item 5): two simulated channel partners, a bank and a
/// minimarket chain, each with its own RSA key and client secret, pay part of the simulated
/// BPU population through the real SNAP endpoints of a server on loopback (signatures and
/// all), with the faults partners have: a payment whose answer is lost and retried, a request
/// sent twice. Then each settles the day in a file with the faults settlements have: lines
/// late (in a second file), a payment settled twice, an amount that differs, a payment the
/// partner took but that never reached us, a line for a code that names nobody; the files are
/// imported, so the exception queue has real content. Nothing is done when the partners exist
/// already (a second run on the same database).
pub async fn simulate_partners(
    store: Arc<dyn Store>,
    reference: &Reference,
    seed: u64,
    wanted: usize,
) -> Result<Option<PartnerSimulation>> {
    use cakupan_app::payments::snap::{self, Client, Service};
    use cakupan_store::payments::{Partner, SettlementLine};
    const PARTNERS: [(&str, &str, &str); 2] = [
        ("SIM-BANK", "Bank Simulasi", "bank"),
        ("SIM-MART", "Minimarket Simulasi", "minimarket"),
    ];
    if wanted == 0 || store.partner(PARTNERS[0].0).await?.is_some() {
        return Ok(None);
    }
    let st = crate::agents::operations(store.clone(), reference)?;
    let today = (st.today)();
    let biller = reference
        .rules
        .biller(cakupan_domain::Month::of(today))
        .context("no biller rule in force")?
        .clone();
    // Every tenth-or-so BPU participation, up to `wanted`, pays; some others are the payments
    // a partner took that never reached us.
    let total = store.count_participants().await? as i64;
    let step = (total / (wanted as i64 * 8).max(1)).max(1);
    let mut codes = Vec::new();
    let mut id = 1 + (seed as i64 % step);
    while id <= total && codes.len() < wanted * 2 {
        if let Some(p) = store.participant(id).await?
            && p.registration.segment == cakupan_domain::Segment::Bpu
            && let Some(code) = pay::code_of(&st, &p)
        {
            codes.push(code.digits());
        }
        id += step;
    }
    let mut clients = Vec::new();
    for (code, name, kind) in PARTNERS {
        let (private, public) = snap::new_key_pair(2048).map_err(|e| anyhow!(e))?;
        let secret = cakupan_app::auth::new_token().map_err(|e| anyhow!(e))?;
        store
            .add_partner(
                &Partner {
                    code: code.into(),
                    name: name.into(),
                    kind: kind.into(),
                    settlement_account: "1234567890".into(),
                    fee: cakupan_domain::Rupiah(if kind == "bank" { 0 } else { 2_500 }),
                    public_key: public,
                    client_secret: secret.clone(),
                    active: true,
                },
                "simulate",
            )
            .await?;
        clients.push(Client {
            code: code.into(),
            private_key: private,
            client_secret: secret,
        });
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(cakupan_server::serve(listener, st.clone()));
    let mut sim = PartnerSimulation::default();
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut roll = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % 100
    };
    let mut logs: Vec<Vec<SettlementLine>> = vec![Vec::new(); clients.len()];
    let mut taken_not_sent: Vec<Vec<SettlementLine>> = vec![Vec::new(); clients.len()];
    let (inq, pay) = (
        format!("{}{}", snap::PREFIX, Service::Inquiry.path()),
        format!("{}{}", snap::PREFIX, Service::Payment.path()),
    );
    for (ci, c) in clients.iter().enumerate() {
        let mut conn = crate::bench_payments::Conn::open(addr).await?;
        let h = c
            .token_headers(&cakupan_store::clock::now_rfc3339())
            .map_err(|e| anyhow!(e))?;
        let (s, b) = conn
            .send(
                "POST",
                &format!("{}{}", snap::PREFIX, Service::Token.path()),
                &h,
                br#"{"grantType":"client_credentials"}"#,
            )
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&b)?;
        if s != 200 {
            bail!("the simulated partner {} got no token: {v}", c.code);
        }
        let token = v["accessToken"].as_str().unwrap_or_default().to_string();
        for (n, code) in codes
            .iter()
            .enumerate()
            .filter(|(n, _)| n % clients.len() == ci)
        {
            let (b, customer) = code.split_at(code.len() - 13);
            let padded = cakupan_domain::payments::padded(b);
            let va = serde_json::json!({"partnerServiceId": padded, "customerNo": customer,
                                         "virtualAccountNo": format!("{padded}{customer}")});
            let ts = cakupan_store::clock::now_rfc3339();
            let mut body = va.clone();
            body["inquiryRequestId"] = serde_json::json!(format!("SIM-I{n}"));
            let text = serde_json::to_vec(&body)?;
            let h = c.transaction_headers(&token, &inq, &text, &ts, &format!("SIM-{n}-I"));
            let (s, b) = conn.send("POST", &inq, &h, &text).await?;
            if s != 200 {
                continue;
            }
            let v: serde_json::Value = serde_json::from_slice(&b)?;
            let amount = v["virtualAccountData"]["totalAmount"].clone();
            let rupiah: i64 = amount["value"]
                .as_str()
                .and_then(|x| x.strip_suffix(".00"))
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            let request = format!("SIM-{}-{n}", c.code);
            let line = SettlementLine {
                line_no: 0,
                day: today,
                payment_request_id: request.clone(),
                virtual_account: code.clone(),
                amount: cakupan_domain::Rupiah(rupiah),
            };
            // Every other code is paid; of the rest, a few were taken by the partner and
            // never reached us.
            if (n / clients.len()) % 2 == 1 {
                if roll() < 3 {
                    taken_not_sent[ci].push(line);
                }
                continue;
            }
            let mut body = va.clone();
            body["paymentRequestId"] = serde_json::json!(request);
            body["paidAmount"] = amount;
            body["trxDateTime"] = serde_json::json!(ts);
            body["referenceNo"] = serde_json::json!(format!("{}-{n}", c.code));
            let text = serde_json::to_vec(&body)?;
            let h = c.transaction_headers(&token, &pay, &text, &ts, &format!("SIM-{n}-P"));
            let (s, _) = conn.send("POST", &pay, &h, &text).await?;
            if s != 200 {
                continue;
            }
            sim.paid += 1;
            logs[ci].push(line);
            let r = roll();
            if r < 5 {
                // The answer was lost on the way back: the partner retries with a new id.
                let h = c.transaction_headers(&token, &pay, &text, &ts, &format!("SIM-{n}-R"));
                if conn.send("POST", &pay, &h, &text).await?.0 == 200 {
                    sim.retried += 1;
                }
            } else if r < 7 {
                // Sent twice as it was: refused, nothing posted.
                let h = c.transaction_headers(&token, &pay, &text, &ts, &format!("SIM-{n}-P"));
                if conn.send("POST", &pay, &h, &text).await?.0 == 409 {
                    sim.duplicates_refused += 1;
                }
            }
        }
    }
    server.abort();
    // The partners' settlements of the day, with their faults, imported as head office does.
    let who = crate::accounts::cli_admin();
    for (ci, c) in clients.iter().enumerate() {
        let (mut first, mut late) = (Vec::new(), Vec::new());
        for (i, l) in logs[ci].iter().enumerate() {
            match roll() {
                0..=3 => late.push(l.clone()),
                4 => {
                    first.push(l.clone());
                    first.push(l.clone());
                }
                5 => first.push(SettlementLine {
                    amount: cakupan_domain::Rupiah(l.amount.0 + 1_000),
                    ..l.clone()
                }),
                _ => first.push(l.clone()),
            }
            if i == 0 {
                // A line for a code that names nobody.
                first.push(SettlementLine {
                    payment_request_id: format!("SIM-{}-X", c.code),
                    virtual_account: format!("{}1000000000000", biller.partner_service_id),
                    ..l.clone()
                });
            }
        }
        first.extend(taken_not_sent[ci].iter().cloned());
        for (k, (lines, name)) in [(first, "settlement.csv"), (late, "settlement-late.sta")]
            .into_iter()
            .enumerate()
        {
            if lines.is_empty() {
                continue;
            }
            let (format, text) = if k == 0 {
                (
                    pay::settlement::Format::Csv,
                    pay::settlement::to_csv(&lines),
                )
            } else {
                (
                    pay::settlement::Format::Mt940,
                    pay::settlement::to_mt940("1234567890", &lines),
                )
            };
            let bytes = text.into_bytes();
            let r = pay::import_settlement(
                &st,
                &who,
                "simulate",
                &c.code,
                &format!("{}-{name}", c.code),
                format,
                move || Ok(std::io::Cursor::new(bytes.clone())),
            )
            .await?;
            sim.settled_lines += r.lines;
        }
    }
    let mut by_kind = std::collections::BTreeMap::new();
    for e in pay::exceptions(&st, &who, None).await? {
        if e.state != "resolved" {
            *by_kind.entry(e.kind).or_insert(0usize) += 1;
        }
    }
    sim.exceptions = by_kind.into_iter().collect();
    Ok(Some(sim))
}
