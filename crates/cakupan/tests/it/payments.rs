//! Payment rails (issue #19) through the real router on both stores: a partner added by head
//! office, its access token, inquiries, payments, retries and every refusal the issue names,
//! the status inquiry, and the ledger and counters the payment moved.

use crate::api::{App, app_on, auth, call_as};
use crate::harness;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cakupan_app::payments::snap::{self, Client, Service};
use cakupan_store::Store;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

on_both_backends! {
    a_payment_through_a_bank: true,
    a_day_reconciled: true,
    an_invoice_paid_through_a_bank: true,
    payments_at_once: true,
}

/// One RSA key pair for every test of the binary (generating one takes a moment).
pub(crate) fn key_pair() -> &'static (String, String) {
    static PAIR: OnceLock<(String, String)> = OnceLock::new();
    PAIR.get_or_init(|| snap::new_key_pair(2048).unwrap())
}

pub(crate) const SECRET: &str = "bank-satu-client-secret-0123456789abcdef";

pub(crate) fn bank() -> Client {
    Client {
        code: "BANK1".into(),
        private_key: key_pair().0.clone(),
        client_secret: SECRET.into(),
    }
}

pub(crate) fn now() -> String {
    cakupan_store::clock::now_rfc3339()
}

/// Sends a SNAP request with these headers: the status and the JSON answer.
pub(crate) async fn snap_send(
    app: &App,
    path: &str,
    headers: &[(&'static str, String)],
    body: &[u8],
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(Body::from(body.to_vec())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub(crate) fn path(s: Service) -> String {
    format!("{}{}", snap::PREFIX, s.path())
}

/// A signed transaction request with a fresh external id.
pub(crate) async fn signed(
    app: &App,
    c: &Client,
    token: &str,
    s: Service,
    body: &Value,
    external_id: &str,
) -> (StatusCode, Value) {
    let text = serde_json::to_vec_pretty(body).unwrap();
    let p = path(s);
    let h = c.transaction_headers(token, &p, &text, &now(), external_id);
    snap_send(app, &p, &h, &text).await
}

pub(crate) async fn token(app: &App, c: &Client) -> String {
    let h = c.token_headers(&now()).unwrap();
    let (s, v) = snap_send(
        app,
        &path(Service::Token),
        &h,
        br#"{"grantType":"client_credentials"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["responseCode"], "2007300");
    assert_eq!(v["expiresIn"], "900");
    v["accessToken"].as_str().unwrap().to_string()
}

pub(crate) async fn add_bank(app: &App) {
    let (s, v) = call_as(
        app,
        Some(&app.token),
        "POST",
        "/api/v1/payment-partners",
        Some(
            json!({"code": "BANK1", "name": "Bank Satu", "kind": "bank",
                   "settlement_account": "1234567890", "fee": 2500,
                   "public_key": key_pair().1, "client_secret": SECRET})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// Registers Siti (BPU) through the API: her payment code's parts.
pub(crate) async fn register_siti(app: &App) -> (String, String, String) {
    let (s, v) = call_as(
        app,
        Some(&app.token),
        "POST",
        "/api/v1/participants",
        Some(crate::api::body().to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The code as a person types it: the biller's digits and the 13-digit customer number;
    // SNAP carries the biller's id padded to 8.
    let digits = v["participant"]["payment_code"]
        .as_str()
        .unwrap()
        .to_string();
    let (biller, customer) = digits.split_at(digits.len() - 13);
    let padded = cakupan_domain::payments::padded(biller);
    (format!("{padded}{customer}"), padded, customer.to_string())
}

fn va_body(va: &(String, String, String)) -> Value {
    json!({"partnerServiceId": va.1, "customerNo": va.2, "virtualAccountNo": va.0})
}

pub(crate) async fn a_payment_through_a_bank(store: Arc<dyn Store>) {
    let app = app_on(store.clone(), &auth()).await;
    add_bank(&app).await;
    // The same partner again is a retry; bad details are named field by field.
    let (s, v) = call_as(
        &app,
        Some(&app.token),
        "POST",
        "/api/v1/payment-partners",
        Some(
            json!({"code": "bank 1", "name": "", "kind": "atm", "settlement_account": "12",
                    "fee": -1, "public_key": "no", "client_secret": "short"})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let rules: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rule"].as_str().unwrap())
        .collect();
    for r in [
        "partner.code",
        "partner.name",
        "partner.kind",
        "partner.settlement_account",
        "partner.fee",
        "partner.public_key",
        "partner.client_secret",
    ] {
        assert!(rules.contains(&r), "{r} in {v}");
    }
    let va = register_siti(&app).await;
    let c = bank();

    // ---- The access token: a wrong signature, a stale timestamp, an unknown partner.
    let mut h = c.token_headers(&now()).unwrap();
    h[2].1 = c.token_headers("2026-01-01T00:00:00+07:00").unwrap()[2]
        .1
        .clone();
    let (s, v) = snap_send(
        &app,
        &path(Service::Token),
        &h,
        br#"{"grantType":"client_credentials"}"#,
    )
    .await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("4017300")),
        "{v}"
    );
    let stale = c.token_headers("2026-01-01T00:00:00+07:00").unwrap();
    let (s, v) = snap_send(
        &app,
        &path(Service::Token),
        &stale,
        br#"{"grantType":"client_credentials"}"#,
    )
    .await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("4017300")),
        "{v}"
    );
    let stranger = Client {
        code: "BANK9".into(),
        ..bank()
    };
    let h = stranger.token_headers(&now()).unwrap();
    let (s, _) = snap_send(
        &app,
        &path(Service::Token),
        &h,
        br#"{"grantType":"client_credentials"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let token = token(&app, &c).await;

    // ---- Inquiry: what the code asks, the name masked, one bill per period.
    let mut inq = va_body(&va);
    inq["inquiryRequestId"] = json!("INQ-1");
    let (s, v) = signed(&app, &c, &token, Service::Inquiry, &inq, "1001").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["responseCode"], "2002400");
    let data = &v["virtualAccountData"];
    assert_eq!(data["virtualAccountName"], "S*** A*****");
    let one = data["totalAmount"]["value"].as_str().unwrap().to_string();
    let bills = data["billDetails"].as_array().unwrap();
    assert_eq!(bills.len(), 4, "1, 3, 6 and 12 months: {v}");
    let three = bills[1]["billAmount"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    // The same external id again the same day: a conflict.
    let (s, v) = signed(&app, &c, &token, Service::Inquiry, &inq, "1001").await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::CONFLICT, Some("4092400")),
        "{v}"
    );
    // A mistyped code names nobody.
    let mut wrong = inq.clone();
    let mut digits: Vec<char> = va.2.chars().collect();
    digits.swap(3, 4);
    if digits[3] == digits[4] {
        digits[5] = if digits[5] == '1' { '2' } else { '1' };
    }
    let typo: String = digits.into_iter().collect();
    wrong["customerNo"] = json!(typo);
    wrong["virtualAccountNo"] = json!(format!("{}{typo}", va.1));
    let (s, v) = signed(&app, &c, &token, Service::Inquiry, &wrong, "1002").await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::NOT_FOUND, Some("4042412")),
        "{v}"
    );
    // A wrong signature, a token of nobody, malformed JSON.
    let text = serde_json::to_vec(&inq).unwrap();
    let mut h = c.transaction_headers(&token, &path(Service::Inquiry), &text, &now(), "1003");
    h[2].1 = Client {
        client_secret: "another-secret-0123456789abcdef0123".into(),
        ..bank()
    }
    .transaction_headers(&token, &path(Service::Inquiry), &text, &now(), "1003")[2]
        .1
        .clone();
    let (s, v) = snap_send(&app, &path(Service::Inquiry), &h, &text).await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("4012400")),
        "{v}"
    );
    let h = c.transaction_headers(
        "BANK1.9999999999.00",
        &path(Service::Inquiry),
        &text,
        &now(),
        "1004",
    );
    let (s, v) = snap_send(&app, &path(Service::Inquiry), &h, &text).await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("4012401")),
        "{v}"
    );
    let bad = b"{\"partnerServiceId\": ";
    let h = c.transaction_headers(&token, &path(Service::Inquiry), bad, &now(), "1005");
    let (s, v) = snap_send(&app, &path(Service::Inquiry), &h, bad).await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("4002400")),
        "{v}"
    );

    // ---- Payment: an amount not due is refused with what is due; nothing is posted.
    let mut pay = va_body(&va);
    pay["paymentRequestId"] = json!("PAY-1");
    pay["paidAmount"] = json!({"value": "1000.00", "currency": "IDR"});
    pay["trxDateTime"] = json!(now());
    pay["referenceNo"] = json!("BS-778");
    let (s, v) = signed(&app, &c, &token, Service::Payment, &pay, "2001").await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::NOT_FOUND, Some("4042513")),
        "{v}"
    );
    assert!(v["responseMessage"].as_str().unwrap().contains(&one), "{v}");
    let p = store
        .participant_by_kpj(&kpj_of(&va))
        .await
        .unwrap()
        .unwrap();
    assert!(store.ledger(p.id).await.unwrap().is_empty());
    // A backdated transaction is refused: it would move money into past months.
    pay["paidAmount"] = json!({"value": three, "currency": "IDR"});
    pay["trxDateTime"] = json!("2026-11-01T10:00:00+07:00");
    let (s, v) = signed(&app, &c, &token, Service::Payment, &pay, "2010").await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("4002501")),
        "{v}"
    );
    assert!(
        v["responseMessage"]
            .as_str()
            .unwrap()
            .contains("trxDateTime"),
        "{v}"
    );
    pay["trxDateTime"] = json!(now());
    // Three months, paid.
    let (s, v) = signed(&app, &c, &token, Service::Payment, &pay, "2002").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["responseCode"], "2002500");
    let receipt = v["virtualAccountData"]["additionalInfo"]["receipt"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(receipt.starts_with("KW"), "{v}");
    assert_eq!(v["virtualAccountData"]["additionalInfo"]["months"], 3);
    // A retry after a timeout (a new external id): the first answer, nothing posted twice.
    let (s, again) = signed(&app, &c, &token, Service::Payment, &pay, "2003").await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again, v);
    let ledger = store.ledger(p.id).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].months, Some(3));
    assert_eq!(ledger[0].reference, "VA-BANK1-PAY-1");
    // The worker checks the bank's receipt like an agent's (the public receipt check).
    let (s, r) = call_as(
        &app,
        None,
        "GET",
        &format!(
            "/api/v1/receipts/{receipt}?amount={}",
            three.trim_end_matches(".00")
        ),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["status"].as_str(), r["paid_through"].as_str()),
        (Some("valid"), Some("Bank Satu")),
        "{r}"
    );
    assert_eq!(r["months"], 3);
    // The same id with another amount: inconsistent. The same external id: a conflict.
    let mut other = pay.clone();
    other["paidAmount"] = json!({"value": one, "currency": "IDR"});
    let (s, v) = signed(&app, &c, &token, Service::Payment, &other, "2004").await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::NOT_FOUND, Some("4042518")),
        "{v}"
    );
    let (s, v) = signed(&app, &c, &token, Service::Payment, &pay, "2003").await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::CONFLICT, Some("4092500")),
        "{v}"
    );
    // The amount the inquiry gave before the payment is no longer due: the code now asks for
    // the months after those paid.
    let mut late = pay.clone();
    late["paymentRequestId"] = json!("PAY-2");
    late["paidAmount"] = json!({"value": three, "currency": "IDR"});
    inq["inquiryRequestId"] = json!("INQ-2");
    let (s, v) = signed(&app, &c, &token, Service::Inquiry, &inq, "1006").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let first_after = v["virtualAccountData"]["additionalInfo"]["firstMonth"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(first_after, "2027-02", "{v}");

    // ---- Status inquiry.
    let mut st = va_body(&va);
    st["paymentRequestId"] = json!("PAY-1");
    let (s, v) = signed(&app, &c, &token, Service::Status, &st, "3001").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["virtualAccountData"]["paymentFlagStatus"], "00");
    assert_eq!(
        v["virtualAccountData"]["additionalInfo"]["receipt"],
        receipt.as_str()
    );
    st["paymentRequestId"] = json!("PAY-404");
    let (s, v) = signed(&app, &c, &token, Service::Status, &st, "3002").await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::NOT_FOUND, Some("4042601")),
        "{v}"
    );

    // ---- The counters moved as every posting moves them: they agree with a recompute.
    crate::ledger::assert_counters_equal_ledger(&store).await;
    // The day's settlement through the API: PAY-1 matches; a line for an unknown request is
    // an exception, resolved by closing it; the totals come as CSV too.
    let digits: String = va.0.chars().filter(|c| !c.is_whitespace()).collect();
    let csv = format!(
        "{}\n{},PAY-1,{digits},{}\n{},PAY-77,{digits},5\n",
        cakupan_app::payments::settlement::CSV_HEADER,
        harness::today_text(),
        three.trim_end_matches(".00"),
        harness::today_text()
    );
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/payment-partners/BANK1/settlements?format=csv")
        .header("content-type", "text/csv")
        .header("authorization", format!("Bearer {}", app.token))
        .body(Body::from(csv))
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        (v["lines"].as_u64(), v["exceptions"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    let (s, v) = call_as(
        &app,
        Some(&app.token),
        "GET",
        "/api/v1/payment-exceptions?state=open",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v[0]["kind"], "suspense", "{v}");
    let id = v[0]["id"].as_i64().unwrap();
    let (s, v) = call_as(
        &app,
        Some(&app.token),
        "POST",
        &format!("/api/v1/payment-exceptions/{id}"),
        Some(json!({"action": "close", "reason": "a test line of the bank"}).to_string()),
    )
    .await;
    assert_eq!(
        (s, v["step"].as_str()),
        (StatusCode::OK, Some("resolved")),
        "{v}"
    );
    let (s, v) = call_as(
        &app,
        Some(&app.token),
        "GET",
        &format!(
            "/api/v1/payment-totals?from={0}&to={0}&format=csv",
            harness::today_text()
        ),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v.as_str().unwrap().starts_with("day,partner,expected"),
        "{v}"
    );

    // A partner switched off gets no token.
    let (s, _) = call_as(
        &app,
        Some(&app.token),
        "POST",
        "/api/v1/payment-partners/BANK1/deactivate",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let h = c.token_headers(&now()).unwrap();
    let (s, _) = snap_send(
        &app,
        &path(Service::Token),
        &h,
        br#"{"grantType":"client_credentials"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

fn kpj_of(va: &(String, String, String)) -> String {
    va.2[1..12].to_string()
}

fn principal(
    username: &str,
    role: cakupan_domain::access::Role,
    region: &str,
) -> cakupan_domain::access::Principal {
    cakupan_domain::access::Principal {
        user_id: 0,
        username: username.into(),
        role,
        region: if region.is_empty() {
            cakupan_domain::RegionCode::NATION
        } else {
            cakupan_domain::RegionCode::parse(region).unwrap()
        },
        agent_code: None,
        nik: None,
        employer_code: None,
    }
}

fn context(store: &Arc<dyn Store>) -> cakupan_app::Context {
    cakupan_app::Context {
        store: store.clone(),
        regions: harness::regions().clone(),
        rules: harness::rules().clone(),
        today: harness::today,
        sms: None,
        auth: auth(),
    }
}

/// A settlement with one line of each kind: matched, amount differs, duplicate, missing here
/// (payable), suspense (a code nobody has), and a recorded payment missing there; imported
/// twice (nothing changes the second time); each exception resolved, the postings and
/// reversals under four eyes.
async fn a_day_reconciled(store: Arc<dyn Store>) {
    use cakupan_app::payments::{self as pay, ExceptionStep, settlement};
    use cakupan_domain::access::Role;
    let app = app_on(store.clone(), &auth()).await;
    add_bank(&app).await;
    let va = register_siti(&app).await;
    let c = bank();
    let token = token(&app, &c).await;
    let mut inq = va_body(&va);
    inq["inquiryRequestId"] = json!("INQ-1");
    let (_, v) = signed(&app, &c, &token, Service::Inquiry, &inq, "1").await;
    let one: i64 = v["virtualAccountData"]["totalAmount"]["value"]
        .as_str()
        .unwrap()
        .trim_end_matches(".00")
        .parse()
        .unwrap();
    // Two payments recorded here: PAY-1 (one month) and PAY-2 (the next month).
    for (i, id) in ["PAY-1", "PAY-2"].iter().enumerate() {
        let mut pay = va_body(&va);
        pay["paymentRequestId"] = json!(id);
        pay["paidAmount"] = json!({"value": format!("{one}.00"), "currency": "IDR"});
        pay["trxDateTime"] = json!(now());
        let (s, v) = signed(&app, &c, &token, Service::Payment, &pay, &format!("9{i}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let day = harness::today();
    let digits: String = va.0.chars().filter(|c| !c.is_whitespace()).collect();
    let l = |n: i64, id: &str, va: &str, amount: i64| cakupan_store::payments::SettlementLine {
        line_no: n,
        day,
        payment_request_id: id.into(),
        virtual_account: va.into(),
        amount: cakupan_domain::Rupiah(amount),
    };
    let lines = vec![
        l(0, "PAY-1", &digits, one),
        // PAY-2 settled for another amount, PAY-1 twice, PAY-3 (the month after PAY-2) never
        // reached us, PAY-4 names nobody.
        l(0, "PAY-2", &digits, one + 100),
        l(0, "PAY-1", &digits, one),
        l(0, "PAY-3", &digits, one),
        l(0, "PAY-4", "888991000000000000", one),
    ];
    let text = settlement::to_csv(&lines) + "2026-11-23,PAY-5,x,1\n";
    let ctx = context(&store);
    let head = principal("finance-ho", Role::Admin, "");
    let open = {
        let t = text.clone();
        move || Ok(std::io::Cursor::new(t.clone().into_bytes()))
    };
    let report = pay::import_settlement(
        &ctx,
        &head,
        "r1",
        "BANK1",
        "bank1.csv",
        settlement::Format::Csv,
        open.clone(),
    )
    .await
    .unwrap();
    assert!(!report.repeat);
    assert_eq!(report.lines, 5);
    assert_eq!(report.bad_lines.len(), 1);
    assert_eq!(report.bad_lines[0].0, 7);
    let found = pay::exceptions(&ctx, &head, Some("open")).await.unwrap();
    let kinds: std::collections::BTreeSet<&str> = found.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["amount_differs", "duplicate", "missing_here", "suspense"]
            .into_iter()
            .collect(),
        "{found:?}"
    );
    // Importing the same file again changes nothing.
    let again = pay::import_settlement(
        &ctx,
        &head,
        "r2",
        "BANK1",
        "bank1.csv",
        settlement::Format::Csv,
        open,
    )
    .await
    .unwrap();
    assert!(again.repeat);
    assert_eq!(
        pay::exceptions(&ctx, &head, None).await.unwrap().len(),
        found.len()
    );
    // Daily totals: expected two payments, settled five lines.
    let totals = pay::daily_totals(&ctx, &head, day, day).await.unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!((totals[0].expected_count, totals[0].settled_count), (2, 5));
    assert_eq!(totals[0].difference, 3 * one + 100);
    assert!(pay::totals_csv(&totals).lines().count() == 2);

    // Branch finance of Kota Bandung sees the exceptions of its payers.
    let branch = principal("finance-bdg", Role::BranchOfficer, "32.73");
    let branch2 = principal("finance-bdg-2", Role::BranchOfficer, "32.73");
    let elsewhere = principal("finance-sby", Role::BranchOfficer, "35.78");
    let mine = pay::exceptions(&ctx, &branch, Some("open")).await.unwrap();
    assert!(mine.iter().any(|e| e.kind == "missing_here"), "{mine:?}");
    assert!(
        pay::exceptions(&ctx, &elsewhere, Some("open"))
            .await
            .unwrap()
            .is_empty()
    );
    let id_of = |k: &str| found.iter().find(|e| e.kind == k).unwrap().id;
    // Missing here: posted, under four eyes.
    let missing = id_of("missing_here");
    assert!(
        pay::act_on_exception(&ctx, &branch, "r3", missing, "post", "no")
            .await
            .is_err()
    );
    assert_eq!(
        pay::act_on_exception(
            &ctx,
            &branch,
            "r3",
            missing,
            "post",
            "settled by the bank, never reached us"
        )
        .await
        .unwrap(),
        ExceptionStep::Proposed
    );
    let err = pay::approve_exception(&ctx, &branch, "r4", missing)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("four_eyes"), "{err:?}");
    assert!(
        pay::approve_exception(&ctx, &elsewhere, "r4", missing)
            .await
            .is_err()
    );
    assert_eq!(
        pay::approve_exception(&ctx, &branch2, "r4", missing)
            .await
            .unwrap(),
        ExceptionStep::Resolved
    );
    assert_eq!(
        pay::approve_exception(&ctx, &branch2, "r4", missing)
            .await
            .unwrap(),
        ExceptionStep::AlreadyResolved
    );
    let p = store
        .participant_by_kpj(&kpj_of(&va))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.ledger(p.id).await.unwrap().len(), 3);
    // Amount differs: the recorded payment reversed.
    let differs = id_of("amount_differs");
    pay::act_on_exception(
        &ctx,
        &branch,
        "r5",
        differs,
        "reverse",
        "the bank settled another amount",
    )
    .await
    .unwrap();
    pay::approve_exception(&ctx, &branch2, "r6", differs)
        .await
        .unwrap();
    let ledger = store.ledger(p.id).await.unwrap();
    assert_eq!(ledger.iter().filter(|r| r.kind == "reversal").count(), 1);
    assert!(
        store
            .channel_payment("BANK1", "PAY-2")
            .await
            .unwrap()
            .unwrap()
            .reversed
    );
    // Duplicate and suspense: closed with a reason (no money moves).
    for k in ["duplicate", "suspense"] {
        assert_eq!(
            pay::act_on_exception(
                &ctx,
                &head,
                "r7",
                id_of(k),
                "close",
                "refund asked of the bank"
            )
            .await
            .unwrap(),
            ExceptionStep::Resolved
        );
    }
    assert!(
        pay::exceptions(&ctx, &head, Some("open"))
            .await
            .unwrap()
            .is_empty()
    );

    // Missing there: a payment recorded today that the next day's settlement lacks.
    let mut pay6 = va_body(&va);
    let (_, v) = signed(&app, &c, &token, Service::Inquiry, &json!({"partnerServiceId": va.1, "customerNo": va.2, "virtualAccountNo": va.0, "inquiryRequestId": "INQ-9"}), "5").await;
    let due = v["virtualAccountData"]["totalAmount"]["value"].clone();
    pay6["paymentRequestId"] = json!("PAY-6");
    pay6["paidAmount"] = json!({"value": due, "currency": "IDR"});
    pay6["trxDateTime"] = json!(now());
    let (s, v) = signed(&app, &c, &token, Service::Payment, &pay6, "6").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let other = settlement::to_mt940("1234567890", &[l(0, "PAY-1", &digits, one)]);
    let open = move || Ok(std::io::Cursor::new(other.clone().into_bytes()));
    pay::import_settlement(
        &ctx,
        &head,
        "r8",
        "BANK1",
        "bank1.sta",
        settlement::Format::Mt940,
        open,
    )
    .await
    .unwrap();
    let there: Vec<_> = pay::exceptions(&ctx, &head, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "missing_there")
        .collect();
    assert_eq!(there.len(), 1, "{there:?}");
    assert_eq!(there[0].payment_request_id, "PAY-6");
    assert_eq!(there[0].state, "open");
    // Its line arrives late, in the next file: the exception resolves itself.
    let late = settlement::to_csv(&[l(
        0,
        "PAY-6",
        &digits,
        due.as_str()
            .unwrap()
            .trim_end_matches(".00")
            .parse()
            .unwrap(),
    )]);
    let open = move || Ok(std::io::Cursor::new(late.clone().into_bytes()));
    pay::import_settlement(
        &ctx,
        &head,
        "r9",
        "BANK1",
        "bank1-late.csv",
        settlement::Format::Csv,
        open,
    )
    .await
    .unwrap();
    let e = store.payment_exception(there[0].id).await.unwrap().unwrap();
    assert_eq!(
        (e.state.as_str(), e.reason.as_deref()),
        ("resolved", Some("settled late")),
        "{e:?}"
    );
    // The counters still agree with a recompute after postings, reversals and resolutions.
    crate::ledger::assert_counters_equal_ledger(&store).await;
}

/// The key `key` anywhere in a JSON value.
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(key).or_else(|| m.values().find_map(|x| find(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

/// An employer pays its invoice at a bank by the invoice's code: the inquiry asks what is
/// outstanding (the employer's name shown whole), a wrong amount is refused, the right one
/// settles the invoice, and the code then asks nothing.
pub(crate) async fn an_invoice_paid_through_a_bank(store: Arc<dyn Store>) {
    use crate::api::{EMPLOYER, employer_body, enrol_line};
    let app = app_on(store.clone(), &auth()).await;
    add_bank(&app).await;
    let (s, v) = call_as(
        &app,
        Some(&app.token),
        "POST",
        "/api/v1/employers",
        Some(employer_body(EMPLOYER).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = call_as(
        &app,
        Some(&app.token),
        "POST",
        &format!("/api/v1/employers/{EMPLOYER}/wage-reports"),
        Some(json!({"month": "2026-08", "lines": [enrol_line()]}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = call_as(
        &app,
        Some(&app.token),
        "GET",
        &format!("/api/v1/employers/{EMPLOYER}/invoices/2026-08"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let kode = find(&v, "payment_code")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    let id = cakupan_domain::employers::invoice_of_payment_code(&kode).unwrap();
    let biller = harness::rules().biller(harness::month("2026-11")).unwrap();
    let code = cakupan_domain::payments::VirtualAccount::of(
        biller,
        cakupan_domain::payments::Payee::Invoice(id),
    );
    let va = (
        code.number(),
        code.partner_service_id.clone(),
        code.customer_no.clone(),
    );
    let c = bank();
    let token = token(&app, &c).await;
    let mut inq = va_body(&va);
    inq["inquiryRequestId"] = json!("INQ-E1");
    let (s, v) = signed(&app, &c, &token, Service::Inquiry, &inq, "E1").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["virtualAccountData"]["virtualAccountName"],
        "PT Sinar Baja"
    );
    let due = v["virtualAccountData"]["totalAmount"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let mut pay = va_body(&va);
    pay["paymentRequestId"] = json!("PAY-E1");
    pay["paidAmount"] = json!({"value": "1000.00", "currency": "IDR"});
    pay["trxDateTime"] = json!(now());
    let (s, v) = signed(&app, &c, &token, Service::Payment, &pay, "E2").await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::NOT_FOUND, Some("4042513")),
        "{v}"
    );
    pay["paidAmount"] = json!({"value": due, "currency": "IDR"});
    let (s, v) = signed(&app, &c, &token, Service::Payment, &pay, "E3").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let account = store
        .employer_account(EMPLOYER, harness::today())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.standing.outstanding.0, 0, "{:?}", account.standing);
    assert_eq!(account.payments.len(), 1);
    assert_eq!(account.payments[0].reference, "VA-BANK1-PAY-E1");
    inq["inquiryRequestId"] = json!("INQ-E2");
    let (s, v) = signed(&app, &c, &token, Service::Inquiry, &inq, "E4").await;
    assert_eq!(
        (s, v["responseCode"].as_str()),
        (StatusCode::NOT_FOUND, Some("4042414")),
        "{v}"
    );
}

/// Payments and inquiries that arrive together are committed together (one transaction for
/// what is queued): each still gets its own answer. Two payments of the same months through
/// two request ids never both post them; a payment and its retry post once; two inquiries
/// with one external id are one answer and one conflict; a partner switched off is refused at
/// once.
async fn payments_at_once(store: Arc<dyn Store>) {
    let app = app_on(store.clone(), &auth()).await;
    add_bank(&app).await;
    let va = register_siti(&app).await;
    let c = bank();
    let token = token(&app, &c).await;
    let mut inq = va_body(&va);
    inq["inquiryRequestId"] = json!("INQ-AT-ONCE");
    let (s, v) = signed(&app, &c, &token, Service::Inquiry, &inq, "5001").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let one = v["virtualAccountData"]["totalAmount"].clone();
    let payment = |id: &str| {
        let mut pay = va_body(&va);
        pay["paymentRequestId"] = json!(id);
        pay["paidAmount"] = one.clone();
        pay["trxDateTime"] = json!(now());
        pay["referenceNo"] = json!(format!("REF-{id}"));
        pay
    };
    // Two request ids for the same month, at once.
    let (a, b) = (payment("AT-1"), payment("AT-2"));
    let ((sa, va_), (sb, vb)) = tokio::join!(
        signed(&app, &c, &token, Service::Payment, &a, "5002"),
        signed(&app, &c, &token, Service::Payment, &b, "5003"),
    );
    let p = store
        .participant_by_kpj(&kpj_of(&va))
        .await
        .unwrap()
        .unwrap();
    let ledger = store.ledger(p.id).await.unwrap();
    let paid = [sa, sb].iter().filter(|s| **s == StatusCode::OK).count();
    assert!(paid >= 1, "{va_} {vb}");
    assert_eq!(
        ledger.len(),
        paid,
        "one posting per payment answered: {va_} {vb}"
    );
    let mut months: Vec<_> = ledger.iter().map(|r| r.first_month).collect();
    months.dedup();
    assert_eq!(months.len(), paid, "no month paid twice: {ledger:?}");
    for (s, v) in [(sa, &va_), (sb, &vb)] {
        if s != StatusCode::OK {
            assert_eq!(v["responseCode"], "4042513", "{v}");
        }
    }
    // A payment and its retry (a new external id), at once: posted once, one answer.
    let (sc, vc) = {
        let mut pay = payment("AT-3");
        let (s, v) = signed(&app, &c, &token, Service::Inquiry, &inq, "5004").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        pay["paidAmount"] = v["virtualAccountData"]["totalAmount"].clone();
        let ((s1, v1), (s2, v2)) = tokio::join!(
            signed(&app, &c, &token, Service::Payment, &pay, "5005"),
            signed(&app, &c, &token, Service::Payment, &pay, "5006"),
        );
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{v1} {v2}");
        assert_eq!(v1, v2);
        (s1, v1)
    };
    assert_eq!(sc, StatusCode::OK);
    assert_eq!(store.ledger(p.id).await.unwrap().len(), paid + 1, "{vc}");
    // Two inquiries with one external id, at once: one answer, one conflict.
    let ((s1, _), (s2, _)) = tokio::join!(
        signed(&app, &c, &token, Service::Inquiry, &inq, "5007"),
        signed(&app, &c, &token, Service::Inquiry, &inq, "5007"),
    );
    let mut got = [s1, s2];
    got.sort();
    assert_eq!(got, [StatusCode::OK, StatusCode::CONFLICT]);
    // The counters agree with a recompute.
    crate::ledger::assert_counters_equal_ledger(&store).await;
    // Switched off, the partner is refused at once, though its token has not run out.
    let (s, _) = call_as(
        &app,
        Some(&app.token),
        "POST",
        "/api/v1/payment-partners/BANK1/deactivate",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = signed(&app, &c, &token, Service::Inquiry, &inq, "5008").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
}
