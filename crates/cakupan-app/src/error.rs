//! The services' error: what went wrong, in kinds the callers tell apart (input at fault, not
//! found, conflict, refused, busy, internal), each with its message. With the `http` feature it
//! is also an HTTP response: always JSON, always naming the field and the rule when input is at
//! fault.

#[cfg(feature = "http")]
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use cakupan_domain::{FieldError, FieldErrors};
use cakupan_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub enum AppError {
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
    /// 500: the store failed (the database, data that does not decode); the store's error is
    /// the source. A response says only that the request could not be completed (the
    /// detail goes to the log).
    Store(StoreError),
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
impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Invalid(errs) => write!(f, "{errs}"),
            AppError::Store(_) => f.write_str("the registry could not complete the request"),
            AppError::BadRequest(m)
            | AppError::NotFound(m)
            | AppError::Internal(m)
            | AppError::Unauthenticated(m)
            | AppError::Forbidden(m)
            | AppError::UnsupportedMediaType(m)
            | AppError::Conflict { message: m, .. }
            | AppError::ConflictElsewhere { message: m }
            | AppError::TooManyAttempts { message: m, .. }
            | AppError::SecondFactor { message: m, .. }
            | AppError::Busy { message: m, .. } => f.write_str(m),
        }
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppError::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FieldErrors> for AppError {
    fn from(e: FieldErrors) -> Self {
        AppError::Invalid(e)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { ref kpj, .. } => AppError::Conflict {
                kpj: kpj.clone(),
                message: e.to_string(),
            },
            StoreError::Rejected(errors) => AppError::Invalid(errors),
            other => AppError::Store(other),
        }
    }
}

#[cfg(feature = "http")]
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            AppError::Invalid(errs) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody {
                    error: "invalid".into(),
                    message: errs.to_string(),
                    errors: errs.iter().map(FieldErrorBody::from).collect(),
                    existing_kpj: None,
                },
            ),
            AppError::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                ErrorBody {
                    error: "bad_request".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            AppError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                ErrorBody {
                    error: "not_found".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            AppError::Conflict { kpj, message } => (
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
            AppError::ConflictElsewhere { message } => (
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
            AppError::Store(e) => {
                tracing::error!(error = %e, "store error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorBody {
                        error: "internal".into(),
                        message: "the registry could not complete the request".into(),
                        errors: vec![],
                        existing_kpj: None,
                    },
                )
            }
            AppError::Internal(m) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorBody {
                    error: "internal".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            AppError::SecondFactor { error, message } => (
                StatusCode::UNAUTHORIZED,
                ErrorBody {
                    error: error.into(),
                    message,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            AppError::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorBody {
                    error: "unsupported_media_type".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            AppError::Unauthenticated(m) => (
                StatusCode::UNAUTHORIZED,
                ErrorBody {
                    error: "unauthenticated".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            AppError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                ErrorBody {
                    error: "forbidden".into(),
                    message: m,
                    errors: vec![],
                    existing_kpj: None,
                },
            ),
            AppError::TooManyAttempts {
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
            AppError::Busy {
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

#[cfg(feature = "http")]
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
