//! The ledger and the counters on both backends: idempotent postings, amounts checked
//! against the rules, reversals and back-payments restating past months, and counters that
//! always equal a recompute from the ledger, whatever the order of postings.

use crate::harness::{self, input, reg};
use cakupan_domain::contribution::{ContributionInput, parse_payment};
use cakupan_domain::{Level, Month, Nik, RegionCode, Segment};
use cakupan_store::ledger::{NewPosting, PostingOutcome, TerminationReason};
use cakupan_store::{Store, StoreError};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

on_both_backends! {
    postings_are_idempotent_and_counted: true,
    wrong_amount_names_the_expected_amount: true,
    reversal_and_back_payment_restate_past_months: true,
    termination_ends_the_participation: true,
    concurrent_retries_post_once: true,
    one_nik_in_both_segments_is_counted_per_segment: true,
    a_budget_funded_participation_gets_no_discount: true,
    the_next_due_months_follow_the_last_paid: true,
}

const NIK: &str = "3273015203900003";

fn pay(reference: &str, first: &str, months: u32, amount: i64) -> NewPosting {
    let i = ContributionInput {
        reference: reference.into(),
        nik: NIK.into(),
        segment: "BPU".into(),
        first_month: first.into(),
        months: months.to_string(),
        amount: amount.to_string(),
        channel: "bank".into(),
        paid_on: "2026-11-20".into(),
    };
    NewPosting::Contribution(parse_payment(harness::rules(), &i, harness::today()).unwrap())
}

async fn registered(s: &Arc<dyn Store>) {
    let mut i = input(NIK);
    i.registered_on = "2026-01-05".into();
    s.register(harness::rules(), &reg(&i)).await.unwrap();
}

fn m(s: &str) -> Month {
    Month::parse(s).unwrap()
}

/// (registered, paid_active, status_active, nonactive) for the village, BPU, in `month`.
async fn village(s: &Arc<dyn Store>, month: &str) -> (i64, i64, i64, i64) {
    let within = RegionCode::parse("32.73.01").unwrap();
    let rows = s
        .active_report(Level::Village, within, Some(Segment::Bpu), m(month))
        .await
        .unwrap();
    rows.first()
        .map(|r| (r.registered, r.paid_active, r.status_active, r.nonactive))
        .unwrap_or((0, 0, 0, 0))
}

pub async fn assert_counters_equal_ledger(s: &Arc<dyn Store>) {
    let stored: BTreeMap<_, _> = s
        .counters()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.4 != [0; cakupan_store::ledger::COUNTERS])
        .map(|(r, _, g, mo, v)| ((r, g, mo), v))
        .collect();
    let recomputed: BTreeMap<_, _> = s
        .recompute(harness::rules())
        .await
        .unwrap()
        .rows()
        .into_iter()
        .map(|(r, _, g, mo, v)| ((r, g, mo), v))
        .collect();
    assert_eq!(
        stored, recomputed,
        "counters differ from a recompute of the ledger"
    );
    // The agents' monthly figures likewise.
    assert_eq!(
        s.agent_months_all().await.unwrap().rows(),
        s.recompute_agents().await.unwrap().rows(),
        "agent months differ from a recompute of the ledger"
    );
    // A region's history read from its own rows says what the level reports say.
    let regions: std::collections::BTreeSet<String> = stored
        .keys()
        .filter(|(r, _, _)| r.len() <= 5)
        .map(|(r, _, _)| r.clone())
        .collect();
    for region in regions {
        let code = cakupan_domain::RegionCode::parse(&region)
            .unwrap_or(cakupan_domain::RegionCode::NATION);
        let (level, parent) = match code.parent() {
            None => (
                cakupan_domain::Level::Nation,
                cakupan_domain::RegionCode::NATION,
            ),
            Some(p) => (code.level(), p),
        };
        let h = cakupan_store::ledger::RegionHistory::new(
            s.region_history(code, harness::month("2027-06"))
                .await
                .unwrap(),
        );
        for m in ["2025-12", "2026-03", "2026-07", "2027-01"] {
            let m = harness::month(m);
            let report = s.active_report(level, parent, None, m).await.unwrap();
            let want = report
                .iter()
                .find(|r| r.code == code.to_string())
                .map(|r| [r.registered, r.paid_active, r.status_active, r.nonactive])
                .unwrap_or([0; 4]);
            assert_eq!(h.at(None, m).values[..4], want, "{region} {m}");
        }
    }
}

pub(crate) async fn postings_are_idempotent_and_counted(s: Arc<dyn Store>) {
    registered(&s).await;
    assert_eq!(
        village(&s, "2026-02").await,
        (1, 0, 0, 0),
        "registered, pending"
    );
    // Jan–Mar 2026 for a non-transport worker: 3 × Rp16,800.
    let p = pay("BNI-1", "2026-01", 3, 50_400);
    let PostingOutcome::Posted { id, participant_id } = s.post(harness::rules(), &p).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        s.post(harness::rules(), &p).await.unwrap(),
        PostingOutcome::Existing { id, participant_id }
    );
    let other = pay("BNI-1", "2026-01", 1, 16_800);
    match s.post(harness::rules(), &other).await {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "reference.reused"),
        o => panic!("{o:?}"),
    }
    // DOMAIN.md §4.1 worked example.
    assert_eq!(village(&s, "2026-03").await, (1, 1, 1, 0));
    assert_eq!(
        village(&s, "2026-05").await,
        (1, 0, 1, 0),
        "in arrears still counts as peserta aktif"
    );
    assert_eq!(village(&s, "2026-06").await, (1, 0, 0, 1));
    // Every level agrees.
    let nation = s
        .active_report(Level::Nation, RegionCode::NATION, None, m("2026-03"))
        .await
        .unwrap();
    assert_eq!((nation[0].code.as_str(), nation[0].paid_active), ("", 1));
    let province = s
        .active_report(Level::Province, RegionCode::NATION, None, m("2026-03"))
        .await
        .unwrap();
    assert_eq!(
        (province[0].code.as_str(), province[0].status_active),
        ("32", 1)
    );
    assert_eq!(s.ledger(participant_id).await.unwrap().len(), 1);
    assert_counters_equal_ledger(&s).await;
}

/// PP 50/2025 art. 3: JKK and JKM paid from a state or regional budget get no discount. The
/// flag is recorded with the participation, read back, and the ledger prices by it.
async fn a_budget_funded_participation_gets_no_discount(s: Arc<dyn Store>) {
    let mut i = input(NIK);
    i.registered_on = "2026-01-05".into();
    i.budget_funded = "ya".into();
    s.register(harness::rules(), &reg(&i)).await.unwrap();
    let stored = &s
        .participants_by_nik(cakupan_domain::Nik::parse(NIK).unwrap())
        .await
        .unwrap()[0];
    assert!(stored.registration.budget_funded);
    // April–June 2026: Rp16,800 a month, not the discounted Rp8,400.
    match s
        .post(harness::rules(), &pay("APBD-1", "2026-04", 3, 25_200))
        .await
    {
        Err(StoreError::Rejected(e)) => {
            assert_eq!(e.0[0].field, "amount");
            assert!(
                e.0[0].message.contains("expected Rp50,400"),
                "{}",
                e.0[0].message
            );
        }
        o => panic!("{o:?}"),
    }
    s.post(harness::rules(), &pay("APBD-1", "2026-04", 3, 50_400))
        .await
        .unwrap();
    // A bad value is named.
    let mut bad = input("3273014506850002");
    bad.budget_funded = "mungkin".into();
    let ctx = cakupan_domain::participants::Context {
        regions: harness::regions(),
        rules: harness::rules(),
        today: harness::today(),
    };
    let e = cakupan_domain::participants::validate(&ctx, &bad).unwrap_err();
    assert!(
        e.iter()
            .any(|x| x.field == "budget_funded" && x.rule == "budget_funded.value")
    );
}

/// What a payment code asks (issue #19): the dues of the next unpaid months, for a period the
/// rules allow, starting after the last paid month.
async fn the_next_due_months_follow_the_last_paid(s: Arc<dyn Store>) {
    registered(&s).await;
    let policy = harness::rules().security.first().unwrap().clone();
    let st = cakupan_app::Context {
        store: s.clone(),
        regions: harness::regions().clone(),
        rules: harness::rules().clone(),
        today: harness::today,
        sms: None,
        auth: Arc::new(cakupan_app::auth::Auth::new(
            cakupan_app::auth::Cost::TEST_ONLY,
            policy,
        )),
    };
    let p = s
        .participants_by_nik(Nik::parse(NIK).unwrap())
        .await
        .unwrap()
        .remove(0);
    let expected = |first: &str, n: u32| {
        cakupan_domain::contribution::dues(
            harness::rules(),
            &cakupan_app::payments::profile_of(&p),
            m(first),
            n,
        )
        .unwrap()
    };
    // Never paid, lapsed by today (2026-11-23): from this month, no back-payment.
    let due = cakupan_app::payments::next_due(&st, &p, 3).await.unwrap();
    assert_eq!(due.first_month, m("2026-11"));
    assert_eq!(due.per_month, expected("2026-11", 3));
    assert_eq!(
        due.total.0,
        due.per_month.iter().map(|(_, r)| r.0).sum::<i64>()
    );
    // Two months is not a BPU period (1, 3, 6 or 12).
    match cakupan_app::payments::next_due(&st, &p, 2).await {
        Err(cakupan_app::AppError::Invalid(e)) => assert_eq!(e.0[0].rule, "months.period"),
        o => panic!("{o:?}"),
    }
    // November paid: the next ask starts in December.
    let nov = expected("2026-11", 1)[0].1.0;
    s.post(harness::rules(), &pay("NEXT-1", "2026-11", 1, nov))
        .await
        .unwrap();
    let due = cakupan_app::payments::next_due(&st, &p, 1).await.unwrap();
    assert_eq!(due.first_month, m("2026-12"));
    assert_eq!(due.per_month, expected("2026-12", 1));
}

async fn wrong_amount_names_the_expected_amount(s: Arc<dyn Store>) {
    registered(&s).await;
    // April–June 2026 carries the PP 50/2025 discount: 3 × Rp8,400, not 3 × Rp16,800.
    match s
        .post(harness::rules(), &pay("BNI-2", "2026-04", 3, 50_400))
        .await
    {
        Err(StoreError::Rejected(e)) => {
            assert_eq!(e.0[0].field, "amount");
            assert!(
                e.0[0].message.contains("expected Rp25,200"),
                "{}",
                e.0[0].message
            );
        }
        o => panic!("{o:?}"),
    }
    match s
        .post(harness::rules(), &pay("BNI-3", "2025-12", 1, 16_800))
        .await
    {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "first_month.before_registration"),
        o => panic!("{o:?}"),
    }
    let mut unknown = pay("BNI-4", "2026-04", 1, 8_400);
    if let NewPosting::Contribution(p) = &mut unknown {
        p.nik = Nik::parse("3273011203880001").unwrap();
    }
    match s.post(harness::rules(), &unknown).await {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "nik.not_registered"),
        o => panic!("{o:?}"),
    }
    let p = s
        .participants_by_nik(Nik::parse(NIK).unwrap())
        .await
        .unwrap();
    assert!(
        s.ledger(p[0].id).await.unwrap().is_empty(),
        "nothing posted"
    );
    assert_counters_equal_ledger(&s).await;
}

pub(crate) async fn reversal_and_back_payment_restate_past_months(s: Arc<dyn Store>) {
    registered(&s).await;
    s.post(harness::rules(), &pay("P1", "2026-01", 1, 16_800))
        .await
        .unwrap();
    assert_eq!(village(&s, "2026-04").await, (1, 0, 0, 1));
    // Received later, for Feb–Apr: those months are restated.
    s.post(
        harness::rules(),
        &pay("P2", "2026-02", 3, 16_800 * 2 + 8_400),
    )
    .await
    .unwrap();
    assert_eq!(village(&s, "2026-04").await, (1, 1, 1, 0));
    // A 12-month lump payment from May makes paid_active reach ahead.
    let lump = 8_400 * 8 + 16_800 * 4;
    s.post(harness::rules(), &pay("P3", "2026-05", 12, lump))
        .await
        .unwrap();
    assert_eq!(village(&s, "2027-04").await, (1, 1, 1, 0));
    // It bounces.
    let rev = NewPosting::Reversal {
        reference: "R3".into(),
        target: "P3".into(),
        on: harness::today(),
    };
    s.post(harness::rules(), &rev).await.unwrap();
    assert_eq!(village(&s, "2027-04").await, (1, 0, 0, 1));
    assert_eq!(village(&s, "2026-06").await, (1, 0, 1, 0));
    let again = NewPosting::Reversal {
        reference: "R3b".into(),
        target: "P3".into(),
        on: harness::today(),
    };
    match s.post(harness::rules(), &again).await {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "reverses.already"),
        o => panic!("{o:?}"),
    }
    let nothing = NewPosting::Reversal {
        reference: "R9".into(),
        target: "NOPE".into(),
        on: harness::today(),
    };
    assert!(matches!(
        s.post(harness::rules(), &nothing).await,
        Err(StoreError::Rejected(_))
    ));
    assert_counters_equal_ledger(&s).await;
}

pub(crate) async fn termination_ends_the_participation(s: Arc<dyn Store>) {
    registered(&s).await;
    s.post(harness::rules(), &pay("P1", "2026-01", 3, 50_400))
        .await
        .unwrap();
    let t = NewPosting::Termination {
        reference: "T1".into(),
        nik: Nik::parse(NIK).unwrap(),
        segment: Segment::Bpu,
        month: m("2026-03"),
        reason: TerminationReason::Death,
    };
    s.post(harness::rules(), &t).await.unwrap();
    assert_eq!(village(&s, "2026-02").await, (1, 1, 1, 0));
    assert_eq!(
        village(&s, "2026-03").await,
        (0, 0, 0, 0),
        "terminated: counted nowhere"
    );
    match s
        .post(harness::rules(), &pay("P2", "2026-04", 1, 8_400))
        .await
    {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "participation.terminated"),
        o => panic!("{o:?}"),
    }
    assert_counters_equal_ledger(&s).await;
}

async fn concurrent_retries_post_once(s: Arc<dyn Store>) {
    registered(&s).await;
    let p = pay("BNI-9", "2026-01", 3, 50_400);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            let p = p.clone();
            tokio::spawn(async move { s.post(harness::rules(), &p).await.unwrap() })
        })
        .collect();
    let mut posted = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), PostingOutcome::Posted { .. }) {
            posted += 1;
        }
    }
    assert_eq!(posted, 1);
    assert_eq!(village(&s, "2026-02").await, (1, 1, 1, 0));
    assert_counters_equal_ledger(&s).await;
}

/// (registered, paid_active, status_active, nonactive) of the nation in `month`, for one
/// segment or (None) all of them, where each NIK counts once.
async fn nation(s: &Arc<dyn Store>, segment: Option<Segment>, month: &str) -> (i64, i64, i64, i64) {
    let rows = s
        .active_report(Level::Nation, RegionCode::NATION, segment, m(month))
        .await
        .unwrap();
    rows.first()
        .map(|r| (r.registered, r.paid_active, r.status_active, r.nonactive))
        .unwrap_or((0, 0, 0, 0))
}

fn pu_input(village: &str, registered_on: &str) -> cakupan_domain::participants::RegistrationInput {
    let mut pu = input(NIK);
    pu.segment = "PU".into();
    pu.occupation_code = "15".into();
    pu.income_base = "4500000".into();
    pu.programs = "JKK+JKM+JHT".into();
    pu.channel = "employer".into();
    pu.village_code = village.into();
    pu.registered_on = registered_on.into();
    pu
}

async fn one_nik_in_both_segments_is_counted_per_segment(s: Arc<dyn Store>) {
    registered(&s).await;
    s.post(harness::rules(), &pay("BNI-1", "2026-01", 3, 50_400))
        .await
        .unwrap();
    // The same person, registered afterwards as a wage earner in another district.
    s.register(
        harness::rules(),
        &reg(&pu_input("32.73.02.1001", "2026-01-20")),
    )
    .await
    .unwrap();
    let within = RegionCode::parse("32.73.01").unwrap();
    let bpu = s
        .active_report(Level::Village, within, Some(Segment::Bpu), m("2026-02"))
        .await
        .unwrap();
    assert_eq!(
        (bpu[0].registered, bpu[0].paid_active),
        (1, 1),
        "the BPU participation is active"
    );
    assert_eq!(
        nation(&s, Some(Segment::Pu), "2026-02").await,
        (1, 0, 0, 0),
        "the PU one is registered, pending"
    );
    // All segments together: one person, counted once, with their best status.
    assert_eq!(nation(&s, None, "2026-02").await, (1, 1, 1, 0));
    assert_eq!(nation(&s, None, "2026-06").await, (1, 0, 0, 1));
    // The BPU participation ends in July: the person is still registered, as a PU
    // participant, and is now counted in the PU participation's district.
    s.post(
        harness::rules(),
        &NewPosting::Termination {
            reference: "T-BPU".into(),
            nik: Nik::parse(NIK).unwrap(),
            segment: Segment::Bpu,
            month: m("2026-07"),
            reason: TerminationReason::Withdrawal,
        },
    )
    .await
    .unwrap();
    assert_eq!(nation(&s, None, "2026-07").await, (1, 0, 0, 0));
    assert_eq!(
        nation(&s, Some(Segment::Bpu), "2026-07").await,
        (0, 0, 0, 0)
    );
    let districts = s
        .active_report(
            Level::District,
            RegionCode::parse("32.73").unwrap(),
            None,
            m("2026-07"),
        )
        .await
        .unwrap();
    let registered_in = |code: &str| {
        districts
            .iter()
            .find(|r| r.code == code)
            .map(|r| r.registered)
            .unwrap_or(0)
    };
    assert_eq!(
        (registered_in("32.73.01"), registered_in("32.73.02")),
        (0, 1)
    );
    // A PU payment is priced from the employer's invoice (wage, risk class): without it, refused.
    let mut p = pay("PU-1", "2026-01", 1, 100);
    if let NewPosting::Contribution(c) = &mut p {
        c.segment = Segment::Pu;
    }
    match s.post(harness::rules(), &p).await {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "pu.basis_required"),
        o => panic!("{o:?}"),
    }
    assert_counters_equal_ledger(&s).await;
    assert_counters_equal_brute_force(&s).await;
}

/// DOMAIN.md §4.1–4.2 evaluated person by person from what the store holds, with no counters:
/// the nation's counts per segment and in total (each NIK once, with its best status) for
/// every month of 2026–2028 equal the active report.
async fn assert_counters_equal_brute_force(s: &Arc<dyn Store>) {
    use cakupan_domain::coverage::{Status, series};
    let rank = |st: Status| match st {
        Status::Active => 4,
        Status::InArrears => 3,
        Status::NonActive => 2,
        Status::Pending => 1,
        Status::Terminated => 0,
    };
    let mut people = Vec::new();
    for nik in RANDOM_NIKS {
        let mut statuses = Vec::new();
        for p in s
            .participants_by_nik(Nik::parse(nik).unwrap())
            .await
            .unwrap()
        {
            let ledger = s.ledger(p.id).await.unwrap();
            let f = cakupan_store::ledger::facts(
                p.registration.segment,
                Month::of(p.registration.registered_on),
                &ledger,
            );
            let all = series(harness::rules(), &f, m("2026-01"), m("2028-12")).unwrap();
            statuses.push((p.registration.segment, all));
        }
        people.push(statuses);
    }
    for month in m("2026-01").through(m("2028-12")) {
        let count = |st: Option<Status>| -> (i64, i64, i64, i64) {
            match st {
                None => (0, 0, 0, 0),
                Some(st) => (
                    i64::from(st != Status::Terminated),
                    i64::from(st == Status::Active),
                    i64::from(matches!(st, Status::Active | Status::InArrears)),
                    i64::from(st == Status::NonActive),
                ),
            }
        };
        let add = |a: (i64, i64, i64, i64), b: (i64, i64, i64, i64)| {
            (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3)
        };
        let mut total = (0, 0, 0, 0);
        let mut per = BTreeMap::new();
        for person in &people {
            let mut best: Option<Status> = None;
            for (segment, all) in person {
                let st = all.iter().find(|x| x.month == month).map(|x| x.status);
                let e = per.entry(*segment).or_insert((0, 0, 0, 0));
                *e = add(*e, count(st));
                if let Some(st) = st
                    && best.is_none_or(|b| rank(st) > rank(b))
                {
                    best = Some(st);
                }
            }
            total = add(total, count(best));
        }
        assert_eq!(
            nation(s, None, &month.to_string()).await,
            total,
            "all segments, {month}"
        );
        for segment in [Segment::Bpu, Segment::Pu] {
            assert_eq!(
                nation(s, Some(segment), &month.to_string()).await,
                per.get(&segment).copied().unwrap_or((0, 0, 0, 0)),
                "{segment}, {month}"
            );
        }
    }
}

/// Random ledgers for three participants, posted in random order (a reversal whose target is
/// not posted yet is refused and retried at the end): the counters always equal a recompute.
fn random_ledgers(seed: u64) -> Vec<NewPosting> {
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let niks = RANDOM_NIKS;
    let mut out = Vec::new();
    for (k, nik) in niks.iter().enumerate() {
        for j in 0..(2 + next(5)) {
            let first = m("2026-01").plus(next(18) as i32);
            let mut months = [1u32, 3, 6, 12][next(4) as usize];
            // Paid by November 2026 and at most twelve months ahead (rules/coverage.toml's
            // posting horizon): a long advance far ahead becomes one month.
            if first.plus(months as i32 - 1) > m("2027-11") {
                months = 1;
            }
            let earliest = m("2026-01").max(first.plus(months as i32 - 1 - 12));
            let paid_month = earliest.plus(next(m("2026-11").since(earliest) as u64 + 1) as i32);
            let programmes = if k == 2 { "JKK+JKM+JHT" } else { "JKK+JKM" };
            let dues = cakupan_domain::contribution::dues(
                harness::rules(),
                &cakupan_domain::contribution::Profile {
                    segment: Segment::Bpu,
                    income_base: cakupan_domain::Rupiah(1_000_000),
                    programmes: cakupan_domain::ProgrammeSet::parse(programmes).unwrap(),
                    sector: cakupan_domain::Sector::NonTransport,
                    budget_funded: false,
                    risk_class: None,
                },
                first,
                months,
            )
            .unwrap();
            let amount: i64 = dues.iter().map(|d| d.1.0).sum();
            // Some taken in cash by an agent.
            let collected = next(3) == 0;
            let i = ContributionInput {
                reference: format!("C{k}-{j}"),
                nik: (*nik).into(),
                segment: "BPU".into(),
                first_month: first.to_string(),
                months: months.to_string(),
                amount: amount.to_string(),
                channel: if collected { "perisai" } else { "bank" }.into(),
                paid_on: format!("{paid_month}-20"),
            };
            let mut pay = parse_payment(harness::rules(), &i, harness::today()).unwrap();
            if collected {
                pay.collected_by = Some(["PRS-T-1", "PRS-T-2"][next(2) as usize].into());
            }
            out.push(NewPosting::Contribution(pay));
            if next(4) == 0 {
                out.push(NewPosting::Reversal {
                    reference: format!("R{k}-{j}"),
                    target: format!("C{k}-{j}"),
                    on: time::Date::from_calendar_date(
                        2026,
                        time::Month::try_from(1 + next(11) as u8).unwrap(),
                        25,
                    )
                    .unwrap(),
                });
            }
        }
        if k == 0 && next(2) == 0 {
            // The first person also works for a wage: their PU participation may end too.
            out.push(NewPosting::Termination {
                reference: format!("TPU{k}"),
                nik: Nik::parse(nik).unwrap(),
                segment: Segment::Pu,
                month: m("2026-03").plus(next(24) as i32),
                reason: TerminationReason::Withdrawal,
            });
        }
        if next(4) == 0 {
            out.push(NewPosting::Termination {
                reference: format!("T{k}"),
                nik: Nik::parse(nik).unwrap(),
                segment: Segment::Bpu,
                month: m("2026-01").plus(next(24) as i32),
                reason: TerminationReason::Withdrawal,
            });
        }
    }
    // Shuffle.
    for i in (1..out.len()).rev() {
        let j = next(i as u64 + 1) as usize;
        out.swap(i, j);
    }
    out
}

/// The three people of the random ledgers, registered in January 2026.
async fn register_random_people(s: &Arc<dyn Store>) {
    for nik in RANDOM_NIKS {
        let mut i = input(nik);
        i.registered_on = "2026-01-05".into();
        // The second NIK's birth day is a man's (below 41).
        i.sex = if nik == "3273011203880001" {
            "L".into()
        } else {
            "P".into()
        };
        // The third was enrolled by a Perisai agent (with JHT): their payments feed the agent's
        // monthly figures.
        if nik == "3273014506850002" {
            i.channel = "perisai".into();
            i.agent_code = "PRS-T-1".into();
            i.programs = "JKK+JKM+JHT".into();
        }
        s.register(harness::rules(), &reg(&i)).await.unwrap();
    }
    // The first person is also a wage earner, registered in March in another district.
    s.register(
        harness::rules(),
        &reg(&pu_input("32.73.02.1001", "2026-03-02")),
    )
    .await
    .unwrap();
}

const RANDOM_NIKS: [&str; 3] = ["3273015203900003", "3273011203880001", "3273014506850002"];

async fn post_random(s: &Arc<dyn Store>, postings: Vec<NewPosting>) {
    register_random_people(s).await;
    let mut later = Vec::new();
    let mut posted = 0;
    for p in postings {
        match s.post(harness::rules(), &p).await {
            Ok(_) => posted += 1,
            Err(StoreError::Rejected(e)) if e.0[0].rule == "reverses.unknown" => later.push(p),
            Err(StoreError::Rejected(_)) => {} // e.g. a payment after a termination: refused, nothing stored
            Err(e) => panic!("{e}"),
        }
    }
    for p in later {
        if s.post(harness::rules(), &p).await.is_ok() {
            posted += 1;
        }
    }
    assert!(posted > 0, "the random ledger posted nothing");
}

/// The same random ledger through `post_batch`, `size` postings at a time, with the same
/// retry of reversals that came before their targets.
async fn post_random_batched(s: &Arc<dyn Store>, postings: Vec<NewPosting>, size: usize) {
    register_random_people(s).await;
    let mut later = Vec::new();
    for chunk in postings.chunks(size) {
        let out = s.post_batch(harness::rules(), chunk).await.unwrap();
        for (p, o) in chunk.iter().zip(out) {
            if let Err(e) = o
                && e.0[0].rule == "reverses.unknown"
            {
                later.push(p.clone());
            }
        }
    }
    for p in later {
        let _ = s
            .post_batch(harness::rules(), std::slice::from_ref(&p))
            .await
            .unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn counters_equal_recompute_in_any_order_sqlite(seed in any::<u64>()) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let db = harness::sqlite(true).await;
            post_random(&db.store, random_ledgers(seed)).await;
            assert_counters_equal_ledger(&db.store).await;
            assert_counters_equal_brute_force(&db.store).await;
            db.finish().await;
        });
    }

    #[test]
    fn batches_post_like_single_postings_sqlite(seed in any::<u64>(), size in 1usize..9) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let one = harness::sqlite(true).await;
            let many = harness::sqlite(true).await;
            post_random(&one.store, random_ledgers(seed)).await;
            post_random_batched(&many.store, random_ledgers(seed), size).await;
            assert_counters_equal_ledger(&many.store).await;
            let a: BTreeMap<_, _> = one.store.counters().await.unwrap().into_iter().filter(|r| r.4 != [0; cakupan_store::ledger::COUNTERS]).map(|(r, _, g, mo, v)| ((r, g, mo), v)).collect();
            let b: BTreeMap<_, _> = many.store.counters().await.unwrap().into_iter().filter(|r| r.4 != [0; cakupan_store::ledger::COUNTERS]).map(|(r, _, g, mo, v)| ((r, g, mo), v)).collect();
            assert_eq!(a, b, "batches and single postings give the same counters");
            one.finish().await;
            many.finish().await;
        });
    }

    #[test]
    fn batches_post_like_single_postings_postgres(seed in any::<u64>(), size in 1usize..9) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let Some(db) = harness::postgres("batches_post_like_single_postings", true).await else { return };
            post_random_batched(&db.store, random_ledgers(seed), size).await;
            assert_counters_equal_ledger(&db.store).await;
            assert_counters_equal_brute_force(&db.store).await;
            db.finish().await;
        });
    }

    #[test]
    fn counters_equal_recompute_in_any_order_postgres(seed in any::<u64>()) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let Some(db) = harness::postgres("counters_equal_recompute_in_any_order", true).await else { return };
            post_random(&db.store, random_ledgers(seed)).await;
            assert_counters_equal_ledger(&db.store).await;
            assert_counters_equal_brute_force(&db.store).await;
            db.finish().await;
        });
    }
}
