//! Reminders that keep people paying (issue #21): which rule fires on a day and whom it
//! targets, the random holdout that measures what reminders do, the SMS texts, quiet hours by
//! time zone, the opt-out words and the estimate of an effect with its 95% interval. Pure: the
//! store says who is in which coverage state, the services send.
//!
//! Whom a rule targets is said through one fact per participation, its latest paid month
//! (`last_paid`, kept by the store beside the ledger): a BPU participation whose latest paid
//! month is M − k is k months unpaid in month M (DOMAIN.md §4.1), in arrears while k is below
//! the coverage rule's threshold G + L and non-active from then on, for k − (G + L) + 1
//! months. A month left unpaid *before* a later paid one (a gap) is not reminded: the payment
//! code pays from the month after the latest paid one.

use crate::campaign::Z95;
use crate::month::Month;
use crate::rules::{ReminderPolicy, ReminderRule, RuleSet};
use crate::segment::Segment;
use serde::Serialize;
use time::Date;

/// What sets a reminder off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    BeforeDue,
    InArrears,
    NonActive,
    InvoiceDue,
    InvoiceOverdue,
}

impl Trigger {
    pub const ALL: [Trigger; 5] = [
        Trigger::BeforeDue,
        Trigger::InArrears,
        Trigger::NonActive,
        Trigger::InvoiceDue,
        Trigger::InvoiceOverdue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::BeforeDue => "before_due",
            Trigger::InArrears => "in_arrears",
            Trigger::NonActive => "nonactive",
            Trigger::InvoiceDue => "invoice_due",
            Trigger::InvoiceOverdue => "invoice_overdue",
        }
    }

    pub fn parse(s: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether it reminds an employer of an invoice (else a participant of their dues).
    pub fn for_employers(self) -> bool {
        matches!(self, Trigger::InvoiceDue | Trigger::InvoiceOverdue)
    }
}

/// Which group of a campaign a person falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// Reminded by SMS.
    Sms,
    /// Called or visited by their Perisai agent.
    Agent,
    /// Held out: not reminded, the comparison.
    Holdout,
}

impl Arm {
    pub const ALL: [Arm; 3] = [Arm::Sms, Arm::Agent, Arm::Holdout];

    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Sms => "sms",
            Arm::Agent => "agent",
            Arm::Holdout => "holdout",
        }
    }

    pub fn parse(s: &str) -> Option<Arm> {
        Arm::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The outcome an agent records for a task, in two taps (open the task, tap the outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    /// Reached; the person will pay.
    WillPay,
    /// Reached; paid on the spot (to the agent or by phone).
    Paid,
    /// Reached; does not want to continue.
    Declined,
    /// Not reached (no answer, not at home, moved).
    NotReached,
}

impl TaskOutcome {
    pub const ALL: [TaskOutcome; 4] = [
        TaskOutcome::WillPay,
        TaskOutcome::Paid,
        TaskOutcome::Declined,
        TaskOutcome::NotReached,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskOutcome::WillPay => "will_pay",
            TaskOutcome::Paid => "paid",
            TaskOutcome::Declined => "declined",
            TaskOutcome::NotReached => "not_reached",
        }
    }

    pub fn parse(s: &str) -> Option<TaskOutcome> {
        TaskOutcome::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Minutes after midnight of an `HH:MM` time, or `None` when it is no time of day.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// Refuses a policy that cannot work (the loader names the row).
pub fn check_policy(p: &ReminderPolicy) -> Result<(), String> {
    let from = parse_hhmm(&p.send_from)
        .ok_or_else(|| format!("send_from '{}' is not a time HH:MM", p.send_from))?;
    let until = parse_hhmm(&p.send_until)
        .ok_or_else(|| format!("send_until '{}' is not a time HH:MM", p.send_until))?;
    if from >= until {
        return Err(format!(
            "send_from {} must be before send_until {}",
            p.send_from, p.send_until
        ));
    }
    if !(0..=500_000).contains(&p.holdout_ppm) {
        return Err("holdout_ppm must be 0..=500000 (at most half held out)".into());
    }
    if !(1..=60).contains(&p.paid_within_days) {
        return Err("paid_within_days must be 1..=60".into());
    }
    if p.sms_per_second == 0 || p.max_per_person_per_month == 0 || p.reply_due_hours == 0 {
        return Err(
            "sms_per_second, max_per_person_per_month and reply_due_hours must be above 0".into(),
        );
    }
    if p.lapse_lookback_months > 12 {
        return Err("lapse_lookback_months must be 0..=12".into());
    }
    if !(1..=120).contains(&p.report_months) {
        return Err("report_months must be 1..=120".into());
    }
    if p.stop_words.iter().all(|w| w.trim().is_empty()) {
        return Err("stop_words must name at least one word".into());
    }
    if p.start_words.iter().all(|w| w.trim().is_empty()) {
        return Err("start_words must name at least one word".into());
    }
    if p.start_words.iter().any(|w| {
        p.stop_words
            .iter()
            .any(|s| s.trim().eq_ignore_ascii_case(w.trim()))
    }) {
        return Err("a word cannot be both in stop_words and in start_words".into());
    }
    Ok(())
}

/// Refuses a rule row with an unknown trigger or channel or an impossible time (the loader
/// names the row).
pub fn check_rule(r: &ReminderRule) -> Result<(), String> {
    let t = Trigger::parse(&r.trigger).ok_or_else(|| {
        format!(
            "unknown trigger '{}' (one of before_due, in_arrears, nonactive, invoice_due, invoice_overdue)",
            r.trigger
        )
    })?;
    if r.name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    if r.channels.is_empty() {
        return Err("channels must list sms and/or agent".into());
    }
    for c in &r.channels {
        match c.as_str() {
            "sms" => {}
            "agent" if !t.for_employers() => {}
            "agent" => return Err("an employer is reminded by sms only".into()),
            other => return Err(format!("unknown channel '{other}' (sms or agent)")),
        }
    }
    match t {
        Trigger::BeforeDue | Trigger::InvoiceDue if !(1..=27).contains(&r.days) => Err(format!(
            "days {} before the due date must be 1..=27",
            r.days
        )),
        Trigger::InvoiceOverdue if !(1..=60).contains(&r.days) => {
            Err(format!("days {} after the due date must be 1..=60", r.days))
        }
        Trigger::InArrears | Trigger::NonActive if !(1..=28).contains(&r.day_of_month) => {
            Err(format!(
                "day_of_month {} is not a day every month has (1..=28)",
                r.day_of_month
            ))
        }
        Trigger::InArrears | Trigger::NonActive if !(1..=120).contains(&r.months) => {
            Err(format!("months {} must be 1..=120", r.months))
        }
        _ => Ok(()),
    }
}

/// Whom a participant rule reminds on a day: BPU participations not terminated whose latest
/// paid month is `last_paid` (and, with `pending`, those registered in one of those months
/// who never paid), about month `month`, payable by `pay_by`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub month: Month,
    pub last_paid: Month,
    /// Registration months of never-paid participations also reminded.
    pub pending: Vec<Month>,
    /// The date the message names: the due date of `month` when still ahead, else the next.
    pub pay_by: Date,
}

/// The segment whose participants reminders reach: informal workers pay for themselves;
/// wage earners' contributions are the employer's, reminded through `invoice_*` rules.
pub const REMINDED_SEGMENT: Segment = Segment::Bpu;

/// The day's target of a participant rule, `None` when it does not fire on `day` (or is an
/// employer rule, or asks for arrears beyond the coverage rule's threshold).
pub fn target(rules: &RuleSet, rule: &ReminderRule, day: Date) -> Option<Target> {
    let t = Trigger::parse(&rule.trigger)?;
    let m = Month::of(day);
    let due = |mm: Month| crate::quote::due_date(rules, REMINDED_SEGMENT, mm);
    let pay_by = |mm: Month| -> Option<Date> {
        let d = due(mm)?;
        if d >= day { Some(d) } else { due(mm.plus(1)) }
    };
    let threshold = i32::try_from(
        rules
            .coverage_rule(REMINDED_SEGMENT, m)?
            .unpaid_months_before_nonactive(),
    )
    .ok()?;
    let months = i32::try_from(rule.months).ok()?;
    match t {
        Trigger::BeforeDue => {
            let d = due(m)?;
            let fire = d.checked_sub(time::Duration::days(i64::from(rule.days)))?;
            (fire == day).then(|| Target {
                month: m,
                last_paid: m.plus(-1),
                pending: vec![m.plus(-1), m],
                pay_by: d,
            })
        }
        Trigger::InArrears => {
            (u32::from(day.day()) == rule.day_of_month && months < threshold).then_some(())?;
            Some(Target {
                month: m,
                last_paid: m.plus(-months),
                pending: Vec::new(),
                pay_by: pay_by(m)?,
            })
        }
        Trigger::NonActive => {
            (u32::from(day.day()) == rule.day_of_month).then_some(())?;
            Some(Target {
                month: m,
                last_paid: m.plus(-(months - 1) - threshold),
                pending: Vec::new(),
                pay_by: pay_by(m)?,
            })
        }
        Trigger::InvoiceDue | Trigger::InvoiceOverdue => None,
    }
}

/// The due date an employer rule looks for on `day`: invoices due on it and unpaid.
pub fn invoice_due_on(rule: &ReminderRule, day: Date) -> Option<Date> {
    match Trigger::parse(&rule.trigger)? {
        Trigger::InvoiceDue => day.checked_add(time::Duration::days(i64::from(rule.days))),
        Trigger::InvoiceOverdue => day.checked_sub(time::Duration::days(i64::from(rule.days))),
        _ => None,
    }
}

/// A person a campaign may reach, as the holdout sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    /// The stratum: segment and province.
    pub stratum: (String, String),
    /// Whether an agent serves them (else the agent channel falls back to SMS).
    pub has_agent: bool,
}

/// A 64-bit mix (SplitMix64's finaliser): the campaign's keyed seed and a person's id give
/// their place in a random order nobody without the key can predict.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Assigns each candidate an arm: within each stratum (segment, province) the candidates are
/// put in a random order (keyed by `seed`) and `holdout_ppm` of them, spread evenly from a
/// random start, are held out, so every stratum holds out its share (±1). The others are
/// reminded by the rule's channels: with both, alternately by SMS and by an agent in the same
/// random order (an agent only where one serves the person). Deterministic: planning the same
/// campaign again assigns the same arms.
pub fn assign(candidates: &[Candidate], seed: u64, holdout_ppm: i64, channels: &[Arm]) -> Vec<Arm> {
    use std::collections::BTreeMap;
    let mut strata: BTreeMap<&(String, String), Vec<usize>> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        strata.entry(&c.stratum).or_default().push(i);
    }
    let ppm = u64::try_from(holdout_ppm.clamp(0, 1_000_000)).unwrap_or(0);
    let both = channels.contains(&Arm::Sms) && channels.contains(&Arm::Agent);
    let only_agent = !channels.contains(&Arm::Sms) && channels.contains(&Arm::Agent);
    let mut arms = vec![Arm::Sms; candidates.len()];
    for (stratum, mut members) in strata {
        let salt = stratum
            .0
            .bytes()
            .chain(stratum.1.bytes())
            .fold(seed, |h, b| mix(h ^ u64::from(b)));
        members.sort_by_key(|&i| (mix(salt ^ candidates[i].id as u64), candidates[i].id));
        let start = mix(salt) % 1_000_000;
        let mut treated = 0u64;
        for (pos, &i) in members.iter().enumerate() {
            let pos = pos as u64;
            let held = (pos + 1) * ppm + start;
            if held / 1_000_000 > (pos * ppm + start) / 1_000_000 {
                arms[i] = Arm::Holdout;
                continue;
            }
            let wants_agent = only_agent || (both && treated % 2 == 1);
            arms[i] = if wants_agent && candidates[i].has_agent {
                Arm::Agent
            } else {
                Arm::Sms
            };
            treated += 1;
        }
    }
    arms
}

/// A first name fit for one GSM-7 SMS: the first word, letters outside GSM-7 dropped, at most
/// 12 characters, capitalised.
pub fn first_name(name: &str) -> String {
    let first: String = name
        .split_whitespace()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphabetic() || matches!(c, '\'' | '-'))
        .take(12)
        .collect();
    let mut c = first.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
        None => "Peserta".into(),
    }
}

/// Rupiah as an SMS writes it, with dots (`Rp16.800`).
pub fn rupiah_id(amount: i64) -> String {
    crate::money::Rupiah(amount).to_string().replace(',', ".")
}

/// A date as an SMS writes it (`15-12-2026`).
pub fn date_id(d: Date) -> String {
    format!("{:02}-{:02}-{}", d.day(), u8::from(d.month()), d.year())
}

/// What one reminder SMS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub trigger: Trigger,
    /// The participant's first name, or the employer's name.
    pub name: &'a str,
    /// Months unpaid or non-active (as the rule says).
    pub months: u32,
    pub amount: i64,
    pub payment_code: &'a str,
    pub date: Date,
    /// For an employer: the invoice's month.
    pub invoice_month: Option<Month>,
}

/// The SMS text, in Bahasa Indonesia (the language of every SMS the agency sends): the first
/// name, the amount, the payment code and the date, and how to stop. GSM-7 only; within 160
/// characters for names of up to 12 letters and codes of 18 digits, so one message.
pub fn text(m: &Message<'_>) -> String {
    let name = first_name(m.name);
    let amount = rupiah_id(m.amount);
    let date = date_id(m.date);
    let code = m.payment_code;
    match m.trigger {
        Trigger::BeforeDue => format!(
            "Halo {name}, iuran BPJS TK {amount} jatuh tempo {date}. Bayar dgn kode {code} di bank, minimarket, e-wallet. Balas STOP utk berhenti"
        ),
        Trigger::InArrears => format!(
            "Halo {name}, iuran BPJS TK Anda {} bln belum dibayar. Bayar {amount} dgn kode {code} sblm {date} agar aktif. Balas STOP utk berhenti",
            m.months
        ),
        Trigger::NonActive => format!(
            "Halo {name}, perlindungan BPJS TK Anda tidak aktif. Aktifkan lagi: bayar {amount} dgn kode {code} sblm {date}. Balas STOP utk berhenti"
        ),
        Trigger::InvoiceDue => format!(
            "Tagihan iuran BPJS TK {} {amount} jatuh tempo {date}. Bayar dgn kode {code} di bank atau kanal pembayaran lain.",
            m.invoice_month.map(|x| x.to_string()).unwrap_or_default()
        ),
        Trigger::InvoiceOverdue => format!(
            "Tagihan iuran BPJS TK {} {amount} lewat jatuh tempo {date}, denda berjalan tiap bulan. Bayar segera dgn kode {code}.",
            m.invoice_month.map(|x| x.to_string()).unwrap_or_default()
        ),
    }
}

/// Whether a reply is one of `words`, in any case, alone.
fn is_one_of(words: &[String], reply: &str) -> bool {
    let r = reply
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_uppercase();
    words
        .iter()
        .any(|w| !w.trim().is_empty() && w.trim().to_uppercase() == r)
}

/// Whether a reply opts out: one of the policy's stop words.
pub fn is_stop(policy: &ReminderPolicy, reply: &str) -> bool {
    is_one_of(&policy.stop_words, reply)
}

/// Whether a reply opts in again: one of the policy's start words.
pub fn is_start(policy: &ReminderPolicy, reply: &str) -> bool {
    is_one_of(&policy.start_words, reply)
}

fn first_word(words: &[String]) -> &str {
    words
        .iter()
        .map(|w| w.trim())
        .find(|w| !w.is_empty())
        .unwrap_or_default()
}

/// The SMS that answers an opt-out, saying how to opt in again.
pub fn stopped_text(policy: &ReminderPolicy) -> String {
    format!(
        "BPJS TK: Anda tidak akan menerima pengingat iuran lagi. Kirim {} ke nomor ini untuk menerimanya kembali.",
        first_word(&policy.start_words)
    )
}

/// The SMS that answers an opt-in, saying how to stop again.
pub fn started_text(policy: &ReminderPolicy) -> String {
    format!(
        "BPJS TK: pengingat iuran aktif kembali. Kirim {} ke nomor ini untuk berhenti.",
        first_word(&policy.stop_words)
    )
}

/// The SMS that answers a question sent to the gateway.
pub const QUEUED_TEXT: &str =
    "BPJS TK: pesan Anda diterima dan akan dijawab petugas kantor cabang.";

/// Whether reminders may go out at `local_minutes` (minutes after local midnight).
pub fn in_send_hours(policy: &ReminderPolicy, local_minutes: u32) -> bool {
    match (
        parse_hhmm(&policy.send_from),
        parse_hhmm(&policy.send_until),
    ) {
        (Some(from), Some(until)) => (from..until).contains(&local_minutes),
        _ => false,
    }
}

/// Minutes after local midnight at UTC instant `unix_secs` in a zone `offset` minutes east.
pub fn local_minutes(unix_secs: i64, offset_minutes: i32) -> u32 {
    let local = unix_secs.div_euclid(60) + i64::from(offset_minutes);
    u32::try_from(local.rem_euclid(24 * 60)).unwrap_or(0)
}

/// Share paying in one arm: how many, of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Tally {
    pub n: u64,
    pub paid: u64,
}

impl Tally {
    pub fn share(&self) -> Option<f64> {
        (self.n > 0).then(|| self.paid as f64 / self.n as f64)
    }
}

/// The effect of being in one arm rather than another on the share paying within the window:
/// the difference of the two shares with its 95% interval. The interval is Newcombe's hybrid
/// score interval (Newcombe 1998, method 10), built from each share's Wilson interval: unlike
/// the normal approximation it stays honest when a share is 0 or 1 or an arm is small (a
/// holdout of 14 with nobody paying does not make a difference certain).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Effect {
    pub treated: Tally,
    pub comparison: Tally,
    pub effect: f64,
    pub low: f64,
    pub high: f64,
}

/// Wilson's 95% score interval of a share.
fn wilson(t: Tally) -> Option<(f64, f64)> {
    let p = t.share()?;
    let n = t.n as f64;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    Some((centre - half, centre + half))
}

/// The effect of `treated` against `comparison`; `None` when either is empty.
pub fn effect(treated: Tally, comparison: Tally) -> Option<Effect> {
    let (p1, p0) = (treated.share()?, comparison.share()?);
    let ((l1, u1), (l0, u0)) = (wilson(treated)?, wilson(comparison)?);
    let effect = p1 - p0;
    Some(Effect {
        treated,
        comparison,
        effect,
        low: effect - ((p1 - l1).powi(2) + (u0 - p0).powi(2)).sqrt(),
        high: effect + ((u1 - p1).powi(2) + (p0 - l0).powi(2)).sqrt(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rules() -> RuleSet {
        RuleSet::builtin().unwrap()
    }

    fn rule(name: &str) -> ReminderRule {
        rules()
            .reminders
            .iter()
            .find(|r| r.name == name)
            .cloned()
            .unwrap()
    }

    fn day(s: &str) -> Date {
        crate::month::parse_date(s).unwrap()
    }

    #[test]
    fn every_built_in_text_is_one_sms() {
        for t in Trigger::ALL {
            let s = text(&Message {
                trigger: t,
                name: "Muhammadiyah Wirabuana Saputra",
                months: 2,
                amount: 1_234_500,
                payment_code: "888991234567890123",
                date: day("2026-12-15"),
                invoice_month: Some(Month::parse("2026-11").unwrap()),
            });
            assert!(s.chars().count() <= 160, "{t:?}: {} chars: {s}", s.len());
            assert!(crate::enrolment::is_gsm7(&s), "{s}");
        }
        assert_eq!(first_name("  siti aminah"), "Siti");
        assert_eq!(first_name("Ñoño"), "Oo");
        assert_eq!(first_name(""), "Peserta");
        assert_eq!(rupiah_id(16_800), "Rp16.800");
    }

    #[test]
    fn rules_fire_on_their_day_for_their_months() {
        let rs = rules();
        // December 2026: the 15th is a Tuesday, so before_due fires on the 12th.
        let t = target(&rs, &rule("before_due"), day("2026-12-12")).unwrap();
        assert_eq!(t.last_paid, Month::parse("2026-11").unwrap());
        assert_eq!(t.pay_by, day("2026-12-15"));
        assert!(target(&rs, &rule("before_due"), day("2026-12-11")).is_none());
        let a = target(&rs, &rule("arrears_2"), day("2026-12-17")).unwrap();
        assert_eq!(a.last_paid, Month::parse("2026-10").unwrap());
        // Paid up to August: unpaid Sep, Oct, Nov = non-active from November (G + L = 3), so
        // in December non-active for two months; winback_1 looks at September.
        let w = target(&rs, &rule("winback_1"), day("2026-12-05")).unwrap();
        assert_eq!(w.last_paid, Month::parse("2026-09").unwrap());
        let w3 = target(&rs, &rule("winback_3"), day("2026-12-05")).unwrap();
        assert_eq!(w3.last_paid, Month::parse("2026-07").unwrap());
        // The message's date is the next due date still ahead.
        assert_eq!(w3.pay_by, day("2026-12-15"));
        let a1 = target(&rs, &rule("arrears_1"), day("2026-12-17")).unwrap();
        assert_eq!(a1.pay_by, day("2027-01-15"));
    }

    #[test]
    fn a_row_with_an_unknown_trigger_or_an_impossible_time_is_refused_by_name() {
        let base = include_str!("../../../rules/reminders.toml");
        for (from, to, says) in [
            (
                "trigger = \"in_arrears\"",
                "trigger = \"sometimes\"",
                "reminder arrears_1: unknown trigger 'sometimes'",
            ),
            (
                "day_of_month = 17",
                "day_of_month = 31",
                "reminder arrears_1: day_of_month 31",
            ),
            (
                "send_from = \"08:00\"",
                "send_from = \"25:00\"",
                "send_from '25:00' is not a time",
            ),
            (
                "channels = [\"sms\", \"agent\"]",
                "channels = [\"pigeon\"]",
                "reminder winback_3: unknown channel 'pigeon'",
            ),
        ] {
            let changed = base.replacen(from, to, 1);
            assert_ne!(changed, base);
            let err = RuleSet::builtin_with("reminders.toml", &changed).unwrap_err();
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn the_holdout_is_its_share_of_every_stratum_and_stable() {
        let cands: Vec<Candidate> = (0..10_000)
            .map(|i| Candidate {
                id: i,
                stratum: ("BPU".into(), format!("{}", 11 + i % 7)),
                has_agent: i % 3 != 0,
            })
            .collect();
        let arms = assign(&cands, 42, 100_000, &[Arm::Sms, Arm::Agent]);
        assert_eq!(arms, assign(&cands, 42, 100_000, &[Arm::Sms, Arm::Agent]));
        for p in 0..7 {
            let in_stratum: Vec<_> = (0..cands.len()).filter(|i| i % 7 == p).collect();
            let held = in_stratum
                .iter()
                .filter(|&&i| arms[i] == Arm::Holdout)
                .count();
            let expected = in_stratum.len() as f64 * 0.1;
            assert!(
                (held as f64 - expected).abs() <= 1.0,
                "{held} of {}",
                in_stratum.len()
            );
        }
        // Nobody without an agent is given to one.
        assert!((0..cands.len()).all(|i| arms[i] != Arm::Agent || cands[i].has_agent));
        let agents = arms.iter().filter(|a| **a == Arm::Agent).count();
        assert!(agents > 2_500 && agents < 3_300, "{agents}");
        // Another seed, another draw.
        assert_ne!(arms, assign(&cands, 43, 100_000, &[Arm::Sms, Arm::Agent]));
    }

    #[test]
    fn effects_and_opt_outs() {
        // Newcombe (1998), table II, example (a): 56/70 against 48/80, method 10 gives
        // 0.0524 to 0.3339.
        let e = effect(Tally { n: 70, paid: 56 }, Tally { n: 80, paid: 48 }).unwrap();
        assert!((e.effect - 0.2).abs() < 1e-12);
        assert!((e.low - 0.0524).abs() < 5e-5, "{e:?}");
        assert!((e.high - 0.3339).abs() < 5e-5, "{e:?}");
        // Nobody paying in a small arm leaves the difference uncertain, not exact.
        let e = effect(Tally { n: 10, paid: 0 }, Tally { n: 1, paid: 0 }).unwrap();
        assert!(e.low < -0.5 && e.high > 0.2, "{e:?}");
        // With large arms it comes close to the normal approximation.
        let e = effect(
            Tally {
                n: 100_000,
                paid: 30_000,
            },
            Tally {
                n: 100_000,
                paid: 20_000,
            },
        )
        .unwrap();
        let se = (0.3f64 * 0.7 / 1e5 + 0.2 * 0.8 / 1e5).sqrt();
        assert!((e.high - e.low - 2.0 * Z95 * se).abs() < 1e-5, "{e:?}");
        assert!(effect(Tally::default(), Tally { n: 1, paid: 0 }).is_none());
        let p = rules().reminder_policy[0].clone();
        assert!(is_stop(&p, " stop "));
        assert!(is_stop(&p, "Berhenti."));
        assert!(!is_stop(&p, "stop kirim sms ke saya?"));
        assert!(is_start(&p, "mulai"));
        assert!(!is_start(&p, "STOP"));
        assert!(stopped_text(&p).contains("Kirim MULAI"));
        assert!(started_text(&p).contains("Kirim STOP"));
        for t in [stopped_text(&p), started_text(&p), QUEUED_TEXT.to_string()] {
            assert!(t.chars().count() <= 160, "{t}");
        }
        assert!(in_send_hours(&p, 8 * 60));
        assert!(!in_send_hours(&p, 20 * 60));
        // 13:30 UTC is 20:30 in Jakarta (WIB) and 22:30 in Jayapura (WIT).
        let t = 1_765_114_200; // 2025-12-07 13:30:00 UTC
        assert_eq!(local_minutes(t, 420), 20 * 60 + 30);
        assert_eq!(local_minutes(t, 540), 22 * 60 + 30);
    }
}
