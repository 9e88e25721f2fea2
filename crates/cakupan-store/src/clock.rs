//! The one clock of every command and the server.
//!
//! Every date and instant Cakupan records or compares comes from here (clippy's
//! `disallowed-methods` refuses the system clock anywhere else). `CAKUPAN_TODAY=YYYY-MM-DD`
//! sets the day for a whole process: a test fixes its date with it, an operator replays a day
//! with it, and CI runs the suite a second time a year ahead with it. With the day set, an
//! instant is that day at the current time of day in Western Indonesia Time, so sessions,
//! lockouts and the order of audit entries still advance within the day.

use time::{Date, Duration, OffsetDateTime, Time, UtcOffset};

/// The variable that sets today's date.
pub const TODAY_VAR: &str = "CAKUPAN_TODAY";

/// Western Indonesia Time, where most participants live: the day every "today" is counted in.
const WIB: Duration = Duration::hours(7);
const WIB_OFFSET: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// The day `CAKUPAN_TODAY` sets, if it is set: an error names the variable and the rule.
pub fn fixed_today() -> Result<Option<Date>, String> {
    match std::env::var(TODAY_VAR) {
        Ok(v) if !v.trim().is_empty() => cakupan_domain::month::parse_date(v.trim())
            .map(Some)
            .ok_or_else(|| format!("{TODAY_VAR}: expected a date written YYYY-MM-DD, got {v:?}")),
        _ => Ok(None),
    }
}

fn fixed() -> Option<Date> {
    static FIXED: std::sync::OnceLock<Option<Date>> = std::sync::OnceLock::new();
    // A malformed value is refused by every command before it starts (`fixed_today`); here it
    // reads as unset.
    *FIXED.get_or_init(|| fixed_today().ok().flatten())
}

/// Now, in UTC: the real instant, or with the day set, that day at the real time of day (WIB).
#[allow(clippy::disallowed_methods)]
pub fn now() -> OffsetDateTime {
    let real = OffsetDateTime::now_utc();
    match fixed() {
        None => real,
        Some(day) => {
            let wib_time: Time = (real + WIB).time();
            day.with_time(wib_time).assume_offset(UtcOffset::UTC) - WIB
        }
    }
}

/// The real Unix time in seconds, whatever day `CAKUPAN_TODAY` sets: for what must agree with
/// clocks outside this process (TOTP codes from an authenticator app).
#[allow(clippy::disallowed_methods)]
pub fn wall_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Today's date in Western Indonesia Time (UTC+7).
pub fn today_wib() -> Date {
    (now() + WIB).date()
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    now().unix_timestamp()
}

/// Unix milliseconds now.
pub fn now_millis() -> i64 {
    i64::try_from(now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Now in Western Indonesia Time as ISO 8601 with its offset (`2026-11-23T10:15:30+07:00`),
/// the form SNAP's `X-TIMESTAMP` takes and the payment records keep.
pub fn now_rfc3339() -> String {
    iso_wib(now())
}

/// An instant in Western Indonesia Time as ISO 8601 with its offset, to the second.
pub fn iso_wib(at: OffsetDateTime) -> String {
    let t = at.to_offset(WIB_OFFSET);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+07:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
