//! The ledger's API: quotes, postings (contributions, reversals, terminations), a
//! participation's coverage month by month, and the active-participant report.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use cakupan_domain::access::{Action, Resource};
use cakupan_domain::quote::{QuoteRequest, quote};
use cakupan_domain::{
    FieldError, FieldErrors, Month, Nik, ProgrammeSet, RegionCode, Rupiah, Segment,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize)]
pub struct QuoteParams {
    segment: Option<String>,
    income_base: Option<String>,
    programs: Option<String>,
    month: Option<String>,
    occupation: Option<String>,
    risk_class: Option<String>,
    budget_funded: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteLineBody {
    pub programme: String,
    pub payer: String,
    pub basis: i64,
    pub rate_ppm: Option<i64>,
    pub nominal: i64,
    pub discount: i64,
    pub deferred: i64,
    pub due: i64,
    pub sources: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteBody {
    pub segment: String,
    pub month: String,
    pub income_base: i64,
    pub programs: String,
    pub sector: String,
    pub lines: Vec<QuoteLineBody>,
    pub total_due: i64,
    pub employer_due: i64,
    pub worker_due: i64,
    pub notes: Vec<String>,
}

/// The monthly contribution due for a participant profile and month, from the rules in force.
#[utoipa::path(get, path = "/api/v1/quote",
    params(("segment" = String, Query), ("income_base" = i64, Query), ("programs" = String, Query, example = "JKK+JKM"),
           ("month" = String, Query, example = "2026-05"), ("occupation" = String, Query, example = "84"),
           ("risk_class" = Option<u8>, Query), ("budget_funded" = Option<bool>, Query)),
    responses((status = 200, body = QuoteBody), (status = 422, body = ErrorBody)))]
pub async fn quote_handler(
    State(st): State<AppState>,
    Query(q): Query<QuoteParams>,
) -> Result<Json<QuoteBody>, ApiError> {
    let mut errors = FieldErrors::default();
    let need = |v: &Option<String>, f: &str, errors: &mut FieldErrors| -> Option<String> {
        match v.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Some(s.to_string()),
            _ => {
                errors.push(FieldError::new(f, "required", format!("{f} is required")));
                None
            }
        }
    };
    let segment = need(&q.segment, "segment", &mut errors).and_then(|s| {
        Segment::parse(&s).or_else(|| {
            errors.push(FieldError::new(
                "segment",
                "segment.value",
                format!("segment must be one of {}", Segment::expected()),
            ));
            None
        })
    });
    let base = need(&q.income_base, "income_base", &mut errors).and_then(|s| {
        Rupiah::parse(&s).or_else(|| {
            errors.push(FieldError::new(
                "income_base",
                "income_base.integer",
                "income_base must be a whole number of rupiah",
            ));
            None
        })
    });
    let programmes = need(&q.programs, "programs", &mut errors).and_then(|s| {
        ProgrammeSet::parse(&s)
            .map_err(|m| errors.push(FieldError::new("programs", "programs.format", m)))
            .ok()
    });
    let month = need(&q.month, "month", &mut errors).and_then(|s| {
        Month::parse(&s)
            .map_err(|e| {
                errors.push(FieldError::new(
                    "month",
                    "month.format",
                    format!("month {e}"),
                ))
            })
            .ok()
    });
    let occupation = need(&q.occupation, "occupation", &mut errors).and_then(|s| {
        st.rules.occupation(&s).or_else(|| {
            errors.push(FieldError::new(
                "occupation",
                "occupation_code.unknown",
                format!("occupation '{s}' is not in the occupation list"),
            ));
            None
        })
    });
    let risk_class = match q
        .risk_class
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => match s.parse::<u8>() {
            Ok(c) => Some(c),
            Err(_) => {
                errors.push(FieldError::new(
                    "risk_class",
                    "risk_class.range",
                    "risk_class must be 1 to 5",
                ));
                None
            }
        },
    };
    let budget_funded = matches!(q.budget_funded.as_deref(), Some("true" | "1" | "yes"));
    let (Some(segment), Some(base), Some(programmes), Some(month), Some(occupation)) =
        (segment, base, programmes, month, occupation)
    else {
        return Err(ApiError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let req = QuoteRequest {
        segment,
        income_base: base,
        programmes,
        month,
        sector: occupation.sector,
        budget_funded,
        risk_class,
    };
    let qt = quote(&st.rules, &req)?;
    Ok(Json(QuoteBody {
        segment: segment.to_string(),
        month: month.to_string(),
        income_base: base.0,
        programs: programmes.to_string(),
        sector: occupation.sector.as_str().into(),
        lines: qt
            .lines
            .iter()
            .map(|l| QuoteLineBody {
                programme: l.programme.to_string(),
                payer: l.payer.to_string(),
                basis: l.basis.0,
                rate_ppm: l.rate_ppm,
                nominal: l.nominal.0,
                discount: l.discount.0,
                deferred: l.deferred.0,
                due: l.due.0,
                sources: l.sources.clone(),
            })
            .collect(),
        total_due: qt.total_due.0,
        employer_due: qt.employer_due.0,
        worker_due: qt.worker_due.0,
        notes: qt.notes,
    }))
}

/// A posting to the ledger. `kind` decides which other fields apply.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingBody {
    /// contribution, reversal or termination.
    pub kind: String,
    /// Unique per posting: posting it again with the same content is a safe retry.
    pub reference: String,
    pub nik: Option<String>,
    pub segment: Option<String>,
    /// contribution: YYYY-MM, the first month covered.
    pub first_month: Option<String>,
    /// contribution: months covered (BPU: 1, 3, 6 or 12).
    pub months: Option<i64>,
    /// contribution: must equal the dues of the months covered.
    pub amount: Option<i64>,
    /// contribution: bank, aggregator, autodebit, perisai, employer or branch.
    pub channel: Option<String>,
    /// contribution: YYYY-MM-DD.
    pub paid_on: Option<String>,
    /// contribution: the Perisai agent who took it in cash (channel perisai). An agent's own
    /// postings are always theirs; others may record one for an agent.
    pub collected_by: Option<String>,
    /// reversal: the reference of the contribution that bounced.
    pub reverses: Option<String>,
    /// termination: YYYY-MM.
    pub month: Option<String>,
    /// termination: death, withdrawal or moved_abroad.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostingResponse {
    /// `posted`, or `existing` for a retry of a posting already in the ledger.
    pub outcome: String,
    pub id: i64,
    pub participant_id: i64,
    /// For a collection by an agent: the receipt number the participant can check.
    pub receipt: Option<String>,
}

pub(crate) fn opt_text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// Post a contribution, a reversal or a termination. Counters are updated in the same
/// transaction; a wrong amount is refused with the expected amount.
#[utoipa::path(post, path = "/api/v1/postings", request_body = PostingBody,
    responses((status = 201, body = PostingResponse), (status = 200, body = PostingResponse, description = "already posted (retry)"),
              (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post_handler(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    use cakupan_store::ledger::{NewPosting, PostingOutcome, TerminationReason};
    let b: PostingBody = crate::error::json_body(&body, "a posting object")?;
    let posting = match b.kind.as_str() {
        "contribution" => {
            let input = cakupan_domain::contribution::ContributionInput {
                reference: b.reference.clone(),
                nik: opt_text(&b.nik),
                segment: opt_text(&b.segment),
                first_month: opt_text(&b.first_month),
                months: b.months.map(|m| m.to_string()).unwrap_or_default(),
                amount: b.amount.map(|m| m.to_string()).unwrap_or_default(),
                channel: opt_text(&b.channel),
                paid_on: opt_text(&b.paid_on),
            };
            NewPosting::Contribution(cakupan_domain::contribution::parse_payment(
                &st.rules,
                &input,
                (st.today)(),
            )?)
        }
        "reversal" => NewPosting::Reversal {
            reference: b.reference.trim().to_string(),
            target: opt_text(&b.reverses).trim().to_string(),
            on: (st.today)(),
        },
        "termination" => {
            let mut errors = FieldErrors::default();
            let nik = Nik::parse(&opt_text(&b.nik))
                .map_err(|e| errors.push(FieldError::new("nik", e.rule(), e.to_string())))
                .ok();
            let segment = Segment::parse(&opt_text(&b.segment)).or_else(|| {
                errors.push(FieldError::new(
                    "segment",
                    "segment.value",
                    format!("segment must be one of {}", Segment::expected()),
                ));
                None
            });
            let month = Month::parse(opt_text(&b.month).trim())
                .map_err(|e| {
                    errors.push(FieldError::new(
                        "month",
                        "month.format",
                        format!("month {e}"),
                    ))
                })
                .ok();
            let reason = TerminationReason::parse(&opt_text(&b.reason)).or_else(|| {
                errors.push(FieldError::new(
                    "reason",
                    "reason.value",
                    "reason must be death, withdrawal or moved_abroad",
                ));
                None
            });
            match (nik, segment, month, reason) {
                (Some(nik), Some(segment), Some(month), Some(reason)) => NewPosting::Termination {
                    reference: b.reference.trim().to_string(),
                    nik,
                    segment,
                    month,
                    reason,
                },
                _ => return Err(ApiError::Invalid(errors)),
            }
        }
        other => {
            return Err(ApiError::Invalid(
                FieldError::new(
                    "kind",
                    "kind.value",
                    format!("kind must be contribution, reversal or termination, not '{other}'"),
                )
                .into(),
            ));
        }
    };
    // The participation the posting concerns, to authorise it. One the caller may not touch
    // reads exactly like one that is not registered; an unknown one is left to the ledger's
    // own checks, which name the field.
    let concerned = match &posting {
        NewPosting::Contribution(pay) => st
            .store
            .participants_by_nik(pay.nik)
            .await?
            .into_iter()
            .find(|p| p.registration.segment == pay.segment),
        NewPosting::Termination { nik, segment, .. } => st
            .store
            .participants_by_nik(*nik)
            .await?
            .into_iter()
            .find(|p| p.registration.segment == *segment),
        NewPosting::Stop { nik, .. } => st
            .store
            .participants_by_nik(*nik)
            .await?
            .into_iter()
            .find(|p| p.registration.segment == Segment::Pu),
        NewPosting::Reversal { target, .. } => match st.store.participant_of_posting(target).await?
        {
            Some(id) => st.store.participant(id).await?,
            None => None,
        },
    };
    let hidden = || {
        let (field, rule, message) = match &posting {
            NewPosting::Reversal { target, .. } => (
                "reverses",
                "reverses.unknown",
                format!("no posting has reference {target}"),
            ),
            _ => (
                "nik",
                "nik.not_registered",
                "no participation is registered for this NIK in this segment".to_string(),
            ),
        };
        ApiError::Invalid(FieldError::new(field, rule, message).into())
    };
    match &concerned {
        Some(p) => {
            caller
                .allow_personal(&st, Action::Post, p, hidden())
                .await?
        }
        // Nothing to touch: only roles that may post at all get the ledger's own answer.
        None => caller.allow(
            Action::Post,
            &Resource::Participant {
                village: caller.who.region,
                agent_code: caller.who.agent_code.clone(),
                nik: caller.who.nik.clone().unwrap_or_default(),
            },
        )?,
    }
    // The one path of the pages and the CLI too (collections, receipts, the audit entry).
    let cakupan_app::ledger::Posted {
        outcome: posted,
        receipt,
    } = cakupan_app::ledger::post(
        &st,
        &caller.who,
        &caller.request_id,
        concerned.as_ref(),
        posting,
        b.collected_by,
    )
    .await?;
    let (status, outcome, id, participant_id) = match posted {
        PostingOutcome::Posted { id, participant_id } => {
            (StatusCode::CREATED, "posted", id, participant_id)
        }
        PostingOutcome::Existing { id, participant_id } => {
            (StatusCode::OK, "existing", id, participant_id)
        }
    };
    Ok((
        status,
        Json(PostingResponse {
            outcome: outcome.into(),
            id,
            participant_id,
            receipt,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageMonth {
    /// YYYY-MM.
    pub month: String,
    /// PENDING, ACTIVE, IN_ARREARS, NONACTIVE or TERMINATED.
    pub status: String,
    /// Why: the covering posting, the months unpaid (and how many of them overdue), or the
    /// termination.
    pub reason: String,
    /// Set when the month is unpaid and its own due date has not passed today, with nothing
    /// yet overdue enough to make it a lapse: the due date (YYYY-MM-DD). Such a month is shown
    /// as not yet due, not as arrears.
    pub not_yet_due: Option<String>,
    pub new: bool,
    pub lapsed: bool,
    pub reactivated: bool,
}

#[derive(Debug, Deserialize)]
pub struct RangeParams {
    from: Option<String>,
    to: Option<String>,
}

/// Coverage status per month (DOMAIN.md §4.1) with its reason.
#[utoipa::path(get, path = "/api/v1/participants/{id}/coverage", params(("id" = i64, Path), ("from" = Option<String>, Query), ("to" = Option<String>, Query)),
    responses((status = 200, body = [CoverageMonth]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn coverage(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<RangeParams>,
) -> Result<Json<Vec<CoverageMonth>>, ApiError> {
    use cakupan_domain::coverage::{Reason, series};
    let id: i64 = id.parse().map_err(|_| {
        ApiError::Invalid(FieldError::new("id", "id.integer", "id must be a whole number").into())
    })?;
    let not_found = || ApiError::NotFound(format!("no participant has id {id}"));
    let p = st.store.participant(id).await?.ok_or_else(not_found)?;
    caller
        .allow_personal(&st, Action::ReadPersonal, &p, not_found())
        .await?;
    let reg = &p.registration;
    let month_of = |v: &Option<String>, field: &str, default: Month| -> Result<Month, ApiError> {
        match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => Month::parse(s).map_err(|e| {
                ApiError::Invalid(
                    FieldError::new(field, "month.format", format!("{field} {e}")).into(),
                )
            }),
        }
    };
    let from = month_of(&q.from, "from", Month::of(reg.registered_on))?;
    let to = month_of(&q.to, "to", Month::of((st.today)()))?;
    if to < from || to.since(from) > 240 {
        return Err(ApiError::Invalid(
            FieldError::new(
                "to",
                "range.months",
                "to must be after from, at most 240 months later",
            )
            .into(),
        ));
    }
    caller
        .audit(
            &st,
            "participant.coverage",
            format!("participant:{id}"),
            "service",
        )
        .await?;
    let ledger = st.store.ledger(p.id).await?;
    let facts = cakupan_store::ledger::facts(reg.segment, Month::of(reg.registered_on), &ledger);
    let months = series(&st.rules, &facts, from, to).map_err(|e| ApiError::Invalid(e.into()))?;
    let today = (st.today)();
    Ok(Json(
        months
            .into_iter()
            .map(|m| CoverageMonth {
                month: m.month.to_string(),
                status: m.status.as_str().into(),
                not_yet_due: cakupan_domain::coverage::not_yet_due(
                    &st.rules,
                    reg.segment,
                    &m,
                    today,
                )
                .map(|o| cakupan_domain::month::format_date(o.due)),
                reason: match m.reason {
                    Reason::PaidBy { reference } => format!("paid by {reference}"),
                    Reason::Unpaid { months, overdue } => {
                        format!("{months} month(s) unpaid, {overdue} overdue")
                    }
                    Reason::NothingPaidYet => "nothing paid yet".into(),
                    Reason::TerminatedIn { month } => format!("terminated in {month}"),
                    Reason::EmploymentEnded { month } => {
                        format!("employment ended in {month}, nothing paid since")
                    }
                },
                new: m.new,
                lapsed: m.lapsed,
                reactivated: m.reactivated,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ReportParams {
    month: Option<String>,
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    region: Option<String>,
    segment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveReportRow {
    /// YYYY-MM.
    pub month: String,
    pub code: String,
    pub name: String,
    /// Counts of 1–4 are null for analysts and village officials (small-cell suppression,
    /// `aggregate_min_cell` in rules/security.toml).
    pub registered: Option<i64>,
    pub paid_active: Option<i64>,
    /// The headline peserta aktif: ACTIVE or IN_ARREARS.
    pub status_active: Option<i64>,
    pub nonactive: Option<i64>,
}

/// Active participants per region for a month, or a series of months (`from` and `to`), from
/// the counters (DESIGN.md §5).
#[utoipa::path(get, path = "/api/v1/reports/active",
    params(("month" = Option<String>, Query, example = "2026-05"), ("from" = Option<String>, Query), ("to" = Option<String>, Query), ("by" = Option<String>, Query, description = "nation, province (default), regency, district or village"),
           ("region" = Option<String>, Query), ("segment" = Option<String>, Query)),
    responses((status = 200, body = [ActiveReportRow]), (status = 422, body = ErrorBody)))]
pub async fn report_active(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ReportParams>,
) -> Result<Json<Vec<ActiveReportRow>>, ApiError> {
    let invalid = |f: &str, rule: &'static str, m: String| {
        ApiError::Invalid(FieldError::new(f, rule, m).into())
    };
    let parse = |field: &str, v: &Option<String>| {
        Month::parse(v.as_deref().unwrap_or("").trim())
            .map_err(|e| invalid(field, "month.format", format!("{field} {e}")))
    };
    let months: Vec<Month> = if q.from.is_some() || q.to.is_some() {
        let (from, to) = (parse("from", &q.from)?, parse("to", &q.to)?);
        if to < from || to.since(from) > 120 {
            return Err(invalid(
                "to",
                "range.months",
                "to must be after from, at most 120 months later".into(),
            ));
        }
        from.through(to).collect()
    } else {
        vec![parse("month", &q.month)?]
    };
    let level =
        cakupan_domain::Level::parse(q.by.as_deref().unwrap_or("province")).ok_or_else(|| {
            invalid(
                "by",
                "by.value",
                "by must be nation, province, regency, district or village".into(),
            )
        })?;
    let within = match q.region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        // Without a region: the caller's whole area.
        None => caller.who.region,
        Some(r) => RegionCode::parse(r)
            .map_err(|e| invalid("region", "region_code.format", format!("region {e}")))?,
    };
    caller.allow(Action::ReadAggregates, &Resource::Region(within))?;
    if within != RegionCode::NATION && within.level() >= level {
        return Err(invalid(
            "by",
            "by.below_region",
            format!("by must be a level below the region {within}"),
        ));
    }
    let segment = match q
        .segment
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => Some(Segment::parse(s).ok_or_else(|| {
            invalid(
                "segment",
                "segment.value",
                format!("segment must be one of {}", Segment::expected()),
            )
        })?),
    };
    let min_cell = min_cell(&st);
    let role = caller.who.role;
    let shown = |v: i64| cakupan_domain::access::shown(role, v, min_cell);
    let mut out = Vec::new();
    for month in months {
        for r in st
            .store
            .active_report(level, within, segment, month)
            .await?
        {
            let name = if r.code.is_empty() {
                "Indonesia".to_string()
            } else {
                RegionCode::parse(&r.code)
                    .ok()
                    .and_then(|c| st.regions.get(c))
                    .map(|x| x.name.clone())
                    .unwrap_or_default()
            };
            out.push(ActiveReportRow {
                month: month.to_string(),
                name,
                code: r.code,
                registered: shown(r.registered),
                paid_active: shown(r.paid_active),
                status_active: shown(r.status_active),
                nonactive: shown(r.nonactive),
            });
        }
    }
    Ok(Json(out))
}

/// The smallest aggregate cell shown to roles under suppression (rules/security.toml).
pub(crate) fn min_cell(st: &AppState) -> u32 {
    st.auth.policy.aggregate_min_cell
}
