//! Workers enrolling themselves (issue #20), through the API on real stores, with every code
//! read from what Kannel on loopback actually carried (`scripts/kannel.sh`): registration with a
//! code, a double submit, signing in with a code (the same answer for an unknown NIK), the card
//! and its public check, a phone change confirmed on both numbers, the funnel, the branch's
//! review of NIK warnings, the per-phone limit, delivery reports, and a gateway that is down.

use crate::api::{App, app_on, auth, call_as, user};
use crate::harness::{self, Kannel};
use axum::http::StatusCode;
use cakupan_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;

on_both_backends!(
    self_registration_end_to_end: true,
    codes_are_limited_and_a_down_gateway_stores_nothing: true,
    the_funnel_counts_paid_self_registrations_by_area: true,
);

/// The funnel's paid self-registrations of an area are those of its villages only (issue #22:
/// read as a range of the area's villages).
async fn the_funnel_counts_paid_self_registrations_by_area(store: Arc<dyn Store>) {
    let app = app_on(store.clone(), &auth()).await;
    for (nik, village) in [
        ("3273015203900003", "32.73.01.1001"),
        ("3301015203900004", "33.01.01.2001"),
    ] {
        register_self(&app, nik, village, "2026-11-02").await;
        pay_bpu(&app, &format!("F-{}", &nik[12..]), nik, "2026-11").await;
    }
    let paid = |code: &str| {
        let store = store.clone();
        let code = if code.is_empty() {
            cakupan_domain::RegionCode::NATION
        } else {
            cakupan_domain::RegionCode::parse(code).unwrap()
        };
        async move {
            store
                .funnel(
                    code,
                    time::macros::date!(2026 - 11 - 01),
                    time::macros::date!(2026 - 11 - 08),
                )
                .await
                .unwrap()
                .iter()
                .map(|w| w.paid)
                .sum::<u64>()
        }
    };
    assert_eq!(paid("32.73.01.1001").await, 1);
    assert_eq!(paid("32.73").await, 1);
    assert_eq!(paid("32").await, 1);
    assert_eq!(paid("33.01.01").await, 1);
    assert_eq!(paid("32.73.01.1002").await, 0);
    assert_eq!(paid("").await, 2);
}

/// Self-registrations on days whose ISO week is of another year than the day (29 Dec 2025 is
/// in 2026-W01, 3 Jan 2021 in 2020-W53) and an ordinary one, each paid for November 2026; the
/// first of them paid twice.
async fn pay_self_registrations(store: &Arc<dyn Store>) {
    let app = app_on(store.clone(), &auth()).await;
    for (i, (nik, day)) in [
        ("3273015203900003", "2025-12-29"),
        ("3273015203900011", "2021-01-03"),
        ("3273015203900029", "2026-11-02"),
    ]
    .into_iter()
    .enumerate()
    {
        register_self(&app, nik, "32.73.01.1001", day).await;
        pay_bpu(&app, &format!("B-{i}"), nik, "2026-11").await;
        if i == 0 {
            pay_bpu(&app, "C-0", nik, "2026-12").await;
        }
    }
}

/// A self-registration in `village` on `day`, stored through the API.
async fn register_self(app: &App, nik: &str, village: &str, day: &str) {
    let mut b = crate::api::body();
    b["nik"] = json!(nik);
    b["village_code"] = json!(village);
    b["channel"] = json!("self");
    b["agent_code"] = json!("");
    b["registered_on"] = json!(day);
    let (s, v) = call_as(
        app,
        Some(&app.token),
        "POST",
        "/api/v1/participants",
        Some(b.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// One month of BPU contributions (Rp8,400 with the PP 50/2025 discount) paid at a bank.
async fn pay_bpu(app: &App, reference: &str, nik: &str, month: &str) {
    let pay = json!({"kind": "contribution", "reference": reference, "nik": nik,
        "segment": "BPU", "first_month": month, "months": 1, "amount": 8400, "channel": "bank",
        "paid_on": "2026-11-03"});
    let (s, v) = call_as(
        app,
        Some(&app.token),
        "POST",
        "/api/v1/postings",
        Some(pay.to_string()),
    )
    .await;
    assert!(s.is_success(), "{v}");
}

/// Every week's funnel of the nation since 2020, `paid` alone.
async fn paid_weeks(store: &Arc<dyn Store>) -> Vec<(String, u64)> {
    store
        .funnel(
            cakupan_domain::RegionCode::NATION,
            time::macros::date!(2020 - 12 - 28),
            time::macros::date!(2026 - 11 - 23),
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|w| w.paid > 0)
        .map(|w| (w.week, w.paid))
        .collect()
}

/// The `INSERT` that fills the `paid` counter in a migration file.
fn backfill(migration: &'static str) -> &'static str {
    let at = migration
        .find("INSERT INTO enrolment_funnel (week, village_code, stage, n)\nSELECT")
        .unwrap();
    let end = migration[at..].find(';').unwrap();
    &migration[at..at + end]
}

/// Issue #22: the `paid` stage is a counter the posting flows keep (a self-registration
/// counted once, under its registration's ISO week, however often it pays), and the
/// migration that made it one fills it as the flows would: its statement, run again over the
/// flows' counter, gives the same weeks (year ends included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_paid_stage_is_counted_as_the_migration_fills_it() {
    let expected = vec![
        ("2020-W53".to_string(), 1),
        ("2026-W01".to_string(), 1),
        ("2026-W45".to_string(), 1),
    ];
    let db = crate::harness::sqlite(true).await;
    pay_self_registrations(&db.store).await;
    assert_eq!(paid_weeks(&db.store).await, expected);
    let pool = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    sqlx::query("DELETE FROM enrolment_funnel WHERE stage = 'paid'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(paid_weeks(&db.store).await.is_empty());
    sqlx::query(backfill(include_str!(
        "../../../cakupan-store-sqlite/migrations/0025_funnel_paid.sql"
    )))
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(paid_weeks(&db.store).await, expected);
    pool.close().await;
    db.finish().await;
    let Some(db) =
        crate::harness::postgres("the_paid_stage_is_counted_as_the_migration_fills_it", true).await
    else {
        return;
    };
    pay_self_registrations(&db.store).await;
    assert_eq!(paid_weeks(&db.store).await, expected);
    let pool = sqlx::PgPool::connect(&db.url()).await.unwrap();
    sqlx::query("DELETE FROM enrolment_funnel WHERE stage = 'paid'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(backfill(include_str!(
        "../../../cakupan-store-postgres/migrations/0027_funnel_paid.sql"
    )))
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(paid_weeks(&db.store).await, expected);
    pool.close().await;
    db.finish().await;
}

/// A worker's registration body: Siti, born 12 March 1990, whose NIK says so.
fn worker(phone: &str) -> Value {
    json!({
        "nik": "3273015203900003",
        "name": "Siti Aminah",
        "birth_date": "1990-03-12",
        "sex": "P",
        "phone": phone,
        "village_code": "32.73.01.1001",
        "occupation_code": "84.1",
        "income_base": "1000000",
        "consent": true
    })
}

async fn ask(app: &App, k: &Kannel, body: &Value, phone: &str) -> (String, String) {
    let before = k.texts_to(phone).len();
    let (s, v) = call_as(
        app,
        None,
        "POST",
        "/api/v1/enrolment/code",
        Some(body.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let text = k.next_text(phone, before).await;
    assert!(text.contains("JANGAN"), "{text}");
    (
        v["key"].as_str().unwrap().to_string(),
        Kannel::code_in(&text),
    )
}

async fn self_registration_end_to_end(store: Arc<dyn Store>) {
    let Some(k) = harness::kannel() else { return };
    let auth = auth();
    let app = app_on(store.clone(), &auth).await;
    let phone = harness::fresh_phone();
    let people = store.count_participants().await.unwrap();

    // Without consent, or with a field wrong, nothing is sent and nothing stored.
    let mut no_consent = worker(&phone);
    no_consent["consent"] = json!(false);
    let (s, v) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/enrolment/code",
        Some(no_consent.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "consent");
    let mut bad = worker(&phone);
    bad["village_code"] = json!("32.73.01");
    bad["name"] = json!("");
    let (s, v) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/enrolment/code",
        Some(bad.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"name") && fields.contains(&"village_code"),
        "{v}"
    );
    assert!(k.texts_to(&phone).is_empty(), "a refused form sent an SMS");

    // The code the gateway carried registers the worker; a wrong one does not.
    let body = worker(&phone);
    let (key, code) = ask(&app, &k, &body, &phone).await;
    assert_eq!(code.len(), 6);
    let mut wrong = body.clone();
    wrong["key"] = json!(key);
    wrong["code"] = json!(if code == "000000" { "111111" } else { "000000" });
    let (s, v) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/enrolment",
        Some(wrong.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["rule"], "code.wrong");
    assert_eq!(store.count_participants().await.unwrap(), people);
    let mut right = body.clone();
    right["key"] = json!(key);
    right["code"] = json!(code);
    let (s, v) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/enrolment",
        Some(right.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let kpj = v["kpj"].as_str().unwrap().to_string();
    let token = v["session"]["token"].as_str().unwrap().to_string();
    assert_eq!(v["session"]["role"], "participant");
    let code_digits = v["payment_code"].as_str().unwrap();
    assert!(
        code_digits.len() >= 16 && code_digits.bytes().all(|b| b.is_ascii_digit()),
        "{v}"
    );
    // The same form again (a double submit) registers once.
    let (s, again) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/enrolment",
        Some(right.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["kpj"], kpj.as_str());
    assert_eq!(store.count_participants().await.unwrap(), people + 1);
    let p = store.participant_by_kpj(&kpj).await.unwrap().unwrap();
    assert_eq!(p.registration.channel, cakupan_domain::Channel::SelfService);
    assert_eq!(
        p.registration.phone.as_deref(),
        cakupan_domain::phone::normalise_phone(&phone)
            .ok()
            .as_deref()
    );

    // The card, and its public link for anyone: the masked name and the protection only.
    let (s, cards) = call_as(&app, Some(&token), "GET", "/api/v1/me/card", None).await;
    assert_eq!(s, StatusCode::OK, "{cards}");
    assert_eq!(cards[0]["kpj"], kpj.as_str());
    assert!(cards[0]["protected_until"].is_null());
    let link = cards[0]["public_link"].as_str().unwrap().to_string();
    let token_part = link.trim_start_matches("/kartu/");
    let (s, public) = call_as(
        &app,
        None,
        "GET",
        &format!("/api/v1/cards/{token_part}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{public}");
    assert_eq!(public["masked_name"], "S*** A*****");
    assert_eq!(public.as_object().unwrap().len(), 3, "{public}");
    let forged = format!("{}0", &token_part[..token_part.len() - 1]);
    let (s, _) = call_as(&app, None, "GET", &format!("/api/v1/cards/{forged}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Signing in again with a code to the phone on record, by KPJ.
    let before = k.texts_to(&phone).len();
    let (s, asked) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/sessions/code",
        Some(json!({"nik_or_kpj": kpj}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{asked}");
    let code = Kannel::code_in(&k.next_text(&phone, before).await);
    // An unregistered NIK gets the same answer, and a code for it counts down the same way.
    let (s, unknown) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/sessions/code",
        Some(json!({"nik_or_kpj": "3273014101950001"}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(unknown["message"], asked["message"]);
    assert_eq!(
        unknown["key"].as_str().unwrap().len(),
        asked["key"].as_str().unwrap().len()
    );
    let (s, v) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/sessions/code/verify",
        Some(
            json!({"nik_or_kpj": "3273014101950001", "key": unknown["key"], "code": "123456"})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["rule"], "code.wrong", "{v}");
    let verify = json!({"nik_or_kpj": kpj, "key": asked["key"], "code": code}).to_string();
    let (s, session) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/sessions/code/verify",
        Some(verify.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    let token = session["token"].as_str().unwrap().to_string();
    // A sign-in code opens one session.
    let (s, v) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/sessions/code/verify",
        Some(verify),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Changing the phone: a code to each number, both needed.
    let new_phone = harness::fresh_phone();
    let (old_before, new_before) = (k.texts_to(&phone).len(), k.texts_to(&new_phone).len());
    let (s, keys) = call_as(
        &app,
        Some(&token),
        "POST",
        "/api/v1/me/phone/code",
        Some(json!({"new_phone": new_phone}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{keys}");
    let code_old = Kannel::code_in(&k.next_text(&phone, old_before).await);
    let code_new = Kannel::code_in(&k.next_text(&new_phone, new_before).await);
    let change = |old: &str| {
        json!({"new_phone": new_phone, "key_old": keys["key_old"], "code_old": old, "key_new": keys["key_new"], "code_new": code_new}).to_string()
    };
    let (s, v) = call_as(
        &app,
        Some(&token),
        "POST",
        "/api/v1/me/phone",
        Some(change(&code_new)),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the new number's code stood for the old one: {v}"
    );
    assert_eq!(v["errors"][0]["field"], "code_old");
    let (s, v) = call_as(
        &app,
        Some(&token),
        "POST",
        "/api/v1/me/phone",
        Some(change(&code_old)),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, data) = call_as(&app, Some(&token), "GET", "/api/v1/me/data", None).await;
    assert_eq!(
        data["participations"][0]["phone"],
        cakupan_domain::phone::normalise_phone(&new_phone).unwrap()
    );

    // A second registration of the same NIK leads to sign-in, telling nothing of the first.
    let third = harness::fresh_phone();
    let mut again = worker(&third);
    again["name"] = json!("Siti Aminah Binti Ahmad");
    let (key, code) = ask(&app, &k, &again, &third).await;
    again["key"] = json!(key);
    again["code"] = json!(code);
    let (s, v) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/enrolment",
        Some(again.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "sign_in_instead");
    assert!(!v.to_string().contains(&kpj));
    assert_eq!(store.count_participants().await.unwrap(), people + 1);

    // A NIK an employer registered (PU) cannot be taken over with another phone: sign in instead,
    // and no BPU participation is made for it.
    let mut pu = harness::input("3273014506850002");
    pu.segment = "PU".into();
    pu.channel = "employer".into();
    pu.birth_date = "1985-06-05".into();
    pu.income_base = "4000000".into();
    pu.programs = "JKK+JKM+JHT+JP".into();
    pu.registered_on = harness::today_text();
    store
        .register(harness::rules(), &harness::reg(&pu))
        .await
        .unwrap();
    let fifth = harness::fresh_phone();
    let mut takeover = worker(&fifth);
    takeover["nik"] = json!("3273014506850002");
    takeover["birth_date"] = json!("1985-06-05");
    let (key, code) = ask(&app, &k, &takeover, &fifth).await;
    takeover["key"] = json!(key);
    takeover["code"] = json!(code);
    let before = store.count_participants().await.unwrap();
    let (s, v) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/enrolment",
        Some(takeover.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "sign_in_instead");
    assert_eq!(store.count_participants().await.unwrap(), before);

    // A registration whose NIK disagrees with the sex typed goes to the branch's review queue.
    let fourth = harness::fresh_phone();
    let mut flagged = worker(&fourth);
    flagged["nik"] = json!("3273011203900004");
    let (key, code) = ask(&app, &k, &flagged, &fourth).await;
    flagged["key"] = json!(key);
    flagged["code"] = json!(code);
    let (s, v) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/enrolment",
        Some(flagged.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().unwrap();
    let branch = user(
        &app,
        &auth,
        "cabang",
        "branch_officer",
        Some("32.73"),
        None,
        None,
    )
    .await;
    let (s, queue) = call_as(&app, Some(&branch), "GET", "/api/v1/reviews", None).await;
    assert_eq!(s, StatusCode::OK, "{queue}");
    let row = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["participant_id"] == id)
        .expect("in the queue");
    assert!(
        row["warnings"].to_string().contains("nik.sex_mismatch"),
        "{row}"
    );
    assert_eq!(row["channel"], "self");
    let (s, _) = call_as(
        &app,
        Some(&branch),
        "POST",
        &format!("/api/v1/reviews/{id}"),
        Some("{}".into()),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, queue) = call_as(&app, Some(&branch), "GET", "/api/v1/reviews", None).await;
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["participant_id"] != id)
    );
    let (s, _) = call_as(&app, Some(&token), "GET", "/api/v1/reviews", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A phone change is a participant's own: a branch officer has none.
    let (s, _) = call_as(
        &app,
        Some(&branch),
        "POST",
        "/api/v1/me/phone/code",
        Some(json!({"new_phone": "081311112222"}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The funnel of this week: codes sent, phones verified, registrations.
    let (s, funnel) = call_as(
        &app,
        Some(&app.token),
        "GET",
        "/api/v1/enrolment/funnel?region=32",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{funnel}");
    let week = cakupan_domain::enrolment::week_of(harness::today());
    let w = funnel
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["week"] == week.as_str())
        .expect("this week");
    assert_eq!(w["started"], 4, "{w}");
    assert_eq!(w["verified"], 4, "{w}");
    assert_eq!(w["registered"], 2, "{w}");

    // The village search finds a name among 83,762 with where it lies.
    let (s, found) = call_as(&app, None, "GET", "/api/v1/villages?q=sukamaju", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(found.as_array().unwrap().len() > 1);
    assert!(found[0]["regency"].as_str().is_some_and(|r| !r.is_empty()));
}

async fn codes_are_limited_and_a_down_gateway_stores_nothing(store: Arc<dyn Store>) {
    let Some(k) = harness::kannel() else { return };
    let app = app_on(store.clone(), &auth()).await;
    let phone = harness::fresh_phone();
    let body = worker(&phone);
    let limit = harness::rules().enrolment[0].otp_per_phone_per_hour as usize;
    for _ in 0..limit {
        ask(&app, &k, &body, &phone).await;
    }
    let (s, v) = call_as(
        &app,
        None,
        "POST",
        "/api/v1/enrolment/code",
        Some(body.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(k.texts_to(&phone).len(), limit);

    // A gateway nobody answers: a clear 503, nothing registered, and a retry possible later.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = cakupan_server::AppState {
        store: store.clone(),
        regions: harness::regions().clone(),
        rules: harness::rules().clone(),
        today: harness::today,
        sms: Some(Arc::new(cakupan_app::sms::Gateway {
            url: format!("http://127.0.0.1:{port}/cgi-bin/sendsms"),
            ..k.gateway.clone()
        })),
        auth: auth(),
    };
    let down_app = App {
        router: cakupan_server::router(down),
        token: String::new(),
        store: store.clone(),
    };
    let other = harness::fresh_phone();
    let people = store.count_participants().await.unwrap();
    let (s, v) = call_as(
        &down_app,
        None,
        "POST",
        "/api/v1/enrolment/code",
        Some(worker(&other).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("nothing was stored"),
        "{v}"
    );
    assert_eq!(store.count_participants().await.unwrap(), people);

    // Delivery reports: Kannel calls this server back; a forged report changes nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let st = cakupan_app::Context {
        store: store.clone(),
        regions: harness::regions().clone(),
        rules: harness::rules().clone(),
        today: harness::today,
        sms: Some(Arc::new(cakupan_app::sms::Gateway {
            report_base: Some(format!("http://{addr}")),
            ..k.gateway.clone()
        })),
        auth: auth(),
    };
    let server = tokio::spawn(cakupan_server::serve(listener, st.clone()));
    let id = cakupan_app::sms::send(&st, "test", &other, "Tes laporan kiriman")
        .await
        .unwrap();
    let mut status = None;
    for _ in 0..200 {
        status = store.sms_status(id).await.unwrap();
        if status.as_deref() == Some("delivered") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status.as_deref(), Some("delivered"));
    let (s, _) = call_as(
        &app,
        None,
        "GET",
        &format!("/api/v1/sms/{id}/report?tag=00&status=2"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        store.sms_status(id).await.unwrap().as_deref(),
        Some("delivered")
    );
    server.abort();
}
