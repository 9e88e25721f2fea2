//! The village campaign on real stores (issue #8): plan entries and their stages, sessions and
//! the bad inputs the issue names, and a survey whose weighted results are computed by hand.

use cakupan_app::campaign::{By, funnel, survey_results};
use cakupan_domain::RegionCode;
use cakupan_domain::campaign::Stage;
use cakupan_domain::survey::{Answer, Kind, Question, Questionnaire};
use cakupan_store::campaign::{
    Campaign, Coordination, EntryChange, Frame, PlanEntry, Response, Session, Stratum, Survey,
    Unit, Upload, Wave,
};
use cakupan_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::macros::date;

fn code(s: &str) -> RegionCode {
    RegionCode::parse(s).unwrap()
}

fn rule_of(e: StoreError) -> &'static str {
    match e {
        StoreError::Rejected(f) => f.0[0].rule,
        other => panic!("expected a rejection, got {other}"),
    }
}

fn rules() -> cakupan_domain::RuleSet {
    cakupan_domain::RuleSet::builtin().unwrap()
}

fn entry(village: &str, week: u32, workers: f64) -> PlanEntry {
    PlanEntry {
        campaign: "KKBC".into(),
        village: code(village),
        wave: 1,
        week,
        rank: 1,
        potential: 1.0,
        workers,
        active: 0,
        informal_share: 0.6,
        awareness: 0.3,
        awareness_measured: false,
        stage: Stage::Planned,
        coordination: None,
        agents: Vec::new(),
        surveyed_on: None,
        followed_up_on: None,
    }
}

fn session(reference: &str, village: &str, farmers: u32) -> Session {
    Session {
        reference: reference.into(),
        campaign: "KKBC".into(),
        village: code(village),
        held_on: date!(2026 - 11 - 10),
        place: "Balai Desa".into(),
        attendance: vec![("farmer".into(), farmers), ("fisher".into(), 5)],
        recorded_by: "petugas".into(),
    }
}

async fn a_wave_is_coordinated_and_held(store: Arc<dyn Store>) {
    let rules = rules();
    let today = date!(2026 - 11 - 29);
    let c = Campaign {
        code: "KKBC".into(),
        name: "Kerja Keras Bebas Cemas".into(),
        region: code("32.73"),
        created_by: "admin".into(),
    };
    assert!(store.add_campaign(&c).await.unwrap());
    assert!(!store.add_campaign(&c).await.unwrap(), "a retry");
    let mut other = c.clone();
    other.name = "Lain".into();
    assert_eq!(
        rule_of(store.add_campaign(&other).await.unwrap_err()),
        "campaign.code_taken"
    );
    let wave = Wave {
        campaign: "KKBC".into(),
        wave: 1,
        starts_on: date!(2026 - 11 - 02),
        weeks: 4,
        basis: "test".into(),
        planned_by: "admin".into(),
    };
    let entries = vec![
        entry("32.73.01.1001", 1, 400.0),
        entry("32.73.01.1002", 2, 400.0),
    ];
    assert!(store.add_wave(&wave, &entries).await.unwrap());
    assert!(!store.add_wave(&wave, &entries).await.unwrap(), "a retry");
    // A second wave may not take a village of the first; nothing of it is stored.
    let mut w2 = wave.clone();
    w2.wave = 2;
    let mut e2 = vec![
        entry("32.73.01.1003", 1, 400.0),
        entry("32.73.01.1001", 1, 400.0),
    ];
    for e in &mut e2 {
        e.wave = 2;
    }
    assert_eq!(
        rule_of(store.add_wave(&w2, &e2).await.unwrap_err()),
        "campaign.village_planned"
    );
    assert!(store.waves("KKBC").await.unwrap().len() == 1);
    assert_eq!(
        store
            .plan_entries("KKBC", RegionCode::NATION)
            .await
            .unwrap()
            .len(),
        2
    );

    // A session before the official's sign-off, outside the campaign, or too crowded.
    assert_eq!(
        rule_of(
            store
                .add_session(&rules, &session("S1", "32.73.01.1001", 30), today)
                .await
                .unwrap_err()
        ),
        "session.not_coordinated"
    );
    assert_eq!(
        rule_of(
            store
                .add_session(&rules, &session("S9", "32.73.02.1001", 30), today)
                .await
                .unwrap_err()
        ),
        "session.not_in_campaign"
    );
    let sign = EntryChange::Coordinate(Coordination {
        official: "Asep Sunandar".into(),
        official_role: "Kepala Desa".into(),
        info_officer: "Rina Marlina".into(),
        agreed_on: date!(2026 - 10 - 28),
        signed_off_by: "pejabat".into(),
        signed_off_at: 1,
    });
    // Held cannot be set by hand, and a planned village cannot jump to surveyed.
    assert_eq!(
        rule_of(
            store
                .change_entry(
                    "KKBC",
                    code("32.73.01.1001"),
                    &EntryChange::Stage {
                        stage: Stage::Surveyed,
                        on: today
                    },
                    &[]
                )
                .await
                .unwrap_err()
        ),
        "campaign.stage_order"
    );
    let e = store
        .change_entry("KKBC", code("32.73.01.1001"), &sign, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.stage, Stage::Coordinated);
    // The sign-off again is a retry; another official's is refused.
    store
        .change_entry("KKBC", code("32.73.01.1001"), &sign, &[])
        .await
        .unwrap()
        .unwrap();
    let EntryChange::Coordinate(mut c2) = sign.clone() else {
        unreachable!()
    };
    c2.official = "Budi".into();
    assert_eq!(
        rule_of(
            store
                .change_entry(
                    "KKBC",
                    code("32.73.01.1001"),
                    &EntryChange::Coordinate(c2),
                    &[]
                )
                .await
                .unwrap_err()
        ),
        "campaign.already_coordinated"
    );
    // 400 estimated workers × 2 (the rules' limit) = 800 people at most.
    assert_eq!(
        rule_of(
            store
                .add_session(&rules, &session("S1", "32.73.01.1001", 900), today)
                .await
                .unwrap_err()
        ),
        "session.attendance_implausible"
    );
    let mut unknown = session("S1", "32.73.01.1001", 30);
    unknown.attendance.push(("astronaut".into(), 1));
    assert_eq!(
        rule_of(
            store
                .add_session(&rules, &unknown, today)
                .await
                .unwrap_err()
        ),
        "session.audience"
    );
    assert!(
        store
            .add_session(&rules, &session("S1", "32.73.01.1001", 30), today)
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_session(&rules, &session("S1", "32.73.01.1001", 30), today)
            .await
            .unwrap(),
        "a retry counts nothing twice"
    );
    assert_eq!(
        rule_of(
            store
                .add_session(&rules, &session("S1", "32.73.01.1001", 31), today)
                .await
                .unwrap_err()
        ),
        "session.reference_taken"
    );
    let entries = store
        .plan_entries("KKBC", RegionCode::NATION)
        .await
        .unwrap();
    let sessions = store.sessions("KKBC", RegionCode::NATION).await.unwrap();
    let f = funnel(&entries, &sessions);
    assert_eq!((f.planned, f.held, f.sessions), (1, 1, 1));
    assert_eq!(f.attendance["farmer"], 30);
    assert_eq!(f.reached(Stage::Coordinated), 1);
    // Held → followed up; the week of a held village is what happened.
    let e = store
        .change_entry(
            "KKBC",
            code("32.73.01.1001"),
            &EntryChange::Stage {
                stage: Stage::FollowedUp,
                on: today,
            },
            &[],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.stage, Stage::FollowedUp);
    assert_eq!(
        rule_of(
            store
                .change_entry(
                    "KKBC",
                    code("32.73.01.1001"),
                    &EntryChange::Week { week: 3 },
                    &[]
                )
                .await
                .unwrap_err()
        ),
        "campaign.already_held"
    );
    // The proposal edited by hand: a village added to the wave (a retry changes nothing; it
    // cannot be in two waves), then taken out again; a held village cannot leave.
    let mut added = entry("32.73.01.1004", 3, 400.0);
    added.rank = 0;
    assert!(store.add_entry(&added).await.unwrap());
    assert!(!store.add_entry(&added).await.unwrap(), "a retry");
    let mut elsewhere = added.clone();
    elsewhere.week = 1;
    assert_eq!(
        rule_of(store.add_entry(&elsewhere).await.unwrap_err()),
        "campaign.village_planned"
    );
    let mut late = added.clone();
    late.village = code("32.73.01.1003");
    late.week = 9;
    assert_eq!(
        rule_of(store.add_entry(&late).await.unwrap_err()),
        "campaign.week"
    );
    assert!(
        store
            .remove_entry("KKBC", code("32.73.01.1004"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_entry("KKBC", code("32.73.01.1004"))
            .await
            .unwrap()
    );
    assert_eq!(
        rule_of(
            store
                .remove_entry("KKBC", code("32.73.01.1001"))
                .await
                .unwrap_err()
        ),
        "campaign.entry_in_progress"
    );
    // The planned village's week is editable; agents must serve it.
    let e = store
        .change_entry(
            "KKBC",
            code("32.73.01.1002"),
            &EntryChange::Week { week: 4 },
            &[],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.week, 4);
    assert_eq!(
        rule_of(
            store
                .change_entry(
                    "KKBC",
                    code("32.73.01.1002"),
                    &EntryChange::Agents {
                        agents: vec!["PRS-X".into()]
                    },
                    &["PRS-Y".to_string()]
                )
                .await
                .unwrap_err()
        ),
        "campaign.agent"
    );
}

/// The test questionnaire: one yes/no question (`aware`).
pub(crate) fn questionnaire() -> Questionnaire {
    Questionnaire {
        code: "kkbc".into(),
        version: 1,
        title_id: "Survei".into(),
        title_en: "Survey".into(),
        questions: vec![Question {
            code: "aware".into(),
            text_id: "Pernah mendengar BPJS Ketenagakerjaan?".into(),
            text_en: "Heard of BPJS Ketenagakerjaan?".into(),
            kind: Kind::YesNo,
            measures: None,
        }],
    }
}

fn response(unit: u64, audience: &str, aware: i64) -> Response {
    Response {
        survey: "S".into(),
        unit,
        version: 1,
        audience: audience.into(),
        answers: BTreeMap::from([("aware".to_string(), Answer::Number(aware))]),
        recorded_by: "enumerator".into(),
    }
}

/// Two strata (districts) of 100 and 300 people; 4 and 2 respondents. Farmers answer 1, 0 in
/// the first and 1 in the second; fishers 1, 1 and 0.
async fn a_survey_weighted_by_hand(store: Arc<dyn Store>) {
    let rules = rules();
    assert!(store.add_questionnaire(&questionnaire()).await.unwrap());
    let a = code("32.73.01");
    let b = code("32.73.02");
    let survey = Survey {
        code: "S".into(),
        campaign: None,
        wave: None,
        questionnaire: "kkbc".into(),
        version: 1,
        region: code("32.73"),
        frame: Frame::Regions,
        seed: 1,
        strata: vec![
            Stratum {
                code: a,
                population: 100,
                sample: 4,
            },
            Stratum {
                code: b,
                population: 300,
                sample: 2,
            },
        ],
        created_by: "analyst".into(),
    };
    let units: Vec<Unit> = (1..=6)
        .map(|u| Unit {
            unit: u,
            stratum: if u <= 4 { a } else { b },
            village: if u <= 4 {
                code("32.73.01.1001")
            } else {
                code("32.73.02.1001")
            },
            participant_id: None,
        })
        .collect();
    assert!(store.add_survey(&survey, &units).await.unwrap());
    assert!(!store.add_survey(&survey, &units).await.unwrap(), "a retry");
    let upload = Upload {
        sha256: "ab".repeat(32),
        name: "wave1.csv".into(),
        rows: 6,
        uploaded_by: "enumerator".into(),
    };
    let all = vec![
        response(1, "farmer", 1),
        response(2, "farmer", 0),
        response(3, "fisher", 1),
        response(4, "fisher", 1),
        response(5, "farmer", 1),
        response(6, "fisher", 0),
    ];
    // A bad line anywhere: nothing is recorded.
    let mut bad = all.clone();
    bad[5].unit = 7;
    assert_eq!(
        rule_of(
            store
                .add_responses(&rules, "S", &bad, Some(&upload))
                .await
                .unwrap_err()
        ),
        "survey.unit"
    );
    let mut twice = all.clone();
    twice[5].unit = 5;
    assert_eq!(
        rule_of(
            store
                .add_responses(&rules, "S", &twice, None)
                .await
                .unwrap_err()
        ),
        "survey.unit_twice"
    );
    assert!(store.responses("S").await.unwrap().is_empty());
    let added = store
        .add_responses(&rules, "S", &all, Some(&upload))
        .await
        .unwrap();
    assert_eq!((added.added, added.unchanged), (6, 0));
    assert_eq!(
        rule_of(
            store
                .add_responses(&rules, "S", &all, Some(&upload))
                .await
                .unwrap_err()
        ),
        "survey.duplicate_upload"
    );
    let again = store.add_responses(&rules, "S", &all, None).await.unwrap();
    assert_eq!((again.added, again.unchanged), (0, 6), "a retry");
    let mut changed = all[..1].to_vec();
    changed[0].answers.insert("aware".into(), Answer::Number(0));
    assert_eq!(
        rule_of(
            store
                .add_responses(&rules, "S", &changed, None)
                .await
                .unwrap_err()
        ),
        "survey.unit_answered"
    );

    let units = store.survey_units("S", RegionCode::NATION).await.unwrap();
    let responses = store.responses("S").await.unwrap();
    let r = survey_results(&survey, &questionnaire(), &units, &responses, By::Audience).unwrap();
    let get = |g: &str| r.rows.iter().find(|x| x.group == g).unwrap();
    // Everyone: stratum means 3/4 and 1/2, weights 100/400 and 300/400: 0.5625.
    // Variance: (1/4)²·(1 − 4/100)·(1/4)/4 + (3/4)²·(1 − 2/300)·(1/2)/2
    //         = 0.00375 + 0.1396875 = 0.1434375.
    let all = get("all");
    assert!((all.value - 0.5625).abs() < 1e-12, "{all:?}");
    assert!((all.margin - 1.959_963_984_540_054 * 0.143_437_5_f64.sqrt()).abs() < 1e-9);
    assert_eq!(all.population, 400);
    // Farmers (the domain worked in cakupan_domain::survey's unit test): weights 25 and 150,
    // N̂ = 200, R = 175/200 = 0.875, variance 0.02154296875.
    let farmers = get("farmer");
    assert!((farmers.value - 0.875).abs() < 1e-12, "{farmers:?}");
    assert!((farmers.margin - 1.959_963_984_540_054 * 0.021_542_968_75_f64.sqrt()).abs() < 1e-9);
    assert_eq!((farmers.population, farmers.respondents), (200, 3));
    // Fishers: weights 25, 25 and 150: N̂ = 200, R = 50/200 = 0.25.
    let fishers = get("fisher");
    assert!((fishers.value - 0.25).abs() < 1e-12, "{fishers:?}");

    // A retired version takes no more answers.
    assert!(store.retire_questionnaire("kkbc", 1, 2).await.unwrap());
    let mut late = vec![response(1, "farmer", 1)];
    late[0].unit = 1;
    assert_eq!(
        rule_of(
            store
                .add_responses(&rules, "S", &late, None)
                .await
                .unwrap_err()
        ),
        "questionnaire.retired"
    );
    let mut v2 = questionnaire();
    assert_eq!(
        rule_of({
            v2.title_id = "Lain".into();
            store.add_questionnaire(&v2).await.unwrap_err()
        }),
        "questionnaire.version_taken"
    );
}

/// A CSV of answers through the API: a bad line is named and nothing is counted; the good
/// file is counted once; the same file again is refused; the results follow.
async fn responses_by_csv_through_the_api(store: Arc<dyn Store>) {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = crate::api::app_on(store, &crate::api::auth()).await;
    crate::api::campaign_setup(&app).await;
    let upload = |csv: &'static str| {
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/surveys/S0/responses")
            .header("content-type", "text/csv")
            .header("x-file-name", "jawaban.csv")
            .header("authorization", format!("Bearer {}", app.token))
            .body(Body::from(csv))
            .unwrap();
        let router = app.router.clone();
        async move {
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            )
        }
    };
    let (s, v) = upload("unit,version,audience,aware\n1,1,farmer,ya\n2,1,fisher,mungkin\n").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "line 3.answers.aware", "{v}");
    assert_eq!(v["errors"][0]["rule"], "survey.yes_no", "{v}");
    assert!(app.store.responses("S0").await.unwrap().is_empty());
    // Larger than the API's 64 KiB for other bodies (a file of answers may be 4 MiB): the
    // same three answers, padded with spaces that reading trims.
    let pad: String = " ".repeat(30_000);
    let good: &'static str = Box::leak(
        format!(
            "unit,version,audience,aware\n1,1,farmer,ya{pad}\n2,1,fisher,tidak{pad}\n3,1,,ya{pad}\n"
        )
        .into_boxed_str(),
    );
    let (s, v) = upload(good).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["added"], 3, "{v}");
    let (s, v) = upload(good).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["rule"], "survey.duplicate_upload", "{v}");
    assert_eq!(app.store.responses("S0").await.unwrap().len(), 3);
    let (s, v) = crate::api::call_as(
        &app,
        Some(&app.token),
        "GET",
        "/api/v1/surveys/S0/results?by=audience",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let all = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "all")
        .unwrap();
    // One stratum of 5,000 people, 3 respondents (2 yes): 2/3.
    assert!(
        (all["value"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12,
        "{v}"
    );
    assert_eq!(all["respondents"], 3);
}

on_both_backends! {
    a_wave_is_coordinated_and_held: true,
    a_survey_weighted_by_hand: true,
    responses_by_csv_through_the_api: true,
}
