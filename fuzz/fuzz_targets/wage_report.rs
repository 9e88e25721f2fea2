//! A wage report in CSV, read and checked line by line for every size class.
#![no_main]

use cakupan_domain::employers::{SizeClass, check_lines, parse_csv};
use cakupan_domain::{Month, RuleSet};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    let rules = RULES.get_or_init(|| RuleSet::builtin().expect("the built-in rules load"));
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(lines) = parse_csv(text) {
        if let Ok(month) = Month::parse("2026-10") {
            for size in SizeClass::ALL {
                let _ = check_lines(rules, size, month, &lines);
            }
        }
    }
});
