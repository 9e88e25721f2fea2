//! Reminders end to end (issue #21), through Kannel on loopback with its MO path: planned from
//! the coverage states, sent (a sender killed mid-run and restarted sends nothing twice),
//! delivered, a STOP reply and a question, an agent's task done, payments after reminders and
//! the experiment that counts them. On SQLite and, when configured, PostgreSQL.

use crate::harness;
use cakupan_app::reminders as svc;
use cakupan_domain::access::{Principal, Role};
use cakupan_domain::{Month, RegionCode};
use cakupan_store::Store;
use cakupan_store::ledger::NewPosting;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Kannel of this test's own, whose MO path calls `base` with `token`.
fn own_kannel(dir: &Path, base: &str, token: &str) -> Option<Vec<(String, String)>> {
    let out = std::process::Command::new(repo().join("scripts/kannel.sh"))
        .arg("start")
        .arg(dir)
        .env("CAKUPAN_SMS_INBOUND_BASE", base)
        .env("CAKUPAN_SMS_INBOUND_TOKEN", token)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn reply(dir: &Path, from: &str, text: &str) {
    let ok = std::process::Command::new(repo().join("scripts/kannel.sh"))
        .arg("reply")
        .arg(dir)
        .arg(from)
        .arg(text)
        .status()
        .unwrap();
    assert!(ok.success());
}

fn nik(i: usize) -> String {
    format!("327301520390{:04}", i + 1)
}

fn phone(run: u64, i: usize) -> String {
    format!("0815{:04}{:04}", run % 10_000, i)
}

fn pay(n: &str, month: &str, paid_on: &str, reference: &str) -> NewPosting {
    let rules = harness::rules();
    let profile = cakupan_domain::contribution::Profile {
        segment: cakupan_domain::Segment::Bpu,
        income_base: cakupan_domain::Rupiah(1_000_000),
        programmes: cakupan_domain::ProgrammeSet::parse("JKK+JKM").unwrap(),
        sector: rules.occupation("84.1").unwrap().sector,
        budget_funded: false,
        risk_class: None,
    };
    let amount: i64 = cakupan_domain::contribution::dues(rules, &profile, harness::month(month), 1)
        .unwrap()
        .iter()
        .map(|d| d.1.0)
        .sum();
    let input = cakupan_domain::contribution::ContributionInput {
        reference: reference.into(),
        nik: n.into(),
        segment: "BPU".into(),
        first_month: month.into(),
        months: "1".into(),
        amount: amount.to_string(),
        channel: "bank".into(),
        paid_on: paid_on.into(),
    };
    NewPosting::Contribution(
        cakupan_domain::contribution::parse_payment(harness::rules(), &input, harness::today())
            .unwrap(),
    )
}

fn principal(role: Role, agent: Option<&str>) -> Principal {
    Principal {
        user_id: 1,
        username: format!("{}-test", role.as_str()),
        role,
        region: RegionCode::NATION,
        agent_code: agent.map(str::to_string),
        nik: None,
        employer_code: None,
    }
}

fn texts(log: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once("Got message ").map(|(_, m)| m))
        .filter_map(|m| m.split_once(": <").map(|(_, b)| b.trim_end_matches('>')))
        .filter_map(|b| {
            let mut p = b.splitn(4, ' ');
            let (_from, to, _k, text) = (p.next()?, p.next()?, p.next()?, p.next()?);
            Some((to.to_string(), text.to_string()))
        })
        .collect()
}

async fn campaign(db: harness::TestDb) {
    let store: Arc<dyn Store> = db.store.clone();
    // Skipped without Kannel (failed under CAKUPAN_REQUIRE_KANNEL=1, as harness::kannel does).
    if harness::kannel().is_none() {
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!(
        "cakupan-reminders-{}-{}",
        std::process::id(),
        addr.port()
    ));
    let token = format!("tok{}", addr.port());
    let env = own_kannel(&dir, &format!("http://{addr}"), &token).expect("scripts/kannel.sh start");
    let get = |k: &str| {
        env.iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let gateway = cakupan_app::sms::Gateway {
        url: get("CAKUPAN_SMS_URL"),
        username: get("CAKUPAN_SMS_USER"),
        password: get("CAKUPAN_SMS_PASSWORD"),
        from: "BPJSTK".into(),
        report_base: Some(format!("http://{addr}")),
        inbound_token: Some(token.clone()),
    };
    let log = PathBuf::from(get("CAKUPAN_SMS_LOG"));
    let st = cakupan_app::Context {
        store: store.clone(),
        regions: harness::regions().clone(),
        rules: harness::rules().clone(),
        today: harness::today,
        sms: Some(Arc::new(gateway.clone())),
        auth: Arc::new(cakupan_app::auth::Auth::new(
            cakupan_app::auth::Cost::TEST_ONLY,
            harness::rules().security[0].clone(),
        )),
    };
    let server = tokio::spawn(cakupan_server::serve(listener, st.clone()));

    // 60 BPU participants who paid up to August 2026 (non-active since November: winback_1 on
    // 5 November reaches them), 20 who paid up to June (winback_3: SMS or their agent), one
    // who paid November (not reminded) and one terminated.
    let run = u64::from(addr.port());
    let mut regs = Vec::new();
    for i in 0..82 {
        let mut input = harness::input(&nik(i));
        input.phone = phone(run, i);
        input.registered_on = "2026-01-10".into();
        if (60..80).contains(&i) {
            // Registered themselves with the help of the agent who serves them.
            input.agent_code = "AG-REM-1".into();
        }
        regs.push(harness::reg(&input));
    }
    let mut pids = Vec::new();
    for o in store.register_batch(harness::rules(), &regs).await.unwrap() {
        match o {
            cakupan_store::Outcome::Created { id, .. } => pids.push(id),
            other => panic!("{other:?}"),
        }
    }
    let mut pays = Vec::new();
    for i in 0..82 {
        let last = match i {
            0..60 => 7,
            60..80 => 5,
            _ => 10,
        };
        for m in 0..=last {
            let month = format!("2026-{:02}", m + 1);
            pays.push(pay(
                &nik(i),
                &month,
                &format!("{month}-05"),
                &format!("R{run}-{i}-{m}"),
            ));
        }
    }
    for o in store.post_batch(harness::rules(), &pays).await.unwrap() {
        o.unwrap();
    }
    let stop = NewPosting::Termination {
        nik: cakupan_domain::Nik::parse(&nik(81)).unwrap(),
        segment: cakupan_domain::Segment::Bpu,
        month: harness::month("2026-09"),
        reference: format!("T{run}"),
        reason: cakupan_store::ledger::TerminationReason::Withdrawal,
    };
    for o in store.post_batch(harness::rules(), &[stop]).await.unwrap() {
        o.unwrap();
    }

    // The dry run stores nothing; planning twice stores once.
    let day = cakupan_domain::month::parse_date("2026-11-05").unwrap();
    let dry = svc::plan(&st, day, true).await.unwrap();
    let by_rule = |p: &svc::Plan, rule: &str| -> u64 {
        p.lines
            .iter()
            .filter(|l| l.rule == rule)
            .map(|l| l.planned)
            .sum()
    };
    assert_eq!(by_rule(&dry, "winback_1"), 60, "{dry:?}");
    assert_eq!(by_rule(&dry, "winback_3"), 20, "{dry:?}");
    assert_eq!(dry.stored, 0);
    assert!(store.plan_counts(day).await.unwrap().is_empty());
    let plan = svc::plan(&st, day, false).await.unwrap();
    assert_eq!(plan.stored, 80);
    assert_eq!(svc::plan(&st, day, false).await.unwrap().stored, 0);
    let counts = store.plan_counts(day).await.unwrap();
    let arm = |a: &str| -> i64 { counts.iter().filter(|c| c.arm == a).map(|c| c.n).sum() };
    // 10% held out in each stratum (one province here): 6 of 60 and 2 of 20, ±1.
    assert!((7..=9).contains(&arm("holdout")), "{counts:?}");
    assert!(arm("agent") >= 8, "{counts:?}");
    let sms_planned = arm("sms");

    // A sender killed mid-run, then run again, sends every SMS reminder exactly once.
    // `cakupan reminders send` against this database and gateway, sending hours judged at
    // 10:00 WIB on the planning day.
    let send = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cakupan"));
        cmd.args(["reminders", "send", "--at", "2026-11-05 10:00"])
            .args(extra)
            .env("CAKUPAN_DB", db.url())
            .env("CAKUPAN_TODAY", "2026-11-23")
            .env("CAKUPAN_KEYS", harness::KEYS_TEXT)
            .env("CAKUPAN_LOG", "warn")
            .env("CAKUPAN_SMS_URL", &gateway.url)
            .env("CAKUPAN_SMS_USER", &gateway.username)
            .env("CAKUPAN_SMS_PASSWORD", &gateway.password)
            .env("CAKUPAN_SMS_REPORTS", format!("http://{addr}"));
        cmd
    };
    let mut child = send(&["--rate", "8"]).spawn().unwrap();
    let halo = |log: &Path| {
        texts(log)
            .iter()
            .filter(|(_, t)| t.starts_with("Halo"))
            .count()
    };
    for _ in 0..300 {
        if halo(&log) >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = halo(&log);
    assert!(
        before >= 5 && (before as i64) < sms_planned,
        "{before} of {sms_planned}"
    );
    let out = send(&[]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    // Give Kannel a moment to hand the last ones to the SMS centre.
    for _ in 0..100 {
        if halo(&log) as i64 >= sms_planned - 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let sent = texts(&log);
    let mut per_phone = std::collections::HashMap::new();
    for (to, t) in sent.iter().filter(|(_, t)| t.starts_with("Halo")) {
        *per_phone.entry(to.clone()).or_insert(0) += 1;
        assert!(
            t.contains("tidak aktif") && t.contains(" Rp") && t.chars().count() <= 160,
            "{t}"
        );
    }
    assert!(
        per_phone.values().all(|n| *n == 1),
        "sent twice: {per_phone:?} ({said})"
    );
    // Everything handed over is sent; at most the one claimed at the kill is in doubt.
    let mut statuses = std::collections::HashMap::new();
    let mut ids = Vec::new();
    for (i, &pid) in pids.iter().enumerate().take(80) {
        for r in store.reminders_of(pid).await.unwrap() {
            *statuses.entry(r.status.clone()).or_insert(0i64) += 1;
            if r.arm == "sms" {
                ids.push((i, r.clone()));
            }
        }
    }
    assert_eq!(
        per_phone.len() as i64 + statuses.get("unknown").copied().unwrap_or(0),
        sms_planned,
        "{statuses:?}"
    );
    assert!(
        statuses.get("unknown").copied().unwrap_or(0) <= 1,
        "{statuses:?}"
    );

    // Delivery reports reach the SMS log.
    let mut delivered = 0;
    for _ in 0..100 {
        delivered = 0;
        for (_, r) in &ids {
            if let Some(id) = r.sms_id
                && store.sms_status(id).await.unwrap().as_deref() == Some("delivered")
            {
                delivered += 1;
            }
        }
        if delivered as usize == per_phone.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(delivered as usize, per_phone.len());

    // A STOP reply opts its sender out (and is answered); a question lands on the branch's queue.
    let (first, _) = ids[0].clone();
    let e164 = |p: &str| cakupan_domain::phone::normalise_phone(p).unwrap();
    reply(&dir, &e164(&phone(run, first)), "STOP");
    reply(
        &dir,
        &e164(&phone(run, 1 + first)),
        "Bagaimana cara bayar di Indomaret?",
    );
    let mut queue = Vec::new();
    for _ in 0..100 {
        queue = store.replies(RegionCode::NATION, true, 50).await.unwrap();
        if queue.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        queue
            .iter()
            .any(|r| r.kind == "stop" && r.phone == e164(&phone(run, first))),
        "{queue:?}"
    );
    let question = queue.iter().find(|r| r.kind == "question").unwrap();
    assert!(question.text.contains("Indomaret") && question.region.starts_with("32.73"));
    let officer = principal(Role::BranchOfficer, None);
    assert!(
        svc::replies(&st, &officer, true)
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == question.id)
    );
    svc::answer_reply(&st, &officer, question.id, "t")
        .await
        .unwrap();
    assert!(
        !svc::replies(&st, &officer, true)
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == question.id)
    );
    let index = store
        .keys()
        .nik_index(&cakupan_domain::Nik::parse(&nik(first)).unwrap());
    let consents = store.consents(&index).await.unwrap();
    assert!(
        consents
            .iter()
            .any(|c| c.purpose == "reminders" && c.decision == "withdrawn")
    );
    for _ in 0..50 {
        if texts(&log)
            .iter()
            .any(|(to, t)| *to == e164(&phone(run, first)) && t.contains("tidak akan menerima"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        texts(&log)
            .iter()
            .any(|(to, t)| *to == e164(&phone(run, first)) && t.contains("tidak akan menerima"))
    );
    // A forged reply changes nothing.
    assert!(
        svc::inbound(&st, &e164(&phone(run, 2)), "STOP", "wrong")
            .await
            .is_err()
    );
    // A malformed one is ignored, never an error.
    let (did, _) = svc::inbound(&st, "not a number", "STOP", &token)
        .await
        .unwrap();
    assert_eq!(did, svc::Inbound::Ignored);
    // Planning that day again leaves the person who said STOP out.
    let again = svc::plan(&st, day, true).await.unwrap();
    assert_eq!(again.opted_out.values().sum::<u64>(), 1, "{again:?}");
    // MULAI gives the consent again, and says how to stop.
    let (did, answer) = svc::inbound(&st, &e164(&phone(run, first)), "Mulai", &token)
        .await
        .unwrap();
    assert_eq!(did, svc::Inbound::Started);
    assert!(answer.unwrap().contains("Kirim STOP"));
    let again = svc::plan(&st, day, true).await.unwrap();
    assert_eq!(again.opted_out.values().sum::<u64>(), 0, "{again:?}");

    // The agent's task, done in two taps (open, outcome); the same tap again changes nothing.
    let agent = principal(Role::Agent, Some("AG-REM-1"));
    let tasks = svc::tasks(&st, &agent, "t").await.unwrap();
    assert!(tasks.iter().all(|t| !t.name.is_empty()));
    assert!(!tasks.is_empty());
    svc::record_task(&st, &agent, tasks[0].reminder.id, "will_pay", "t")
        .await
        .unwrap();
    svc::record_task(&st, &agent, tasks[0].reminder.id, "will_pay", "t")
        .await
        .unwrap();
    assert_eq!(
        store
            .reminder(tasks[0].reminder.id)
            .await
            .unwrap()
            .unwrap()
            .outcome
            .as_deref(),
        Some("will_pay")
    );
    let other = principal(Role::Agent, Some("AG-OTHER"));
    assert!(
        svc::record_task(&st, &other, tasks[1].reminder.id, "paid", "t")
            .await
            .is_err()
    );
    assert!(
        svc::record_task(&st, &agent, tasks[1].reminder.id, "maybe", "t")
            .await
            .is_err()
    );

    // Payments after the reminders: every reminded person by SMS pays on 8 November, nobody
    // held out does; the experiment (its window closed on the 12th) counts them.
    let mut after = Vec::new();
    for (i, r) in &ids {
        if r.status == "sent" {
            after.push(pay(
                &nik(*i),
                "2026-11",
                "2026-11-08",
                &format!("A{run}-{i}"),
            ));
        }
    }
    let paid_after = after.len() as u64;
    for o in store.post_batch(harness::rules(), &after).await.unwrap() {
        o.unwrap();
    }
    let admin = principal(Role::Admin, None);
    // The reports read what the day's planning counted: before a count, the payments are not
    // in them yet.
    let before = svc::experiment(&st, &admin).await.unwrap();
    assert!(
        before
            .iter()
            .filter(|c| c.contrast == "sms")
            .all(|c| c.effect.treated.paid == 0),
        "{before:?}"
    );
    svc::count_outcomes(&st, harness::today()).await.unwrap();
    let report = svc::experiment(&st, &admin).await.unwrap();
    let sms = report
        .iter()
        .find(|c| c.contrast == "sms" && c.by == "rule" && c.value == "winback_1")
        .unwrap();
    let total_paid: u64 = report
        .iter()
        .filter(|c| c.contrast == "sms" && c.by == "rule")
        .map(|c| c.effect.treated.paid)
        .sum();
    assert_eq!(total_paid, paid_after);
    assert_eq!(sms.effect.comparison.paid, 0);
    assert!(sms.effect.low > 0.5, "{sms:?}");
    // Retention: those paid to June lapsed in September and were reminded in November, after
    // their lapse: not counted as reminded before it.
    let ret = svc::retention(&st, &admin, RegionCode::NATION, None, 12)
        .await
        .unwrap();
    let september = ret.iter().find(|m| m.month == "2026-09").unwrap();
    assert!(
        september.bpu_lapses > 0 && september.reminded_share == Some(0.0),
        "{ret:?}"
    );

    // An employer's October invoice, due on Monday 16 November (the 15th is a Sunday): the
    // invoice_due rule reminds the employer's contact three days before, by SMS with the
    // invoice's payment code (a statutory bill: no STOP offered, which only opts participants
    // out); once planned, planning again stores nothing.
    let employer = cakupan_store::employers::EmployerInput {
        code: "9120000000777".into(),
        name: "PT Sinar Baja".into(),
        size: "medium".into(),
        risk_class: "2".into(),
        region: "32.73.01.1001".into(),
        registered_on: "2026-01-05".into(),
        contact_name: "Bu Ratna".into(),
        contact_phone: phone(run, 90),
        contact_email: String::new(),
    };
    let (e, _) = cakupan_app::employers::add_employer(&st, &admin, "t", &employer)
        .await
        .unwrap();
    let line = cakupan_domain::employers::WageLineInput {
        line: 1,
        fields: [
            "3273010101950001",
            "Rahmat Hidayat",
            "1995-01-01",
            "L",
            "32.73.01.1001",
            "84",
            "4000000",
            "0",
            "JKK+JKM+JHT+JP",
            "enrol",
        ]
        .map(str::to_string)
        .to_vec(),
    };
    cakupan_app::employers::run_report(&st, &e, "hrd", "2026-10", &[line], false, false)
        .await
        .unwrap();
    let (invoice, _) = store
        .employer_invoice(&e.code, Month::parse("2026-10").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        cakupan_domain::month::format_date(invoice.due_on),
        "2026-11-16"
    );
    let due_day = cakupan_domain::month::parse_date("2026-11-13").unwrap();
    let planned = svc::plan(&st, due_day, false).await.unwrap();
    assert_eq!(planned.stored, 1, "{planned:?}");
    assert_eq!(svc::plan(&st, due_day, false).await.unwrap().stored, 0);
    let at = due_day.midnight().assume_utc().unix_timestamp() + 3 * 3600;
    let sent = svc::send(&st, None, None, Some(at)).await.unwrap();
    assert_eq!(sent.sent, 1, "{sent:?}");
    let to = e164(&phone(run, 90));
    let mut bill = None;
    for _ in 0..100 {
        bill = texts(&log).into_iter().find(|(p, _)| *p == to);
        if bill.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, text) = bill.expect("the employer's reminder through Kannel");
    assert!(
        text.contains("Tagihan iuran BPJS TK")
            && text.contains("16-11-2026")
            && !text.contains("STOP")
            && text.chars().count() <= 160,
        "{text}"
    );

    server.abort();
    let _ = std::process::Command::new(repo().join("scripts/kannel.sh"))
        .arg("stop")
        .arg(&dir)
        .status();
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reminder_campaign_end_to_end_on_sqlite() {
    campaign(harness::sqlite(true).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reminder_campaign_end_to_end_on_postgres() {
    let Some(db) = harness::postgres("a_reminder_campaign_end_to_end_on_postgres", true).await
    else {
        return;
    };
    campaign(db).await;
}
