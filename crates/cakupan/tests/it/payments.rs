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

async fn a_payment_through_a_bank(store: Arc<dyn Store>) {
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
    // Three months, paid.
    pay["paidAmount"] = json!({"value": three, "currency": "IDR"});
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
    let recomputed = store.recompute(harness::rules()).await.unwrap();
    let mut stored = std::collections::HashMap::new();
    for (r, _, s, m, v) in store.counters().await.unwrap() {
        stored.insert((r, s, m), v);
    }
    for (r, _, s, m, v) in recomputed.rows() {
        assert_eq!(stored.get(&(r.clone(), s, m)), Some(&v), "{r} {s} {m}");
    }
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
