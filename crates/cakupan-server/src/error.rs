//! API errors: always JSON, always naming the field and the rule when input is at fault.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cakupan_domain::{FieldError, FieldErrors};
use cakupan_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub enum ApiError {
    /// 422: the input broke one or more rules.
    Invalid(FieldErrors),
    /// 400: the body is not JSON, or not an object.
    BadRequest(String),
    NotFound(String),
    /// 409: one participation per NIK per segment.
    Conflict {
        kpj: String,
        message: String,
    },
    /// 409: the NIK has a participation in this segment outside the caller's area; nothing of
    /// it is told.
    ConflictElsewhere {
        message: String,
    },
    Internal(String),
    /// 401: no valid session.
    Unauthenticated(String),
    /// 403: signed in, but the role or area does not allow this.
    Forbidden(String),
    /// 429: too many failed sign-ins; try again after `retry_after_secs`.
    TooManyAttempts {
        message: String,
        retry_after_secs: u64,
    },
    /// 401: the password was right, the second factor is missing, wrong or not set up.
    SecondFactor {
        error: &'static str,
        message: String,
    },
    /// 415: the body is not of a media type the route reads.
    UnsupportedMediaType(String),
    /// 503: the server is at a limit it keeps to stay up (the password-hashing memory
    /// budget); try again after `retry_after_secs`.
    Busy {
        message: String,
        retry_after_secs: u64,
    },
}

/// One problem with one field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorBody {
    /// The input field, e.g. `nik` or `heirs[0].name`.
    pub field: String,
    /// The stable code of the rule that failed, e.g. `nik.length`.
    pub rule: String,
    /// What is wrong, in words.
    pub message: String,
}

impl From<&FieldError> for FieldErrorBody {
    fn from(e: &FieldError) -> Self {
        FieldErrorBody {
            field: e.field.clone(),
            rule: e.rule.to_string(),
            message: e.message.clone(),
        }
    }
}

/// The error envelope of every failed request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `invalid`, `bad_request`, `not_found`, `conflict` or `internal`.
    pub error: String,
    pub message: String,
    /// For `invalid`: every problem found, by field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldErrorBody>,
    /// For `conflict`: the KPJ of the participation that already exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_kpj: Option<String>,
}

/// The error's message, as its response body carries it.
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Invalid(errs) => write!(f, "{errs}"),
            ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Internal(m)
            | ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::Conflict { message: m, .. }
            | ApiError::ConflictElsewhere { message: m }
            | ApiError::TooManyAttempts { message: m, .. }
            | ApiError::SecondFactor { message: m, .. }
            | ApiError::Busy { message: m, .. } => f.write_str(m),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { ref kpj, .. } => ApiError::Conflict {
                kpj: kpj.clone(),
                message: e.to_string(),
            },
            StoreError::Rejected(errors) => ApiError::Invalid(errors),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::Internal("the registry could not complete the request".into())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Invalid(errs) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody {
                    error: "invalid".into(),
                    message: errs.to_string(),
                    errors: errs.iter().map(FieldErrorBody::from).collect(),
                    existing_kpj: None,
                },
            ),
            ApiError::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                ErrorBody {
                    error: "bad_request".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            ApiError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                ErrorBody {
                    error: "not_found".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            ApiError::Conflict { kpj, message } => (
                StatusCode::CONFLICT,
                ErrorBody {
                    error: "conflict".into(),
                    errors: vec![FieldErrorBody {
                        field: "nik".into(),
                        rule: "nik.one_per_segment".into(),
                        message: message.clone(),
                    }],
                    message,
                    existing_kpj: Some(kpj),
                },
            ),
            ApiError::ConflictElsewhere { message } => (
                StatusCode::CONFLICT,
                ErrorBody {
                    error: "conflict".into(),
                    errors: vec![FieldErrorBody {
                        field: "nik".into(),
                        rule: "nik.registered_elsewhere".into(),
                        message: message.clone(),
                    }],
                    message,
                    existing_kpj: None,
                },
            ),
            ApiError::Internal(m) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorBody {
                    error: "internal".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            ApiError::SecondFactor { error, message } => (
                StatusCode::UNAUTHORIZED,
                ErrorBody {
                    error: error.into(),
                    message,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            ApiError::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorBody {
                    error: "unsupported_media_type".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            ApiError::Unauthenticated(m) => (
                StatusCode::UNAUTHORIZED,
                ErrorBody {
                    error: "unauthenticated".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            ApiError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                ErrorBody {
                    error: "forbidden".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            ApiError::TooManyAttempts {
                message,
                retry_after_secs,
            } => {
                return retry_later(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    message,
                    retry_after_secs,
                );
            }
            ApiError::Busy {
                message,
                retry_after_secs,
            } => {
                return retry_later(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    message,
                    retry_after_secs,
                );
            }
        };
        (status, Json(body)).into_response()
    }
}

/// A refusal to come back later: the status, `Retry-After` and the error body.
fn retry_later(
    status: StatusCode,
    error: &str,
    message: String,
    retry_after_secs: u64,
) -> axum::response::Response {
    let body = ErrorBody {
        error: error.into(),
        message,
        errors: vec![],
        existing_kpj: None,
    };
    (
        status,
        [(
            axum::http::header::RETRY_AFTER,
            retry_after_secs.to_string(),
        )],
        Json(body),
    )
        .into_response()
}

/// Reads a JSON request body into `T`. A field the body type does not know is refused as
/// `field.unknown` naming it (every input type denies unknown fields, so a misspelt optional
/// field is never silently ignored); any other fault is `bad_request` saying what was expected.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        match text
            .strip_prefix("unknown field `")
            .and_then(|r| r.split_once('`'))
        {
            Some((field, _)) => ApiError::Invalid(
                FieldError::new(
                    field.to_string(),
                    "field.unknown",
                    format!("{field} is not a field of {what}"),
                )
                .into(),
            ),
            None => ApiError::BadRequest(format!("the body must be {what}: {text}")),
        }
    })
}
