//! `cakupan payments …` (issue #19): channel partners, settlement files, the exceptions and
//! the daily totals, through the same services as the API (the operator acts as head office,
//! `cli` in the audit log). Approving a proposed posting or reversal needs a second, named
//! person: that is done on the page or through the API, where each person signs in.

use crate::Reference;
use anyhow::{Context as _, Result, anyhow};
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
        #[arg(long)]
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
