//! Every parser that takes outside input, fed arbitrary and near-valid input (issue #17):
//! none may panic, and the ones with a round trip keep it. `cargo fuzz` targets for the same
//! parsers live in `fuzz/` (run by `scripts/fuzz.sh` where a nightly toolchain is available);
//! these run everywhere, and `scripts/test.sh` runs them again with many more cases.

use crate::harness;
use cakupan_domain::employers::{SizeClass, check_lines, parse_csv};
use cakupan_domain::participants::{Context, RegistrationInput, validate};
use cakupan_domain::{FieldError, Month};
use cakupan_store::agents::{receipt_number, receipt_posting};
use cakupan_store::crypto::Keys;
use proptest::prelude::*;

/// Text that is mostly near the formats the parsers expect: digits, dots, dashes, separators,
/// quotes, letters, a byte-order mark, and now and then anything at all.
fn near() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[0-9.,:;\\- +/A-Za-z\"']{0,24}",
        1 => "\\PC{0,24}",
        1 => "\u{feff}?[0-9]{16}",
    ]
}

fn registration() -> impl Strategy<Value = RegistrationInput> {
    (
        proptest::collection::vec(near(), 15),
        prop_oneof![Just("BPU".to_string()), Just("PU".to_string()), near()],
    )
        .prop_map(|(f, segment)| RegistrationInput {
            nik: f[0].clone(),
            name: f[1].clone(),
            birth_date: f[2].clone(),
            sex: f[3].clone(),
            phone: f[4].clone(),
            village_code: f[5].clone(),
            segment,
            occupation_code: f[6].clone(),
            income_base: f[7].clone(),
            programs: f[8].clone(),
            registered_on: f[9].clone(),
            channel: f[10].clone(),
            agent_code: f[11].clone(),
            address: f[12].clone(),
            budget_funded: f[13].clone(),
            heirs: Vec::new(),
        })
}

/// A CSV text: a header (the right one or not) and lines of near-valid fields.
fn csv_text(header: &'static str) -> impl Strategy<Value = String> {
    (
        prop_oneof![3 => Just(header.to_string()), 1 => near()],
        proptest::collection::vec(proptest::collection::vec(near(), 0..8), 0..6),
    )
        .prop_map(|(h, rows)| {
            let mut t = h;
            for r in rows {
                t.push('\n');
                t.push_str(&r.join(","));
            }
            t
        })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// A participants CSV row (or a registration form or API body) never panics the
    /// validation; what it refuses names a field and a rule.
    #[test]
    fn registration_rows(input in registration()) {
        let ctx = Context { regions: harness::regions(), rules: harness::rules(), today: harness::today() };
        if let Err(errors) = validate(&ctx, &input) {
            prop_assert!(!errors.0.is_empty());
            prop_assert!(errors.0.iter().all(|e: &FieldError| !e.field.is_empty() && !e.rule.is_empty()));
        }
    }

    /// A contributions CSV row never panics.
    #[test]
    fn contribution_rows(f in proptest::collection::vec(near(), 8)) {
        let input = cakupan_domain::contribution::ContributionInput {
            reference: f[0].clone(), nik: f[1].clone(), segment: f[2].clone(), first_month: f[3].clone(),
            months: f[4].clone(), amount: f[5].clone(), channel: f[6].clone(), paid_on: f[7].clone(),
        };
        let _ = cakupan_domain::contribution::parse_payment(harness::rules(), &input, harness::today());
    }

    /// A wage report in CSV, read and checked line by line, never panics.
    #[test]
    fn wage_reports(text in csv_text("nik,basic_wage,allowances,programs,action,note")) {
        if let Ok(lines) = parse_csv(&text) {
            let month = Month::parse("2026-10").unwrap();
            for size in SizeClass::ALL {
                let _ = check_lines(harness::rules(), size, month, &lines);
            }
        }
    }

    /// Survey answers in CSV never panic.
    #[test]
    fn survey_responses(text in csv_text("unit,version,audience,aware")) {
        let _ = cakupan_app::campaign::read_responses("S", &crate::campaign::questionnaire(), &text, "enumerator");
    }

    /// A receipt number: anything at all is read without panicking, and a number made here
    /// reads back to its posting; with one character changed it is no receipt.
    #[test]
    fn receipts(s in "\\PC{0,30}", id in 0i64..1_000_000_000, at in 0usize..19, to in "[0-9A-Z]") {
        let keys = Keys::for_tests();
        let _ = receipt_posting(&keys, &s);
        let n = receipt_number(&keys, id);
        prop_assert_eq!(receipt_posting(&keys, &n), Some(id));
        let mut chars: Vec<char> = n.chars().collect();
        let c = to.chars().next().unwrap();
        if at != 12 && chars[at] != c && !(at >= 13 && matches!((chars[at], c), ('0', 'O') | ('1', 'I' | 'L')))
        {
            chars[at] = c;
            let changed: String = chars.iter().collect();
            prop_assert_eq!(receipt_posting(&keys, &changed), None, "{} -> {}", n, changed);
        }
    }

    /// JSON request bodies: any bytes are an answer (bad_request or a named field), never a
    /// panic.
    #[test]
    fn json_bodies(bytes in proptest::collection::vec(any::<u8>(), 0..200), text in "\\{\"[a-z_]{1,12}\": ?(\"[^\"]{0,12}\"|[0-9]{1,6}|null|true)\\}") {
        let _ = cakupan_server::error::json_body::<cakupan_server::ledger::PostingBody>(&bytes, "a posting");
        let _ = cakupan_server::error::json_body::<cakupan_server::sessions::LoginBody>(text.as_bytes(), "a sign-in");
        let _ = cakupan_server::error::json_body::<cakupan_server::employers::WageReportBody>(text.as_bytes(), "a report");
    }

    /// New passwords and audit anchors (a file the operator keeps) are read without panic.
    #[test]
    fn passwords_and_anchors(s in "\\PC{0,40}", user in "[a-z.]{0,12}") {
        let _ = cakupan_domain::password::check("password", &s, &user, &harness::rules().security[0]);
        let _ = cakupan_store::accounts::Anchor::all_in(&format!("audit anchor count={s} hash={user}\n{s}"));
    }
}
