//! A new password (with a username after the first 0x1f): checked without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (password, user) = s.split_once('\u{1f}').unwrap_or((s, ""));
    let _ = cakupan_domain::password::check("password", password, user, 12);
});
