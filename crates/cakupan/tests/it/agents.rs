//! The Perisai network through the API on real stores (issue #6): a month of acquisitions,
//! collections, a reversal and an idle agent, whose statements and standings are checked
//! against figures computed by hand; worklists against the coverage engine; agent counts
//! against the agent records; and the bad inputs the issue names.

use crate::api::{App, app_on, auth, body, call_as, user};
use crate::harness;
use axum::http::StatusCode;
use cakupan_store::Store;
use cakupan_store::ledger::NewPosting;
use serde_json::{Value, json};
use std::sync::Arc;

async fn admin(app: &App, method: &str, uri: &str, b: Option<Value>) -> (StatusCode, Value) {
    let t = app.token.clone();
    call_as(app, Some(&t), method, uri, b.map(|v| v.to_string())).await
}

/// Registers a BPU participant (as the administrator, channel self) in `village`.
async fn person(app: &App, nik: &str, name: &str, village: &str) -> i64 {
    let mut b = body();
    b["nik"] = json!(nik);
    b["name"] = json!(name);
    b["village_code"] = json!(village);
    b["channel"] = json!("self");
    b["agent_code"] = json!("");
    b["occupation_code"] = json!("84");
    b["registered_on"] = json!("2026-06-01");
    let (s, v) = admin(app, "POST", "/api/v1/participants", Some(b)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["participant"]["id"].as_i64().unwrap()
}

fn contribution(reference: &str, nik: &str, months: i64, amount: i64, channel: &str) -> Value {
    json!({"kind": "contribution", "reference": reference, "nik": nik, "segment": "BPU",
           "first_month": "2026-11", "months": months, "amount": amount, "channel": channel,
           "paid_on": "2026-11-10"})
}

async fn a_month_of_the_network(store: Arc<dyn Store>) {
    let a = auth();
    let app = app_on(store.clone(), &a).await;
    // The office and three agents, each a BPU participant of Bandung's 32.73.01.
    let (s, v) = admin(
        &app,
        "POST",
        "/api/v1/offices",
        Some(
            json!({"code": "KP-32-0001", "name": "Koperasi Braga", "kind": "cooperative",
                    "region": "32.73.01", "agreement_from": "2026-01-01"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for (nik, name, village) in [
        ("3273016508800001", "Agus Salim", "32.73.01.1001"),
        ("3273016508800002", "Budi Santoso", "32.73.01.1003"),
        ("3273016508800003", "Cahya Dewi", "32.73.01.1002"),
    ] {
        person(&app, nik, name, village).await;
    }
    for (code, nik, villages, appointed) in [
        (
            "PRS-32-0001",
            "3273016508800001",
            json!(["32.73.01.1001", "32.73.01.1002"]),
            "2026-10",
        ),
        (
            "PRS-32-0002",
            "3273016508800002",
            json!(["32.73.01.1003"]),
            "2026-10",
        ),
        // Appointed in August and never active: inactive from October.
        (
            "PRS-32-0003",
            "3273016508800003",
            json!(["32.73.01.1002"]),
            "2026-08",
        ),
    ] {
        let b = json!({"code": code, "office_code": "KP-32-0001", "nik": nik, "villages": villages, "appointed": appointed});
        let (s, v) = admin(&app, "POST", "/api/v1/agents", Some(b.clone())).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        // The same appointment again is a retry; other details under the code are refused.
        let (s, _) = admin(&app, "POST", "/api/v1/agents", Some(b)).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, v) = admin(
        &app,
        "POST",
        "/api/v1/agents",
        Some(
            json!({"code": "PRS-32-0001", "office_code": "KP-32-0001", "nik": "3273016508800001",
                    "villages": ["32.73.01.1003"], "appointed": "2026-10"}),
        ),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("code.taken"))
    );
    let agen1 = user(
        &app,
        &a,
        "agen1",
        "agent",
        Some("32.73.01"),
        Some("PRS-32-0001"),
        None,
    )
    .await;
    let agen2 = user(
        &app,
        &a,
        "agen2",
        "agent",
        Some("32.73.01"),
        Some("PRS-32-0002"),
        None,
    )
    .await;
    let agen3 = user(
        &app,
        &a,
        "agen3",
        "agent",
        Some("32.73.01"),
        Some("PRS-32-0003"),
        None,
    )
    .await;
    let as_agent = |token: &String, method: &str, uri: &str, b: Value| {
        let (app, token, method, uri) = (&app, token.clone(), method.to_string(), uri.to_string());
        async move { call_as(app, Some(&token), &method, &uri, Some(b.to_string())).await }
    };
    // Acquisitions in November: P-a and P-b (with JHT) by agent 1 in their villages, P-c by
    // agent 1 too, P-d by agent 2.
    let enrol = |nik: &str, village: &str, programs: &str, agent: &str| {
        let mut b = body();
        b["nik"] = json!(nik);
        b["village_code"] = json!(village);
        b["programs"] = json!(programs);
        b["occupation_code"] = json!("84");
        b["agent_code"] = json!(agent);
        b["registered_on"] = json!("2026-11-02");
        b
    };
    for (nik, village, programs, token) in [
        ("3273014101900001", "32.73.01.1001", "JKK+JKM", &agen1),
        ("3273014101900002", "32.73.01.1002", "JKK+JKM+JHT", &agen1),
        ("3273014101900003", "32.73.01.1001", "JKK+JKM", &agen1),
        ("3273014101900004", "32.73.01.1003", "JKK+JKM", &agen2),
    ] {
        let agent = if *token == agen1 {
            "PRS-32-0001"
        } else {
            "PRS-32-0002"
        };
        let (s, v) = as_agent(
            token,
            "POST",
            "/api/v1/participants",
            enrol(nik, village, programs, agent),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    // A second agent claiming the same acquisition: refused, nothing stored.
    let (s, v) = as_agent(
        &agen2,
        "POST",
        "/api/v1/participants",
        enrol(
            "3273014101900001",
            "32.73.01.1003",
            "JKK+JKM",
            "PRS-32-0002",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    // An agent enrolling outside their villages, and the idle agent enrolling at all: refused.
    let (s, v) = as_agent(
        &agen1,
        "POST",
        "/api/v1/participants",
        enrol(
            "3273014101900009",
            "32.73.01.1003",
            "JKK+JKM",
            "PRS-32-0001",
        ),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("agent.outside_villages")
        )
    );
    let (s, v) = as_agent(
        &agen3,
        "POST",
        "/api/v1/participants",
        enrol(
            "3273014101900008",
            "32.73.01.1002",
            "JKK+JKM",
            "PRS-32-0003",
        ),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("agent.not_active"))
    );
    let before = store.count_participants().await.unwrap();

    // Collections: agent 1 takes P-a's November (Rp8,400) and P-b's three months
    // (Nov 28,400 + Dec 28,400 + Jan 2027 36,800 = Rp93,600, the discount ending in
    // December); P-c pays at the bank (Rp8,400); agent 2 takes P-d's November.
    let (s, v) = as_agent(
        &agen1,
        "POST",
        "/api/v1/postings",
        contribution("C-A", "3273014101900001", 1, 8_400, "perisai"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = as_agent(
        &agen1,
        "POST",
        "/api/v1/postings",
        contribution("C-B", "3273014101900002", 3, 93_600, "perisai"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let receipt_b = v["receipt"].as_str().unwrap().to_string();
    let (s, v) = admin(
        &app,
        "POST",
        "/api/v1/postings",
        Some(contribution("C-C", "3273014101900003", 1, 8_400, "bank")),
    )
    .await;
    assert_eq!((s, v["receipt"].is_null()), (StatusCode::CREATED, true));
    let (s, v) = as_agent(
        &agen2,
        "POST",
        "/api/v1/postings",
        contribution("C-D", "3273014101900004", 1, 8_400, "perisai"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Bad collections: outside the agent's own people (reads as not registered), through
    // another channel, by the idle agent.
    let (s, v) = as_agent(
        &agen1,
        "POST",
        "/api/v1/postings",
        contribution("C-X", "3273014101900004", 1, 8_400, "perisai"),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("nik.not_registered"))
    );
    let (s, v) = as_agent(
        &agen1,
        "POST",
        "/api/v1/postings",
        contribution("C-Y", "3273014101900003", 1, 8_400, "bank"),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("channel.collection"))
    );
    let (s, v) = admin(
        &app,
        "POST",
        "/api/v1/postings",
        Some({
            let mut c = contribution("C-Z", "3273014101900003", 1, 8_400, "perisai");
            c["collected_by"] = json!("PRS-32-0003");
            c
        }),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("agent.not_active"))
    );
    // P-a's payment bounces (recorded today, 23 November).
    let (s, v) = admin(
        &app,
        "POST",
        "/api/v1/postings",
        Some(json!({"kind": "reversal", "reference": "R-A", "reverses": "C-A"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(store.count_participants().await.unwrap(), before);

    // Statements by hand (November 2026: 15%, incentive from 25 acquisitions, 90/10).
    // Agent 1: fee base 8,400 + 93,600 + 8,400 = 110,400 → 16,560; P-a's 8,400 reversed →
    // clawback 1,260; 3 acquisitions (under 25): no incentive; total 15,300; agent 13,770,
    // office 1,530.
    let (s, st1) = as_agent(
        &agen1,
        "GET",
        "/api/v1/agents/PRS-32-0001/statement?month=2026-11",
        json!(null),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{st1}");
    let figures = |v: &Value| {
        [
            "acquisitions",
            "acquisitions_3",
            "fee_base",
            "fee_reversed",
            "contribution_fee",
            "clawback",
            "incentive",
            "total",
            "agent_share",
            "office_share",
        ]
        .map(|k| v[k].as_i64().unwrap())
    };
    assert_eq!(
        figures(&st1),
        [
            3, 1, 110_400, 8_400, 16_560, 1_260, 0, 15_300, 13_770, 1_530
        ]
    );
    // Agent 2: 8,400 → 1,260; agent 1,134, office 126. Agent 3: nothing.
    let (_, office) = admin(
        &app,
        "GET",
        "/api/v1/offices/KP-32-0001/statement?month=2026-11",
        None,
    )
    .await;
    let agents = office["agents"].as_array().unwrap();
    assert_eq!(
        figures(&agents[1]),
        [1, 0, 8_400, 0, 1_260, 0, 0, 1_260, 1_134, 126]
    );
    assert_eq!(figures(&agents[2]), [0; 10]);
    // The office's total is the sum of its agents' lines and reconciles to the ledger: the
    // fee base is every contribution of the agents' participants received in November.
    assert_eq!(
        figures(&office["total"]),
        [
            4, 1, 118_800, 8_400, 17_820, 1_260, 0, 16_560, 14_904, 1_656
        ]
    );
    let mut ledger_base = 0;
    for nik in [
        "3273014101900001",
        "3273014101900002",
        "3273014101900003",
        "3273014101900004",
    ] {
        let p = &store
            .participants_by_nik(cakupan_domain::Nik::parse(nik).unwrap())
            .await
            .unwrap()[0];
        ledger_base += store
            .ledger(p.id)
            .await
            .unwrap()
            .iter()
            .filter(|r| r.kind == "contribution")
            .map(|r| r.amount.unwrap())
            .sum::<i64>();
    }
    assert_eq!(office["total"]["fee_base"], ledger_base);

    // Standing: agents 1 and 2 active, agent 3 inactive since October; its reactivation is
    // refused before the cooling period (April 2027).
    for (code, want) in [
        ("PRS-32-0001", "active"),
        ("PRS-32-0002", "active"),
        ("PRS-32-0003", "inactive"),
    ] {
        let (_, v) = admin(&app, "GET", &format!("/api/v1/agents/{code}"), None).await;
        assert_eq!(v["status"], want, "{code}: {v}");
    }
    let (s, v) = admin(
        &app,
        "POST",
        "/api/v1/agents/PRS-32-0003/events",
        Some(json!({"kind": "reactivated", "month": "2026-11"})),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("agent.cooling"))
    );
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("from 2027-04")
    );
    // Counts per district from the agent records: 3 registered, 2 active.
    let (_, counts) = admin(
        &app,
        "GET",
        "/api/v1/reports/agents?month=2026-11&by=district&region=32.73.01",
        None,
    )
    .await;
    assert_eq!(
        (
            counts[0]["registered"].as_i64(),
            counts[0]["active"].as_i64(),
            counts[0]["inactive"].as_i64()
        ),
        (Some(3), Some(2), Some(1)),
        "{counts}"
    );

    // Cash: agent 1 holds 8,400 + 93,600 − 8,400 (reversed) = 93,600. A deposit of 50,000
    // settles part; one of 100,000 is more than is held: refused, nothing stored.
    let (s, v) = admin(
        &app,
        "POST",
        "/api/v1/deposits",
        Some(json!({"reference": "BNI-3273014101900003", "agent_code": "PRS-32-0001", "amount": 50_000, "deposited_on": "2026-11-20"})),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reference.nik_like")),
        "a deposit reference holding a NIK: {v}"
    );
    let (s, v) = admin(
        &app,
        "POST",
        "/api/v1/deposits",
        Some(json!({"reference": "BNI-DEP-1", "agent_code": "PRS-32-0001", "amount": 50_000, "deposited_on": "2026-11-20"})),
    )
    .await;
    assert_eq!(
        (s, v["custody"]["held"].as_i64()),
        (StatusCode::CREATED, Some(43_600)),
        "{v}"
    );
    let (s, v) = admin(
        &app,
        "POST",
        "/api/v1/deposits",
        Some(json!({"reference": "BNI-DEP-2", "agent_code": "PRS-32-0001", "amount": 100_000, "deposited_on": "2026-11-21"})),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("deposit.above_held"))
    );
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("43,600")
    );
    assert_eq!(store.deposits("PRS-32-0001").await.unwrap().len(), 1);
    // The receipt of P-b's payment checks out with its amount, not without it; it is not yet
    // all deposited.
    let (s, r) = call_as(
        &app,
        None,
        "GET",
        &format!("/api/v1/receipts/{receipt_b}?amount=93600"),
        None,
    )
    .await;
    assert_eq!(
        (
            s,
            r["status"].as_str(),
            r["deposited"].as_bool(),
            r["months"].as_i64()
        ),
        (StatusCode::OK, Some("valid"), Some(false), Some(3)),
        "{r}"
    );
    let (s, _) = call_as(
        &app,
        None,
        "GET",
        &format!("/api/v1/receipts/{receipt_b}?amount=9360"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Issue #17, attack 6: the number without its keyed code is no receipt, and one address
    // cannot go on guessing: after the policy's checks per minute it is told to wait.
    let (number, _) = receipt_b.split_once('-').unwrap();
    let (s, _) = call_as(
        &app,
        None,
        "GET",
        &format!("/api/v1/receipts/{number}?amount=93600"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let limit = harness::rules()
        .security
        .first()
        .unwrap()
        .receipt_checks_per_minute;
    let mut statuses = Vec::new();
    for guess in 0..limit {
        let (s, _) = call_as(
            &app,
            None,
            "GET",
            &format!("/api/v1/receipts/{number}-{guess:06}?amount=93600"),
            None,
        )
        .await;
        statuses.push(s);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::NOT_FOUND || *s == StatusCode::TOO_MANY_REQUESTS)
    );

    // Worklists agree with the coverage engine: in December P-c (paid November only) is due;
    // in January 2027 they are in arrears; P-b (paid to January) and P-a (payment reversed,
    // never protected) are on neither.
    for (month, due, arrears) in [
        ("2026-11", vec![], vec![]),
        ("2026-12", vec!["3273014101900003"], vec![]),
        ("2027-01", vec![], vec!["3273014101900003"]),
    ] {
        let (s, w) = as_agent(
            &agen1,
            "GET",
            &format!("/api/v1/agents/PRS-32-0001/worklist?month={month}"),
            json!(null),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{w}");
        let ids = |k: &str| -> Vec<i64> {
            w[k].as_array()
                .unwrap()
                .iter()
                .map(|i| i["participant_id"].as_i64().unwrap())
                .collect()
        };
        let id_of = |nik: &str| {
            let store = store.clone();
            let nik = nik.to_string();
            async move {
                store
                    .participants_by_nik(cakupan_domain::Nik::parse(&nik).unwrap())
                    .await
                    .unwrap()[0]
                    .id
            }
        };
        let mut want_due = Vec::new();
        for n in &due {
            want_due.push(id_of(n).await);
        }
        let mut want_arrears = Vec::new();
        for n in &arrears {
            want_arrears.push(id_of(n).await);
        }
        assert_eq!(
            (ids("due_this_month"), ids("in_arrears")),
            (want_due, want_arrears),
            "{month}: {w}"
        );
        for item in w["due_this_month"]
            .as_array()
            .unwrap()
            .iter()
            .chain(w["in_arrears"].as_array().unwrap())
        {
            let id = item["participant_id"].as_i64().unwrap();
            let (_, cov) = admin(
                &app,
                "GET",
                &format!("/api/v1/participants/{id}/coverage?from={month}&to={month}"),
                None,
            )
            .await;
            assert_eq!(cov[0]["status"], item["status"], "{cov}");
        }
        // The villages, most uncovered first.
        assert_eq!(w["villages"].as_array().unwrap().len(), 2);
    }

    // A reversal recorded in December claws back in December, and November stays as it was.
    store
        .post(
            harness::rules(),
            &NewPosting::Reversal {
                reference: "R-C".into(),
                target: "C-C".into(),
                on: time::macros::date!(2026 - 12 - 02),
            },
        )
        .await
        .unwrap();
    let (_, dec) = admin(
        &app,
        "GET",
        "/api/v1/agents/PRS-32-0001/statement?month=2026-12",
        None,
    )
    .await;
    assert_eq!(
        figures(&dec),
        [0, 0, 0, 8_400, 0, 1_260, 0, -1_260, -1_134, -126]
    );
    let (_, nov) = admin(
        &app,
        "GET",
        "/api/v1/agents/PRS-32-0001/statement?month=2026-11",
        None,
    )
    .await;
    assert_eq!(figures(&nov), figures(&st1));
    // Kept like the counters: the agent months equal a recompute from the ledger.
    assert_eq!(
        store.agent_months_all().await.unwrap().rows(),
        store.recompute_agents().await.unwrap().rows()
    );
    crate::ledger::assert_counters_equal_ledger(&store).await;
    // The records without their villages (the counts' read) are the records, villages aside.
    use cakupan_store::agents::AgentFilter;
    let nation = cakupan_domain::RegionCode::NATION;
    let full = store
        .agent_records(AgentFilter::Within(nation))
        .await
        .unwrap();
    let brief = store
        .agent_standings(AgentFilter::Within(nation))
        .await
        .unwrap();
    assert!(full.iter().all(|r| !r.agent.villages.is_empty()));
    let without: Vec<_> = full
        .into_iter()
        .map(|mut r| {
            r.agent.villages.clear();
            r
        })
        .collect();
    assert_eq!(brief, without);
}

on_both_backends! {
    a_month_of_the_network: true,
}
