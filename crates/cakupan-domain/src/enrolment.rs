//! Workers enrolling themselves (issue #20): the steps of the enrolment funnel, the one-time
//! codes' purposes, the SMS texts, the masked name of a public card and the village search.
//! Nothing here does I/O; the codes are drawn and sent by `cakupan_app::enrolment`.

use crate::region::{Level, Region, RegionTree};
use time::Date;

/// The steps of self-registration counted on the dashboard, in order: a form that passed every
/// check and had a code sent (`started`), the code typed right (`verified`), the participation
/// stored (`registered`); `paid` (a first contribution) is read from the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Started,
    Verified,
    Registered,
    Paid,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Started,
        Stage::Verified,
        Stage::Registered,
        Stage::Paid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Started => "started",
            Stage::Verified => "verified",
            Stage::Registered => "registered",
            Stage::Paid => "paid",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What a one-time code proves. Each purpose is its own code: a sign-in code cannot finish a
/// registration, and a code sent to the old number cannot stand for the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// The phone typed on the registration form is the registrant's.
    Register,
    /// The person holding the phone on record signs in.
    SignIn,
    /// Changing the phone: the number on record agrees.
    PhoneOld,
    /// Changing the phone: the new number is the person's.
    PhoneNew,
}

impl Purpose {
    pub const ALL: [Purpose; 4] = [
        Purpose::Register,
        Purpose::SignIn,
        Purpose::PhoneOld,
        Purpose::PhoneNew,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::PhoneOld => "phone_old",
            Purpose::PhoneNew => "phone_new",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The SMS carrying a code, in Bahasa Indonesia (the language of every SMS the agency sends):
/// what it is for, how long it lasts, and never to pass it on. GSM-7 only and under 160
/// characters, so it travels as one message on any phone.
pub fn code_text(purpose: Purpose, code: &str, valid_secs: u32) -> String {
    let what = match purpose {
        Purpose::Register => "pendaftaran",
        Purpose::SignIn => "masuk",
        Purpose::PhoneOld | Purpose::PhoneNew => "ganti nomor HP",
    };
    let minutes = valid_secs.div_ceil(60).max(1);
    format!(
        "Kode {what} BPJS Cakupan: {code}. Berlaku {minutes} menit. JANGAN berikan kode ini kepada siapa pun, termasuk petugas."
    )
}

/// Whether every character is in the GSM 03.38 basic set (one SMS holds 160 of them).
pub fn is_gsm7(text: &str) -> bool {
    const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    text.chars().all(|c| BASIC.contains(c))
}

/// A name as a public card or a payer at a counter sees it: the first letter of each word,
/// the rest hidden, so a stranger learns nothing a glance at the person would not tell.
/// `"Siti Aminah"` → `"S*** A*****"`.
pub fn masked_name(name: &str) -> String {
    name.split_whitespace()
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => format!("{f}{}", "*".repeat(c.count())),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The ISO week a day falls in, `2026-W48`: the funnel's unit.
pub fn week_of(d: Date) -> String {
    let (y, w, _) = d.to_iso_week_date();
    format!("{y}-W{w:02}")
}

/// The Monday of the ISO week `week_of` names, or `None` for a malformed week.
pub fn week_start(week: &str) -> Option<Date> {
    let (y, w) = week.split_once("-W")?;
    Date::from_iso_week_date(y.parse().ok()?, w.parse().ok()?, time::Weekday::Monday).ok()
}

/// Lowercase ASCII letters and digits of a name, other characters dropped: how a typed name and
/// a village's name are compared (`"Suka-Maju"` finds `"SUKAMAJU"`).
pub fn folded(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The villages whose names match what was typed, for a worker choosing where they live among
/// 83,762: names starting with the text first, then names containing it, each group in code
/// order (so province by province), at most `limit`. Fewer than two letters find nothing.
/// `index` is [`VillageIndex::new`] of the same tree.
pub fn search_villages<'a>(
    tree: &'a RegionTree,
    index: &VillageIndex,
    typed: &str,
    limit: usize,
) -> Vec<&'a Region> {
    let q = folded(typed);
    if q.chars().count() < 2 || limit == 0 {
        return Vec::new();
    }
    let mut starts = Vec::new();
    let mut inside = Vec::new();
    for (name, code) in &index.names {
        if name.starts_with(&q) {
            starts.push(*code);
        } else if inside.len() < limit && name.contains(&q) {
            inside.push(*code);
        }
        if starts.len() >= limit {
            break;
        }
    }
    starts
        .into_iter()
        .chain(inside)
        .take(limit)
        .filter_map(|c| tree.get(c))
        .collect()
}

/// The villages' folded names, built once at start (83,762 short strings).
#[derive(Debug, Clone, Default)]
pub struct VillageIndex {
    names: Vec<(String, crate::RegionCode)>,
}

impl VillageIndex {
    pub fn new(tree: &RegionTree) -> VillageIndex {
        VillageIndex {
            names: tree
                .iter()
                .filter(|r| r.code.level() == Level::Village)
                .map(|r| (folded(&r.name), r.code))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_texts_are_one_gsm7_sms() {
        for p in Purpose::ALL {
            let t = code_text(p, "123456", 300);
            assert!(is_gsm7(&t), "{t}");
            assert!(t.chars().count() <= 160, "{} chars: {t}", t.chars().count());
            assert!(t.contains("123456") && t.contains("5 menit"));
        }
        assert!(!is_gsm7("kode ✓"));
    }

    #[test]
    fn names_are_masked_word_by_word() {
        assert_eq!(masked_name("Siti Aminah"), "S*** A*****");
        assert_eq!(masked_name("  budi  "), "b***");
        assert_eq!(masked_name(""), "");
    }

    #[test]
    fn weeks_round_trip() {
        let d = time::macros::date!(2026 - 11 - 23);
        assert_eq!(week_of(d), "2026-W48");
        assert_eq!(week_start("2026-W48"), Some(d));
        assert_eq!(week_of(time::macros::date!(2027 - 01 - 01)), "2026-W53");
        assert_eq!(week_start("2026-48"), None);
    }

    #[test]
    fn villages_are_found_by_typing() {
        let tree = RegionTree::builtin().unwrap();
        let index = VillageIndex::new(&tree);
        assert_eq!(index.len(), tree.counts()[3]);
        let found = search_villages(&tree, &index, "suka maju", 20);
        assert!(!found.is_empty());
        assert!(found.iter().all(|r| folded(&r.name).contains("sukamaju")));
        // Many villages share this name: the caller shows each one's district and regency.
        assert!(found.len() > 1);
        assert!(search_villages(&tree, &index, "s", 20).is_empty());
        assert!(search_villages(&tree, &index, "zzzzqqq", 20).is_empty());
    }

    #[test]
    fn stages_and_purposes_round_trip() {
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()), Some(s));
        }
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
        }
    }
}
