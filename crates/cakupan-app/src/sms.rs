//! The SMS gateway (issue #20): Kannel's HTTP `sendsms` interface, with delivery reports
//! asked for through `dlr-url` and recorded by `POST`/`GET /api/v1/sms/{id}/report`.
//!
//! Each SMS is recorded before it is handed over (`sms_messages`: its purpose and status, never
//! the number or the text), so a report can name it; the report's URL carries a tag keyed on the
//! SMS id, so nobody else can mark an SMS delivered.

use crate::{AppError, Context};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// Where and how to send: Kannel's `sendsms` URL (`http://host:port/cgi-bin/sendsms`), the
/// `sendsms-user` credentials, the sender name, and the base URL Kannel calls back for delivery
/// reports (this server as Kannel reaches it; none: no reports asked for).
#[derive(Clone)]
pub struct Gateway {
    pub url: String,
    pub username: String,
    pub password: String,
    pub from: String,
    pub report_base: Option<String>,
    /// The secret Kannel's MO service (`sms-service` `get-url`) puts in the `tag` of every
    /// reply it forwards to `GET /api/v1/sms/inbound`; none: replies are not accepted.
    pub inbound_token: Option<String>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("from", &self.from)
            .field("report_base", &self.report_base)
            .field("inbound_token", &self.inbound_token.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// Why an SMS did not go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// No connection to the gateway could be made: nothing was handed over.
    NotConnected(String),
    /// The gateway did not answer in time: the message may or may not have gone.
    Down(String),
    /// The gateway answered but refused the message.
    Refused(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::NotConnected(m) => write!(f, "the SMS gateway cannot be reached: {m}"),
            SendError::Down(m) => write!(f, "the SMS gateway did not answer: {m}"),
            SendError::Refused(m) => write!(f, "the SMS gateway refused the message: {m}"),
        }
    }
}

/// `application/x-www-form-urlencoded` escaping of one value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The tag a delivery report's URL carries for SMS `id`: keyed, so reports cannot be forged.
pub fn report_tag(st: &Context, id: i64) -> String {
    hex::encode(&st.store.keys().token_tag(&format!("sms report {id}"))[..8])
}

impl Gateway {
    /// The `sendsms` request for one message: `dlr-mask` 31 asks for every report (delivered,
    /// failed, buffered, accepted and rejected by the SMSC); Kannel puts the status in `%d`.
    fn request_uri(&self, to: &str, text: &str, report: Option<String>) -> String {
        let mut q = format!(
            "{}?username={}&password={}&from={}&to={}&text={}&charset=UTF-8",
            self.url,
            url_encode(&self.username),
            url_encode(&self.password),
            url_encode(&self.from),
            url_encode(to),
            url_encode(text)
        );
        if let Some(r) = report {
            q.push_str("&dlr-mask=31&dlr-url=");
            q.push_str(&url_encode(&r));
        }
        q
    }

    /// Sends one GET to the gateway and reads its answer within `timeout`.
    async fn get(&self, uri: &str, timeout: Duration) -> Result<(u16, String), SendError> {
        let parsed: hyper::Uri = uri
            .parse()
            .map_err(|e| SendError::Down(format!("the gateway URL {}: {e}", self.url)))?;
        let host = parsed
            .host()
            .ok_or_else(|| SendError::Down(format!("the gateway URL {} has no host", self.url)))?
            .to_string();
        let port = parsed.port_u16().unwrap_or(80);
        if parsed.scheme_str() != Some("http") {
            return Err(SendError::Down(format!(
                "the gateway URL {} must be http:// (Kannel's sendsms on a private network)",
                self.url
            )));
        }
        let work = async {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| SendError::NotConnected(e.to_string()))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| SendError::NotConnected(e.to_string()))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let path = parsed
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let req = hyper::Request::get(path)
                .header(hyper::header::HOST, format!("{host}:{port}"))
                .body(Empty::<Bytes>::new())
                .map_err(|e| SendError::Down(e.to_string()))?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| SendError::Down(e.to_string()))?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| SendError::Down(e.to_string()))?
                .to_bytes();
            Ok((status, String::from_utf8_lossy(&body).trim().to_string()))
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| SendError::Down(format!("no answer within {} s", timeout.as_secs())))?
    }
}

/// The gateway's timeout from the rules in force.
fn timeout(st: &Context) -> Duration {
    let secs = crate::enrolment::policy(st)
        .map(|r| r.sms_timeout_secs)
        .unwrap_or(1);
    Duration::from_secs(u64::from(secs.max(1)))
}

/// Sends `text` to `to` (E.164) through the configured gateway, recorded as an SMS of
/// `purpose`; returns the SMS id. No gateway configured, or one that is down or refuses, is an
/// error the caller shows (nothing else of the caller's work should be stored before it).
pub async fn send(st: &Context, purpose: &str, to: &str, text: &str) -> Result<i64, AppError> {
    let gw = gateway(st)?;
    let now = cakupan_store::clock::now_secs();
    let id = st.store.add_sms(purpose, now).await?;
    match hand_over(st, gw, id, to, text).await {
        Ok(()) => Ok(id),
        Err(e) => {
            st.store.set_sms_status(id, "not_sent", now).await?;
            tracing::warn!("SMS {id} ({purpose}) not sent: {e}");
            Err(AppError::Busy {
                message: format!("{e}; nothing was stored: try again in a moment"),
                retry_after_secs: 30,
            })
        }
    }
}

/// The configured gateway, or the error that none is.
pub fn gateway(st: &Context) -> Result<&Gateway, AppError> {
    st.sms.as_deref().ok_or_else(|| AppError::Busy {
        message: "no SMS gateway is configured on this server (--sms-url): SMS cannot be sent"
            .into(),
        retry_after_secs: 60,
    })
}

/// Hands SMS `id` (already recorded) to the gateway, asking for its delivery reports.
pub async fn hand_over(
    st: &Context,
    gw: &Gateway,
    id: i64,
    to: &str,
    text: &str,
) -> Result<(), SendError> {
    let report = gw.report_base.as_ref().map(|base| {
        format!(
            "{}/api/v1/sms/{id}/report?tag={}&status=%d",
            base.trim_end_matches('/'),
            report_tag(st, id)
        )
    });
    let uri = gw.request_uri(to, text, report);
    match gw.get(&uri, timeout(st)).await {
        // Kannel: 202 "0: Accepted for delivery" or "3: Queued for later delivery".
        Ok((200..=299, body)) if body.starts_with("0:") || body.starts_with("3:") => Ok(()),
        Ok((status, body)) => Err(SendError::Refused(format!("{status} {body}"))),
        Err(e) => Err(e),
    }
}

/// Kannel's delivery report codes (`%d`): 1 delivered, 2 failed, 4 buffered, 8 accepted by the
/// SMSC, 16 rejected by the SMSC.
pub fn report_status(code: &str) -> Option<&'static str> {
    match code.trim() {
        "1" => Some("delivered"),
        "2" => Some("failed"),
        "4" => Some("buffered"),
        "8" => Some("accepted"),
        "16" => Some("rejected"),
        _ => None,
    }
}

/// Records a delivery report. A report with a wrong tag or an unknown status is refused
/// (`NotFound`, so a forger learns nothing); a final status replaces any, a passing one
/// (accepted, buffered) only a passing one: Kannel sends its reports together, in any order.
pub async fn record_report(st: &Context, id: i64, tag: &str, code: &str) -> Result<(), AppError> {
    let expected = report_tag(st, id);
    let tag_ok = cakupan_store::enrolment::same_hash(&expected, tag.trim());
    let Some(status) = report_status(code).filter(|_| tag_ok) else {
        return Err(AppError::NotFound("no such SMS report".into()));
    };
    let changed = st
        .store
        .set_sms_status(id, status, cakupan_store::clock::now_secs())
        .await?;
    if !changed && st.store.sms_status(id).await?.is_none() {
        return Err(AppError::NotFound("no such SMS report".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_escapes_every_value() {
        let g = Gateway {
            url: "http://127.0.0.1:13013/cgi-bin/sendsms".into(),
            username: "u s".into(),
            password: "p&w".into(),
            from: "BPJS".into(),
            report_base: None,
            inbound_token: None,
        };
        let uri = g.request_uri(
            "+6281234567890",
            "Kode: 1 2",
            Some("http://h/r?a=1&s=%d".into()),
        );
        assert!(uri.contains("username=u%20s&password=p%26w"));
        assert!(uri.contains("to=%2B6281234567890"));
        assert!(uri.contains("text=Kode%3A%201%202"));
        assert!(uri.contains("dlr-url=http%3A%2F%2Fh%2Fr%3Fa%3D1%26s%3D%25d"));
        assert!(!format!("{g:?}").contains("p&w"));
    }

    #[test]
    fn report_codes() {
        assert_eq!(report_status("1"), Some("delivered"));
        assert_eq!(report_status("16"), Some("rejected"));
        assert_eq!(report_status("x"), None);
    }
}
