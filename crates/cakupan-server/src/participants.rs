//! The registry's API: registering a participant, finding one (by lookup, KPJ or id), and
//! the regions a registration names.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, FieldErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use cakupan_domain::access::Action;
use cakupan_domain::month::format_date;
use cakupan_domain::participants::{
    Context, FIELDS, HeirInput, OPTIONAL_FIELDS, RegistrationInput, validate,
};
use cakupan_domain::{FieldError, FieldErrors, Nik, RegionCode};
use cakupan_store::Participant;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A registration as sent by a client. Strings throughout, except `income_base`, which may be
/// a JSON integer or a string of digits.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RegistrationBody {
    /// 16-digit NIK.
    #[schema(example = "3273015203900003")]
    pub nik: String,
    /// Full name as on the KTP.
    pub name: String,
    /// YYYY-MM-DD.
    pub birth_date: String,
    /// L or P.
    pub sex: String,
    /// Mobile number: 08…, 628… or +628…; stored as E.164.
    pub phone: Option<String>,
    /// Village of domicile, dotted Kemendagri code (NN.NN.NN.NNNN).
    #[schema(example = "32.73.01.1001")]
    pub village_code: String,
    /// BPU or PU.
    pub segment: String,
    /// A code of rules/occupations.toml.
    pub occupation_code: String,
    /// BPU: a base of the bracket table; PU: the monthly wage. Whole rupiah.
    #[schema(value_type = i64)]
    pub income_base: i64,
    /// Joined with '+': JKK+JKM or JKK+JKM+JHT for BPU.
    pub programs: String,
    /// YYYY-MM-DD; today when absent.
    pub registered_on: Option<String>,
    /// self, perisai, employer, branch or bank.
    pub channel: String,
    /// Required when channel is perisai, otherwise empty.
    pub agent_code: Option<String>,
    /// Domicile address within the village (street, number, RT/RW); optional, at most 200
    /// characters of letters, digits, spaces and . , ' - / ( ) # : &.
    pub address: Option<String>,
    pub heirs: Option<Vec<HeirBody>>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeirBody {
    pub name: String,
    /// spouse, child, parent, sibling or other.
    pub relationship: String,
    pub nik: Option<String>,
    pub phone: Option<String>,
}

/// Reads a JSON object field as text, naming the field when its type is wrong.
pub(crate) fn text(
    obj: &serde_json::Map<String, Value>,
    prefix: &str,
    key: &str,
    errors: &mut FieldErrors,
) -> String {
    match obj.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            errors.push(FieldError::new(
                format!("{prefix}{key}"),
                "type.string",
                format!("{prefix}{key} must be a string"),
            ));
            String::new()
        }
    }
}

pub(crate) fn registration_input(body: &Bytes) -> Result<RegistrationInput, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body must be a JSON object: {e}")))?;
    let Value::Object(obj) = v else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    };
    let mut errors = FieldErrors::default();
    for k in obj.keys() {
        if !(FIELDS.contains(&k.as_str()) || OPTIONAL_FIELDS.contains(&k.as_str()) || k == "heirs")
        {
            errors.push(FieldError::new(
                k.clone(),
                "field.unknown",
                format!("{k} is not a registration field"),
            ));
        }
    }
    let mut heirs = Vec::new();
    match obj.get("heirs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, h) in items.iter().enumerate() {
                let prefix = format!("heirs[{i}].");
                match h {
                    Value::Object(ho) => heirs.push(HeirInput {
                        name: text(ho, &prefix, "name", &mut errors),
                        relationship: text(ho, &prefix, "relationship", &mut errors),
                        nik: text(ho, &prefix, "nik", &mut errors),
                        phone: text(ho, &prefix, "phone", &mut errors),
                    }),
                    _ => errors.push(FieldError::new(
                        format!("heirs[{i}]"),
                        "type.object",
                        "each heir must be an object",
                    )),
                }
            }
        }
        Some(_) => errors.push(FieldError::new(
            "heirs",
            "type.array",
            "heirs must be a list",
        )),
    }
    let input = RegistrationInput {
        nik: text(&obj, "", "nik", &mut errors),
        name: text(&obj, "", "name", &mut errors),
        birth_date: text(&obj, "", "birth_date", &mut errors),
        sex: text(&obj, "", "sex", &mut errors),
        phone: text(&obj, "", "phone", &mut errors),
        village_code: text(&obj, "", "village_code", &mut errors),
        segment: text(&obj, "", "segment", &mut errors),
        occupation_code: text(&obj, "", "occupation_code", &mut errors),
        income_base: text(&obj, "", "income_base", &mut errors),
        programs: text(&obj, "", "programs", &mut errors),
        registered_on: text(&obj, "", "registered_on", &mut errors),
        channel: text(&obj, "", "channel", &mut errors),
        agent_code: text(&obj, "", "agent_code", &mut errors),
        address: text(&obj, "", "address", &mut errors),
        budget_funded: match obj.get("budget_funded") {
            Some(Value::Bool(true)) => "ya".into(),
            Some(Value::Bool(false)) => String::new(),
            _ => text(&obj, "", "budget_funded", &mut errors),
        },
        heirs,
    };
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// A participant as the API shows it: NIK and phone masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantBody {
    pub id: i64,
    pub kpj: String,
    /// The participation's permanent payment code (virtual account) as a payer types it at a
    /// bank, a minimarket or an e-wallet: the agency's partner service id and the 13-digit
    /// customer number (docs/formats.md, "Payment codes").
    pub payment_code: Option<String>,
    /// `3273********0003`.
    pub nik_masked: String,
    pub name: String,
    pub birth_date: String,
    pub sex: String,
    /// `+62812****7890`.
    pub phone_masked: Option<String>,
    pub village_code: String,
    /// Province → village names.
    pub village_path: Vec<String>,
    pub segment: String,
    pub occupation_code: String,
    /// transport or non_transport (PP 50/2025).
    pub sector: String,
    pub income_base: i64,
    pub programs: String,
    pub registered_on: String,
    pub channel: String,
    pub agent_code: Option<String>,
    pub address: Option<String>,
    /// JKK and JKM paid from a state or regional budget: no PP 50/2025 discount.
    pub budget_funded: bool,
    pub heirs: Vec<HeirView>,
    /// Rules that only warned and await review.
    pub review_flags: Vec<String>,
    pub dukcapil_status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HeirView {
    pub name: String,
    pub relationship: String,
    pub nik_masked: Option<String>,
}

/// `+6281234567890` → `+62812****7890`.
pub fn mask_phone(p: &str) -> String {
    let n = p.chars().count();
    if n <= 8 {
        return "*".repeat(n);
    }
    let head: String = p.chars().take(6).collect();
    let tail: String = p.chars().skip(n - 4).collect();
    format!("{head}{}{tail}", "*".repeat(n - 10))
}

pub(crate) fn view(st: &AppState, p: &Participant) -> ParticipantBody {
    let r = &p.registration;
    ParticipantBody {
        id: p.id,
        kpj: p.kpj.clone(),
        payment_code: cakupan_app::payments::code_of(st, p).map(|va| va.digits()),
        nik_masked: r.nik.masked(),
        name: r.name.clone(),
        birth_date: format_date(r.birth_date),
        sex: r.sex.to_string(),
        phone_masked: r.phone.as_deref().map(mask_phone),
        village_code: r.village.to_string(),
        village_path: st
            .regions
            .path(r.village)
            .map(|p| p.iter().map(|x| x.name.clone()).collect())
            .unwrap_or_default(),
        segment: r.segment.to_string(),
        occupation_code: r.occupation_code.clone(),
        sector: r.sector.as_str().to_string(),
        income_base: r.income_base.0,
        programs: r.programmes.to_string(),
        registered_on: format_date(r.registered_on),
        channel: r.channel.to_string(),
        agent_code: r.agent_code.clone(),
        address: r.address.clone(),
        budget_funded: r.budget_funded,
        heirs: r
            .heirs
            .iter()
            .map(|h| HeirView {
                name: h.name.clone(),
                relationship: h.relationship.as_str().into(),
                nik_masked: h.nik.map(Nik::masked),
            })
            .collect(),
        review_flags: r.review_flags.clone(),
        dukcapil_status: p.dukcapil_status.clone(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    /// `created`, or `existing` when the same registration was already stored (a retry).
    pub outcome: String,
    pub participant: ParticipantBody,
    /// Rules that only warned: the registration is stored and flagged for review.
    pub warnings: Vec<FieldErrorBody>,
}

/// Register a participant. Retrying the same registration is safe: it answers 200 with the
/// stored participant. A different participation for the same NIK and segment is 409.
#[utoipa::path(post, path = "/api/v1/participants", request_body = RegistrationBody,
    responses((status = 201, body = RegisterResponse), (status = 200, body = RegisterResponse, description = "already registered (retry)"),
              (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let input = registration_input(&body)?;
    let ctx = Context {
        regions: &st.regions,
        rules: &st.rules,
        today: (st.today)(),
    };
    let (reg, warnings) = validate(&ctx, &input)?;
    use cakupan_app::participants::{Registered, register};
    let (status, outcome, id) = match register(&st, &caller.who, &caller.request_id, &reg).await? {
        Registered::Created { id } => (StatusCode::CREATED, "created", id),
        Registered::Existing { id } => (StatusCode::OK, "existing", id),
        Registered::Conflict { segment, view } => {
            return Err(match view {
                crate::auth::ConflictView::Visible { kpj } => {
                    cakupan_store::StoreError::Conflict { kpj, segment }.into()
                }
                crate::auth::ConflictView::Elsewhere => ApiError::ConflictElsewhere {
                    message: format!(
                        "this NIK cannot be registered here: it already has a {segment} participation outside your area; ask the branch of the participant's domicile"
                    ),
                },
            });
        }
    };
    let p = st.store.participant(id).await?.ok_or_else(|| {
        ApiError::Internal("registered participant could not be read back".into())
    })?;
    Ok((
        status,
        Json(RegisterResponse {
            outcome: outcome.into(),
            participant: view(&st, &p),
            warnings: warnings.iter().map(FieldErrorBody::from).collect(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    /// The 16-digit NIK. Sent in the body, not the URL, so it never lands in access logs.
    pub nik: String,
}

/// Look up every participation (one per segment) of a NIK.
#[utoipa::path(post, path = "/api/v1/participants/lookup", request_body = LookupBody,
    responses((status = 200, body = [ParticipantBody]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn lookup(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Vec<ParticipantBody>>, ApiError> {
    let b: LookupBody = crate::error::json_body(&body, "{\"nik\": \"…\"}")?;
    let nik = Nik::parse(&b.nik)
        .map_err(|e| ApiError::Invalid(FieldError::new("nik", e.rule(), e.to_string()).into()))?;
    // Only the participations the caller may see; none reads like an unknown NIK.
    let mut ps: Vec<Participant> = Vec::new();
    for p in st.store.participants_by_nik(nik).await? {
        if caller
            .allow_personal(
                &st,
                Action::ReadPersonal,
                &p,
                ApiError::NotFound(String::new()),
            )
            .await
            .is_ok()
        {
            ps.push(p);
        }
    }
    if ps.is_empty() {
        return Err(ApiError::NotFound(
            "no participant is registered with this NIK".into(),
        ));
    }
    for p in &ps {
        caller
            .audit(
                &st,
                "participant.read",
                format!("participant:{}", p.id),
                "service",
            )
            .await?;
    }
    Ok(Json(ps.iter().map(|p| view(&st, p)).collect()))
}

/// Get a participant by KPJ number.
#[utoipa::path(get, path = "/api/v1/participants/by-kpj/{kpj}", params(("kpj" = String, Path)),
    responses((status = 200, body = ParticipantBody), (status = 404, body = ErrorBody)))]
pub async fn by_kpj(
    State(st): State<AppState>,
    caller: Caller,
    Path(kpj): Path<String>,
) -> Result<Json<ParticipantBody>, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "no participant has KPJ {}",
            kpj.chars().take(20).collect::<String>()
        ))
    };
    let p = st
        .store
        .participant_by_kpj(&kpj)
        .await?
        .ok_or_else(not_found)?;
    caller
        .allow_personal(&st, Action::ReadPersonal, &p, not_found())
        .await?;
    caller
        .audit(
            &st,
            "participant.read",
            format!("participant:{}", p.id),
            "service",
        )
        .await?;
    Ok(Json(view(&st, &p)))
}

/// Get a participant by id.
#[utoipa::path(get, path = "/api/v1/participants/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = ParticipantBody), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody)))]
pub async fn by_id(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ParticipantBody>, ApiError> {
    let id: i64 = id.parse().map_err(|_| {
        ApiError::Invalid(FieldError::new("id", "id.integer", "id must be a whole number").into())
    })?;
    let not_found = || ApiError::NotFound(format!("no participant has id {id}"));
    let p = st.store.participant(id).await?.ok_or_else(not_found)?;
    caller
        .allow_personal(&st, Action::ReadPersonal, &p, not_found())
        .await?;
    caller
        .audit(
            &st,
            "participant.read",
            format!("participant:{id}"),
            "service",
        )
        .await?;
    Ok(Json(view(&st, &p)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionBody {
    pub code: String,
    pub name: String,
    /// province, regency, district or village.
    pub level: String,
    /// kabupaten/kota for regencies; desa/kelurahan/desa_adat for villages.
    pub kind: String,
    /// From the province down to this region.
    pub path: Vec<RegionRef>,
    pub children: Vec<RegionRef>,
}

/// A region with its path and children.
#[utoipa::path(get, path = "/api/v1/regions/{code}", params(("code" = String, Path, example = "32.73.01.1001")),
    responses((status = 200, body = RegionBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn region(
    State(st): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<RegionBody>, ApiError> {
    let c = RegionCode::parse(&code).map_err(|e| {
        ApiError::Invalid(FieldError::new("code", "region_code.format", format!("code {e}")).into())
    })?;
    let r = st
        .regions
        .get(c)
        .ok_or_else(|| ApiError::NotFound(format!("region {c} is not in the Kemendagri list")))?;
    let path = st.regions.path(c).unwrap_or_default();
    Ok(Json(RegionBody {
        code: c.to_string(),
        name: r.name.clone(),
        level: c.level().as_str().into(),
        kind: r.kind.clone(),
        path: path
            .iter()
            .map(|x| RegionRef {
                code: x.code.to_string(),
                name: x.name.clone(),
            })
            .collect(),
        children: st
            .regions
            .children(c)
            .iter()
            .map(|x| RegionRef {
                code: x.code.to_string(),
                name: x.name.clone(),
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_phone() {
        assert_eq!(mask_phone("+6281234567890"), "+62812****7890");
    }
}
