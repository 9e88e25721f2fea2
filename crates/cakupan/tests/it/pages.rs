//! The pages (issue #5) through the real router on real stores: sign-in with its own CSRF
//! token, who may open which page, registration and payment through the forms (and the counts
//! they change), messages in both languages, small-cell suppression and the CSV download.
//! The same flows in a real Chromium are in tests/browser (run by scripts/test.sh).

use crate::api::{App, app_on, auth, body, call_as, user};
use crate::harness;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cakupan_store::Store;
use http_body_util::BodyExt;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use tower::ServiceExt;

/// A browser of sorts: keeps cookies, sends forms.
pub(crate) struct Browser<'a> {
    app: &'a App,
    cookies: BTreeMap<String, String>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) location: Option<String>,
    headers: axum::http::HeaderMap,
    pub(crate) body: String,
}

impl Page {
    /// The `value` of the first input named `name`.
    fn input(&self, name: &str) -> String {
        let key = format!(r#"name="{name}""#);
        let Some(at) = self.body.find(&key) else {
            return String::new();
        };
        let end = self.body[at..]
            .find('>')
            .map(|e| at + e)
            .unwrap_or(self.body.len());
        let tag = &self.body[at..end];
        tag.find(r#"value=""#)
            .map(|v| v + 7)
            .and_then(|v| tag[v..].find('"').map(|e| tag[v..v + e].to_string()))
            .unwrap_or_default()
    }

    /// The text of the element with this `data-testid`.
    fn testid(&self, id: &str) -> String {
        let key = format!(r#"data-testid="{id}">"#);
        let start = self.body.find(&key).map(|i| i + key.len());
        start
            .and_then(|s| {
                self.body[s..]
                    .find('<')
                    .map(|e| self.body[s..s + e].to_string())
            })
            .unwrap_or_default()
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Browser {
            app,
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, method: &str, uri: &str, form: Option<&[(&str, &str)]>) -> Page {
        self.send_with(method, uri, form, &[]).await
    }

    async fn send_with(
        &mut self,
        method: &str,
        uri: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> Page {
        let raw = form.map(|fields| {
            let pairs: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            (
                "application/x-www-form-urlencoded".to_string(),
                pairs.join("&"),
            )
        });
        self.send_raw(method, uri, raw, headers).await
    }

    /// A `multipart/form-data` form (file uploads).
    async fn multipart(&mut self, uri: &str, fields: &[(&str, &str)]) -> Page {
        let boundary = "cakupan-test-boundary-7d1f";
        let mut body = String::new();
        for (k, v) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        self.send_raw(
            "POST",
            uri,
            Some((format!("multipart/form-data; boundary={boundary}"), body)),
            &[],
        )
        .await
    }

    pub(crate) async fn send_raw(
        &mut self,
        method: &str,
        uri: &str,
        raw: Option<(String, String)>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header("cookie", c.join("; "));
        }
        let body = match raw {
            Some((kind, text)) => {
                req = req.header("content-type", kind);
                Body::from(text)
            }
            None => Body::empty(),
        };
        let resp = self
            .app
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if v.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        let location = headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub(crate) async fn get(&mut self, uri: &str) -> Page {
        self.send("GET", uri, None).await
    }

    async fn post(&mut self, uri: &str, form: &[(&str, &str)]) -> Page {
        self.send("POST", uri, Some(form)).await
    }

    /// Signs in through the form (with the form's own token).
    pub(crate) async fn sign_in(&mut self, username: &str) -> Page {
        let form = self.get("/login").await;
        let token = form.input("form_token");
        assert_eq!(token.len(), 64, "{}", form.body);
        let password = format!("{username}-password-123");
        // Accounts with a second factor take a recovery code here (an account without one
        // ignores the field).
        let code = crate::api::next_recovery_code(username);
        self.post(
            "/login",
            &[
                ("username", username),
                ("password", &password),
                ("totp", &code),
                ("form_token", &token),
                ("next", "/"),
            ],
        )
        .await
    }

    fn csrf(&self) -> String {
        cakupan_server::auth::csrf_token(&self.cookies["cakupan_session"])
    }
}

fn refs<'a>(fields: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Everyone the tests sign in as, and two participants: P1 enrolled by agent PRS-32-0001 in
/// Bandung (32.73.01.1001), P2 in Cilacap (33.01.01.2001).
pub(crate) async fn people(app: &App) -> (i64, i64) {
    let a = auth();
    for (name, role, region, agent, nik) in [
        ("ana", "analyst", None, None, None),
        ("bandung", "branch_officer", Some("32.73"), None, None),
        ("agen", "agent", Some("32.73.01"), Some("PRS-32-0001"), None),
        (
            "lurah",
            "village_official",
            Some("32.73.01.1001"),
            None,
            None,
        ),
        ("siti", "participant", None, None, Some("3273015203900003")),
    ] {
        user(app, &a, name, role, region, agent, nik).await;
    }
    let token = app.token.clone();
    let (s, v) = call_as(
        app,
        Some(&token),
        "POST",
        "/api/v1/participants",
        Some(body().to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let p1 = v["participant"]["id"].as_i64().unwrap();
    let mut b2 = body();
    b2["nik"] = json!("3301015203900004");
    b2["village_code"] = json!("33.01.01.2001");
    b2["channel"] = json!("self");
    b2["agent_code"] = json!("");
    let (s, v) = call_as(
        app,
        Some(&token),
        "POST",
        "/api/v1/participants",
        Some(b2.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (p1, v["participant"]["id"].as_i64().unwrap())
}

/// Agent PRS-32-0001 of the Koperasi Braga office in Bandung, serving P1's village from
/// `appointed`, registered as a participant themselves.
pub(crate) async fn perisai_agent(app: &App, appointed: &str) {
    let t = app.token.clone();
    let post = |uri: &str, b: serde_json::Value| {
        let (t, uri) = (t.clone(), uri.to_string());
        async move { call_as(app, Some(&t), "POST", &uri, Some(b.to_string())).await }
    };
    let (s, v) = post(
        "/api/v1/offices",
        json!({"code": "KP-32-0001", "name": "Koperasi Braga", "kind": "cooperative",
               "region": "32.73.01", "agreement_from": "2026-01-01"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut own = body();
    own["nik"] = json!("3273016508800001");
    own["channel"] = json!("self");
    own["agent_code"] = json!("");
    own["occupation_code"] = json!("84");
    let (s, v) = post("/api/v1/participants", own).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = post(
        "/api/v1/agents",
        json!({"code": "PRS-32-0001", "office_code": "KP-32-0001", "nik": "3273016508800001",
               "villages": ["32.73.01.1001"], "appointed": appointed}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// Who may open which page: the same decision as the API, as pages.
async fn pages_follow_the_access_matrix(store: Arc<dyn Store>) {
    let app = app_on(store, &auth()).await;
    let (p1, p2) = people(&app).await;
    // Visitors: a public landing page; everything else sends them to sign in.
    let mut visitor = Browser::new(&app);
    let landing = visitor.get("/").await;
    assert_eq!(landing.status, StatusCode::OK);
    assert!(
        landing.body.contains("83.762 desa/kelurahan"),
        "{}",
        landing.body
    );
    assert!(
        landing.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let to_login = visitor.get("/wilayah/32").await;
    assert_eq!(
        (to_login.status, to_login.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/login?next=/wilayah/32"))
    );
    // (page, roles that may open it)
    let p1_page = format!("/peserta/{p1}");
    let p2_page = format!("/peserta/{p2}");
    let pay_p1 = format!("/peserta/{p1}/bayar");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("/pengguna", vec!["admin"]),
        ("/wilayah", vec!["admin", "ana"]),
        ("/wilayah/32", vec!["admin", "ana"]),
        ("/wilayah/32.73", vec!["admin", "ana", "bandung"]),
        ("/wilayah/32.73.01", vec!["admin", "ana", "bandung", "agen"]),
        (
            "/wilayah/32.73.01.1001",
            vec!["admin", "ana", "bandung", "agen", "lurah"],
        ),
        ("/wilayah/33.01", vec!["admin", "ana"]),
        ("/peserta", vec!["admin", "bandung", "agen"]),
        ("/peserta/baru", vec!["admin", "bandung", "agen"]),
        // P1's own page is open to her too (her own record).
        (&p1_page, vec!["admin", "bandung", "agen", "siti"]),
        (&p2_page, vec!["admin"]),
        (&pay_p1, vec!["admin", "bandung", "agen"]),
        ("/saya", vec!["siti"]),
        (
            "/pengingat",
            vec!["admin", "ana", "bandung", "agen", "lurah"],
        ),
        ("/pengingat/balasan", vec!["admin", "bandung"]),
        (
            "/tentang",
            vec!["admin", "ana", "bandung", "agen", "lurah", "siti"],
        ),
        // The region search answers every signed-in officer within their own area.
        (
            "/wilayah/cari?q=sukasari",
            vec!["admin", "ana", "bandung", "agen", "lurah", "siti"],
        ),
    ];
    for who in ["admin", "ana", "bandung", "agen", "lurah", "siti"] {
        let mut b = Browser::new(&app);
        let signed = b.sign_in(who).await;
        assert_eq!(
            signed.status,
            StatusCode::SEE_OTHER,
            "{who}: {}",
            signed.body
        );
        let home = b.get("/").await;
        if who == "agen" {
            // An agent starts on their worklist (issue #22).
            assert_eq!(home.location.as_deref(), Some("/agen/PRS-32-0001"));
        } else if who == "siti" {
            assert_eq!(home.location.as_deref(), Some("/saya"));
            // The worker's own page carries the code to pay with (issue #19).
            let mine = b.get("/saya").await;
            assert!(
                mine.body.contains("data-testid=\"payment-code\""),
                "{}",
                mine.body
            );
        } else {
            assert_eq!(home.status, StatusCode::OK, "{who}: {}", home.body);
            assert!(home.body.contains("data-testid=\"kpi-active\""));
        }
        for (path, allowed) in &cases {
            let p = b.get(path).await;
            if allowed.contains(&who) {
                assert_eq!(p.status, StatusCode::OK, "{who} {path}: {}", p.body);
            } else {
                assert!(
                    p.status == StatusCode::FORBIDDEN || p.status == StatusCode::NOT_FOUND,
                    "{who} {path}: expected refused, got {}",
                    p.status
                );
                // A refused participant page reads like one that does not exist.
                if path.starts_with("/peserta/") && path.len() > 9 && !path.ends_with("baru") {
                    assert_eq!(p.status, StatusCode::NOT_FOUND, "{who} {path}");
                }
            }
        }
    }
    // Reading a participant's page is audited.
    let audit = app.store.audit_log().await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.entry.action == "participant.read" && r.entry.actor == "agen")
    );
}

/// Sign-in: the form's own token is required (login CSRF), wrong passwords and lockouts show
/// the form again, `next` only leads to our own paths.
async fn sign_in_and_out(store: Arc<dyn Store>) {
    let app = app_on(store, &auth()).await;
    people(&app).await;
    let mut b = Browser::new(&app);
    // A form posted without the token that came with it (another site's form) is refused.
    let forged = b
        .post(
            "/login",
            &[
                ("username", "bandung"),
                ("password", "bandung-password-123"),
                ("form_token", "0000"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("cakupan_session"));
    let form = b.get("/login?next=//evil.example").await;
    assert!(
        form.body.contains(r#"name="next" value="/""#),
        "no open redirect"
    );
    let token = form.input("form_token");
    let wrong = b
        .post(
            "/login",
            &[
                ("username", "bandung"),
                ("password", "nope"),
                ("form_token", &token),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Nama pengguna atau kata sandi salah"));
    // A reset password (issue 17, item 8): signed in, every page sends to the password change
    // until it is changed; the form explains refusals in the reader's language.
    let bandung = app
        .store
        .user_by_username("bandung")
        .await
        .unwrap()
        .unwrap();
    let old_hash = bandung.password_hash.clone();
    app.store
        .set_password(bandung.id, &old_hash, true)
        .await
        .unwrap();
    let forced = b.sign_in("bandung").await;
    assert_eq!(forced.location.as_deref(), Some("/akun/sandi"));
    assert_eq!(
        b.get("/wilayah/32.73").await.location.as_deref(),
        Some("/akun/sandi")
    );
    let form = b.get("/akun/sandi").await;
    assert!(!form.testid("password-forced").is_empty(), "{}", form.body);
    let csrf = b.csrf();
    let weak = b
        .post(
            "/akun/sandi",
            &[
                ("csrf", &csrf),
                ("current_password", "bandung-password-123"),
                ("new_password", "password1234"),
                ("new_password_again", "password1234"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.body.contains("paling umum"), "{}", weak.body);
    let changed = b
        .post(
            "/akun/sandi",
            &[
                ("csrf", &csrf),
                ("current_password", "bandung-password-123"),
                ("new_password", "sawah hijau di pagi hari"),
                ("new_password_again", "sawah hijau di pagi hari"),
            ],
        )
        .await;
    assert_eq!(changed.location.as_deref(), Some("/akun/sandi?ok=1"));
    assert_eq!(b.get("/wilayah/32.73").await.status, StatusCode::OK);
    // Back to the test's own password for what follows.
    app.store
        .set_password(bandung.id, &old_hash, false)
        .await
        .unwrap();
    let ok = b.sign_in("bandung").await;
    assert_eq!(ok.location.as_deref(), Some("/"));
    assert!(b.cookies.contains_key("cakupan_session"));
    let home = b.get("/").await;
    assert!(home.body.contains("Kota Bandung"), "the branch's own area");
    // English on request, remembered.
    let en = b.get("/?lang=en").await;
    assert!(en.body.contains("Active participants"));
    assert!(b.get("/").await.body.contains("Active participants"));
    // Signing out needs the page's token.
    let refused = b.post("/logout", &[("csrf", "x")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let csrf = b.csrf();
    let out = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.location.as_deref(), Some("/login"));
    let log = app.store.audit_log().await.unwrap();
    assert_eq!(
        log.last().map(|r| r.entry.action.as_str()),
        Some("session.logout"),
        "signing out from the page is audited"
    );
    assert_eq!(b.get("/wilayah/32.73").await.status, StatusCode::SEE_OTHER);
}

/// Registering through the form: messages next to the fields in the reader's language, the
/// htmx check while typing, a stored participant, and the same form again changes nothing.
/// Then a payment through the form: the amount from the rules, and the village's counts move.
async fn register_and_pay_through_the_forms(store: Arc<dyn Store>) {
    let app = app_on(store, &auth()).await;
    people(&app).await;
    let mut b = Browser::new(&app);
    b.sign_in("bandung").await;
    let form = b.get("/peserta/baru").await;
    assert!(
        form.body.contains("Kota Bandung"),
        "the chain starts in the officer's area"
    );
    let csrf = b.csrf();
    let mut fields = vec![
        ("csrf", csrf.clone()),
        ("nik", "3273016508950002".to_string()),
        ("name", "Dewi <b>Lestari</b>".to_string()),
        ("birth_date", "1995-08-25".to_string()),
        ("sex", "P".to_string()),
        ("phone", "0812-1111-2222".to_string()),
        ("province", "32".to_string()),
        ("regency", "32.73".to_string()),
        ("district", "32.73.01".to_string()),
        ("village_code", "32.73.01.1001".to_string()),
        ("address", "Jl. Braga No. 7".to_string()),
        ("segment", "BPU".to_string()),
        ("occupation_code", "84".to_string()),
        ("income_base", "1000000".to_string()),
        ("programs", "JKK+JKM".to_string()),
        ("registered_on", "2026-11-02".to_string()),
        ("channel", "branch".to_string()),
        ("agent_code", String::new()),
    ];
    // While typing: only the filled-in field that is wrong gets a message; nothing stored.
    let checked = b.post("/peserta/baru/periksa", &refs(&fields)).await;
    assert_eq!(checked.status, StatusCode::OK);
    assert!(
        checked.body.contains(
            r#"<p class="err" id="name-err" aria-live="polite" hx-swap-oob="true">nama seperti di KTP"#
        ),
        "{}",
        checked.body
    );
    assert!(
        checked
            .body
            .contains(r#"<p class="err" id="nik-err" aria-live="polite" hx-swap-oob="true"></p>"#),
        "a field without a problem has its message cleared"
    );
    assert!(
        !checked.body.contains("region-selects"),
        "the fields are not replaced"
    );
    assert!(
        !checked.body.contains("<b>Lestari"),
        "markup is escaped, never echoed raw"
    );
    // A province chosen: the choices below it come back (out of band) for that province.
    let cascade: Vec<(&str, String)> = fields
        .iter()
        .filter(|(k, _)| !matches!(*k, "regency" | "district" | "village_code"))
        .cloned()
        .collect();
    let regions = b
        .send_with(
            "POST",
            "/peserta/baru/periksa",
            Some(&refs(&cascade)),
            &[("hx-trigger-name", "province")],
        )
        .await;
    assert!(
        regions
            .body
            .contains(r#"<div id="region-selects" hx-swap-oob="true">"#)
    );
    assert!(
        regions
            .body
            .contains(r#"<option value="32.73" selected>Kota Bandung</option>"#)
    );
    // Submitting the bad form: 422 with every problem, in English when asked.
    let bad = b.post("/peserta/baru?lang=en", &refs(&fields)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("name must be a name as on the KTP"),
        "{}",
        bad.body
    );
    assert_eq!(app.store.count_participants().await.unwrap(), 2);
    b.get("/?lang=id").await;
    // Without the session's token: refused, nothing stored.
    fields[2].1 = "Dewi Lestari".into();
    let mut forged_fields = fields.clone();
    forged_fields[0].1 = "0".repeat(32);
    let forged = b.post("/peserta/baru", &refs(&forged_fields)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.count_participants().await.unwrap(), 2);
    let done = b.post("/peserta/baru", &refs(&fields)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let to = done.location.unwrap();
    assert!(to.ends_with("?ok=registered"), "{to}");
    let profile = b.get(&to).await;
    assert_eq!(profile.testid("flash"), "Peserta terdaftar.");
    assert_eq!(profile.testid("status-now"), "Belum terlindungi");
    assert!(profile.body.contains("Jl. Braga No. 7"));
    assert!(
        profile.body.contains("3273********0002"),
        "the NIK is masked"
    );
    // Its payment code (issue #19), shown with its label in Indonesian.
    let kpj = profile.testid("kpj");
    let code = cakupan_domain::payments::VirtualAccount::of(
        harness::rules().biller(harness::month("2026-12")).unwrap(),
        cakupan_domain::payments::Payee::Participation(
            cakupan_domain::kpj::Kpj::parse(&kpj).unwrap(),
        ),
    );
    assert!(
        profile.body.contains("Kode bayar (virtual account)")
            && profile.body.contains(&code.digits()),
        "{}",
        profile.body
    );
    // The same form again: the stored participant, nothing new.
    let again = b.post("/peserta/baru", &refs(&fields)).await;
    assert!(again.location.unwrap().ends_with("?ok=existing"));
    assert_eq!(app.store.count_participants().await.unwrap(), 3);
    let id: i64 = to
        .trim_start_matches("/peserta/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // The village before the payment.
    let village = b.get("/wilayah/32.73.01.1001").await;
    let paid_before = village.testid("kpi-paid");
    let active_before = village.testid("kpi-active");
    // The payment form: November 2026, Rp8,400 after the PP 50/2025 discount.
    let pay = b.get(&format!("/peserta/{id}/bayar")).await;
    assert_eq!(pay.status, StatusCode::OK);
    assert_eq!(pay.input("first_month"), "2026-11");
    assert_eq!(pay.testid("due-total"), "Rp8.400");
    let reference = pay.input("reference");
    assert!(reference.starts_with("WEB-"), "{reference}");
    // Three months: the fragment htmx fetches prices each month by the rules in force, so
    // January 2027, after the PP 50/2025 discount for non-transport work ends, costs the full
    // Rp16,800: 8,400 + 8,400 + 16,800.
    let due = b
        .get(&format!(
            "/peserta/{id}/bayar/iuran?first_month=2026-11&months=3"
        ))
        .await;
    assert_eq!(due.testid("due-total"), "Rp33.600");
    // Both show the person's name, KPJ and history: each view is audited (issue 17, item 7).
    let payment_reads = app
        .store
        .audit_log()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.entry.action == "participant.read"
                && r.entry.purpose == "payment"
                && r.entry.record == format!("participant:{id}")
        })
        .count();
    assert_eq!(payment_reads, 2);
    // Issue 22: the preview never prices what saving refuses: a period the rules do not
    // offer (5 months), months beyond the ledger's horizon, months before the registration.
    for (query, words) in [
        ("first_month=2026-11&months=5", "1, 3, 6 atau 12"),
        ("first_month=2028-01&months=1", ""),
        ("first_month=2020-01&months=1", "pendaftaran"),
    ] {
        let due = b.get(&format!("/peserta/{id}/bayar/iuran?{query}")).await;
        assert_eq!(due.testid("due-total"), "", "{query}: {}", due.body);
        assert!(due.body.contains("class=\"err\""), "{query}: {}", due.body);
        assert!(due.body.contains(words), "{query}: {}", due.body);
    }
    let pay_url = format!("/peserta/{id}/bayar");
    let pay_form = |amount: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("reference", reference.clone()),
            ("first_month", "2026-11".to_string()),
            ("months", "1".to_string()),
            ("channel", "bank".to_string()),
            ("paid_on", "2026-11-20".to_string()),
            ("amount", amount.to_string()),
        ]
    };
    // An amount that is not the one the rules give (the form was open across a rule change):
    // shown again with the right amount, nothing posted.
    let stale = b.post(&pay_url, &refs(&pay_form("16800"))).await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stale.body.contains("Jumlah iuran berubah"));
    assert!(app.store.ledger(id).await.unwrap().is_empty());
    let paid = b.post(&pay_url, &refs(&pay_form("8400"))).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
    let profile = b.get(paid.location.as_deref().unwrap()).await;
    assert_eq!(profile.testid("flash"), "Pembayaran tercatat.");
    assert_eq!(profile.testid("status-now"), "Aktif");
    // Submitting the same form twice posts once.
    let twice = b.post(&pay_url, &refs(&pay_form("8400"))).await;
    assert!(twice.location.unwrap().ends_with("?ok=paid_existing"));
    assert_eq!(app.store.ledger(id).await.unwrap().len(), 1);
    // The village's counts moved by one.
    let village = b.get("/wilayah/32.73.01.1001").await;
    let n = |s: String| s.replace('.', "").parse::<i64>().unwrap();
    assert_eq!(n(village.testid("kpi-paid")), n(paid_before) + 1);
    assert_eq!(n(village.testid("kpi-active")), n(active_before) + 1);
    crate::ledger::assert_counters_equal_ledger(&app.store).await;
}

/// Analysts and village officials see counts of 1–4 withheld, on the page and in the CSV;
/// the CSV of the table says what the counters say.
async fn small_cells_and_the_csv(store: Arc<dyn Store>) {
    let app = app_on(store, &auth()).await;
    people(&app).await;
    let token = app.token.clone();
    let pay = json!({"kind": "contribution", "reference": "P-1", "nik": "3273015203900003", "segment": "BPU",
                     "first_month": "2026-11", "months": 1, "amount": 8400, "channel": "bank", "paid_on": "2026-11-10"});
    let (s, v) = call_as(
        &app,
        Some(&token),
        "POST",
        "/api/v1/postings",
        Some(pay.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut admin = Browser::new(&app);
    admin.sign_in("admin").await;
    assert_eq!(
        admin
            .get("/wilayah/32.73.01.1001")
            .await
            .testid("kpi-active"),
        "1"
    );
    for who in ["ana", "lurah"] {
        let mut b = Browser::new(&app);
        b.sign_in(who).await;
        let page = b.get("/wilayah/32.73.01.1001").await;
        assert_eq!(page.testid("kpi-active"), "&#60;5", "{who}");
        assert!(page.body.contains("Angka 1–4 tidak ditampilkan"));
    }
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let csv = ana.get("/wilayah/32.73.01?format=csv").await;
    assert_eq!(
        csv.headers["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let line = csv
        .body
        .lines()
        .find(|l| l.starts_with("32.73.01.1001,"))
        .unwrap();
    assert!(line.starts_with("32.73.01.1001,Sukarasa,,,,"), "{line}");
    // The administrator's CSV holds the counters' own numbers.
    let csv = admin.get("/wilayah/32.73.01?format=csv").await;
    let report = app
        .store
        .active_report(
            cakupan_domain::Level::Village,
            cakupan_domain::RegionCode::parse("32.73.01").unwrap(),
            None,
            harness::month("2026-11"),
        )
        .await
        .unwrap();
    for r in report {
        let want = format!(
            "{},{},{},{},{},",
            r.code,
            harness::regions()
                .get(cakupan_domain::RegionCode::parse(&r.code).unwrap())
                .unwrap()
                .name,
            r.registered,
            r.paid_active,
            r.status_active
        );
        assert!(csv.body.contains(&want), "{want} in {}", csv.body);
    }
    // Sorting by name, ascending, puts the table in alphabetical order.
    let sorted = admin.get("/wilayah/32.73.01?sort=name&dir=asc").await;
    assert!(sorted.body.contains(r#"aria-sort="ascending""#));

    // The district's target, allocated to its villages from its page by the administrator
    // (audited), then read on each village's page with its basis in Indonesian. An analyst
    // sees no form and is refused the act.
    let district = cakupan_store::TargetRecord {
        region: cakupan_domain::RegionCode::parse("32.73.01").unwrap(),
        value: 40,
        baseline: None,
        basis: "stated".into(),
        ..cakupan_store::targets::from_rules(harness::rules()).unwrap()[0].clone()
    };
    app.store
        .set_targets(std::slice::from_ref(&district), true)
        .await
        .unwrap();
    let page = admin.get("/wilayah/32.73.01").await;
    assert!(
        page.body.contains(r#"data-testid="allocate-form""#),
        "{}",
        page.body
    );
    assert!(
        !ana.get("/wilayah/32.73.01")
            .await
            .body
            .contains("allocate-form")
    );
    let csrf = ana.csrf();
    let refused = ana
        .post(
            "/target/alokasi",
            &[("csrf", csrf.as_str()), ("region", "32.73.01")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let audited = app.store.audit_log().await.unwrap().len();
    let csrf = admin.csrf();
    let done = admin
        .post(
            "/target/alokasi",
            &[("csrf", csrf.as_str()), ("region", "32.73.01")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(app.store.audit_log().await.unwrap().len(), audited + 1);
    let villages = app
        .store
        .targets_within(district.region, cakupan_domain::Level::Village)
        .await
        .unwrap();
    assert_eq!(villages.iter().map(|t| t.value).sum::<i64>(), 40);
    let page = admin.get("/wilayah/32.73.01.1002").await;
    assert_eq!(page.testid("target-value"), "10");
    assert!(
        page.body.contains("bagian yang sama untuk setiap desa"),
        "{}",
        page.body
    );
}

/// The network's pages: the agent's own page (cash, statement, CSV), the branch's list and
/// deposit form (refused above what is held), the office statement, the public receipt check,
/// and who may open which.
async fn agent_pages(store: Arc<dyn Store>) {
    let app = app_on(store.clone(), &auth()).await;
    people(&app).await;
    let t = app.token.clone();
    let post = |uri: &str, b: serde_json::Value| {
        let (app, t, uri) = (&app, t.clone(), uri.to_string());
        async move { call_as(app, Some(&t), "POST", &uri, Some(b.to_string())).await }
    };
    perisai_agent(&app, "2026-11").await;
    // P1 (enrolled by PRS-32-0001) pays November to the agent in cash.
    let (s, v) = post(
        "/api/v1/postings",
        json!({"kind": "contribution", "reference": "KAS-1", "nik": "3273015203900003", "segment": "BPU",
               "first_month": "2026-11", "months": 1, "amount": 8400, "channel": "perisai",
               "paid_on": "2026-11-10", "collected_by": "PRS-32-0001"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let receipt = v["receipt"].as_str().unwrap().to_string();

    // The agent's own page.
    let mut agen = Browser::new(&app);
    agen.sign_in("agen").await;
    let home = agen.get("/agen").await;
    assert_eq!(home.location.as_deref(), Some("/agen/PRS-32-0001"));
    let page = agen.get("/agen/PRS-32-0001").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.testid("agent-status"), "Aktif");
    assert_eq!(page.testid("cash-held"), "Rp8.400");
    // 15% of Rp8,400 = Rp1,260; the agent's 90% = Rp1,134.
    assert_eq!(page.testid("statement-total"), "Rp1.260");
    assert_eq!(page.testid("agent-share"), "Rp1.134");
    assert!(
        page.body.contains(&receipt),
        "the collection not yet deposited"
    );
    assert!(
        !page.body.contains("/setoran"),
        "agents do not record deposits"
    );

    let csv = agen
        .get("/agen/PRS-32-0001/laporan.csv?bulan=2026-11")
        .await;
    assert!(
        csv.body
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("PRS-32-0001,2026-11,1,0,8400,0,150000,1260,0,0,1260,1134,126"),
        "{}",
        csv.body
    );
    assert_eq!(
        agen.get("/kantor/KP-32-0001").await.status,
        StatusCode::FORBIDDEN
    );

    // The branch: the list, the deposit form.
    let mut branch = Browser::new(&app);
    branch.sign_in("bandung").await;
    let list = branch.get("/agen").await;
    assert!(
        list.body
            .contains(r#"<a href="/agen/PRS-32-0001">PRS-32-0001</a>"#)
    );
    // The branch sees the agent's worklist but not the numbers to call.
    let theirs = branch.get("/agen/PRS-32-0001").await;
    assert!(!theirs.body.contains("tel:"), "{}", theirs.body);
    let csrf = branch.csrf();
    let too_much = branch
        .post(
            "/agen/PRS-32-0001/setoran",
            &[
                ("csrf", &csrf),
                ("reference", "BNI-1"),
                ("amount", "10000"),
                ("deposited_on", "2026-11-20"),
            ],
        )
        .await;
    assert_eq!(too_much.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        too_much.body.contains("setoran Rp") && too_much.body.contains("melebihi Rp8.400"),
        "{}",
        too_much.body
    );
    let done = branch
        .post(
            "/agen/PRS-32-0001/setoran",
            &[
                ("csrf", &csrf),
                ("reference", "BNI-1"),
                ("amount", "8.400"),
                ("deposited_on", "2026-11-20"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let page = branch.get(done.location.as_deref().unwrap()).await;
    assert_eq!(page.testid("flash"), "Setoran tercatat.");
    assert_eq!(page.testid("cash-held"), "Rp0");
    let office = branch.get("/kantor/KP-32-0001?bulan=2026-11").await;
    assert_eq!(office.testid("office-total"), "Rp1.260");
    let office_csv = branch
        .get("/kantor/KP-32-0001?bulan=2026-11&format=csv")
        .await;
    assert_eq!(office_csv.body.lines().count(), 3, "{}", office_csv.body);

    // Anyone checks a receipt with its amount; a wrong amount finds nothing.
    let mut visitor = Browser::new(&app);
    let ok = visitor
        .get(&format!("/kuitansi?nomor={receipt}&jumlah=8400"))
        .await;
    assert!(
        ok.body.contains("Kuitansi sah") && ok.body.contains("sudah disetor agen"),
        "{}",
        ok.body
    );
    let wrong = visitor
        .get(&format!("/kuitansi?nomor={receipt}&jumlah=8000"))
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);

    // Others: analysts and village officials have no network pages; an agent sees only their
    // own page (another agent's reads as absent).
    for who in ["ana", "lurah"] {
        let mut b = Browser::new(&app);
        b.sign_in(who).await;
        assert_eq!(b.get("/agen").await.status, StatusCode::FORBIDDEN, "{who}");
        assert_eq!(
            b.get("/agen/PRS-32-0001").await.status,
            StatusCode::NOT_FOUND,
            "{who}"
        );
    }
    assert_eq!(
        agen.get("/agen/PRS-32-0002").await.status,
        StatusCode::NOT_FOUND
    );

    // The office's monthly target, set by the branch on the office's page (a bad one named):
    // five new participants a month from August. August, September and October (complete
    // months on 23 November) fell short, so the agreement ends from November; recorded by the
    // review, it ends the agents' appointments and they collect nothing more.
    let office_url = "/kantor/KP-32-0001";
    let page = branch.get(office_url).await;
    assert_eq!(
        page.testid("office-state"),
        "Belum ada target untuk kantor ini."
    );
    let csrf = branch.csrf();
    let bad = branch
        .post(
            "/kantor/KP-32-0001/target",
            &[("csrf", &csrf), ("from", "2026-08"), ("acquisitions", "-1")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The message in words, never the field's code (issue #22).
    assert!(
        bad.body
            .contains("target kantor adalah jumlah peserta baru")
            && !bad.body.contains("acquisitions:"),
        "{}",
        bad.body
    );
    let set = branch
        .post(
            "/kantor/KP-32-0001/target",
            &[("csrf", &csrf), ("from", "2026-08"), ("acquisitions", "5")],
        )
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
    let page = branch.get(office_url).await;
    assert!(
        page.testid("office-state")
            .starts_with("Perjanjian kerja sama berakhir sejak Nov 2026"),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"data-testid="review-form""#));
    assert_eq!(
        branch.get("/agen/PRS-32-0001").await.testid("agent-status"),
        "Aktif"
    );
    let audited = app.store.audit_log().await.unwrap().len();
    let reviewed = branch
        .post("/kantor/KP-32-0001/tinjau", &[("csrf", &csrf)])
        .await;
    assert_eq!(reviewed.status, StatusCode::SEE_OTHER, "{}", reviewed.body);
    assert_eq!(app.store.audit_log().await.unwrap().len(), audited + 1);
    let page = branch.get(office_url).await;
    assert!(
        !page.body.contains(r#"data-testid="review-form""#),
        "recorded once"
    );
    assert_ne!(
        branch.get("/agen/PRS-32-0001").await.testid("agent-status"),
        "Aktif"
    );
    let office = app.store.office("KP-32-0001").await.unwrap().unwrap();
    assert_eq!(
        office.agreement_to,
        Some(time::macros::date!(2026 - 10 - 31))
    );
    // A retry records nothing new.
    let again = branch
        .post("/kantor/KP-32-0001/tinjau", &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.store.office("KP-32-0001").await.unwrap().unwrap(),
        office
    );
}

on_both_backends! {
    pages_follow_the_access_matrix: true,
    sign_in_and_out: true,
    register_and_pay_through_the_forms: true,
    small_cells_and_the_csv: true,
    agent_pages: true,
    employer_pages: true,
    campaign_pages: true,
    the_users_page: true,
    the_partners_page: true,
    the_worker_pages: true,
    the_reminder_pages: true,
    the_name_search: true,
}

/// The worker's own pages (issue #20) without the SMS gateway: the registration form refuses
/// in the reader's language naming each field as a worker knows it (never its code), with the
/// form's own token; the village search answers as one types; the sign-in page says the same
/// for any NIK; a card link that was not issued is not found; the branch's review queue lists a
/// registration whose NIK disagrees with the sex typed, in words, and clears it.
async fn the_worker_pages(store: Arc<dyn Store>) {
    let app = app_on(store.clone(), &auth()).await;
    let mut b = Browser::new(&app);
    let form = b.get("/daftar").await;
    assert_eq!(form.status, StatusCode::OK);
    let token = form.input("form_token");
    assert_eq!(token.len(), 64);
    // Without the form's token: refused.
    let forged = b
        .post("/daftar", &[("action", "code"), ("form_token", "x")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let refused = b
        .post(
            "/daftar",
            &[
                ("action", "code"),
                ("form_token", &token),
                ("nik", "12"),
                ("village_q", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let summary = refused
        .body
        .split("data-testid=\"form-errors\"")
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .unwrap_or_default();
    for words in [
        "Tanggal lahir",
        "Nomor HP",
        "Desa/kelurahan tempat tinggal",
        "Persetujuan",
        "NIK harus tepat 16 digit",
    ] {
        assert!(summary.contains(words), "{words} missing from {summary}");
    }
    for code in [
        "village_code",
        "birth_date",
        "income_base",
        "occupation_code",
        "consent.required",
        "nik.length",
    ] {
        assert!(
            !summary.contains(code),
            "the code {code} is shown: {summary}"
        );
    }
    let english = b.get("/daftar?lang=en").await;
    assert!(english.body.contains("Register as a participant"));
    let refused = b
        .post(
            "/daftar?lang=en",
            &[("action", "code"), ("form_token", &token)],
        )
        .await;
    assert!(refused.body.contains("Mobile number"), "{}", refused.body);
    b.get("/daftar?lang=id").await;
    // The village search as one types, and without script (the form's own button).
    let found = b.get("/daftar/desa?village_q=sarijadi").await;
    assert!(
        found.body.contains("Sarijadi") && found.body.contains("Kota Bandung"),
        "{}",
        found.body
    );
    let found = b
        .post(
            "/daftar",
            &[
                ("action", "find"),
                ("form_token", &token),
                ("village_q", "sarijadi"),
            ],
        )
        .await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(found.body.contains("name=\"village_code\"") && found.body.contains("Sarijadi"));
    // No gateway configured here: a valid form is told codes cannot be sent, nothing stored.
    let people = store.count_participants().await.unwrap();
    let valid = [
        ("action", "code"),
        ("form_token", token.as_str()),
        ("nik", "3273015203900003"),
        ("name", "Siti Aminah"),
        ("birth_date", "1990-03-12"),
        ("sex", "P"),
        ("phone", "081234567890"),
        ("village_code", "32.73.01.1001"),
        ("occupation", "84.1"),
        ("income_base", "1000000"),
        ("programs", "JKK+JKM"),
        ("consent", "ya"),
    ];
    let down = b.post("/daftar", &valid).await;
    if harness::kannel().is_none() {
        assert_eq!(
            down.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            down.body
        );
        assert!(down.body.contains("Layanan SMS"), "{}", down.body);
    }
    assert_eq!(store.count_participants().await.unwrap(), people);
    // Signing in: the same page for a registered NIK and for any other.
    let masuk = b.get("/masuk").await;
    let t = masuk.input("form_token");
    let one = b
        .post(
            "/masuk",
            &[("form_token", &t), ("nik_or_kpj", "3273014101950001")],
        )
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(one.body.contains("Jika NIK atau KPJ ini terdaftar"));
    let bad = b
        .post("/masuk", &[("form_token", &t), ("nik_or_kpj", "123")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("16 angka"));
    assert_eq!(
        b.get("/kartu/1-00112233445566778899").await.status,
        StatusCode::NOT_FOUND
    );
    // The branch's review queue: a NIK that says male for a woman.
    let mut i = harness::input("3273011203900004");
    i.registered_on = harness::today_text();
    let reg = harness::reg(&i);
    assert!(!reg.review_flags.is_empty());
    let id = match store.register(harness::rules(), &reg).await.unwrap() {
        cakupan_store::Outcome::Created { id, .. } => id,
        other => panic!("{other:?}"),
    };
    user(
        &app,
        &auth(),
        "tinjau",
        "branch_officer",
        Some("32.73"),
        None,
        None,
    )
    .await;
    let mut officer = Browser::new(&app);
    officer.sign_in("tinjau").await;
    let queue = officer.get("/tinjauan").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(
        queue.body.contains("Siti Aminah")
            && queue.body.contains("jenis kelamin dalam NIK berbeda"),
        "{}",
        queue.body
    );
    assert!(!queue.body.contains("nik.sex_mismatch"));
    let csrf = officer.csrf();
    let cleared = officer
        .post(
            &format!("/tinjauan/{id}"),
            &[("csrf", &csrf), ("action", "clear")],
        )
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER);
    assert!(!officer.get("/tinjauan").await.body.contains("Siti Aminah"));
    let mut worker = Browser::new(&app);
    user(
        &app,
        &auth(),
        "siti",
        "participant",
        None,
        None,
        Some("3273011203900004"),
    )
    .await;
    worker.sign_in("siti").await;
    assert_eq!(worker.get("/tinjauan").await.status, StatusCode::FORBIDDEN);
    let mine = worker.get("/saya").await;
    assert!(
        mine.body.contains("Terlindungi sampai")
            && mine.body.contains("data-testid=\"payment-code\""),
        "{}",
        mine.body
    );
    assert_eq!(worker.get("/saya/kartu").await.status, StatusCode::OK);
    assert_eq!(worker.get("/saya/data").await.status, StatusCode::OK);
}

/// The employer channel's pages: an employer's staff upload a wage report (problems by line,
/// then the difference from last month, then the invoice), the branch sees its employers in
/// arrears and records a payment, the worker's record shows the employer in arrears; and who
/// may open which.
async fn employer_pages(store: Arc<dyn Store>) {
    use crate::api::{EMPLOYER, employer_body};
    let app = app_on(store, &auth()).await;
    let a = auth();
    let token = app.token.clone();
    let (s, v) = call_as(
        &app,
        Some(&token),
        "POST",
        "/api/v1/employers",
        Some(employer_body(EMPLOYER).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    user(
        &app,
        &a,
        "hrd",
        "employer",
        Some("32.73.01.1001"),
        Some(EMPLOYER),
        None,
    )
    .await;
    user(
        &app,
        &a,
        "bandung",
        "branch_officer",
        Some("32.73"),
        None,
        None,
    )
    .await;
    user(
        &app,
        &a,
        "cilacap",
        "branch_officer",
        Some("33.01"),
        None,
        None,
    )
    .await;
    let mut hrd = Browser::new(&app);
    hrd.sign_in("hrd").await;
    let home = hrd.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/pemberi-kerja"));
    let to_own = hrd.get("/pemberi-kerja").await;
    let own = format!("/pemberi-kerja/{EMPLOYER}");
    assert_eq!(to_own.location.as_deref(), Some(own.as_str()));
    let page = hrd.get(&own).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"data-testid="report-form""#));
    assert!(!page.body.contains(r#"data-testid="pay-form""#));
    let csrf = hrd.csrf();
    let header = "nik,name,birth_date,sex,village_code,occupation_code,basic_wage,fixed_allowances,programs,action";
    // A bad report: every problem by line, in Indonesian; nothing billed.
    let bad = format!(
        "{header}\n3273010101950001,Rahmat Hidayat,1995-01-01,L,32.73.01.1001,84,,0,JKK+JKM+JHT+JP,enrol\n3273014506850002,,,,,,4000000,,JKK+JKM+JHT+JP,continue\n32730101019500,Budi,1995-01-01,L,32.73.01.1001,84,-5,0,JKK+XYZ,enrol\n"
    );
    let url = format!("/pemberi-kerja/{EMPLOYER}/laporan");
    let checked = hrd
        .multipart(
            &url,
            &[
                ("csrf", &csrf),
                ("month", "2026-10"),
                ("text", &bad),
                ("do", "submit"),
            ],
        )
        .await;
    assert_eq!(
        checked.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        checked.body
    );
    assert!(
        checked.body.contains("upah wajib diisi"),
        "{}",
        checked.body
    );
    assert!(checked.body.contains("tidak terdaftar sebagai pekerja"));
    // Issue 22: every problem of a line, each by its column in words (line 4, the third
    // worker: a short NIK, a negative wage and an unknown programme).
    let problems = checked
        .body
        .split(r#"data-testid="problems""#)
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_default();
    assert!(
        problems.matches("<tr><td>4</td>").count() >= 3,
        "{problems}"
    );
    for column in ["NIK", "gaji pokok", "program"] {
        assert!(
            problems.contains(&format!("<td>{column}</td>")),
            "{column}: {problems}"
        );
    }
    assert!(!problems.contains("basic_wage"), "{problems}");
    // What was not billed stays on the page to correct and check again.
    assert!(
        checked.body.contains(r#"data-testid="report-text""#),
        "{}",
        checked.body
    );
    assert!(checked.body.contains(r#"data-testid="check-again""#));
    // A wage below the province's minimum wage (Jawa Barat, UMP 2026 Rp2,317,601) is billed
    // with a warning, never refused.
    let low = format!(
        "{header}\n3273010101950001,Rahmat Hidayat,1995-01-01,L,32.73.01.1001,84,2000000,0,JKK+JKM+JHT+JP,enrol\n"
    );
    let warned = hrd
        .multipart(
            &url,
            &[
                ("csrf", &csrf),
                ("month", "2026-10"),
                ("text", &low),
                ("do", "check"),
            ],
        )
        .await;
    assert_eq!(warned.status, StatusCode::OK, "{}", warned.body);
    assert!(
        warned
            .body
            .contains("upah Rp2.000.000 di bawah upah minimum provinsi Rp2.317.601"),
        "{}",
        warned.body
    );
    assert!(warned.body.contains(r#"data-testid="warnings""#));
    // A good one, checked first (nothing written), then submitted.
    let good = format!(
        "{header}\n3273010101950001,Rahmat Hidayat,1995-01-01,L,32.73.01.1001,84,4000000,0,JKK+JKM+JHT+JP,enrol\n"
    );
    let preview = hrd
        .multipart(
            &url,
            &[
                ("csrf", &csrf),
                ("month", "2026-10"),
                ("text", &good),
                ("do", "check"),
            ],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(preview.body.contains(r#"data-testid="resubmit""#));
    assert!(preview.body.contains("Rahmat Hidayat"));
    assert!(preview.body.contains("381.600"), "{}", preview.body);
    let billed = hrd
        .multipart(
            &url,
            &[
                ("csrf", &csrf),
                ("month", "2026-10"),
                ("text", &good),
                ("do", "submit"),
            ],
        )
        .await;
    assert_eq!(billed.status, StatusCode::CREATED, "{}", billed.body);
    assert_eq!(billed.testid("payment-code").len(), 11);
    // Next month's report, pre-filled from the workers employed now: their lines with the
    // billed wage, action continue, in the report's own format; each worker an audited read.
    let template = hrd
        .get(&format!("/pemberi-kerja/{EMPLOYER}/contoh-laporan.csv"))
        .await;
    assert_eq!(template.status, StatusCode::OK, "{}", template.body);
    let mut lines = template.body.lines();
    assert_eq!(
        lines.next(),
        Some(
            "nik,name,birth_date,sex,village_code,occupation_code,basic_wage,fixed_allowances,programs,action"
        )
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        !rows.is_empty() && rows.iter().all(|l| l.ends_with(",continue")),
        "{}",
        template.body
    );
    let parsed = cakupan_domain::employers::parse_csv(&template.body).unwrap();
    assert_eq!(parsed.len(), rows.len());
    let audit = app.store.audit_log().await.unwrap();
    assert!(audit.iter().any(|r| r.entry.action == "participant.read"
        && r.entry.actor == "hrd"
        && r.entry.purpose == "wage report template"));
    // Without the session's token, nothing.
    let forged = hrd
        .multipart(
            &url,
            &[("csrf", "x"), ("month", "2026-11"), ("text", &good)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Due 16 November, unpaid on the 23rd: in arrears, on the branch's list and the worker's
    // record.
    let mut branch = Browser::new(&app);
    branch.sign_in("bandung").await;
    let list = branch.get("/pemberi-kerja?tunggakan=1").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("PT Sinar Baja"), "{}", list.body);
    // The late fee runs while the invoice is unpaid, and the list shows it: one month begun
    // after 16 November, 2% of JKK 21,600 + JKM 12,000 + JHT 228,000 and 0.5% of JP 120,000.
    let running = 261_600 * 2 / 100 + 120_000 * 5 / 1000;
    assert_eq!(running, 5_832);
    assert!(list.testid("accruing").contains("Rp5.832"), "{}", list.body);
    let acct = branch.get(&own).await;
    assert!(acct.body.contains(r#"data-testid="arrears""#));
    assert!(
        acct.body.contains("Denda berjalan atas tunggakan"),
        "{}",
        acct.body
    );
    let worker = app
        .store
        .participants_by_nik(cakupan_domain::Nik::parse("3273010101950001").unwrap())
        .await
        .unwrap()
        .remove(0);
    let profile = branch.get(&format!("/peserta/{}", worker.id)).await;
    assert!(
        profile.body.contains(r#"data-testid="employer-arrears""#),
        "{}",
        profile.body
    );
    assert!(!profile.body.contains(r#"data-testid="record-payment""#));
    let invoice = branch
        .get(&format!("/pemberi-kerja/{EMPLOYER}/tagihan/2026-10"))
        .await;
    assert_eq!(invoice.status, StatusCode::OK);
    assert!(invoice.body.contains("JKP"), "{}", invoice.body);
    // The invoice's own payment code at the banks (issue #19): the biller's digits, the
    // invoice kind digit 2.
    assert!(
        invoice.body.contains("Kode bayar (virtual account)") && invoice.body.contains(">888992"),
        "{}",
        invoice.body
    );
    // No 2026 JP ceiling is in the rules: the invoice says its JP is billed provisionally.
    assert!(
        invoice.testid("provisional").contains("Rp10.547.400"),
        "{}",
        invoice.body
    );
    // The branch records the payment; the arrears are gone.
    let csrf_b = branch.csrf();
    let paid = branch
        .post(
            &format!("/pemberi-kerja/{EMPLOYER}/bayar"),
            &[
                ("csrf", &csrf_b),
                ("reference", "BNI-TRF-0001"),
                ("amount", "Rp 381.600,00"),
                ("paid_on", "2026-11-23"),
                ("payment_code", ""),
            ],
        )
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
    let acct = branch.get(paid.location.as_deref().unwrap()).await;
    assert!(!acct.body.contains(r#"data-testid="arrears""#));
    assert!(acct.body.contains("Pembayaran dicatat"));
    let profile = branch.get(&format!("/peserta/{}", worker.id)).await;
    assert!(!profile.body.contains(r#"data-testid="employer-arrears""#));
    // Who may open which: the employer's staff may not record payments; another branch and
    // another employer's staff do not see it.
    let refused = hrd
        .post(
            &format!("/pemberi-kerja/{EMPLOYER}/bayar"),
            &[
                ("csrf", &csrf),
                ("reference", "X-1"),
                ("amount", "1"),
                ("paid_on", "2026-11-23"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        hrd.get("/wilayah/32.73").await.status,
        StatusCode::FORBIDDEN
    );
    let mut far = Browser::new(&app);
    far.sign_in("cilacap").await;
    assert_eq!(far.get(&own).await.status, StatusCode::NOT_FOUND);
    let far_list = far.get("/pemberi-kerja").await;
    assert!(!far_list.body.contains("PT Sinar Baja"));
}

/// The campaign's pages: the village official of a planned village signs off through the form
/// (a missing name is named, then it is coordinated); an agent records its session (an
/// implausible crowd is refused with the reason, a plausible one is counted); an analyst sees
/// the funnel, the waves and the uplift, in both languages; an agent enters a respondent's
/// answers on the phone form (a wrong answer is named) and sees the weighted results; and who
/// may open which.
async fn campaign_pages(store: Arc<dyn Store>) {
    let app = app_on(store, &auth()).await;
    let a = auth();
    crate::api::campaign_setup(&app).await;
    user(
        &app,
        &a,
        "lurah",
        "village_official",
        Some("32.73.01.1002"),
        None,
        None,
    )
    .await;
    user(
        &app,
        &a,
        "agen",
        "agent",
        Some("32.73.01"),
        Some("PRS-32-0001"),
        None,
    )
    .await;
    user(&app, &a, "ana", "analyst", None, None, None).await;
    user(
        &app,
        &a,
        "siti",
        "participant",
        None,
        None,
        Some("3273015203900003"),
    )
    .await;

    let mut lurah = Browser::new(&app);
    lurah.sign_in("lurah").await;
    let village = "/kampanye/KKBC/desa/32.73.01.1002";
    let p = lurah.get(village).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.testid("stage"), "Direncanakan");
    assert!(p.body.contains(r#"data-testid="sign-off""#), "{}", p.body);
    assert!(!p.body.contains(r#"data-testid="session-form""#));
    let csrf = lurah.csrf();
    let sign = |official: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("official", official.to_string()),
            ("official_role", "Kepala Desa".to_string()),
            ("info_officer", "Rina Marlina".to_string()),
            ("agreed_on", "2026-10-20".to_string()),
            ("confirm", "1".to_string()),
        ]
    };
    // The official reads the agreement and ticks it; unticked, or dated after today, nothing
    // is recorded (issue #22).
    let form = lurah.get(village).await;
    assert!(
        form.body.contains("data-testid=\"agreement-text\""),
        "{}",
        form.body
    );
    let mut unticked = sign("Asep Sunandar");
    unticked.retain(|(k, _)| *k != "confirm");
    let p = lurah
        .post(&format!("{village}/koordinasi"), &refs(&unticked))
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.body.contains("centang persetujuan"), "{}", p.body);
    let mut later = sign("Asep Sunandar");
    later[4].1 = "2026-12-01".into();
    let p = lurah
        .post(&format!("{village}/koordinasi"), &refs(&later))
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.body.contains("setelah hari ini"), "{}", p.body);
    let bad = sign("");
    let p = lurah
        .post(&format!("{village}/koordinasi"), &refs(&bad))
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(
        p.body.contains("nama wajib diisi") && !p.body.contains("official:"),
        "{}",
        p.body
    );
    let good = sign("Asep Sunandar");
    let p = lurah
        .post(&format!("{village}/koordinasi"), &refs(&good))
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = lurah.get(village).await;
    assert_eq!(p.testid("stage"), "Dikoordinasikan");
    assert!(p.body.contains("Asep Sunandar"));
    // Another village's campaign record is not theirs.
    assert_eq!(
        lurah.get("/kampanye/KKBC/desa/32.73.01.1001").await.status,
        StatusCode::FORBIDDEN
    );

    let mut agen = Browser::new(&app);
    agen.sign_in("agen").await;
    let p = agen.get(village).await;
    assert!(
        p.body.contains(r#"data-testid="session-form""#),
        "{}",
        p.body
    );
    let csrf = agen.csrf();
    let session = |n: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("reference", String::new()),
            ("held_on", "2026-11-20".to_string()),
            ("place", "Balai Desa Sukawarna".to_string()),
            ("n_farmer", n.to_string()),
            ("n_online_driver", "3".to_string()),
        ]
    };
    // The set-up estimates 500 workers: at most 1,000 people.
    let crowd = session("5000");
    let p = agen
        .post(&format!("{village}/sosialisasi"), &refs(&crowd))
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.body.contains("melebihi yang masuk akal"), "{}", p.body);
    let ok = session("30");
    let p = agen
        .post(&format!("{village}/sosialisasi"), &refs(&ok))
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    // The same form again (a double submit) counts nothing twice.
    agen.post(&format!("{village}/sosialisasi"), &refs(&ok))
        .await;
    let p = agen.get(village).await;
    assert_eq!(p.testid("stage"), "Dilaksanakan");
    assert_eq!(
        p.body.matches("Balai Desa Sukawarna").count(),
        1,
        "{}",
        p.body
    );

    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let p = ana.get("/kampanye").await;
    assert!(p.body.contains("/kampanye/KKBC"), "{}", p.body);
    let p = ana.get("/kampanye/KKBC").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    // Three villages planned, all three coordinated and held now; 3 sessions.
    assert_eq!(p.testid("sessions"), "3", "{}", p.body);
    assert!(p.body.contains(r#"data-testid="uplift-1""#), "{}", p.body);
    // No enrolment anywhere in the set-up: the campaign added none, exactly.
    assert_eq!(p.testid("attributed"), "≈ 0 (0 – 0)", "{}", p.body);
    let p = ana.get("/kampanye/KKBC?wilayah=32.73.01&lang=en").await;
    assert!(p.body.contains("Campaign funnel"), "{}", p.body);
    assert!(p.body.contains(r#"data-testid="villages""#), "{}", p.body);

    // The phone form: unit 1 answered; a wrong answer is named.
    let p = agen.get("/survei/S0/isi/1").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let csrf = agen.csrf();
    let p = agen
        .post(
            "/survei/S0/isi/1",
            &[
                ("csrf", &csrf),
                ("audience", "farmer"),
                ("q_aware", "mungkin"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.body.contains("ya atau tidak"), "{}", p.body);
    let p = agen
        .post(
            "/survei/S0/isi/1",
            &[("csrf", &csrf), ("audience", "farmer"), ("q_aware", "ya")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = agen.get("/survei/S0").await;
    assert_eq!(p.testid("summary"), "1 menjawab dari 10", "{}", p.body);
    assert!(p.body.contains(r#"data-testid="units""#));
    // A second survey of the same questionnaire, where the one respondent had not heard of
    // the programmes: the first survey's page compares with it.
    let admin = app.token.clone();
    let (s, v) = call_as(
        &app,
        Some(&admin),
        "POST",
        "/api/v1/surveys",
        Some(
            json!({"code": "S1", "questionnaire": "kkbc", "version": 1, "region": "32.73.01",
                   "size": 10, "min_per_stratum": 1})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = call_as(
        &app,
        Some(&admin),
        "POST",
        "/api/v1/surveys/S1/responses",
        Some(
            json!({"responses": [{"unit": 1, "version": 1, "audience": "farmer",
                                  "answers": {"aware": "tidak"}}]})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let p = agen.get("/survei/S0?banding=S1").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("Perubahan (95%)"), "{}", p.body);
    assert!(p.body.contains("+100,0% ± 0,0%"), "{}", p.body);

    // A participant has no campaign pages; the village official cannot enter answers.
    let mut siti = Browser::new(&app);
    siti.sign_in("siti").await;
    assert_eq!(siti.get("/kampanye").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        lurah.get("/survei/S0/isi/2").await.status,
        StatusCode::FORBIDDEN
    );

    // A campaign over the whole nation (the command line's default region) is stored through
    // the API and read back by every campaign page and route (it once made them all answer 500).
    let (s, v) = crate::api::call_as(
        &app,
        Some(&app.token),
        "POST",
        "/api/v1/campaigns",
        Some(serde_json::json!({"code": "KKBC-NAS", "name": "Kerja Keras Bebas Cemas nasional", "region": ""}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["region"], "", "{v}");
    for path in ["/kampanye", "/kampanye/KKBC-NAS", "/kampanye/KKBC"] {
        let p = ana.get(path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.body);
    }
    assert!(ana.get("/kampanye").await.body.contains("KKBC-NAS"));
    let (s, v) = crate::api::call_as(
        &app,
        Some(&app.token),
        "GET",
        "/api/v1/campaigns/KKBC-NAS",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Issue 22: a branch officer plans on the page what the API plans. The village official
    // and the analyst see no planning forms.
    user(
        &app,
        &a,
        "cabang",
        "branch_officer",
        Some("32.73"),
        None,
        None,
    )
    .await;
    let mut cabang = Browser::new(&app);
    cabang.sign_in("cabang").await;
    let p = cabang.get("/kampanye/KKBC?wilayah=32.73.01").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    for form in ["plan-wave", "plan-village"] {
        assert!(
            p.body.contains(&format!("data-testid=\"{form}\"")),
            "{form}: {}",
            p.body
        );
    }
    for reader in [&mut lurah, &mut ana] {
        let p = reader.get("/kampanye/KKBC").await;
        assert!(!p.body.contains("data-testid=\"plan-"), "{}", p.body);
    }
    let csrf = cabang.csrf();
    let add = |village: &'static str, wave: &'static str, week: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("wilayah", "32.73.01".to_string()),
            ("village", village.to_string()),
            ("wave", wave.to_string()),
            ("week", week.to_string()),
        ]
    };
    // A district is not a village; a week outside the wave is named; nothing is stored.
    let p = post_owned(
        &mut cabang,
        "/kampanye/KKBC/desa",
        add("32.73.01", "1", "9"),
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.body.contains("data-testid=\"plan-errors\""), "{}", p.body);
    assert!(!p.body.contains("region.not_village"), "{}", p.body);
    let p = post_owned(
        &mut cabang,
        "/kampanye/KKBC/desa",
        add("32.73.01.1004", "1", "9"),
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.body.contains("minggu di luar gelombang"), "{}", p.body);
    // Added, and the same again is a retry.
    for _ in 0..2 {
        let p = post_owned(
            &mut cabang,
            "/kampanye/KKBC/desa",
            add("32.73.01.1004", "1", "2"),
        )
        .await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        assert!(
            p.testid("plan-flash").contains("gelombang 1, minggu 2"),
            "{}",
            p.body
        );
        assert!(
            p.body.contains("data-testid=\"remove-32.73.01.1004\""),
            "{}",
            p.body
        );
    }
    // A held village stays; a planned one is taken out.
    let keep = vec![("csrf", csrf.clone()), ("wilayah", "32.73.01".to_string())];
    let p = post_owned(
        &mut cabang,
        "/kampanye/KKBC/desa/32.73.01.1001/keluarkan",
        keep.clone(),
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    let p = post_owned(
        &mut cabang,
        "/kampanye/KKBC/desa/32.73.01.1004/keluarkan",
        keep,
    )
    .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        !p.body.contains("data-testid=\"remove-32.73.01.1004\""),
        "{}",
        p.body
    );
    // The next wave: not before the last one ends; then drawn up by the planner.
    let wave = |starts: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("wilayah", "32.73".to_string()),
            ("starts_on", starts.to_string()),
            ("weeks", "4".to_string()),
            ("sessions_per_district_week", "2".to_string()),
            ("sessions_per_agent_week", "1".to_string()),
        ]
    };
    let p = post_owned(&mut cabang, "/kampanye/KKBC/gelombang", wave("2026-11-01")).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(
        p.body.contains("setelah gelombang sebelumnya selesai"),
        "{}",
        p.body
    );
    let p = post_owned(&mut cabang, "/kampanye/KKBC/gelombang", wave("2026-12-07")).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.testid("plan-flash").starts_with("Gelombang 2 disusun"),
        "{}",
        p.body
    );
    let waves = app.store.waves("KKBC").await.unwrap();
    assert_eq!(waves.len(), 2);
    let log = app.store.audit_log().await.unwrap();
    for action in [
        "campaign.wave",
        "campaign.add_village",
        "campaign.remove_village",
    ] {
        assert!(
            log.iter()
                .any(|r| r.entry.action == action && r.entry.actor == "cabang"),
            "{action}"
        );
    }
}

/// Posts a form whose values are owned strings.
async fn post_owned(b: &mut Browser<'_>, path: &str, form: Vec<(&str, String)>) -> Page {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(path, &pairs).await
}

/// Issue 17, item 8: the administrators' accounts page. Each account with its state and
/// the lifecycle's actions; a one-time password is shown once; a disabled account's session
/// ends at once; the actions need the page's token.
async fn the_users_page(store: Arc<dyn Store>) {
    let app = app_on(store, &auth()).await;
    people(&app).await;
    let mut bandung = Browser::new(&app);
    bandung.sign_in("bandung").await;
    assert_eq!(bandung.get("/pengguna").await.status, StatusCode::FORBIDDEN);
    let mut admin = Browser::new(&app);
    admin.sign_in("admin").await;
    let list = admin.get("/pengguna").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains("data-testid=\"user-bandung\""),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("petugas cabang"),
        "roles in words: {}",
        list.body
    );
    let csrf = admin.csrf();
    let forged = admin
        .post("/pengguna/bandung", &[("csrf", "x"), ("action", "disable")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let done = admin
        .post(
            "/pengguna/bandung",
            &[("csrf", &csrf), ("action", "disable")],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(
        done.testid("user-flash").contains("dinonaktifkan"),
        "{}",
        done.body
    );
    assert_eq!(
        bandung.get("/wilayah/32.73").await.location.as_deref(),
        Some("/login?next=/wilayah/32.73")
    );
    admin
        .post(
            "/pengguna/bandung",
            &[("csrf", &csrf), ("action", "enable")],
        )
        .await;
    let reset = admin
        .post(
            "/pengguna/bandung",
            &[("csrf", &csrf), ("action", "reset_password")],
        )
        .await;
    assert!(
        reset.testid("user-flash").contains("sekali pakai"),
        "{}",
        reset.body
    );
    let bad = admin
        .post("/pengguna/bandung", &[("csrf", &csrf), ("action", "drop")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        admin
            .post(
                "/pengguna/nobody",
                &[("csrf", &csrf), ("action", "disable")]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Issue 22: an administrator creates an account on a page. Every problem of the form is
    // shown at once beside its field, in Indonesian; nothing is created.
    let mut lurah = Browser::new(&app);
    lurah.sign_in("lurah").await;
    assert_eq!(
        lurah.get("/pengguna/baru").await.status,
        StatusCode::FORBIDDEN
    );
    let form = admin.get("/pengguna/baru").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body.contains("pejabat desa"),
        "roles in words: {}",
        form.body
    );
    let wrong = admin
        .post(
            "/pengguna",
            &[
                ("csrf", &csrf),
                ("username", "x"),
                ("role", "village_official"),
                ("region", "32.73"),
                ("nik", "123"),
            ],
        )
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.body
    );
    for (field, words) in [
        ("username", "3 sampai 64"),
        ("region", "pejabat desa dengan kode desa"),
        ("nik", "NIK"),
    ] {
        assert!(
            wrong
                .body
                .contains(&format!("id=\"{field}-err\" aria-live=\"polite\">"))
                && wrong
                    .body
                    .split(&format!("id=\"{field}-err\""))
                    .nth(1)
                    .is_some_and(|rest| rest.split("</p>").next().unwrap_or("").contains(words)),
            "{field}: {}",
            wrong.body
        );
    }
    assert!(!wrong.body.contains("village_official:"), "{}", wrong.body);
    assert!(app.store.user_by_username("x").await.unwrap().is_none());
    let forged = admin
        .post(
            "/pengguna",
            &[("csrf", "x"), ("username", "lurah2"), ("role", "analyst")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let made = admin
        .post(
            "/pengguna",
            &[
                ("csrf", &csrf),
                ("username", " Lurah.Sukamaju "),
                ("role", "village_official"),
                ("region", "32.73.01.1001"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let flash = made.testid("user-flash");
    assert!(flash.contains("lurah.sukamaju dibuat"), "{flash}");
    let password = made
        .body
        .split("data-testid=\"user-flash\"")
        .nth(1)
        .and_then(|rest| rest.split("<code>").nth(1))
        .and_then(|c| c.split("</code>").next())
        .unwrap()
        .to_string();
    assert_eq!(password.len(), 20, "{password}");
    let user = app
        .store
        .user_by_username("lurah.sukamaju")
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.must_change_password,
        "a generated password is changed at first sign-in"
    );
    assert_eq!(user.region, "32.73.01.1001");
    // The same name again is refused by its field, not a failure.
    let again = admin
        .post(
            "/pengguna",
            &[
                ("csrf", &csrf),
                ("username", "lurah.sukamaju"),
                ("role", "analyst"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.body.contains("sudah dipakai"), "{}", again.body);
    // The list filters by name.
    let found = admin.get("/pengguna?q=sukamaju").await;
    assert!(found.body.contains("data-testid=\"user-lurah.sukamaju\""));
    assert!(!found.body.contains("data-testid=\"user-bandung\""));
    let log = app.store.audit_log().await.unwrap();
    assert!(
        log.iter()
            .any(|r| r.entry.action == "user.add" && r.entry.actor == "admin"),
        "user.add audited"
    );
    for action in ["user.disabled", "user.enabled", "user.password_reset"] {
        assert!(
            log.iter()
                .any(|r| r.entry.action == action && r.entry.actor == "admin"),
            "{action}"
        );
    }
}

/// `/mitra-bayar` (issue #19): head office adds a channel partner on a page, bad details are
/// explained in Indonesian field by field, the partner is switched off; a branch may not.
async fn the_partners_page(store: Arc<dyn Store>) {
    let app = app_on(store, &auth()).await;
    people(&app).await;
    let mut bandung = Browser::new(&app);
    bandung.sign_in("bandung").await;
    assert_eq!(
        bandung.get("/mitra-bayar").await.status,
        StatusCode::FORBIDDEN
    );
    let mut admin = Browser::new(&app);
    admin.sign_in("admin").await;
    let page = admin.get("/mitra-bayar").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Jaringan minimarket"), "{}", page.body);
    let csrf = admin.csrf();
    let bad = admin
        .post(
            "/mitra-bayar",
            &[
                ("csrf", &csrf),
                ("code", "bank satu"),
                ("name", "Bank Satu"),
                ("kind", "bank"),
                ("settlement_account", "12"),
                ("fee", "0"),
                ("public_key", "bukan kunci"),
                ("client_secret", "pendek"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = bad.testid("partner-error");
    for words in [
        "kode mitra",
        "rekening setelmen",
        "kunci publik",
        "rahasia klien",
    ] {
        assert!(error.contains(words), "{words}: {error}");
    }
    assert!(
        !error.contains("partner."),
        "no rule codes on a page: {error}"
    );
    let (_, public) = crate::payments::key_pair();
    let added = admin
        .post(
            "/mitra-bayar",
            &[
                ("csrf", &csrf),
                ("code", "BANK1"),
                ("name", "Bank Satu"),
                ("kind", "bank"),
                ("settlement_account", "1234567890"),
                ("fee", "2.500"),
                ("public_key", public),
                ("client_secret", crate::payments::SECRET),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(
        added.testid("partner-flash").contains("ditambahkan"),
        "{}",
        added.body
    );
    assert!(
        added.body.contains("data-testid=\"partner-BANK1\"") && added.body.contains("Rp2.500"),
        "{}",
        added.body
    );
    assert!(
        !added.body.contains(crate::payments::SECRET),
        "the secret is never shown"
    );
    let off = admin
        .post(
            "/mitra-bayar/BANK1",
            &[("csrf", &csrf), ("action", "deactivate")],
        )
        .await;
    assert_eq!(off.status, StatusCode::OK);
    assert!(
        off.body
            .contains("Dinonaktifkan: tidak menerima token baru"),
        "{}",
        off.body
    );
}

/// The reminder pages (issue #21): the experiment with its effect and interval in words, never
/// a rule code; retention on the page and on the dashboard; the day's plan for those who manage
/// a region; the branch's replies queue answered on a page; the agent's task done in two taps
/// (open it, choose the outcome), only by the agent it belongs to.
async fn the_reminder_pages(store: Arc<dyn Store>) {
    use cakupan_store::reminders::{NewReminder, NewReply};
    let app = app_on(store.clone(), &auth()).await;
    let (p1, p2) = people(&app).await;
    let t = app.token.clone();
    let post = |uri: &str, b: serde_json::Value| {
        let (app, t, uri) = (&app, t.clone(), uri.to_string());
        async move { call_as(app, Some(&t), "POST", &uri, Some(b.to_string())).await }
    };
    perisai_agent(&app, "2026-05").await;
    // A closed campaign of 8–15 November: P1 had an SMS and paid on the 10th; P2 was held out
    // and did not pay. And an open call for the agent to make to P1, and a question from P1.
    let (s, v) = post(
        "/api/v1/postings",
        json!({"kind": "contribution", "reference": "REM-1", "nik": "3273015203900003", "segment": "BPU",
               "first_month": "2026-11", "months": 1, "amount": 8400, "channel": "bank",
               "paid_on": "2026-11-10"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let day = |d: &str| cakupan_domain::month::parse_date(d).unwrap();
    let reminder =
        |pid: i64, rule: &str, arm, agent: Option<&str>, on: &str, end: &str| NewReminder {
            rule: rule.into(),
            month: cakupan_domain::Month::of(day(on)).index(),
            subject: format!("P{pid}"),
            participant_id: Some(pid),
            invoice_id: None,
            employer_code: None,
            region: if pid == p2 {
                "33.01.01.2001"
            } else {
                "32.73.01.1001"
            }
            .into(),
            segment: "BPU".into(),
            arm,
            agent_code: agent.map(str::to_string),
            planned_on: day(on),
            window_end: day(end),
            pay_by: day(end),
            status: "sent".into(),
        };
    use cakupan_domain::reminders::Arm;
    let mut task = reminder(
        p1,
        "winback_3",
        Arm::Agent,
        Some("PRS-32-0001"),
        "2026-11-20",
        "2026-11-27",
    );
    task.status = "planned".into();
    app.store
        .add_reminders(&[
            reminder(p1, "arrears_1", Arm::Sms, None, "2026-11-08", "2026-11-15"),
            reminder(
                p2,
                "arrears_1",
                Arm::Holdout,
                None,
                "2026-11-08",
                "2026-11-15",
            ),
            task,
        ])
        .await
        .unwrap();
    let task_id = app.store.agent_tasks("PRS-32-0001", true).await.unwrap()[0].id;
    // What the day's planning counts for the reports.
    let ctx = cakupan_server::AppState {
        store: app.store.clone(),
        regions: harness::regions().clone(),
        rules: harness::rules().clone(),
        today: harness::today,
        sms: None,
        auth: auth(),
    };
    cakupan_app::reminders::count_outcomes(&ctx, harness::today())
        .await
        .unwrap();
    let reply = app
        .store
        .add_reply(&NewReply {
            received_at: 1_795_000_000,
            participant_id: Some(p1),
            region: "32.73.01.1001".into(),
            kind: "question".into(),
            phone: "081234567890".into(),
            text: "kode bayar saya berapa?".into(),
            due_at: 1_795_172_800,
        })
        .await
        .unwrap();

    // Head office: the effect of the SMS against the holdout, in words, with its interval.
    let mut admin = Browser::new(&app);
    admin.sign_in("admin").await;
    let page = admin.get("/pengingat").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let sms = &page.body[page.body.find("data-testid=\"effect-sms\"").unwrap()..];
    let sms = &sms[..sms.find("</section>").unwrap()];
    assert!(sms.contains("+100,0 poin"), "{sms}");
    // One person in each arm proves nothing: the interval says so.
    assert!(sms.contains("−12,2 poin sampai +100,0 poin"), "{sms}");
    assert!(sms.contains("Belum terbukti berbeda"), "{sms}");
    assert!(sms.contains("Menunggak 1 bulan"), "{sms}");
    assert!(page.body.contains("data-testid=\"retention-table\""));
    assert!(
        page.body.contains("data-testid=\"plan\""),
        "the day's plan, for head office"
    );
    for code in [
        "arrears_1",
        "winback_3",
        "holdout",
        "agent_vs_sms",
        ">sms<",
        ">BPU<",
    ] {
        assert!(!page.body.contains(code), "no codes on a page: {code}");
    }
    let en = admin.get("/pengingat?lang=en").await;
    assert!(en.body.contains("+100.0 pts"), "{}", en.body);
    assert!(en.body.contains("1 month in arrears"));
    // The dashboard carries retention.
    let dash = admin.get("/wilayah/32.73").await;
    assert!(
        dash.body.contains("data-testid=\"retention\""),
        "{}",
        dash.body
    );
    // An analyst sees the experiment, not the plan; a branch sees its province only (P2's
    // holdout is in Central Java: no comparison for West Java's branch).
    let mut ana = Browser::new(&app);
    ana.sign_in("ana").await;
    let page = ana.get("/pengingat").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("data-testid=\"plan\""));

    // The branch's replies queue: the question, answered on the page.
    let mut bandung = Browser::new(&app);
    bandung.sign_in("bandung").await;
    let page = bandung.get("/pengingat").await;
    assert!(!page.body.contains("+100,0 poin"), "{}", page.body);
    let queue = bandung.get("/pengingat/balasan").await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    assert!(queue.body.contains("kode bayar saya berapa?"));
    assert!(
        queue
            .body
            .contains(&format!("data-testid=\"reply-{reply}\""))
    );
    let csrf = bandung.csrf();
    let forged = bandung
        .post(&format!("/pengingat/balasan/{reply}"), &[("csrf", "x")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let done = bandung
        .post(&format!("/pengingat/balasan/{reply}"), &[("csrf", &csrf)])
        .await;
    assert_eq!(done.location.as_deref(), Some("/pengingat/balasan?ok=1"));
    let queue = bandung.get("/pengingat/balasan?ok=1").await;
    assert_eq!(queue.testid("reply-flash"), "Ditandai sudah dijawab.");
    assert!(queue.body.contains("data-testid=\"replies-empty\""));
    let again = bandung
        .post(&format!("/pengingat/balasan/{reply}"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        again.status,
        StatusCode::SEE_OTHER,
        "answering again is harmless"
    );

    // The agent's task: on the agent's own page only, with the number to call.
    let branch_view = bandung.get("/agen/PRS-32-0001").await;
    assert_eq!(branch_view.status, StatusCode::OK);
    assert!(!branch_view.body.contains("data-testid=\"tasks\""));
    assert!(!branch_view.body.contains("tel:"));
    let refused = bandung
        .post(
            &format!("/agen/PRS-32-0001/tugas/{task_id}"),
            &[("csrf", &csrf), ("outcome", "paid")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let mut agen = Browser::new(&app);
    agen.sign_in("agen").await;
    let mine = agen.get("/agen/PRS-32-0001").await;
    assert!(
        mine.body
            .contains(&format!("data-testid=\"task-{task_id}\"")),
        "{}",
        mine.body
    );
    assert!(mine.body.contains("Siti Aminah"));
    assert!(
        mine.body.contains("href=\"tel:+6281234567890\""),
        "{}",
        mine.body
    );
    assert!(mine.body.contains("Tidak aktif 3 bulan"));
    let csrf = agen.csrf();
    let odd = agen
        .post(
            &format!("/agen/PRS-32-0001/tugas/{task_id}"),
            &[("csrf", &csrf), ("outcome", "maybe")],
        )
        .await;
    assert_eq!(
        odd.location.as_deref(),
        Some("/agen/PRS-32-0001?ok=tugas-salah#tugas-h")
    );
    assert_eq!(
        app.store.reminder(task_id).await.unwrap().unwrap().outcome,
        None
    );
    let tap = agen
        .post(
            &format!("/agen/PRS-32-0001/tugas/{task_id}"),
            &[("csrf", &csrf), ("outcome", "will_pay")],
        )
        .await;
    assert_eq!(
        tap.location.as_deref(),
        Some("/agen/PRS-32-0001?ok=tugas#tugas-h")
    );
    let after = agen.get("/agen/PRS-32-0001?ok=tugas").await;
    assert_eq!(after.testid("flash"), "Hasil tugas dicatat.");
    assert!(after.body.contains("Akan membayar"));
    assert_eq!(
        app.store
            .reminder(task_id)
            .await
            .unwrap()
            .unwrap()
            .outcome
            .as_deref(),
        Some("will_pay")
    );
    let audit = app.store.audit_log().await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.entry.action == "participant.reminder_task"
                && r.entry.actor == "agen"
                && r.entry.record == format!("participant:{p1}"))
    );
    assert!(
        audit
            .iter()
            .any(|r| r.entry.action == "reminder.task" && r.entry.actor == "agen")
    );
    // The agent may call the people on their worklist: a tel: link on their own page only,
    // each number shown an audited read (issue #22). P3, enrolled by the agent in June
    // and paid for August to October, owes November.
    let mut p3 = crate::api::body();
    p3["nik"] = json!("3273015203900006");
    p3["phone"] = json!("0812-5555-0003");
    p3["registered_on"] = json!("2026-06-01");
    let (s, v) = post("/api/v1/participants", p3).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let pay = json!({"kind": "contribution", "reference": "AGEN-P3-9", "nik": "3273015203900006",
        "segment": "BPU", "first_month": "2026-08", "months": 3, "amount": 25200, "channel": "bank",
        "paid_on": "2026-08-10"});
    let (s, v) = post("/api/v1/postings", pay).await;
    assert!(s.is_success(), "{v}");
    let own = agen.get("/agen/PRS-32-0001").await;
    assert!(
        own.body.contains("href=\"tel:+6281255550003\""),
        "{}",
        own.body
    );
    let audit = app.store.audit_log().await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.entry.action == "participant.phone" && r.entry.actor == "agen")
    );
    let mut branch = Browser::new(&app);
    branch.sign_in("bandung").await;
    let theirs = branch.get("/agen/PRS-32-0001").await;
    assert!(
        !theirs.body.contains("tel:+6281255550003"),
        "{}",
        theirs.body
    );
}

/// The search by name (issue #22): by whole words in any case and order, within the
/// searcher's region only, through the words' blind index; a page of results says when more
/// matched; rebuilding the index changes nothing.
async fn the_name_search(store: Arc<dyn Store>) {
    let app = app_on(store.clone(), &auth()).await;
    let (p1, p2) = people(&app).await;
    // P1 in Bandung and P2 in Cilacap are both "Siti Aminah".
    let mut bandung = Browser::new(&app);
    bandung.sign_in("bandung").await;
    let csrf = bandung.csrf();
    let one = bandung
        .post("/peserta/cari", &[("csrf", &csrf), ("q", "aminah SITI")])
        .await;
    assert_eq!(
        one.location.as_deref(),
        Some(format!("/peserta/{p1}").as_str()),
        "one match in the branch's region opens it: {}",
        one.body
    );
    let mut admin = Browser::new(&app);
    admin.sign_in("admin").await;
    let csrf = admin.csrf();
    let both = admin
        .post("/peserta/cari", &[("csrf", &csrf), ("q", "Siti Aminah")])
        .await;
    assert_eq!(both.status, StatusCode::OK, "{}", both.body);
    for id in [p1, p2] {
        assert!(
            both.body.contains(&format!("/peserta/{id}\"")),
            "{}",
            both.body
        );
    }
    // A part of a word is not a word; a word not in the name finds nothing.
    for q in ["Amin", "Siti Rahayu"] {
        let none = admin
            .post("/peserta/cari", &[("csrf", &csrf), ("q", q)])
            .await;
        assert!(
            none.body.contains("Tidak ada peserta"),
            "{q}: {}",
            none.body
        );
    }
    // Each person shown is an audited read.
    let audit = app.store.audit_log().await.unwrap();
    assert!(audit.iter().any(|r| r.entry.action == "participant.search"
        && r.entry.actor == "admin"
        && r.entry.record == format!("participant:{p2}")));
    // The store's own answer, within a region; the index rebuilt changes nothing.
    let region = |c: &str| cakupan_domain::RegionCode::parse(c).unwrap();
    let words = cakupan_domain::participants::name_words("siti aminah");
    let ids = |v: Vec<cakupan_store::Participant>| v.iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .find_by_name(&words, region("33.01"), 10)
            .await
            .unwrap()),
        [p2]
    );
    assert_eq!(
        ids(store
            .find_by_name(&words, region("32.73.01.1001"), 10)
            .await
            .unwrap()),
        [p1]
    );
    let (n, last) = store.reindex_names(0, 1).await.unwrap();
    assert_eq!((n, last), (1, Some(p1.min(p2))));
    let mut after = 0;
    while let (_, Some(l)) = store.reindex_names(after, 100).await.unwrap() {
        after = l;
    }
    assert_eq!(
        ids(store
            .find_by_name(&words, cakupan_domain::RegionCode::NATION, 10)
            .await
            .unwrap()),
        [p1.min(p2), p1.max(p2)]
    );
    assert_eq!(
        ids(store
            .find_by_name(&words, cakupan_domain::RegionCode::NATION, 1)
            .await
            .unwrap())
        .len(),
        1
    );
}
