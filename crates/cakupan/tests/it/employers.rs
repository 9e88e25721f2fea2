//! The employer channel on real stores (issue #7): wage reports, invoices, payments applied to
//! the oldest dues first, late fees carried to the next invoice, stops, arrears, and the bad
//! reports the issue names. Figures are computed by hand in the comments.

use crate::harness::{self, month};
use cakupan_domain::Nik;
use cakupan_domain::coverage::{Reason, Status, series};
use cakupan_domain::employers::{WageLineInput, parse_csv};
use cakupan_domain::{RegionCode, Rupiah};
use cakupan_store::employers::{
    Change, Employer, EmployerInput, EmployerPayment, EmployerQuery, ReportOutcome, WageReport,
    parse_employer,
};
use cakupan_store::{Store, StoreError};
use std::sync::Arc;
use time::macros::date;

on_both_backends! {
    a_season_of_wage_reports: true,
    bad_reports_are_named_line_by_line: true,
    a_csv_report_through_the_api: true,
    lists_of_employers_are_cut_by_the_store: true,
}

pub const SITI: &str = "3273015203900003";
pub const BUDI: &str = "3273011203880001";
pub const HEADER: &str = "nik,name,birth_date,sex,village_code,occupation_code,basic_wage,fixed_allowances,programs,action";

pub fn employer(code: &str, name: &str, size: &str, class: u8) -> Employer {
    parse_employer(
        &EmployerInput {
            code: code.into(),
            name: name.into(),
            size: size.into(),
            risk_class: class.to_string(),
            region: "32.73.01.1001".into(),
            registered_on: "2026-01-05".into(),
            contact_name: "Rina Hartati".into(),
            contact_phone: "0812-2000-3000".into(),
            contact_email: "hrd@sinarbaja.co.id".into(),
        },
        harness::regions(),
        harness::today(),
    )
    .unwrap()
}

fn lines(csv_lines: &[&str]) -> Vec<WageLineInput> {
    let mut text = format!("{HEADER}\n");
    for l in csv_lines {
        text.push_str(l);
        text.push('\n');
    }
    parse_csv(&text).unwrap()
}

async fn report(
    s: &Arc<dyn Store>,
    e: &Employer,
    m: &str,
    csv_lines: &[&str],
    confirm: bool,
    write: bool,
) -> Result<ReportOutcome, StoreError> {
    let r = WageReport::prepare(
        harness::rules(),
        harness::regions(),
        e,
        month(m),
        &lines(csv_lines),
        harness::today(),
        confirm,
        "hrd",
    );
    s.wage_report(harness::rules(), &r, write).await
}

async fn pay(
    s: &Arc<dyn Store>,
    e: &Employer,
    reference: &str,
    amount: i64,
    on: time::Date,
) -> cakupan_store::employers::PaymentOutcome {
    s.employer_payment(
        harness::rules(),
        &EmployerPayment {
            reference: reference.into(),
            employer_code: e.code.clone(),
            amount: Rupiah(amount),
            paid_on: on,
            payment_code: None,
            recorded_by: "bank".into(),
        },
    )
    .await
    .unwrap()
}

async fn status(s: &Arc<dyn Store>, nik: &str, m: &str) -> (Status, Reason) {
    let p = s
        .participants_by_nik(Nik::parse(nik).unwrap())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.registration.segment == cakupan_domain::Segment::Pu)
        .unwrap();
    let ledger = s.ledger(p.id).await.unwrap();
    let f = cakupan_store::ledger::facts(
        p.registration.segment,
        cakupan_domain::Month::of(p.registration.registered_on),
        &ledger,
    );
    let x = series(harness::rules(), &f, month(m), month(m))
        .unwrap()
        .remove(0);
    (x.status, x.reason)
}

pub(crate) async fn a_season_of_wage_reports(s: Arc<dyn Store>) {
    let e = employer("9120001234567", "PT Sinar Baja", "medium", 2);
    assert!(s.add_employer(&e).await.unwrap());
    // The same employer again is a retry; other details under its NIB are refused.
    assert!(!s.add_employer(&e).await.unwrap());
    let mut other = e.clone();
    other.risk_class = 4;
    match s.add_employer(&other).await {
        Err(StoreError::Rejected(x)) => assert_eq!(x.0[0].rule, "code.taken"),
        o => panic!("{o:?}"),
    }
    assert_eq!(s.employer(&e.code).await.unwrap().unwrap(), e);

    // August 2026, class 2 (JKK 0.54%), all four programmes:
    // Siti Rp5,000,000: JKK 27,000 + JKM 15,000 + JHT 185,000 + 100,000 + JP 100,000 + 50,000
    //   = 477,000 (employer 327,000, worker 150,000);
    // Budi Rp7,500,000 + 500,000 allowances = 8,000,000: JKK 43,200 + JKM 24,000 + JHT
    //   296,000 + 160,000 + JP 160,000 + 80,000 = 763,200.
    let august = [
        &format!("{SITI},Siti Aminah,1990-03-12,P,32.73.01.1001,84,5000000,0,JKK+JKM+JHT+JP,enrol")
            as &str,
        &format!(
            "{BUDI},Budi Santoso,1988-03-12,L,32.73.01.1002,84,7500000,500000,JKK+JKM+JHT+JP,enrol"
        ),
    ];
    // A preview writes nothing.
    let preview = report(&s, &e, "2026-08", &august, false, false)
        .await
        .unwrap();
    assert!(!preview.plan.blocked, "{:?}", preview.plan.problems);
    assert_eq!(preview.plan.total, Rupiah(477_000 + 763_200));
    assert!(preview.invoice.is_none());
    assert!(
        s.employer_account(&e.code, harness::today())
            .await
            .unwrap()
            .unwrap()
            .invoices
            .is_empty()
    );
    let aug = report(&s, &e, "2026-08", &august, false, true)
        .await
        .unwrap();
    let inv = aug.invoice.clone().unwrap();
    assert_eq!(inv.head.total, Rupiah(1_240_200));
    assert_eq!(inv.head.due_on, date!(2026 - 09 - 15));
    assert_eq!(inv.payment_code.len(), 11);
    assert_eq!(aug.plan.employer_share, Rupiah(327_000 + 523_200));
    assert_eq!(aug.plan.worker_share, Rupiah(150_000 + 240_000));
    assert_eq!(
        aug.plan.diff.iter().map(|d| d.change).collect::<Vec<_>>(),
        [Change::New, Change::New]
    );
    // The same report again is a retry: the same invoice, nothing new.
    let again = report(&s, &e, "2026-08", &august, false, true)
        .await
        .unwrap();
    assert_eq!(again.plan.repeat_of, Some(inv.head.id));
    assert_eq!(s.employer_workers(&e.code).await.unwrap().len(), 2);
    assert_eq!(status(&s, SITI, "2026-08").await.0, Status::Pending);

    // 10 September: Rp600,000 pays Siti's August (477,000) and 123,000 of Budi's.
    let p1 = pay(&s, &e, "BNI-0910-01", 600_000, date!(2026 - 09 - 10)).await;
    assert_eq!((p1.lines_paid, p1.late_fees), (1, Rupiah(0)));
    assert_eq!(status(&s, SITI, "2026-08").await.0, Status::Active);
    assert_eq!(status(&s, BUDI, "2026-08").await.0, Status::Pending);

    // September: Siti unchanged, Budi stopped.
    let sep = report(
        &s,
        &e,
        "2026-09",
        &[
            &format!("{SITI},,,,,,5000000,0,JKK+JKM+JHT+JP,continue"),
            &format!("{BUDI},,,,,,,,,stop"),
        ],
        false,
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        sep.plan.diff.iter().map(|d| d.change).collect::<Vec<_>>(),
        [Change::Unchanged, Change::Stopped]
    );
    assert_eq!(sep.invoice.unwrap().head.total, Rupiah(477_000));
    assert_eq!(s.employer_workers(&e.code).await.unwrap().len(), 1);

    // 20 November: 640,200 (the rest of Budi's August) + 477,000 (Siti's September).
    // Budi's August, due 15 September, is three started months late: 2% × 3 on JKK, JKM and
    // JHT (523,200 → 31,392) and 0.5% × 3 on JP (240,000 → 3,600) = 34,992. Siti's September,
    // due 15 October, two months: 327,000 × 4% = 13,080 + 150,000 × 1% = 1,500 = 14,580.
    let p2 = pay(&s, &e, "BNI-1120-07", 1_117_200, date!(2026 - 11 - 20)).await;
    assert_eq!(
        (p2.lines_paid, p2.late_fees, p2.invoices_settled),
        (2, Rupiah(34_992 + 14_580), 2)
    );
    // A retried payment changes nothing; its reference for another amount is refused.
    assert!(
        pay(&s, &e, "BNI-1120-07", 1_117_200, date!(2026 - 11 - 20))
            .await
            .repeat
    );
    match s
        .employer_payment(
            harness::rules(),
            &EmployerPayment {
                reference: "BNI-1120-07".into(),
                employer_code: e.code.clone(),
                amount: Rupiah(5),
                paid_on: date!(2026 - 11 - 20),
                payment_code: None,
                recorded_by: "bank".into(),
            },
        )
        .await
    {
        Err(StoreError::Rejected(x)) => assert_eq!(x.0[0].rule, "reference.reused"),
        o => panic!("{o:?}"),
    }
    // Budi: August paid, September ended by the stop (not in arrears).
    assert_eq!(status(&s, BUDI, "2026-08").await.0, Status::Active);
    assert_eq!(
        status(&s, BUDI, "2026-09").await,
        (
            Status::NonActive,
            Reason::EmploymentEnded {
                month: month("2026-09")
            }
        )
    );
    assert_eq!(status(&s, SITI, "2026-09").await.0, Status::Active);
    // The village counts Budi's lapse apart: he left employment, he did not stop paying.
    let village = s
        .participants_by_nik(cakupan_domain::Nik::parse(BUDI).unwrap())
        .await
        .unwrap()[0]
        .registration
        .village;
    let h = cakupan_store::ledger::RegionHistory::new(
        s.region_history(village, month("2026-09")).await.unwrap(),
    );
    let sep = h.at(Some(cakupan_domain::Segment::Pu), month("2026-09"));
    assert_eq!((sep.lapsed(), sep.left_employment()), (1, 1));

    // October: Siti at a raise; the late fees are billed with it. Due 16 November (the 15th
    // is a Sunday): overdue on the 23rd, so the employer is in arrears.
    let oct = report(
        &s,
        &e,
        "2026-10",
        &[&format!("{SITI},,,,,,5500000,0,JKK+JKM+JHT+JP,continue")],
        false,
        true,
    )
    .await
    .unwrap();
    assert_eq!(oct.plan.diff[0].change, Change::Changed);
    assert_eq!(oct.plan.diff[0].wage_before, Some(5_000_000));
    // 5,500,000: JKK 29,700 + JKM 16,500 + JHT 203,500 + 110,000 + JP 110,000 + 55,000.
    let oct_dues = 29_700 + 16_500 + 203_500 + 110_000 + 110_000 + 55_000;
    assert_eq!(oct.plan.fees_carried, Rupiah(49_572));
    let oct_inv = oct.invoice.unwrap();
    assert_eq!(oct_inv.head.total, Rupiah(oct_dues + 49_572));
    assert_eq!(oct_inv.head.due_on, date!(2026 - 11 - 16));
    let acct = s
        .employer_account(&e.code, harness::today())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acct.standing.paid, Rupiah(1_717_200));
    assert_eq!(acct.standing.overdue, Rupiah(oct_dues + 49_572));
    assert_eq!(acct.standing.oldest_overdue, Some(month("2026-10")));
    assert_eq!(acct.standing.unbilled_fees, Rupiah(0));
    assert_eq!(acct.invoices.len(), 3);
    let list = s
        .employer_summaries(
            &EmployerQuery::all(RegionCode::parse("32.73").unwrap(), false),
            harness::today(),
        )
        .await
        .unwrap();
    assert_eq!(list.total, 1);
    let list = list.rows;
    assert!(list[0].standing.in_arrears());
    assert_eq!(list[0].workers, 1);
    assert_eq!(list[0].standing, acct.standing);
    assert_standings_equal_records(&s).await;
    // Partly paid, oldest first: the carried fees, then Siti's October.
    let p3 = pay(&s, &e, "BNI-1122-02", 49_572, date!(2026 - 11 - 22)).await;
    assert_eq!(p3.lines_paid, 0);
    assert_eq!(status(&s, SITI, "2026-10").await.0, Status::InArrears);
    let p4 = pay(&s, &e, "BNI-1123-01", oct_dues, date!(2026 - 11 - 23)).await;
    assert_eq!((p4.lines_paid, p4.invoices_settled), (1, 1));
    assert_eq!(status(&s, SITI, "2026-10").await.0, Status::Active);
    let acct = s
        .employer_account(&e.code, harness::today())
        .await
        .unwrap()
        .unwrap();
    assert!(!acct.standing.in_arrears());
    // One late month (16 Nov → 23 Nov) on October: 2% of JKK+JKM+JHT (29,700 + 16,500 +
    // 313,500 = 359,700 → 7,194) and 0.5% of JP (165,000 → 825), for the next invoice.
    assert_eq!(acct.standing.unbilled_fees, Rupiah(8_019));

    // The invoice's lines and the ledger agree; the counters equal a recompute.
    let (invoice, people) = s
        .employer_invoice(&e.code, month("2026-08"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(invoice.lines.len(), 2);
    assert!(invoice.lines.iter().all(|l| l.paid_on.is_some()));
    assert_eq!(invoice.lines[1].late_fee, Rupiah(34_992));
    assert_eq!(people.len(), 2);
    crate::ledger::assert_counters_equal_ledger(&s).await;
    assert_standings_equal_records(&s).await;
}

/// Every employer's stored standing row equals the one computed from its records (an employer
/// that never reported nor paid has none).
pub(crate) async fn assert_standings_equal_records(s: &Arc<dyn Store>) {
    let (stored, recomputed) = s.employer_standings().await.unwrap();
    for want in &recomputed {
        match stored
            .iter()
            .find(|r| r.employer_code == want.employer_code)
        {
            Some(have) => assert_eq!(have, want),
            None => assert_eq!(
                (want.billed, want.paid, want.workers),
                (0, 0, 0),
                "{want:?}"
            ),
        }
    }
    assert!(stored.len() <= recomputed.len());
}

/// The employers' lists are cut by the store (issue #23, item 4): by name a page at a time, a
/// piece of a name or NIB, those in arrears most owed first, each with the standing its
/// account shows.
async fn lists_of_employers_are_cut_by_the_store(s: Arc<dyn Store>) {
    // Five employers of Kota Bandung; four report October 2026 (due 16 November, so overdue
    // on the test's day, 23 November) with one worker each; Gamma pays in full, Delta a part,
    // Epsilon never reports.
    let names = [
        ("9120001234501", "PT Alfa", 3_000_000),
        ("9120001234502", "PT Beta", 6_000_000),
        ("9120001234503", "CV Gamma", 4_000_000),
        ("9120001234504", "UD Delta", 5_000_000),
        ("9120001234505", "PT Epsilon", 0),
    ];
    let mut totals = Vec::new();
    for (k, (code, name, wage)) in names.iter().enumerate() {
        let e = employer(code, name, "small", 1);
        assert!(s.add_employer(&e).await.unwrap());
        if *wage == 0 {
            continue;
        }
        let worker = format!(
            "32730112038800{:02},{},1988-03-12,L,32.73.01.1001,84,{wage},0,JKK+JKM+JHT,enrol",
            k + 2,
            ["Andi Wijaya", "Bayu Saputra", "Candra Halim", "Dedi Kurnia"][k]
        );
        let out = report(&s, &e, "2026-10", &[&worker], false, true)
            .await
            .unwrap();
        assert!(!out.plan.blocked, "{:?}", out.plan.problems);
        totals.push((*code, out.plan.total.0));
    }
    let total_of = |code: &str| totals.iter().find(|t| t.0 == code).unwrap().1;
    pay(
        &s,
        &employer(names[2].0, names[2].1, "small", 1),
        "BJB-1",
        total_of(names[2].0),
        date!(2026 - 11 - 10),
    )
    .await;
    pay(
        &s,
        &employer(names[3].0, names[3].1, "small", 1),
        "BJB-2",
        total_of(names[3].0) / 2,
        date!(2026 - 11 - 10),
    )
    .await;
    assert_standings_equal_records(&s).await;

    let kota = RegionCode::parse("32.73").unwrap();
    let list = |q: EmployerQuery| {
        let s = s.clone();
        async move { s.employer_summaries(&q, harness::today()).await.unwrap() }
    };
    let names_of = |l: &cakupan_store::employers::EmployerList| {
        l.rows
            .iter()
            .map(|r| r.employer.name.clone())
            .collect::<Vec<_>>()
    };
    // By name, two a page.
    let page = |offset| EmployerQuery {
        offset,
        limit: Some(2),
        ..EmployerQuery::all(kota, false)
    };
    let first = list(page(0)).await;
    assert_eq!(first.total, 5);
    assert_eq!(names_of(&first), ["CV Gamma", "PT Alfa"]);
    assert_eq!(names_of(&list(page(2)).await), ["PT Beta", "PT Epsilon"]);
    assert_eq!(names_of(&list(page(4)).await), ["UD Delta"]);
    assert!(list(page(6)).await.rows.is_empty());
    // A piece of a name in any case, or of a NIB; `%` and `_` are letters, not wildcards.
    let find = |text: &str| EmployerQuery {
        text: text.into(),
        ..EmployerQuery::all(kota, false)
    };
    assert_eq!(names_of(&list(find("ALF")).await), ["PT Alfa"]);
    assert_eq!(names_of(&list(find("234503")).await), ["CV Gamma"]);
    assert_eq!(list(find("%")).await.total, 0);
    assert_eq!(list(find("_")).await.total, 0);
    assert_eq!(list(find("PT")).await.total, 3);
    // Another area has none.
    assert_eq!(
        list(EmployerQuery::all(RegionCode::parse("31").unwrap(), false))
            .await
            .total,
        0
    );
    // In arrears: Alfa, Beta and Delta, most owed first; each standing is its account's.
    let arrears = list(EmployerQuery::all(kota, true)).await;
    assert_eq!(arrears.total, 3);
    let overdue: Vec<i64> = arrears.rows.iter().map(|r| r.standing.overdue.0).collect();
    assert!(overdue.windows(2).all(|w| w[0] >= w[1]), "{overdue:?}");
    let mut owing = names_of(&arrears);
    owing.sort();
    assert_eq!(owing, ["PT Alfa", "PT Beta", "UD Delta"]);
    for r in &arrears.rows {
        let acct = s
            .employer_account(&r.employer.code, harness::today())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.standing, acct.standing, "{}", r.employer.name);
        assert_eq!(r.workers, 1);
        assert_eq!(r.last_month, Some(month("2026-10")));
    }
    let delta = arrears
        .rows
        .iter()
        .find(|r| r.employer.name == "UD Delta")
        .unwrap();
    assert_eq!(
        delta.standing.overdue.0,
        total_of(names[3].0) - total_of(names[3].0) / 2
    );
    // The arrears list cut: its second row alone, and found by name.
    let second = list(EmployerQuery {
        offset: 1,
        limit: Some(1),
        ..EmployerQuery::all(kota, true)
    })
    .await;
    assert_eq!((second.total, second.rows.len()), (3, 1));
    assert_eq!(second.rows[0].employer.code, arrears.rows[1].employer.code);
    let beta = list(EmployerQuery {
        text: "beta".into(),
        ..EmployerQuery::all(kota, true)
    })
    .await;
    assert_eq!(names_of(&beta), ["PT Beta"]);
    // Gamma, paid in full, and Epsilon, who never reported, are not in arrears; Epsilon's
    // standing is all zeros.
    let all = list(EmployerQuery::all(kota, false)).await;
    let epsilon = all
        .rows
        .iter()
        .find(|r| r.employer.name == "PT Epsilon")
        .unwrap();
    assert_eq!(
        epsilon.standing,
        cakupan_store::employers::Standing::default()
    );
    assert_eq!((epsilon.workers, epsilon.last_month), (0, None));
    let gamma = all
        .rows
        .iter()
        .find(|r| r.employer.name == "CV Gamma")
        .unwrap();
    assert!(!gamma.standing.in_arrears());
    assert_eq!(gamma.standing.paid.0, total_of(names[2].0));
}

async fn bad_reports_are_named_line_by_line(s: Arc<dyn Store>) {
    let e = employer("9120001234567", "PT Sinar Baja", "medium", 2);
    let f = employer("9120007654321", "CV Laut Biru", "small", 3);
    s.add_employer(&e).await.unwrap();
    s.add_employer(&f).await.unwrap();
    report(
        &s,
        &e,
        "2026-09",
        &[&format!(
            "{SITI},Siti Aminah,1990-03-12,P,32.73.01.1001,84,5000000,0,JKK+JKM+JHT+JP,enrol"
        )],
        false,
        true,
    )
    .await
    .unwrap();
    // Another employer cannot enrol a worker the first has not stopped.
    let other = report(
        &s,
        &f,
        "2026-10",
        &[&format!(
            "{SITI},Siti Aminah,1990-03-12,P,32.73.01.1001,84,3000000,0,JKK+JKM+JHT,enrol"
        )],
        false,
        true,
    )
    .await
    .unwrap();
    assert!(other.plan.blocked && other.invoice.is_none());
    assert_eq!(other.plan.problems[0].rule, "wage.employed_elsewhere");
    // Unknown NIK, negative wage, missing wage, a worker twice, a bad registration, and Siti
    // missing from the report: every problem, by line; nothing billed.
    let bad = [
        "3273014506850002,,,,,,4000000,,JKK+JKM+JHT+JP,continue",
        "3273016508800001,Agus,1980-08-25,L,32.73.01.1001,84,-5,,JKK+JKM+JHT+JP,enrol",
        "3273016508800002,Budi,1980-08-25,L,32.73.01.1001,84,,,JKK+JKM+JHT+JP,enrol",
        "3273016508800003,Cahya Dewi,1980-08-25,P,32.73.01.1001,84,4000000,,JKK+JKM+JHT+JP,enrol",
        "3273016508800003,Cahya Dewi,1980-08-25,P,32.73.01.1001,84,4000000,,JKK+JKM+JHT+JP,enrol",
        "3273016508800004,Dewi 2,1980-08-25,P,99.99.99.9999,84,4000000,,JKK+JKM+JHT+JP,enrol",
    ];
    let out = report(&s, &e, "2026-10", &bad, false, true).await.unwrap();
    assert!(out.plan.blocked && out.invoice.is_none());
    let got: Vec<(u64, &str)> = out.plan.problems.iter().map(|p| (p.line, p.rule)).collect();
    assert!(got.contains(&(0, "wage.missing")), "{got:?}");
    assert!(got.contains(&(2, "wage.unknown_worker")), "{got:?}");
    assert!(got.contains(&(3, "wage.negative")), "{got:?}");
    assert!(got.contains(&(4, "wage.required")), "{got:?}");
    assert!(got.contains(&(6, "wage.duplicate")), "{got:?}");
    assert!(
        got.iter().any(|(l, r)| *l == 7 && r.starts_with("village")),
        "{got:?}"
    );
    assert_eq!(
        s.employer_account(&e.code, harness::today())
            .await
            .unwrap()
            .unwrap()
            .invoices
            .len(),
        1
    );
    // Confirming the valid part bills only Cahya (line 5): 4,000,000 at class 2 = 381,600.
    let part = report(&s, &e, "2026-10", &bad, true, true).await.unwrap();
    assert!(!part.plan.blocked);
    let inv = part.invoice.unwrap();
    assert_eq!(inv.head.total, Rupiah(21_600 + 12_000 + 228_000 + 120_000));
    assert_eq!(inv.head.workers, 1);
    // A month already reported, or one that has not started, is refused as a whole.
    let again = report(&s, &e, "2026-10", &bad[..1], true, true)
        .await
        .unwrap();
    assert!(again.plan.blocked);
    assert_eq!(again.plan.problems[0].rule, "month.already_reported");
    let late = report(&s, &e, "2026-09", &bad[..1], true, true)
        .await
        .unwrap();
    assert_eq!(late.plan.problems[0].rule, "month.already_reported");
    let future = report(&s, &e, "2026-12", &bad[..1], true, true)
        .await
        .unwrap();
    assert_eq!(future.plan.problems[0].rule, "month.future");
    // Payments: out of order, to another employer's code, for nothing.
    pay(&s, &e, "BNI-1", 1000, date!(2026 - 11 - 20)).await;
    let refused = |p: EmployerPayment| {
        let s = s.clone();
        async move {
            match s.employer_payment(harness::rules(), &p).await {
                Err(StoreError::Rejected(x)) => x.0[0].rule,
                o => panic!("{o:?}"),
            }
        }
    };
    let base = EmployerPayment {
        reference: "BNI-2".into(),
        employer_code: e.code.clone(),
        amount: Rupiah(1000),
        paid_on: date!(2026 - 11 - 19),
        payment_code: None,
        recorded_by: "bank".into(),
    };
    assert_eq!(refused(base.clone()).await, "paid_on.order");
    let f_code = cakupan_domain::employers::payment_code(999_999);
    assert_eq!(
        refused(EmployerPayment {
            paid_on: date!(2026 - 11 - 21),
            payment_code: Some(f_code),
            ..base.clone()
        })
        .await,
        "payment_code.unknown"
    );
    assert_eq!(
        refused(EmployerPayment {
            employer_code: "9120000000000".into(),
            ..base.clone()
        })
        .await,
        "employer.unknown"
    );
    // A reference is unique across employers: the same one from another employer, even for
    // the same amount and day, is refused and records nothing for it.
    assert_eq!(
        refused(EmployerPayment {
            reference: "BNI-1".into(),
            employer_code: f.code.clone(),
            paid_on: date!(2026 - 11 - 20),
            ..base
        })
        .await,
        "reference.reused"
    );
    let f_account = s
        .employer_account(&f.code, date!(2026 - 11 - 30))
        .await
        .unwrap()
        .unwrap();
    assert!(f_account.payments.iter().all(|p| p.reference != "BNI-1"));
    crate::ledger::assert_counters_equal_ledger(&s).await;
}

/// A CSV upload through the API as the employer's staff: problems named `lines[N].field`, the
/// valid part confirmed, the invoice read back with its JKP accounting, a payment recorded by
/// the branch (the staff may not), the workers listed.
async fn a_csv_report_through_the_api(store: Arc<dyn Store>) {
    use crate::api::{EMPLOYER, app_on, auth, call_as, employer_body, user};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let a = auth();
    let app = app_on(store, &a).await;
    let admin = app.token.clone();
    let (s, v) = call_as(
        &app,
        Some(&admin),
        "POST",
        "/api/v1/employers",
        Some(employer_body(EMPLOYER).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Registering it again is a retry.
    let (s, _) = call_as(
        &app,
        Some(&admin),
        "POST",
        "/api/v1/employers",
        Some(employer_body(EMPLOYER).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let staff = user(
        &app,
        &a,
        "hrd",
        "employer",
        Some("32.73.01.1001"),
        Some(EMPLOYER),
        None,
    )
    .await;
    let csv = |t: &str, query: &str| {
        let app = &app;
        let staff = staff.clone();
        let t = t.to_string();
        let query = query.to_string();
        async move {
            let req = Request::builder()
                .method("POST")
                .uri(format!("/api/v1/employers/{EMPLOYER}/wage-reports?{query}"))
                .header("content-type", "text/csv")
                .header("authorization", format!("Bearer {staff}"))
                .body(Body::from(t))
                .unwrap();
            let resp = app.router.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            )
        }
    };
    let text = format!(
        "{HEADER}\n{SITI},Siti Aminah,1990-03-12,P,32.73.01.1001,84,5000000,0,JKK+JKM+JHT+JP,enrol\n{BUDI},Budi Santoso,1988-03-12,L,32.73.01.1002,84,abc,0,JKK+JKM+JHT+JP,enrol\n"
    );
    let (s, v) = csv(&text, "month=2026-10").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"], "invalid");
    assert_eq!(v["errors"][0]["field"], "lines[3].basic_wage");
    assert_eq!(v["errors"][0]["rule"], "wage.integer");
    let (s, v) = csv(&text, "month=2026-10&confirm_valid_part=true").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["outcome"], "billed");
    assert_eq!(v["workers_billed"], 1);
    assert_eq!(v["lines_left_out"], 1);
    // Siti (36 when registered) gets JKP, accounted, not billed.
    assert_eq!(v["changes"][0]["programs_after"], "JKK+JKM+JHT+JP+JKP");
    assert_eq!(v["total"], 477_000);
    assert_eq!(v["warnings"], serde_json::json!([]), "{v}");
    // Issue 22: a wage below Jawa Barat's minimum wage (UMP 2026 Rp2,317,601) is a warning
    // with its line, never a refusal (a preview of November).
    let low = format!(
        "{HEADER}\n{SITI},Siti Aminah,1990-03-12,P,32.73.01.1001,84,2000000,0,JKK+JKM+JHT+JP,continue\n"
    );
    let (s, v) = csv(&low, "month=2026-11&preview=true").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"], "previewed", "{v}");
    assert_eq!(
        (
            v["warnings"][0]["line"].as_u64(),
            v["warnings"][0]["rule"].as_str()
        ),
        (Some(2), Some("wage.below_minimum")),
        "{v}"
    );
    let (s, v) = csv("nik;wage\n1;2\n", "month=2026-11").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["rule"], "csv.header");
    let (s, inv) = call_as(
        &app,
        Some(&staff),
        "GET",
        &format!("/api/v1/employers/{EMPLOYER}/invoices/2026-10"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{inv}");
    assert_eq!(inv["lines"][0]["name"], "Siti Aminah");
    assert_eq!(inv["lines"][0]["nik"], "3273********0003");
    // JP in October 2026 at the last known ceiling (no 2026 row in the rules), marked.
    if inv["lines"][0]["programs"].as_str().unwrap().contains("JP") {
        assert_eq!(inv["provisional_jp_ceiling"], 10_547_400, "{inv}");
    } else {
        assert!(inv["provisional_jp_ceiling"].is_null(), "{inv}");
    }
    let jkp = inv["jkp_accounting"].as_array().unwrap();
    assert!(
        jkp.iter()
            .any(|x| x["label"] == "JKP from the employer's JKK" && x["amount"] == 7_000),
        "{inv}"
    );
    let code = inv["invoice"]["payment_code"].as_str().unwrap().to_string();
    let payment = serde_json::json!({"reference": "MANDIRI-77", "amount": 477_000,
                                     "paid_on": "2026-11-10", "payment_code": code});
    let (s, _) = call_as(
        &app,
        Some(&staff),
        "POST",
        &format!("/api/v1/employers/{EMPLOYER}/payments"),
        Some(payment.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A bank reference holding a NIK would be stored unencrypted (issue #17, item 5).
    let mut with_nik = payment.clone();
    with_nik["reference"] = serde_json::json!("MANDIRI-3273015203900003");
    let (s, v) = call_as(
        &app,
        Some(&admin),
        "POST",
        &format!("/api/v1/employers/{EMPLOYER}/payments"),
        Some(with_nik.to_string()),
    )
    .await;
    assert_eq!(
        (s, v["errors"][0]["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reference.nik_like")),
        "{v}"
    );
    let (s, v) = call_as(
        &app,
        Some(&admin),
        "POST",
        &format!("/api/v1/employers/{EMPLOYER}/payments"),
        Some(payment.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["lines_paid"], 1);
    assert_eq!(v["standing"]["in_arrears"], false);
    let (s, v) = call_as(
        &app,
        Some(&admin),
        "POST",
        &format!("/api/v1/employers/{EMPLOYER}/payments"),
        Some(payment.to_string()),
    )
    .await;
    assert_eq!((s, v["outcome"].as_str()), (StatusCode::OK, Some("repeat")));
    let (s, v) = call_as(
        &app,
        Some(&staff),
        "GET",
        &format!("/api/v1/employers/{EMPLOYER}/workers"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (s, v) = call_as(
        &app,
        Some(&staff),
        "GET",
        &format!("/api/v1/employers/{EMPLOYER}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["employer"]["contact"]["name"], serde_json::Value::Null);
    assert_eq!(v["invoices"][0]["settled_on"], "2026-11-10");
    // Bad employers are refused naming each field.
    let (s, v) = call_as(
        &app,
        Some(&admin),
        "POST",
        "/api/v1/employers",
        Some(
            serde_json::json!({"code": "12", "name": "<b>", "size": "huge", "risk_class": 9,
                               "region": "32.73", "contact_email": "x"})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let rules: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "nib.format",
            "text.characters",
            "size.value",
            "risk_class.value",
            "region.level",
            "email.format"
        ]
    );
}
