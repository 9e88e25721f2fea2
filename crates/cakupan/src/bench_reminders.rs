//! `cakupan bench reminders` (issue #21), on the database given by --db:
//!
//! 1. Planning: a dry run of each day of the month on which a rule fires (every rule of the
//!    day read from the coverage states by index), the median of `runs`, against recomputing
//!    every counter from the ledger once in the same run (what a plan that read the ledger
//!    person by person would at least cost).
//! 2. Sending (with `--sms N`), through Kannel on loopback (started here through
//!    `scripts/kannel.sh` unless --sms-url is given), after storing the plan of the day with
//!    the most SMS: N plain SMS handed to the gateway one after another (the baseline); then
//!    `reminders send` at the policy's rate (it must hold it); then `reminders send` with the
//!    rate lifted in the bench's own copy of the rules (the sender's own ceiling: claim,
//!    hand-over and status, one reminder at a time). Sends real SMS to the simulated
//!    participants' numbers through the gateway given: use a test gateway.

use crate::Reference;
use anyhow::{Result, bail};
use cakupan_app::reminders as svc;
use std::sync::Arc;
use std::time::Instant;

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub async fn reminders_bench(
    (db, pg_pool): (&str, u32),
    keys: Arc<cakupan_store::crypto::Keys>,
    reference: &Reference,
    (month, runs, sms_count): (Option<String>, usize, usize),
    sms: &crate::enrolment::SmsArgs,
) -> Result<()> {
    let store = crate::store::open(db, pg_pool, keys).await?;
    store.ensure_regions(&reference.regions).await?;
    let mut st = crate::agents::operations(store.clone(), reference)?;
    let today = cakupan_app::today_wib();
    let month = match month {
        Some(m) => cakupan_domain::Month::parse(&m).map_err(|e| anyhow::anyhow!("--month: {e}"))?,
        None => cakupan_domain::Month::of(today),
    };
    let people = store.coverage_states().await?.len();
    println!("{people} coverage states; planning the days of {month} on which a rule fires");

    // 1. Planning against the recompute.
    let mut days = Vec::new();
    let mut day = month.first_day();
    while cakupan_domain::Month::of(day) == month {
        let fires = reference
            .rules
            .reminders_on(day)
            .iter()
            .any(|r| cakupan_domain::reminders::target(&reference.rules, r, day).is_some());
        if fires {
            let mut times = Vec::new();
            let mut plan = svc::Plan::default();
            for _ in 0..runs.max(1) {
                let t = Instant::now();
                plan = svc::plan(&st, day, true)
                    .await
                    .map_err(crate::agents::api)?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let planned: u64 = plan.lines.iter().map(|l| l.planned).sum();
            let sms: u64 = plan
                .lines
                .iter()
                .filter(|l| l.arm == "sms")
                .map(|l| l.planned)
                .sum();
            let rules: std::collections::BTreeSet<&str> =
                plan.lines.iter().map(|l| l.rule.as_str()).collect();
            days.push((
                day,
                median(&mut times),
                planned,
                sms,
                rules.into_iter().map(str::to_string).collect::<Vec<_>>(),
            ));
        }
        day = match day.next_day() {
            Some(d) => d,
            None => break,
        };
    }
    let t = Instant::now();
    store.recompute(&reference.rules).await?;
    let recompute_ms = t.elapsed().as_secs_f64() * 1e3;
    println!("baseline: recompute every counter from the ledger: {recompute_ms:.0} ms");
    println!(
        "| day | rules | planned | of them SMS | dry-run plan (ms, median of {runs}) | recompute ÷ plan |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for (day, ms, planned, sms, rules) in &days {
        println!(
            "| {} | {} | {planned} | {sms} | {ms:.1} | {:.0} |",
            cakupan_domain::month::format_date(*day),
            rules.join(", "),
            recompute_ms / ms.max(1e-6)
        );
    }
    if sms_count == 0 {
        return Ok(());
    }

    // 2. Sending through Kannel.
    let Some(&(day, _, _, most, _)) = days.iter().max_by_key(|d| d.3) else {
        bail!("no day of {month} plans an SMS reminder: nothing to send");
    };
    if most == 0 {
        bail!("no day of {month} plans an SMS reminder: nothing to send");
    }
    let t = Instant::now();
    let stored = svc::plan(&st, day, false)
        .await
        .map_err(crate::agents::api)?
        .stored;
    println!(
        "stored the plan of {}: {stored} reminders in {:.0} ms",
        cakupan_domain::month::format_date(day),
        t.elapsed().as_secs_f64() * 1e3
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (gateway, own) = crate::bench_enrolment::bench_gateway(sms, &format!("http://{addr}"))?;
    st.sms = Some(Arc::new(gateway));
    let server = tokio::spawn(cakupan_server::serve(listener, st.clone()));
    let outcome = send(&st, day, sms_count).await;
    server.abort();
    crate::bench_enrolment::stop_bench_gateway(own);
    outcome
}

async fn send(st: &cakupan_app::Context, day: time::Date, n: usize) -> Result<()> {
    // 10:00 WIB on the planning day: within every zone's sending hours.
    let at = day.midnight().assume_utc().unix_timestamp() + 3 * 3600;
    let policy = svc::policy(st, day).map_err(crate::agents::api)?.clone();
    // Baseline: plain SMS handed to the gateway one after another.
    let base = 8_200_000_000u64 + (cakupan_store::clock::now_secs() as u64 % 90_000) * 1_000;
    let t = Instant::now();
    for k in 0..n {
        cakupan_app::sms::send(
            st,
            "bench",
            &format!("+62{}", base + k as u64),
            "Tes kecepatan gateway SMS Cakupan.",
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let plain = n as f64 / t.elapsed().as_secs_f64();
    println!("baseline: {n} plain SMS handed to Kannel one after another: {plain:.0}/s");
    // At the policy's rate: ten seconds' worth.
    let throttled = u64::from(policy.sms_per_second) * 10;
    let r = svc::send(st, None, Some(throttled), Some(at))
        .await
        .map_err(crate::agents::api)?;
    let rate = r.sent as f64 / r.seconds.max(1e-9);
    println!(
        "reminders send at the policy's {}/s: {} sent in {:.2} s = {rate:.1}/s ({} without a phone, {} opted out)",
        policy.sms_per_second, r.sent, r.seconds, r.no_phone, r.opted_out
    );
    if rate > f64::from(policy.sms_per_second) * 1.05 {
        bail!("the sender exceeded the policy's rate: {rate:.1}/s");
    }
    // The sender's ceiling: the rate lifted in the bench's own copy of the rules.
    let mut rules = (*st.rules).clone();
    for p in &mut rules.reminder_policy {
        p.sms_per_second = 1_000_000;
    }
    let mut lifted = st.clone();
    lifted.rules = Arc::new(rules);
    let r = svc::send(&lifted, Some(1_000_000), Some(n as u64), Some(at))
        .await
        .map_err(crate::agents::api)?;
    let ceiling = r.sent as f64 / r.seconds.max(1e-9);
    println!(
        "reminders send, rate lifted: {} sent in {:.2} s = {ceiling:.0}/s ({:.2}× the plain SMS; {} without a phone)",
        r.sent,
        r.seconds,
        ceiling / plain.max(1e-9),
        r.no_phone
    );
    Ok(())
}
