//! Coverage targets as records on both backends: checked and idempotent writes, allocation
//! down the tree that sums to the parent, and the target report.

use crate::harness::{self, input, reg};
use cakupan_domain::coverage::Metric;
use cakupan_domain::{Level, Month, RegionCode};
use cakupan_store::ledger::NewPosting;
use cakupan_store::targets::{allocate_down, from_rules, report};
use cakupan_store::{Store, StoreError, TargetRecord};
use std::sync::Arc;

on_both_backends! {
    targets_are_checked_and_idempotent: true,
    allocation_sums_and_the_report_uses_it: true,
}

fn m(s: &str) -> Month {
    Month::parse(s).unwrap()
}

fn national() -> TargetRecord {
    from_rules(harness::rules()).unwrap().remove(0)
}

async fn targets_are_checked_and_idempotent(s: Arc<dyn Store>) {
    let t = national();
    assert_eq!(
        (t.metric, t.region, t.value, t.baseline),
        (
            Metric::StatusActive,
            RegionCode::NATION,
            // 70 million less the 5.53 million Jakon participants Cakupan does not hold.
            64_470_000,
            Some((m("2023-02"), 29_770_000))
        )
    );
    assert_eq!(
        s.set_targets(std::slice::from_ref(&t), false)
            .await
            .unwrap(),
        1
    );
    // Seeding again keeps what is stored; an edit replaces it; a retry of the edit is the same.
    let mut edited = t.clone();
    edited.value = 71_000_000;
    edited.source = "board decision 2026/11".into();
    assert_eq!(
        s.set_targets(std::slice::from_ref(&t), false)
            .await
            .unwrap(),
        0
    );
    s.set_targets(std::slice::from_ref(&edited), true)
        .await
        .unwrap();
    s.set_targets(std::slice::from_ref(&edited), true)
        .await
        .unwrap();
    assert_eq!(s.targets().await.unwrap(), vec![edited.clone()]);
    s.set_targets(std::slice::from_ref(&t), false)
        .await
        .unwrap();
    assert_eq!(s.targets().await.unwrap()[0].value, 71_000_000);
    assert!(
        t.source.contains("net of") && t.source.contains("Jakon 5530000"),
        "{}",
        t.source
    );
    // One bad target in a batch: named, and nothing of the batch stored.
    let mut good = t.clone();
    good.region = RegionCode::parse("32").unwrap();
    let mut bad = t.clone();
    bad.region = RegionCode::parse("33").unwrap();
    bad.value = -5;
    match s.set_targets(&[good, bad], true).await {
        Err(StoreError::Rejected(e)) => {
            assert_eq!(
                (e.0[0].field.as_str(), e.0[0].rule),
                ("value", "value.negative")
            )
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(s.targets().await.unwrap().len(), 1);
}

/// Registers `nik` in `village` and pays November 2026 for them (Rp8,400 under PP 50/2025),
/// so they count as peserta aktif there.
async fn active_in(s: &Arc<dyn Store>, nik: &str, village: &str) {
    let mut i = input(nik);
    i.village_code = village.into();
    i.registered_on = "2026-01-05".into();
    s.register(harness::rules(), &reg(&i)).await.unwrap();
    let pay = cakupan_domain::contribution::ContributionInput {
        reference: format!("P-{}", &nik[10..]),
        nik: nik.into(),
        segment: "BPU".into(),
        first_month: "2026-11".into(),
        months: "1".into(),
        amount: "8400".into(),
        channel: "bank".into(),
        paid_on: "2026-11-20".into(),
    };
    let pay = cakupan_domain::contribution::parse_payment(harness::rules(), &pay, harness::today())
        .unwrap();
    s.post(harness::rules(), &NewPosting::Contribution(pay))
        .await
        .unwrap();
}

async fn allocation_sums_and_the_report_uses_it(s: Arc<dyn Store>) {
    let regions = harness::regions();
    let now = m("2026-11");
    let nation = national();
    s.set_targets(std::slice::from_ref(&nation), false)
        .await
        .unwrap();
    // Before anything is allocated, a region below the nation has no target: the report says
    // so rather than computing one.
    match report(
        s.as_ref(),
        regions,
        RegionCode::parse("32.73").unwrap(),
        now,
        3,
    )
    .await
    {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "target.none"),
        o => panic!("{o:?}"),
    }
    // Nation → provinces → regencies: stored rows, each level summing to its parent.
    let a = allocate_down(s.as_ref(), regions, &nation, Level::Regency, now)
        .await
        .unwrap();
    assert_eq!(a.targets.len(), 38 + 514);
    let provinces: Vec<&TargetRecord> = a
        .targets
        .iter()
        .filter(|t| t.region.level() == Level::Province)
        .collect();
    assert_eq!(provinces.iter().map(|t| t.value).sum::<i64>(), nation.value);
    assert_eq!(
        provinces.iter().map(|t| t.baseline.unwrap().1).sum::<i64>(),
        nation.baseline.unwrap().1
    );
    let of = |code: &str| {
        a.targets
            .iter()
            .find(|t| t.region == RegionCode::parse(code).unwrap())
            .unwrap()
            .clone()
    };
    // Jawa Barat: 23.50 of 139.85 million employed.
    let jabar = of("32");
    assert!(
        (jabar.value as f64 - nation.value as f64 * 23.50 / 139.85).abs() <= 1.0,
        "{}",
        jabar.value
    );
    assert_eq!(jabar.basis, "employed");
    // DKI Jakarta has no Sakernas figure in data/bps: a share of the rest by population.
    assert_eq!(of("31").basis, "population");
    assert!(of("31").value > 0);
    // Papua's 2.45 million employed (Aug 2023) cover today's Papua, Papua Selatan, Tengah and
    // Pegunungan: shared among the four by population, not given whole to Papua.
    let papua: i64 = ["91", "93", "94", "95"].iter().map(|c| of(c).value).sum();
    assert!(
        (papua as f64 - nation.value as f64 * 2.45 / 139.85).abs() <= 4.0,
        "{papua}"
    );
    assert!(
        ["91", "93", "94", "95"]
            .iter()
            .all(|c| of(c).basis == "population" && of(c).value > 0)
    );
    // Jawa Barat's regencies by population, summing to Jawa Barat.
    let regencies: Vec<&TargetRecord> = a
        .targets
        .iter()
        .filter(|t| {
            t.region.level() == Level::Regency
                && RegionCode::parse("32").unwrap().contains(t.region)
        })
        .collect();
    assert_eq!(regencies.iter().map(|t| t.value).sum::<i64>(), jabar.value);
    assert!(regencies.iter().all(|t| t.basis == "population"));
    let population = cakupan_domain::bps::population();
    let pop = |c: &str| population[&RegionCode::parse(c).unwrap()] as f64;
    let bandung = of("32.73");
    assert!((bandung.value as f64 - jabar.value as f64 * pop("32.73") / pop("32")).abs() <= 1.0);
    s.set_targets(&a.targets, true).await.unwrap();
    let stored = s
        .targets_within(RegionCode::parse("32").unwrap(), Level::Regency)
        .await
        .unwrap();
    assert_eq!(stored.len(), regencies.len());
    let r = report(
        s.as_ref(),
        regions,
        RegionCode::parse("32.73").unwrap(),
        now,
        3,
    )
    .await
    .unwrap();
    assert_eq!(r.target.value, bandung.value);

    // A district's target of 3 to its four villages, equally, none below its own peserta
    // aktif: 32.73.01.1001 has two active participants, 32.73.01.1002 one.
    let district = RegionCode::parse("32.73.01").unwrap();
    assert_eq!(regions.children(district).len(), 4);
    for (nik, village) in [
        ("3273015203900003", "32.73.01.1001"),
        ("3273014506850002", "32.73.01.1001"),
        ("3273014506850010", "32.73.01.1002"),
    ] {
        active_in(&s, nik, village).await;
    }
    let small = TargetRecord {
        region: district,
        value: 3,
        baseline: None,
        basis: "stated".into(),
        source: "Kantor cabang Bandung, rencana 2026".into(),
        ..nation.clone()
    };
    s.set_targets(std::slice::from_ref(&small), true)
        .await
        .unwrap();
    let a = allocate_down(s.as_ref(), regions, &small, Level::Village, now)
        .await
        .unwrap();
    let got: Vec<(String, i64, &str)> = a
        .targets
        .iter()
        .map(|t| (t.region.to_string(), t.value, t.basis.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("32.73.01.1001".to_string(), 2, "actual"),
            ("32.73.01.1002".to_string(), 1, "villages"),
            ("32.73.01.1003".to_string(), 0, "villages"),
            ("32.73.01.1004".to_string(), 0, "villages"),
        ]
    );
    assert_eq!(a.raised_to_actual, 1);
    s.set_targets(&a.targets, true).await.unwrap();
    // The targets hold still: a registration (and a payment) in 32.73.01.1003 changes no
    // stored target, and its report reads the stored one.
    active_in(&s, "3273014506850029", "32.73.01.1003").await;
    let r = report(
        s.as_ref(),
        regions,
        RegionCode::parse("32.73.01.1003").unwrap(),
        now,
        3,
    )
    .await
    .unwrap();
    assert_eq!((r.target.value, r.progress.actual), (0, 1));
    let again = s.targets_within(district, Level::Village).await.unwrap();
    assert_eq!(
        again.iter().map(|t| t.value).collect::<Vec<_>>(),
        vec![2, 1, 0, 0]
    );
    // Nothing to allocate below a village.
    let village = TargetRecord {
        region: RegionCode::parse("32.73.01.1001").unwrap(),
        ..small.clone()
    };
    match allocate_down(s.as_ref(), regions, &village, Level::Village, now).await {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "level.below"),
        o => panic!("{o:?}"),
    }
    // An unknown region is named.
    match report(
        s.as_ref(),
        regions,
        RegionCode::parse("99").unwrap(),
        now,
        3,
    )
    .await
    {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "region.unknown"),
        o => panic!("{o:?}"),
    }
}
