//! A new password (with a username after the first 0x1f): checked without panicking.
#![no_main]

use cakupan_domain::RuleSet;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    let rules = RULES.get_or_init(|| RuleSet::builtin().expect("the built-in rules load"));
    let Some(policy) = rules.security.first() else { return };
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (password, user) = s.split_once('\u{1f}').unwrap_or((s, ""));
    let _ = cakupan_domain::password::check("password", password, user, policy);
});
