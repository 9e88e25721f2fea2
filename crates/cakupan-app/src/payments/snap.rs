//! Bank Indonesia's SNAP (Standar Nasional Open API Pembayaran) as the agency's biller speaks
//! it (issue #19, docs/formats.md "The biller endpoints"): response codes, the access token's
//! asymmetric signature, the transaction requests' symmetric signature, timestamps, and the
//! bodies of the virtual-account inquiry, payment and status services.
//!
//! Both sides are here: the server checks what a partner sent, and the load generator and the
//! simulated partners (`cakupan bench payments`, `simulate`) sign what they send with the
//! same functions, over real HTTP.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

/// The SNAP services the biller answers, with their service codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// B2B access token (`/v1.0/access-token/b2b`).
    Token,
    /// Virtual-account inquiry (`/v1.0/transfer-va/inquiry`).
    Inquiry,
    /// Virtual-account payment (`/v1.0/transfer-va/payment`).
    Payment,
    /// Payment status inquiry (`/v1.0/transfer-va/status`).
    Status,
}

impl Service {
    pub fn code(self) -> &'static str {
        match self {
            Service::Token => "73",
            Service::Inquiry => "24",
            Service::Payment => "25",
            Service::Status => "26",
        }
    }

    /// The path after the prefix the biller's endpoints are served under.
    pub fn path(self) -> &'static str {
        match self {
            Service::Token => "/v1.0/access-token/b2b",
            Service::Inquiry => "/v1.0/transfer-va/inquiry",
            Service::Payment => "/v1.0/transfer-va/payment",
            Service::Status => "/v1.0/transfer-va/status",
        }
    }
}

/// Where the biller endpoints are served: `PREFIX` + [`Service::path`].
pub const PREFIX: &str = "/snap";

/// A SNAP answer that is not a success: the HTTP status, the 7-digit `responseCode` (HTTP
/// status, service code, case code) and its `responseMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapError {
    pub http: u16,
    pub code: String,
    pub message: String,
}

impl SnapError {
    fn new(http: u16, service: Service, case: &str, message: impl Into<String>) -> SnapError {
        SnapError {
            http,
            code: format!("{http}{}{case}", service.code()),
            message: message.into(),
        }
    }
    /// 4xxxx00: the body is not JSON, or not an object.
    pub fn bad_request(s: Service, why: &str) -> SnapError {
        Self::new(400, s, "00", format!("Bad Request. {why}"))
    }
    /// 400xx01: a field is malformed.
    pub fn invalid_field(s: Service, field: &str) -> SnapError {
        Self::new(400, s, "01", format!("Invalid Field Format {field}"))
    }
    /// 400xx02: a mandatory field or header is missing.
    pub fn mandatory(s: Service, field: &str) -> SnapError {
        Self::new(400, s, "02", format!("Invalid Mandatory Field {field}"))
    }
    /// 401xx00: a signature, a timestamp or a partner is refused.
    pub fn unauthorized(s: Service, why: &str) -> SnapError {
        Self::new(401, s, "00", format!("Unauthorized. {why}"))
    }
    /// 401xx01: the access token is missing, malformed, expired or another partner's.
    pub fn invalid_token(s: Service) -> SnapError {
        Self::new(401, s, "01", "Invalid Token (B2B)")
    }
    /// 404xx01: no such transaction (status inquiry).
    pub fn transaction_not_found(s: Service) -> SnapError {
        Self::new(404, s, "01", "Transaction Not Found")
    }
    /// 404xx12: the virtual account names nothing that can be paid.
    pub fn bill_not_found(s: Service, why: &str) -> SnapError {
        Self::new(404, s, "12", format!("Invalid Bill/Virtual Account {why}"))
    }
    /// 404xx13: the amount is not what is due; the message says what is.
    pub fn invalid_amount(s: Service, due: &str) -> SnapError {
        Self::new(404, s, "13", format!("Invalid Amount. {due}"))
    }
    /// 404xx14: nothing is due on the bill.
    pub fn paid_bill(s: Service) -> SnapError {
        Self::new(404, s, "14", "Paid Bill")
    }
    /// 404xx18: the payment request id was used before with another code or amount.
    pub fn inconsistent(s: Service) -> SnapError {
        Self::new(404, s, "18", "Inconsistent Request")
    }
    /// 409xx00: the X-EXTERNAL-ID was used by this partner today.
    pub fn conflict(s: Service) -> SnapError {
        Self::new(409, s, "00", "Conflict")
    }
    /// 500xx00: our failure; the partner may retry.
    pub fn general(s: Service) -> SnapError {
        Self::new(500, s, "00", "General Error")
    }

    /// The answer's body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"responseCode": self.code, "responseMessage": self.message})
    }
}

/// The success code of a service.
pub fn success(s: Service) -> String {
    format!("200{}00", s.code())
}

/// The headers a SNAP request carries (each as sent, when sent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pub timestamp: Option<String>,
    pub client_key: Option<String>,
    pub signature: Option<String>,
    pub authorization: Option<String>,
    pub partner_id: Option<String>,
    pub external_id: Option<String>,
    pub channel_id: Option<String>,
}

/// A JSON body without the whitespace outside its strings, in the order it was written: what
/// SNAP hashes ("minify(RequestBody)"). `None` when the body is not JSON.
pub fn minify(body: &[u8]) -> Option<Vec<u8>> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).ok()?;
    let mut out = Vec::with_capacity(body.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !b.is_ascii_whitespace() {
            out.push(b);
        }
    }
    Some(out)
}

/// The string a transaction request's signature covers:
/// `METHOD:path:accessToken:lowercase(hex(SHA-256(minify(body)))):timestamp`.
pub fn string_to_sign(method: &str, path: &str, token: &str, body: &[u8], ts: &str) -> String {
    let hash = hex::encode(Sha256::digest(minify(body).unwrap_or_default()));
    format!("{method}:{path}:{token}:{hash}:{ts}")
}

/// HMAC-SHA512 of `data` under the partner's client secret, base64: `X-SIGNATURE` of a
/// transaction request.
pub fn transaction_signature(secret: &str, data: &str) -> String {
    let Ok(mut mac) = <Hmac<Sha512> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Whether `signature` is the transaction signature of `data` (compared in constant time).
pub fn transaction_signature_holds(secret: &str, data: &str, signature: &str) -> bool {
    let Ok(sig) = B64.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha512> as Mac>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(data.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// What an access-token request's signature covers: `clientKey|timestamp`.
pub fn token_string_to_sign(client_key: &str, ts: &str) -> String {
    format!("{client_key}|{ts}")
}

/// The partner's RSA public key from its PEM (SubjectPublicKeyInfo or PKCS#1), or why not.
pub fn public_key(pem: &str) -> Result<rsa::RsaPublicKey, String> {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    let key = rsa::RsaPublicKey::from_public_key_pem(pem.trim())
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(pem.trim()))
        .map_err(|_| "the public key is not an RSA public key in PEM".to_string())?;
    use rsa::traits::PublicKeyParts as _;
    if key.size() * 8 < 2048 {
        return Err("the RSA key must have at least 2048 bits".into());
    }
    Ok(key)
}

/// Whether `signature` (base64) is the partner's SHA256withRSA (PKCS#1 v1.5) signature of
/// `data` under `key`.
pub fn token_signature_holds(key: &rsa::RsaPublicKey, data: &str, signature: &str) -> bool {
    use rsa::signature::Verifier as _;
    let Ok(bytes) = B64.decode(signature.trim()) else {
        return false;
    };
    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
        .verify(data.as_bytes(), &sig)
        .is_ok()
}

/// A partner's side: signs `data` with its private key (PKCS#8 or PKCS#1 PEM), base64. For
/// the load generator and the simulated partners; the agency never holds a partner's key.
pub fn sign_with_private_key(private_pem: &str, data: &str) -> Result<String, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_pem.trim())
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(private_pem.trim()))
        .map_err(|_| "not an RSA private key in PEM".to_string())?;
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key);
    Ok(B64.encode(signer.sign(data.as_bytes()).to_bytes()))
}

/// A new RSA key pair for a (simulated) partner: (private PKCS#8 PEM, public SPKI PEM).
pub fn new_key_pair(bits: usize) -> Result<(String, String), String> {
    use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
    let mut rng = rsa::rand_core::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, bits).map_err(|e| e.to_string())?;
    let public = private.to_public_key();
    Ok((
        private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?
            .to_string(),
        public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?,
    ))
}

/// A SNAP timestamp (`yyyy-MM-ddTHH:mm:ss` with an offset, fractions allowed).
pub fn parse_timestamp(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()
}

/// An amount as SNAP writes it: `{"value": "16800.00", "currency": "IDR"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub value: String,
    pub currency: String,
}

impl Amount {
    pub fn idr(rupiah: i64) -> Amount {
        Amount {
            value: format!("{rupiah}.00"),
            currency: "IDR".into(),
        }
    }

    /// Whole rupiah: the value must be digits with `.00` (rupiah have no smaller unit on
    /// these channels) and the currency IDR.
    pub fn rupiah(&self) -> Option<i64> {
        if self.currency != "IDR" {
            return None;
        }
        let whole = self.value.strip_suffix(".00")?;
        if whole.is_empty() || whole.len() > 15 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        whole.parse().ok()
    }
}

/// Text in both languages, as SNAP's reason fields carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub english: String,
    pub indonesia: String,
}

/// `POST /v1.0/transfer-va/inquiry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InquiryRequest {
    pub partner_service_id: String,
    pub customer_no: String,
    pub virtual_account_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trx_date_init: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_code: Option<serde_json::Value>,
    pub inquiry_request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<AdditionalInfo>,
}

/// What Cakupan reads and adds in `additionalInfo`: the number of months a worker pays for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<u32>,
}

/// One bill of an inquiry's answer: a number of months a worker may pay for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillDetail {
    pub bill_code: String,
    pub bill_name: String,
    pub bill_description: Reason,
    pub bill_amount: Amount,
}

/// `POST /v1.0/transfer-va/payment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    pub partner_service_id: String,
    pub customer_no: String,
    pub virtual_account_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_account_name: Option<String>,
    pub payment_request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_code: Option<serde_json::Value>,
    pub paid_amount: Amount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<Amount>,
    pub trx_date_time: String,
    #[serde(default)]
    pub reference_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<AdditionalInfo>,
}

/// `POST /v1.0/transfer-va/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRequest {
    pub partner_service_id: String,
    pub customer_no: String,
    pub virtual_account_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inquiry_request_id: Option<String>,
    pub payment_request_id: String,
}

/// A request naming a virtual account by its three fields.
pub trait VirtualAccountFields {
    /// `partnerServiceId`, `customerNo` and `virtualAccountNo` as sent.
    fn va_fields(&self) -> (&str, &str, &str);
}

macro_rules! va_fields {
    ($($t:ty),*) => {$(
        impl VirtualAccountFields for $t {
            fn va_fields(&self) -> (&str, &str, &str) {
                (&self.partner_service_id, &self.customer_no, &self.virtual_account_no)
            }
        }
    )*};
}
va_fields!(InquiryRequest, PaymentRequest, StatusRequest);

/// `POST /v1.0/access-token/b2b`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    pub grant_type: String,
}

/// Parses a service's body, naming the first field that fails as SNAP does.
pub fn parse_body<T: serde::de::DeserializeOwned>(s: Service, body: &[u8]) -> Result<T, SnapError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| SnapError::bad_request(s, "The body is not JSON"))?;
    if !value.is_object() {
        return Err(SnapError::bad_request(s, "The body is not a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| {
        let text = e.to_string();
        // serde names the field: "missing field `x`" or "invalid type: …" (with the path
        // unknown); the first is a mandatory field, the rest a format.
        if let Some(f) = text
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            SnapError::mandatory(s, f)
        } else {
            SnapError::invalid_field(s, text.split(" at line").next().unwrap_or(&text))
        }
    })
}

/// A partner's access token: `<partner>.<expiry, unix seconds>.<tag>`, the tag keyed with the
/// deployment's index key ([`cakupan_store::crypto::Keys::token_tag`]). Stateless: any server
/// of the deployment checks it without a database read.
pub fn mint_token(keys: &cakupan_store::crypto::Keys, partner: &str, expires: i64) -> String {
    let contents = format!("{partner}.{expires}");
    format!("{contents}.{}", hex::encode(keys.token_tag(&contents)))
}

/// The partner a token was minted for, if the token is whole and not expired at `now`.
pub fn token_partner(keys: &cakupan_store::crypto::Keys, token: &str, now: i64) -> Option<String> {
    let (contents, tag) = token.trim().rsplit_once('.')?;
    let (partner, expires) = contents.split_once('.')?;
    let tag = hex::decode(tag).ok()?;
    let want = keys.token_tag(contents);
    let same =
        tag.len() == want.len() && tag.iter().zip(&want).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
    let expires: i64 = expires.parse().ok()?;
    (same && now < expires).then(|| partner.to_string())
}

/// A partner's side of the protocol: what a bank or payment point sends, signed with its own
/// keys. The load generator, the simulated partners and the tests use it over real requests.
#[derive(Clone)]
pub struct Client {
    pub code: String,
    pub private_key: String,
    pub client_secret: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The headers of an access-token request at `ts`.
    pub fn token_headers(&self, ts: &str) -> Result<Vec<(&'static str, String)>, String> {
        let sig = sign_with_private_key(&self.private_key, &token_string_to_sign(&self.code, ts))?;
        Ok(vec![
            ("x-timestamp", ts.to_string()),
            ("x-client-key", self.code.clone()),
            ("x-signature", sig),
        ])
    }

    /// The headers of a transaction request to `path` with `body` at `ts`.
    pub fn transaction_headers(
        &self,
        token: &str,
        path: &str,
        body: &[u8],
        ts: &str,
        external_id: &str,
    ) -> Vec<(&'static str, String)> {
        let sig = transaction_signature(
            &self.client_secret,
            &string_to_sign("POST", path, token, body, ts),
        );
        vec![
            ("authorization", format!("Bearer {token}")),
            ("x-timestamp", ts.to_string()),
            ("x-signature", sig),
            ("x-partner-id", self.code.clone()),
            ("x-external-id", external_id.to_string()),
            ("channel-id", "95221".to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_strings_and_order() {
        let body = br#"{ "b" : 1,
            "a": "x y\" z" }"#;
        assert_eq!(minify(body).unwrap(), br#"{"b":1,"a":"x y\" z"}"#.to_vec());
        assert!(minify(b"{nope").is_none());
    }

    #[test]
    fn a_transaction_signature_covers_every_part() {
        let sts = string_to_sign(
            "POST",
            "/snap/v1.0/transfer-va/payment",
            "tok",
            b"{\"a\": 1}",
            "2026-11-23T10:00:00+07:00",
        );
        assert!(sts.starts_with("POST:/snap/v1.0/transfer-va/payment:tok:"));
        // SHA-256 of the minified body {"a":1}.
        assert!(sts.contains(&hex::encode(Sha256::digest(b"{\"a\":1}"))));
        let sig = transaction_signature("secret", &sts);
        assert!(transaction_signature_holds("secret", &sts, &sig));
        assert!(!transaction_signature_holds("other", &sts, &sig));
        let changed = sts.replace(":tok:", ":tok2:");
        assert!(!transaction_signature_holds("secret", &changed, &sig));
        assert!(!transaction_signature_holds("secret", &sts, "not base64!"));
    }

    #[test]
    fn an_rsa_signature_holds_only_for_its_key_and_text() {
        let (private, public) = new_key_pair(2048).unwrap();
        let key = public_key(&public).unwrap();
        let sts = token_string_to_sign("BANK1", "2026-11-23T10:00:00+07:00");
        let sig = sign_with_private_key(&private, &sts).unwrap();
        assert!(token_signature_holds(&key, &sts, &sig));
        assert!(!token_signature_holds(
            &key,
            &token_string_to_sign("BANK2", "2026-11-23T10:00:00+07:00"),
            &sig
        ));
        let (_, other) = new_key_pair(2048).unwrap();
        assert!(!token_signature_holds(
            &public_key(&other).unwrap(),
            &sts,
            &sig
        ));
        assert!(public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
    }

    #[test]
    fn amounts_are_whole_rupiah_in_idr() {
        assert_eq!(Amount::idr(16_800).rupiah(), Some(16_800));
        let a = |v: &str, c: &str| {
            Amount {
                value: v.into(),
                currency: c.into(),
            }
            .rupiah()
        };
        assert_eq!(a("16800.50", "IDR"), None);
        assert_eq!(a("16800", "IDR"), None);
        assert_eq!(a("16800.00", "USD"), None);
        assert_eq!(a("-1.00", "IDR"), None);
        assert_eq!(a(".00", "IDR"), None);
    }

    #[test]
    fn tokens_expire_and_cannot_be_forged() {
        let keys = cakupan_store::crypto::Keys::for_tests();
        let t = mint_token(&keys, "BANK1", 1_000);
        assert_eq!(token_partner(&keys, &t, 999).as_deref(), Some("BANK1"));
        assert_eq!(token_partner(&keys, &t, 1_000), None);
        let forged = t.replace("BANK1.1000", "BANK2.1000");
        assert_eq!(token_partner(&keys, &forged, 999), None);
        let longer = t.replace(".1000.", ".9999.");
        assert_eq!(token_partner(&keys, &longer, 999), None);
    }

    #[test]
    fn response_codes_are_http_service_case() {
        assert_eq!(SnapError::conflict(Service::Payment).code, "4092500");
        assert_eq!(
            SnapError::bill_not_found(Service::Inquiry, "[Not Found]").code,
            "4042412"
        );
        assert_eq!(success(Service::Token), "2007300");
        let e: SnapError = parse_body::<PaymentRequest>(Service::Payment, b"{}").unwrap_err();
        assert_eq!(e.code, "4002502");
        let e = parse_body::<PaymentRequest>(Service::Payment, b"[1]").unwrap_err();
        assert_eq!(e.code, "4002500");
    }
}
