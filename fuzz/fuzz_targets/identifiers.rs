//! NIK, KPJ, money, months, dates, phone numbers, region codes, segments: any text is read
//! without panicking.
#![no_main]

use cakupan_domain::{Month, Nik, RegionCode, Rupiah, kpj::Kpj, month::parse_date, phone::normalise_phone};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Nik::parse(s);
        let _ = Kpj::parse(s);
        let _ = Rupiah::parse(s);
        let _ = Month::parse(s);
        let _ = parse_date(s);
        let _ = normalise_phone(s);
        let _ = RegionCode::parse(s);
        let _ = cakupan_domain::Segment::parse(s);
    }
});
