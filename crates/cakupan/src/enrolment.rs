//! `cakupan enrolment …` (issue #20): the self-registration funnel, the village search, a test
//! SMS through the gateway; the SMS gateway's settings of `serve` and `demo`; the simulated
//! funnel of `simulate`; and the demo's own Kannel on loopback.

use crate::Reference;
use anyhow::{Result, bail};
use cakupan_app::sms::Gateway;
use cakupan_domain::enrolment::{Stage, week_of};
use cakupan_domain::{Channel, RegionCode};
use cakupan_store::Store;
use clap::{Args, Subcommand};
use std::sync::Arc;

/// Where one-time codes are sent: Kannel's `sendsms` interface.
#[derive(Debug, Clone, Args)]
pub struct SmsArgs {
    /// Kannel's sendsms URL, e.g. http://127.0.0.1:13013/cgi-bin/sendsms (none: codes cannot be
    /// sent, and self-registration and signing in with a code answer 503).
    #[arg(long, env = "CAKUPAN_SMS_URL")]
    pub sms_url: Option<String>,
    /// The sendsms-user's name.
    #[arg(long, env = "CAKUPAN_SMS_USER", default_value = "")]
    pub sms_user: String,
    /// The sendsms-user's password.
    #[arg(
        long,
        env = "CAKUPAN_SMS_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub sms_password: String,
    /// The sender name or number the SMS shows.
    #[arg(long, env = "CAKUPAN_SMS_FROM", default_value = "BPJSTK")]
    pub sms_from: String,
    /// This server's address as Kannel reaches it, for delivery reports (default: the
    /// listening address over http).
    #[arg(long, env = "CAKUPAN_SMS_REPORTS")]
    pub sms_reports: Option<String>,
    /// The secret Kannel's MO service puts in the `tag` of each reply it forwards to
    /// /api/v1/sms/inbound (scripts/kannel.sh prints it); none: replies are refused.
    #[arg(long, env = "CAKUPAN_SMS_INBOUND_TOKEN", hide_env_values = true)]
    pub sms_inbound_token: Option<String>,
    /// `bench enrolment` only: the log of the gateway's simulated SMS centre (fakesmsc), where
    /// the bench reads the codes.
    #[arg(long, env = "CAKUPAN_SMS_LOG", hide = true)]
    pub sms_log: Option<std::path::PathBuf>,
}

impl SmsArgs {
    /// The gateway, if a URL is set; reports come back to `reports_default` unless set.
    pub fn gateway(&self, reports_default: &str) -> Option<Gateway> {
        let url = self
            .sms_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())?;
        Some(Gateway {
            url: url.to_string(),
            username: self.sms_user.clone(),
            password: self.sms_password.clone(),
            from: self.sms_from.clone(),
            report_base: Some(
                self.sms_reports
                    .clone()
                    .unwrap_or_else(|| reports_default.to_string()),
            ),
            inbound_token: self
                .sms_inbound_token
                .clone()
                .filter(|t| !t.trim().is_empty()),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum EnrolmentCommand {
    /// The self-registration funnel of a region by week (started, phone verified, registered,
    /// paid).
    Funnel {
        /// A region code (default: the nation).
        #[arg(long)]
        region: Option<String>,
    },
    /// Villages whose names match, with their district, regency and province.
    Villages { query: String },
    /// Send one SMS through the gateway (to check its settings).
    SmsTest {
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "Tes Cakupan: gateway SMS berfungsi.")]
        text: String,
        #[command(flatten)]
        sms: SmsArgs,
    },
}

pub async fn run(
    store: Arc<dyn Store>,
    reference: &Reference,
    cmd: EnrolmentCommand,
) -> Result<()> {
    let st = crate::agents::operations(store, reference)?;
    match cmd {
        EnrolmentCommand::Funnel { region } => {
            let region = match region.as_deref() {
                None => RegionCode::NATION,
                Some(r) => RegionCode::parse(r).map_err(|e| anyhow::anyhow!("--region {e}"))?,
            };
            let weeks = cakupan_app::enrolment::funnel(&st, &crate::accounts::cli_admin(), region)
                .await
                .map_err(crate::agents::api)?;
            println!("week      started  verified  registered  paid");
            for w in weeks {
                println!(
                    "{:<9} {:>7}  {:>8}  {:>10}  {:>4}",
                    w.week, w.started, w.verified, w.registered, w.paid
                );
            }
            Ok(())
        }
        EnrolmentCommand::Villages { query } => {
            let index = cakupan_domain::enrolment::VillageIndex::new(&reference.regions);
            let found =
                cakupan_domain::enrolment::search_villages(&reference.regions, &index, &query, 20);
            if found.is_empty() {
                bail!("no village's name matches {query:?} (type at least two letters)");
            }
            for r in found {
                println!("{}  {}", r.code, reference.regions.path_label(r.code));
            }
            Ok(())
        }
        EnrolmentCommand::SmsTest { to, text, sms } => {
            let phone = cakupan_domain::phone::normalise_phone(&to)
                .map_err(|m| anyhow::anyhow!("--to: {m}"))?;
            let Some(gw) = sms.gateway("") else {
                bail!("--sms-url (or CAKUPAN_SMS_URL) is required");
            };
            let gw = Gateway {
                report_base: sms.sms_reports.clone(),
                ..gw
            };
            let st = cakupan_app::Context {
                sms: Some(Arc::new(gw)),
                ..st
            };
            let id = cakupan_app::sms::send(&st, "test", &phone, &text)
                .await
                .map_err(crate::agents::api)?;
            println!("SMS {id} accepted by the gateway for {phone}");
            Ok(())
        }
    }
}

/// The simulated population's funnel (issue #20): each self-registered participation of the
/// funnel's window counts as registered in its week, and the weeks get the workers who asked for
/// a code but did not finish. The drop-off rates are the simulation's own assumptions: 80% of
/// those sent a code type it, 92% of those verified complete the registration (the rest stop at
/// the agent code or the consent). Returns the number registered.
pub async fn simulate_funnel(store: &dyn Store, reference: &Reference, seed: u64) -> Result<u64> {
    let today = cakupan_app::today_wib();
    let weeks = reference
        .rules
        .enrolment(cakupan_domain::Month::of(today))
        .map(|r| r.funnel_weeks)
        .unwrap_or(12);
    let since = today - time::Duration::days(7 * i64::from(weeks));
    let mut registered: std::collections::BTreeMap<(String, RegionCode), u64> = Default::default();
    let mut after = 0;
    loop {
        let page = store.registry_page(after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for p in &page {
            let r = &p.registration;
            if r.channel == Channel::SelfService && r.registered_on >= since {
                *registered
                    .entry((week_of(r.registered_on), r.village))
                    .or_default() += 1;
            }
        }
    }
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut rows = Vec::new();
    let mut total = 0;
    for ((week, village), n) in registered {
        // Verified: registered / 0.92, started: verified / 0.8, rounded at random.
        let grow = |x: u64, ppm: u64, r: u64| (x * 1_000_000 + (r % ppm)) / ppm;
        let verified = grow(n, 920_000, next());
        let started = grow(verified, 800_000, next());
        rows.push((week.clone(), village, Stage::Registered, n));
        rows.push((week.clone(), village, Stage::Verified, verified));
        rows.push((week, village, Stage::Started, started));
        total += n;
    }
    for chunk in rows.chunks(2_000) {
        store.add_stages(chunk).await?;
    }
    Ok(total)
}

/// The demo's own SMS gateway: Kannel on loopback through `scripts/kannel.sh` (installed when
/// missing and run as root), its settings, and every SMS it carries echoed to the terminal so
/// whoever tries the demo reads the codes (`echo`). `None` with the reason printed when it cannot run.
pub fn demo_gateway(dir: &std::path::Path, reports: &str, echo: bool) -> Option<Gateway> {
    let script = std::path::Path::new("scripts/kannel.sh");
    if !script.exists() {
        eprintln!(
            "No SMS gateway: run the demo from the repository (scripts/kannel.sh starts Kannel on loopback) or give --sms-url; self-registration answers that codes cannot be sent."
        );
        return None;
    }
    let out = match std::process::Command::new(script)
        .arg("start")
        .arg(dir)
        .env("CAKUPAN_SMS_INBOUND_BASE", reports)
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).to_string(),
        Ok(o) => {
            eprintln!(
                "No SMS gateway: scripts/kannel.sh start failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return None;
        }
        Err(e) => {
            eprintln!("No SMS gateway: scripts/kannel.sh: {e}");
            return None;
        }
    };
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    let (url, user, password, log) = (
        get("CAKUPAN_SMS_URL")?,
        get("CAKUPAN_SMS_USER")?,
        get("CAKUPAN_SMS_PASSWORD")?,
        get("CAKUPAN_SMS_LOG")?,
    );
    if echo {
        eprintln!(
            "SMS gateway: Kannel on loopback ({url}), its SMS centre simulated; every SMS it carries is shown here."
        );
        tokio::spawn(echo_sms(std::path::PathBuf::from(log)));
    }
    Some(Gateway {
        url,
        username: user,
        password,
        from: "BPJSTK".into(),
        report_base: Some(reports.to_string()),
        inbound_token: get("CAKUPAN_SMS_INBOUND_TOKEN"),
    })
}

/// Prints each message the simulated SMS centre receives.
async fn echo_sms(log: std::path::PathBuf) {
    let mut seen = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let Ok(text) = std::fs::read_to_string(&log) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("Got message")).collect();
        for l in lines.iter().skip(seen) {
            if let Some((_, m)) = l.split_once(": <") {
                eprintln!("SMS → {}", m.trim_end_matches('>'));
            }
        }
        seen = lines.len();
    }
}

/// Stops the demo's Kannel.
pub fn stop_demo_gateway(dir: &std::path::Path) {
    let _ = std::process::Command::new("scripts/kannel.sh")
        .arg("stop")
        .arg(dir)
        .status();
}
