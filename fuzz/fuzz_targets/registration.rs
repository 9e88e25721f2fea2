//! A participants CSV row (or a registration form or API body): the bytes are split into the
//! fields at 0x1f and validated against the built-in regions and rules.
#![no_main]

use cakupan_domain::participants::{Context, RegistrationInput, validate};
use cakupan_domain::{RegionTree, RuleSet};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn reference() -> &'static (RegionTree, RuleSet) {
    static R: OnceLock<(RegionTree, RuleSet)> = OnceLock::new();
    R.get_or_init(|| {
        (
            RegionTree::builtin().expect("the built-in regions load"),
            RuleSet::builtin().expect("the built-in rules load"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let f: Vec<&str> = s.split('\u{1f}').collect();
    let at = |i: usize| f.get(i).copied().unwrap_or("").to_string();
    let input = RegistrationInput {
        nik: at(0),
        name: at(1),
        birth_date: at(2),
        sex: at(3),
        phone: at(4),
        village_code: at(5),
        segment: at(6),
        occupation_code: at(7),
        income_base: at(8),
        programs: at(9),
        registered_on: at(10),
        channel: at(11),
        agent_code: at(12),
        address: at(13),
        budget_funded: at(14),
        heirs: Vec::new(),
    };
    let (regions, rules) = reference();
    let ctx = Context { regions, rules, today: time::macros::date!(2026 - 11 - 23) };
    let _ = validate(&ctx, &input);
});
