//! A contributions CSV row: the bytes are split into the fields at 0x1f.
#![no_main]

use cakupan_domain::RuleSet;
use cakupan_domain::contribution::{ContributionInput, parse_payment};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    let rules = RULES.get_or_init(|| RuleSet::builtin().expect("the built-in rules load"));
    let Ok(s) = std::str::from_utf8(data) else { return };
    let f: Vec<&str> = s.split('\u{1f}').collect();
    let at = |i: usize| f.get(i).copied().unwrap_or("").to_string();
    let input = ContributionInput {
        reference: at(0),
        nik: at(1),
        segment: at(2),
        first_month: at(3),
        months: at(4),
        amount: at(5),
        channel: at(6),
        paid_on: at(7),
    };
    let _ = parse_payment(rules, &input, time::macros::date!(2026 - 11 - 23));
});
