//! The HTTP side of errors: the services' error ([`cakupan_app::error::AppError`], here
//! `ApiError`) is the response of every failed request; the JSON body reader names the field
//! and the rule of what it refuses.

pub use cakupan_app::error::{AppError as ApiError, ErrorBody, FieldErrorBody};
use cakupan_domain::FieldError;

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
