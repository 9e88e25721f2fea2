//! Golden tests: every row of DOMAIN.md's rate, discount and ceiling tables, priced by the
//! calculator from the shipped `rules/`, plus registration checks against the real region tree.

use crate::money::Rupiah;
use crate::month::{Month, parse_date};
use crate::occupation::Sector;
use crate::participants::{Context, RegistrationInput, validate};
use crate::quote::{QuoteRequest, due_date, late_fee, months_of_delay, quote};
use crate::region::{RegionCode, RegionTree};
use crate::rules::RuleSet;
use crate::segment::{Payer, Programme, ProgrammeSet, Segment};
use std::sync::OnceLock;

fn rules() -> &'static RuleSet {
    static R: OnceLock<RuleSet> = OnceLock::new();
    R.get_or_init(|| RuleSet::builtin().unwrap())
}

fn m(s: &str) -> Month {
    Month::parse(s).unwrap()
}

fn bpu(base: i64, programs: &str, month: &str, sector: Sector) -> QuoteRequest {
    QuoteRequest {
        segment: Segment::Bpu,
        income_base: Rupiah(base),
        programmes: ProgrammeSet::parse(programs).unwrap(),
        month: m(month),
        sector,
        budget_funded: false,
        risk_class: None,
    }
}

fn due(q: &crate::quote::Quote, p: Programme, payer: Payer) -> i64 {
    q.lines
        .iter()
        .find(|l| l.programme == p && l.payer == payer)
        .map(|l| l.due.0)
        .unwrap()
}

#[test]
fn bpu_anchor_rows() {
    // DOMAIN.md §2: (base, JKK, JKM, JHT, JKK+JKM, all three), before any discount (2025).
    for (base, jkk, jkm, jht, two, three) in [
        (1_000_000, 10_000, 6_800, 20_000, 16_800, 36_800),
        (20_700_000, 207_000, 6_800, 414_000, 213_800, 627_800),
    ] {
        let q = quote(
            rules(),
            &bpu(base, "JKK+JKM+JHT", "2025-06", Sector::NonTransport),
        )
        .unwrap();
        assert_eq!(due(&q, Programme::Jkk, Payer::Worker), jkk);
        assert_eq!(due(&q, Programme::Jkm, Payer::Worker), jkm);
        assert_eq!(due(&q, Programme::Jht, Payer::Worker), jht);
        assert_eq!(q.total_due.0, three);
        let q2 = quote(
            rules(),
            &bpu(base, "JKK+JKM", "2025-06", Sector::NonTransport),
        )
        .unwrap();
        assert_eq!(q2.total_due.0, two);
        assert!(q2.notes.iter().any(|n| n.contains("provisional")));
    }
}

#[test]
fn pp50_2025_discount_by_sector_and_month() {
    use Sector::*;
    // (sector, month, JKK+JKM due)
    for (sector, month, want) in [
        (Transport, "2025-12", 16_800),
        (Transport, "2026-01", 8_400),
        (Transport, "2026-05", 8_400),
        (Transport, "2027-03", 8_400),
        (Transport, "2027-04", 16_800),
        (NonTransport, "2026-01", 16_800),
        (NonTransport, "2026-03", 16_800),
        (NonTransport, "2026-04", 8_400),
        (NonTransport, "2026-05", 8_400),
        (NonTransport, "2026-12", 8_400),
        (NonTransport, "2027-01", 16_800),
    ] {
        let q = quote(rules(), &bpu(1_000_000, "JKK+JKM", month, sector)).unwrap();
        assert_eq!(q.total_due.0, want, "{sector:?} {month}");
    }
    // JHT unchanged by the discount.
    let q = quote(
        rules(),
        &bpu(1_000_000, "JKK+JKM+JHT", "2026-05", NonTransport),
    )
    .unwrap();
    assert_eq!(due(&q, Programme::Jht, Payer::Worker), 20_000);
    assert_eq!(q.total_due.0, 28_400);
    // APBN/APBD-funded participants get no discount (PP 50/2025 art. 3).
    let mut r = bpu(1_000_000, "JKK+JKM", "2026-05", NonTransport);
    r.budget_funded = true;
    assert_eq!(quote(rules(), &r).unwrap().total_due.0, 16_800);
    // Half amounts round half up: base 1,100,000 → JKK 11,000 → 5,500; JKM 3,400.
    let q = quote(rules(), &bpu(1_100_000, "JKK+JKM", "2026-05", NonTransport)).unwrap();
    assert_eq!(q.total_due.0, 8_900);
}

#[test]
fn pp49_2020_historical_discount() {
    let q = quote(
        rules(),
        &bpu(1_000_000, "JKK+JKM", "2020-08", Sector::NonTransport),
    )
    .unwrap();
    // 1% of 10,000 and of 6,800.
    assert_eq!(due(&q, Programme::Jkk, Payer::Worker), 100);
    assert_eq!(due(&q, Programme::Jkm, Payer::Worker), 68);
    let q = quote(
        rules(),
        &bpu(1_000_000, "JKK+JKM", "2021-02", Sector::NonTransport),
    )
    .unwrap();
    assert_eq!(q.total_due.0, 16_800);
    // PU in the same period: JKK/JKM −99%, JP 99% deferred.
    let q = quote(rules(), &pu(8_000_000, "JKK+JKM+JHT+JP", "2020-10", 1)).unwrap();
    assert_eq!(due(&q, Programme::Jkk, Payer::Employer), 192); // 0.24% × 8M = 19,200 → 1%
    assert_eq!(due(&q, Programme::Jkm, Payer::Employer), 240); // 24,000 → 1%
    let jp = q
        .lines
        .iter()
        .find(|l| l.programme == Programme::Jp && l.payer == Payer::Employer)
        .unwrap();
    assert_eq!(
        (jp.nominal.0, jp.deferred.0, jp.due.0),
        (160_000, 158_400, 1_600)
    );
}

fn pu(wage: i64, programs: &str, month: &str, class: u8) -> QuoteRequest {
    QuoteRequest {
        segment: Segment::Pu,
        income_base: Rupiah(wage),
        programmes: ProgrammeSet::parse(programs).unwrap(),
        month: m(month),
        sector: Sector::NonTransport,
        budget_funded: false,
        risk_class: Some(class),
    }
}

#[test]
fn pu_rates_every_risk_class() {
    // DOMAIN.md §3 on a wage of Rp5,000,000 in June 2025.
    for (class, jkk) in [
        (1, 12_000),
        (2, 27_000),
        (3, 44_500),
        (4, 63_500),
        (5, 87_000),
    ] {
        let q = quote(rules(), &pu(5_000_000, "JKK+JKM+JHT+JP", "2025-06", class)).unwrap();
        assert_eq!(
            due(&q, Programme::Jkk, Payer::Employer),
            jkk,
            "class {class}"
        );
        assert_eq!(due(&q, Programme::Jkm, Payer::Employer), 15_000);
        assert_eq!(due(&q, Programme::Jht, Payer::Employer), 185_000);
        assert_eq!(due(&q, Programme::Jht, Payer::Worker), 100_000);
        assert_eq!(due(&q, Programme::Jp, Payer::Employer), 100_000);
        assert_eq!(due(&q, Programme::Jp, Payer::Worker), 50_000);
        assert_eq!(q.worker_due.0, 150_000);
        assert_eq!(q.employer_due.0, jkk + 15_000 + 185_000 + 100_000);
    }
}

#[test]
fn jp_ceiling_by_year_and_effective_month() {
    // (month, ceiling): the ceiling caps the JP basis for a wage of Rp12,000,000.
    for (month, ceiling) in [
        ("2022-06", 9_077_600),
        ("2023-06", 9_559_600),
        ("2024-02", 9_559_600),
        ("2024-03", 10_042_300),
        ("2025-06", 10_547_400),
        ("2026-06", 10_547_400), // 2026 unknown: the 2025 ceiling stays in force
    ] {
        let q = quote(rules(), &pu(12_000_000, "JKK+JKM+JP", month, 1)).unwrap();
        let jp = q
            .lines
            .iter()
            .find(|l| l.programme == Programme::Jp && l.payer == Payer::Employer)
            .unwrap();
        assert_eq!(jp.basis.0, ceiling, "{month}");
        assert_eq!(
            jp.due,
            Rupiah(ceiling).times_ppm(20_000, crate::money::Rounding::HalfUp)
        );
    }
    // Below the ceiling the full wage counts.
    let q = quote(rules(), &pu(4_000_000, "JKK+JKM+JP", "2024-03", 1)).unwrap();
    assert_eq!(due(&q, Programme::Jp, Payer::Worker), 40_000);
}

#[test]
fn jkp_funding_before_and_after_pp6_2025() {
    // Wage Rp6,000,000, risk class 3: JKP on the capped Rp5,000,000.
    let after = quote(rules(), &pu(6_000_000, "JKK+JKM+JKP", "2025-03", 3)).unwrap();
    let a = |q: &crate::quote::Quote, label: &str| {
        q.allocations
            .iter()
            .find(|x| x.label.starts_with(label))
            .map(|x| x.amount.0)
    };
    assert_eq!(due(&after, Programme::Jkk, Payer::Employer), 53_400); // nominal rate still billed
    assert_eq!(a(&after, "JKP from the employer's JKK"), Some(7_000)); // 0.14% × 5M
    assert_eq!(a(&after, "JKP receivable"), Some(11_000)); // 0.22% × 5M
    assert_eq!(a(&after, "JKK retained"), Some(46_400));
    assert_eq!(a(&after, "JKP from the employer's JKM"), None);
    assert!(
        after.lines.iter().all(|l| l.programme != Programme::Jkp),
        "JKP is not billed"
    );
    // Before 7 Feb 2025: 0.46% = 0.22 + 0.14 + 0.10 from JKM.
    let before = quote(rules(), &pu(6_000_000, "JKK+JKM+JKP", "2025-01", 3)).unwrap();
    assert_eq!(a(&before, "JKP from the employer's JKM"), Some(5_000));
    assert_eq!(a(&before, "JKM retained"), Some(18_000 - 5_000));
    // For a wage up to the cap, retained JKK is the nominal rate less 0.14 pp (class 1: 0.10%).
    let q = quote(rules(), &pu(5_000_000, "JKK+JKM+JKP", "2025-03", 1)).unwrap();
    assert_eq!(a(&q, "JKK retained"), Some(5_000));
}

#[test]
fn bad_quotes_name_the_field() {
    let e = quote(
        rules(),
        &bpu(1_050_000, "JKK+JKM", "2026-05", Sector::NonTransport),
    )
    .unwrap_err();
    assert_eq!(e.0[0].field, "income_base");
    assert_eq!(e.0[0].rule, "income_base.bracket");
    assert!(e.0[0].message.contains("Rp100,000"), "{}", e.0[0].message);
    let e = quote(
        rules(),
        &bpu(1_000_000, "JKK+JKM+JP", "2026-05", Sector::NonTransport),
    )
    .unwrap_err();
    assert_eq!(e.0[0].rule, "programs.not_allowed");
    let e = quote(
        rules(),
        &bpu(1_000_000, "JKK", "2026-05", Sector::NonTransport),
    )
    .unwrap_err();
    assert_eq!(e.0[0].rule, "programs.required");
    let mut r = pu(5_000_000, "JKK+JKM", "2026-05", 1);
    r.risk_class = Some(6);
    assert_eq!(quote(rules(), &r).unwrap_err().0[0].field, "risk_class");
}

#[test]
fn due_dates_and_late_fees() {
    let d = |s: &str| parse_date(s).unwrap();
    // BPU pays in advance: May 2026 due 15 May 2026 (a Friday).
    assert_eq!(
        due_date(rules(), Segment::Bpu, m("2026-05")),
        Some(d("2026-05-15"))
    );
    // 15 Aug 2026 is a Saturday, 17 Aug a holiday → Tuesday 18 Aug.
    assert_eq!(
        due_date(rules(), Segment::Bpu, m("2026-08")),
        Some(d("2026-08-18"))
    );
    // PU pays after: January 2026 due 15 Feb 2026 (a Sunday) → 16 Feb.
    assert_eq!(
        due_date(rules(), Segment::Pu, m("2026-01")),
        Some(d("2026-02-16"))
    );
    // PP 49/2020 moved the PU deadline to the 30th.
    assert_eq!(
        due_date(rules(), Segment::Pu, m("2020-09")),
        Some(d("2020-10-30"))
    );
    assert_eq!(months_of_delay(d("2026-03-16"), d("2026-03-16")), 0);
    assert_eq!(months_of_delay(d("2026-03-16"), d("2026-03-17")), 1);
    assert_eq!(months_of_delay(d("2026-03-16"), d("2026-04-16")), 1);
    assert_eq!(months_of_delay(d("2026-03-16"), d("2026-04-17")), 2);
    // February 2026 PU due 16 Mar 2026 (15th is a Sunday); paid two months late: 2% × 2.
    let fee = late_fee(
        rules(),
        Segment::Pu,
        Programme::Jht,
        m("2026-02"),
        Rupiah(285_000),
        d("2026-05-10"),
    );
    assert_eq!(fee, Rupiah(11_400));
    // No late fee for BPU.
    assert_eq!(
        late_fee(
            rules(),
            Segment::Bpu,
            Programme::Jkk,
            m("2026-02"),
            Rupiah(10_000),
            d("2026-09-01")
        ),
        Rupiah::ZERO
    );
}

fn tree() -> &'static RegionTree {
    static T: OnceLock<RegionTree> = OnceLock::new();
    T.get_or_init(|| RegionTree::builtin().unwrap())
}

#[test]
fn region_tree_has_the_published_counts() {
    assert_eq!(tree().counts(), [38, 514, 7_285, 83_762]);
    let v = RegionCode::parse("32.73.01.1001").unwrap();
    let path = tree().path(v).unwrap();
    assert_eq!(path[0].name, "Jawa Barat");
    assert_eq!(path.len(), 4);
    let kinds = tree().kinds();
    assert!(kinds.iter().any(|(_, k, n)| k == "kota" && *n == 98));
    assert!(
        kinds
            .iter()
            .any(|(_, k, n)| k == "kelurahan" && *n == 8_496)
    );
}

fn input() -> RegistrationInput {
    RegistrationInput {
        nik: "3273015203900003".into(),
        name: "Siti  Aminah".into(),
        birth_date: "1990-03-12".into(),
        sex: "P".into(),
        phone: "0812-3456-7890".into(),
        village_code: "32.73.01.1001".into(),
        segment: "BPU".into(),
        occupation_code: "84.1".into(),
        income_base: "1000000".into(),
        programs: "JKK+JKM".into(),
        registered_on: "2026-05-04".into(),
        channel: "self".into(),
        agent_code: String::new(),
        address: "  Jl. Braga No. 12,  RT 03/RW 05 ".into(),
        budget_funded: String::new(),
        heirs: vec![],
    }
}

fn ctx() -> Context<'static> {
    Context {
        regions: tree(),
        rules: rules(),
        today: parse_date("2026-11-23").unwrap(),
    }
}

#[test]
fn registration_accepts_and_normalises() {
    let (r, w) = validate(&ctx(), &input()).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(r.name, "Siti Aminah");
    assert_eq!(r.phone.as_deref(), Some("+6281234567890"));
    assert_eq!(r.sector, Sector::NonTransport);
    assert_eq!(r.address.as_deref(), Some("Jl. Braga No. 12, RT 03/RW 05"));
}

#[test]
fn a_registration_round_trips_through_its_input() {
    let (r, _) = validate(&ctx(), &input()).unwrap();
    let (again, _) = validate(&ctx(), &r.to_input()).unwrap();
    assert_eq!(again, r);
}

#[test]
fn names_and_addresses_refuse_markup_and_query_fragments() {
    // Real names and addresses pass…
    for name in [
        "Siti Aminah",
        "I Gusti Ngurah Rai",
        "Ni'matul Husna",
        "R.A. Kartini",
        "Ahmad-Ali, S.Pd",
    ] {
        let mut i = input();
        i.name = name.into();
        assert!(validate(&ctx(), &i).is_ok(), "{name}");
    }
    for address in [
        "Jl. Merdeka No. 5 (belakang pasar)",
        "Dusun II #3, RT 001/RW 002",
        "Gg. H. Ali & Sons: Blok C-7",
    ] {
        let mut i = input();
        i.address = address.into();
        assert!(validate(&ctx(), &i).is_ok(), "{address}");
    }
    // …script and SQL fragments do not, and the message does not repeat them.
    for bad in [
        "<script>alert(1)</script>",
        "Robert'); DROP TABLE participants;--",
        "Siti\" OR \"1\"=\"1",
        "{{7*7}}",
        "Siti\u{0}Aminah",
    ] {
        let mut i = input();
        i.name = bad.into();
        let e = validate(&ctx(), &i).unwrap_err();
        assert_eq!(
            (e.0[0].field.as_str(), e.0[0].rule),
            ("name", "name.characters"),
            "{bad}"
        );
        assert!(!e.0[0].message.contains(bad));
        let mut i = input();
        i.address = bad.into();
        let e = validate(&ctx(), &i).unwrap_err();
        assert_eq!(
            (e.0[0].field.as_str(), e.0[0].rule),
            ("address", "text.characters"),
            "{bad}"
        );
        assert!(!e.0[0].message.contains(bad));
    }
    let mut i = input();
    i.address = "x".repeat(201);
    let e = validate(&ctx(), &i).unwrap_err();
    assert_eq!(e.0[0].rule, "text.length");
}

#[test]
fn registration_errors_name_field_and_rule() {
    type Case = (fn(&mut RegistrationInput), &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (|i| i.nik = "12345".into(), "nik", "nik.length"),
        (
            |i| i.nik = "3273013203900003".into(),
            "nik",
            "nik.birth_day",
        ),
        (
            |i| i.village_code = "32.73.01.9999".into(),
            "village_code",
            "village_code.unknown",
        ),
        (
            |i| i.village_code = "32.73".into(),
            "village_code",
            "village_code.level",
        ),
        (
            |i| i.occupation_code = "999".into(),
            "occupation_code",
            "occupation_code.unknown",
        ),
        (
            |i| i.birth_date = "1990-02-30".into(),
            "birth_date",
            "date.format",
        ),
        (
            |i| i.registered_on = "2030-01-01".into(),
            "registered_on",
            "registered_on.future",
        ),
        (
            |i| i.income_base = "1050000".into(),
            "income_base",
            "income_base.bracket",
        ),
        (
            |i| i.income_base = "25000000".into(),
            "income_base",
            "income_base.bracket",
        ),
        (
            |i| i.programs = "JKK+JKM+JP".into(),
            "programs",
            "programs.not_allowed",
        ),
        (
            |i| i.channel = "perisai".into(),
            "agent_code",
            "agent_code.required",
        ),
        // A worker registering themselves may name the agent who helped (issue #20); a
        // branch's registration may not.
        (
            |i| {
                i.channel = "branch".into();
                i.agent_code = "AG-1".into();
            },
            "agent_code",
            "agent_code.only_perisai",
        ),
        (|i| i.phone = "021555".into(), "phone", "phone.format"),
        (|i| i.sex = "X".into(), "sex", "sex.value"),
        (|i| i.name = "".into(), "name", "required"),
        // Before the segment's scheme took participants (issue #17): refused, not stored with
        // dues from months no rule covers.
        (
            |i| {
                i.segment = "PU".into();
                i.registered_on = "2015-06-30".into();
            },
            "registered_on",
            "registered_on.before_scheme",
        ),
    ];
    for (mutate, field, rule) in cases {
        let mut i = input();
        mutate(&mut i);
        let e = validate(&ctx(), &i).unwrap_err();
        assert!(
            e.0.iter().any(|x| x.field == field && x.rule == rule),
            "expected {field}/{rule}, got {e}"
        );
    }
    // Several problems are all reported.
    let mut i = input();
    i.nik = "1".into();
    i.village_code = "99.99.99.9999".into();
    assert_eq!(validate(&ctx(), &i).unwrap_err().0.len(), 2);
}

#[test]
fn nik_mismatches_only_warn() {
    let mut i = input();
    i.sex = "L".into();
    i.birth_date = "1990-03-13".into();
    let (r, w) = validate(&ctx(), &i).unwrap();
    assert_eq!(
        r.review_flags,
        vec!["nik.birth_date_mismatch", "nik.sex_mismatch"]
    );
    assert_eq!(w.len(), 2);
    // An unknown NIK province (BPS-style 97) warns; the domicile comes from village_code.
    let mut i = input();
    i.nik = "9701015203900003".into();
    let (r, _) = validate(&ctx(), &i).unwrap();
    assert_eq!(r.review_flags, vec!["nik.province_unknown"]);
    // Age outside the unconfirmed 15–60 range warns, does not reject.
    let mut i = input();
    i.nik = "3273015203500003".into();
    i.birth_date = "1950-03-12".into();
    let (r, _) = validate(&ctx(), &i).unwrap();
    assert_eq!(r.review_flags, vec!["age.range"]);
}
