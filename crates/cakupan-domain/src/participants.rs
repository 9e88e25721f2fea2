//! Registering a participant: every field checked against the rules and reference data, with
//! every problem reported by field and rule (DOMAIN.md §6–7, DESIGN.md §5).
//!
//! The same validation serves the API, the CLI and the bulk import, so a row rejected by one
//! is rejected by all with the same words.

use crate::error::{FieldError, FieldErrors};
use crate::money::Rupiah;
use crate::month::{Month, format_date, parse_date};
use crate::nik::{Nik, NikWarning};
use crate::occupation::Sector;
use crate::phone::normalise_phone;
use crate::quote::{check_income_base, check_programmes};
use crate::region::{Level, RegionCode, RegionTree};
use crate::rules::RuleSet;
use crate::segment::{Channel, ProgrammeSet, Segment, Sex};
use serde::{Deserialize, Serialize};
use time::Date;

/// The fields of a registration, in the column order of `participants.csv` (DESIGN.md §5).
pub const FIELDS: [&str; 13] = [
    "nik",
    "name",
    "birth_date",
    "sex",
    "phone",
    "village_code",
    "segment",
    "occupation_code",
    "income_base",
    "programs",
    "registered_on",
    "channel",
    "agent_code",
];

/// Columns `participants.csv` may add after [`FIELDS`], in this order.
pub const OPTIONAL_FIELDS: [&str; 2] = ["address", "budget_funded"];

/// A registration as typed or uploaded: text fields, not yet trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationInput {
    pub nik: String,
    pub name: String,
    pub birth_date: String,
    pub sex: String,
    #[serde(default)]
    pub phone: String,
    pub village_code: String,
    pub segment: String,
    pub occupation_code: String,
    pub income_base: String,
    pub programs: String,
    /// Empty means today.
    #[serde(default)]
    pub registered_on: String,
    pub channel: String,
    #[serde(default)]
    pub agent_code: String,
    /// Domicile address within the village (street, number, RT/RW); optional.
    #[serde(default)]
    pub address: String,
    /// `ya`/`yes`/`true`/`1` when JKK and JKM are paid from the state or a regional budget;
    /// empty, `tidak`/`no`/`false`/`0` otherwise.
    #[serde(default)]
    pub budget_funded: String,
    #[serde(default)]
    pub heirs: Vec<HeirInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeirInput {
    pub name: String,
    pub relationship: String,
    #[serde(default)]
    pub nik: String,
    #[serde(default)]
    pub phone: String,
}

/// An heir (ahli waris), needed for JKM claims; optional at registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heir {
    pub name: String,
    pub relationship: Relationship,
    pub nik: Option<Nik>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    Spouse,
    Child,
    Parent,
    Sibling,
    Other,
}

impl Relationship {
    pub const ALL: [Relationship; 5] = [
        Relationship::Spouse,
        Relationship::Child,
        Relationship::Parent,
        Relationship::Sibling,
        Relationship::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::Spouse => "spouse",
            Relationship::Child => "child",
            Relationship::Parent => "parent",
            Relationship::Sibling => "sibling",
            Relationship::Other => "other",
        }
    }

    /// Accepts the English words and the Indonesian ones used on forms.
    pub fn parse(s: &str) -> Option<Relationship> {
        match s.trim().to_lowercase().as_str() {
            "spouse" | "suami" | "istri" | "suami/istri" | "pasangan" => Some(Relationship::Spouse),
            "child" | "anak" => Some(Relationship::Child),
            "parent" | "orang_tua" | "orang tua" | "ayah" | "ibu" => Some(Relationship::Parent),
            "sibling" | "saudara" | "saudara kandung" => Some(Relationship::Sibling),
            "other" | "lainnya" => Some(Relationship::Other),
            _ => None,
        }
    }
}

/// The words of a name as the name search indexes them (issue #22): lower case, split at
/// anything but a letter or a digit (spaces and the `. , ' -` a KTP name may hold), words of
/// two characters or more, each once, in order. "Siti Nur'aini" → `siti`, `nur`, `aini`.
pub fn name_words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in name
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 2)
    {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// A registration that passed every check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    pub nik: Nik,
    pub name: String,
    pub birth_date: Date,
    pub sex: Sex,
    pub phone: Option<String>,
    pub village: RegionCode,
    pub segment: Segment,
    pub occupation_code: String,
    pub sector: Sector,
    pub income_base: Rupiah,
    pub programmes: ProgrammeSet,
    pub registered_on: Date,
    pub channel: Channel,
    pub agent_code: Option<String>,
    /// Domicile address within the village (street, number, RT/RW), if given.
    pub address: Option<String>,
    pub heirs: Vec<Heir>,
    /// JKK and JKM paid from the state or a regional budget (APBN/APBD): no PP 50/2025 discount
    /// (art. 3), whatever the sector.
    pub budget_funded: bool,
    /// Rules that only warned (NIK mismatches, age outside the unconfirmed range): kept and
    /// flagged for review.
    pub review_flags: Vec<String>,
}

/// A warning that did not stop the registration.
pub type Warning = FieldError;

/// What validation needs to know besides the input.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub regions: &'a RegionTree,
    pub rules: &'a RuleSet,
    /// Today's date: registrations may not be dated after it.
    pub today: Date,
}

const NAME_MAX: usize = 100;
const AGENT_CODE_MAX: usize = 32;
/// Longest address accepted (a street, number, RT/RW and hamlet fit in far less).
pub const ADDRESS_MAX: usize = 200;

/// Punctuation a name on the KTP may carry besides letters and spaces.
fn name_punctuation(c: char) -> bool {
    matches!(c, '.' | ',' | '\'' | '’' | '-')
}

/// Punctuation an address may carry besides letters, digits and spaces. Everything else
/// (`<`, `>`, `;`, quotes, backslashes, …) is what markup and query fragments need and no
/// address does: refused rather than stored, so nothing shown later can carry it.
fn address_punctuation(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | '\'' | '’' | '-' | '/' | '(' | ')' | '#' | ':' | '&'
    )
}

/// An optional free-text field (an address): trimmed, spaces collapsed, at most `max`
/// characters, no control characters and no markup or query punctuation. `Ok(None)` when empty.
pub fn check_free_text(field: &str, v: &str, max: usize) -> Result<Option<String>, FieldError> {
    let collapsed = v.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return Ok(None);
    }
    if collapsed.chars().count() > max {
        return Err(FieldError::new(
            field,
            "text.length",
            format!("{field} must be at most {max} characters"),
        ));
    }
    if !collapsed
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || address_punctuation(c))
    {
        return Err(FieldError::new(
            field,
            "text.characters",
            format!("{field} may hold letters, digits, spaces and . , ' - / ( ) # : & only"),
        ));
    }
    Ok(Some(collapsed))
}

fn required<'a>(errors: &mut FieldErrors, field: &str, v: &'a str) -> Option<&'a str> {
    let t = v.trim();
    if t.is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            format!("{field} is required"),
        ));
        None
    } else {
        Some(t)
    }
}

fn check_name(errors: &mut FieldErrors, field: &str, v: &str) -> Option<String> {
    let t = required(errors, field, v)?;
    let collapsed = t.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > NAME_MAX {
        errors.push(FieldError::new(
            field,
            "name.length",
            format!("{field} must be at most {NAME_MAX} characters"),
        ));
        return None;
    }
    if !collapsed
        .chars()
        .all(|c| c.is_alphabetic() || c == ' ' || name_punctuation(c))
    {
        errors.push(FieldError::new(
            field,
            "name.characters",
            format!(
                "{field} must be a name as on the KTP: letters, spaces and . , ' - only (no digits or other signs)"
            ),
        ));
        return None;
    }
    Some(collapsed)
}

/// Validates one registration. `Ok` carries the registration (with any review flags in it)
/// and the warnings for display; `Err` carries every error found.
pub fn validate(
    ctx: &Context<'_>,
    input: &RegistrationInput,
) -> Result<(Registration, Vec<Warning>), FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut warnings = Vec::new();

    let nik = required(&mut errors, "nik", &input.nik).and_then(|v| match Nik::parse(v) {
        Ok(n) => Some(n),
        Err(e) => {
            errors.push(FieldError::new("nik", e.rule(), e.to_string()));
            None
        }
    });
    let name = check_name(&mut errors, "name", &input.name);
    let registered_on = if input.registered_on.trim().is_empty() {
        Some(ctx.today)
    } else {
        match parse_date(input.registered_on.trim()) {
            Some(d) if d > ctx.today => {
                errors.push(FieldError::new(
                    "registered_on",
                    "registered_on.future",
                    format!(
                        "registered_on {} is after today ({})",
                        format_date(d),
                        format_date(ctx.today)
                    ),
                ));
                None
            }
            Some(d) => Some(d),
            None => {
                errors.push(FieldError::new(
                    "registered_on",
                    "date.format",
                    "registered_on must be a real date written YYYY-MM-DD",
                ));
                None
            }
        }
    };
    let reference = registered_on.unwrap_or(ctx.today);
    let month = Month::of(reference);
    let birth_date =
        required(&mut errors, "birth_date", &input.birth_date).and_then(|v| match parse_date(v) {
            Some(d) if d > reference => {
                errors.push(FieldError::new(
                    "birth_date",
                    "birth_date.future",
                    "birth_date must be before the registration date",
                ));
                None
            }
            Some(d) => Some(d),
            None => {
                errors.push(FieldError::new(
                    "birth_date",
                    "date.format",
                    "birth_date must be a real date written YYYY-MM-DD",
                ));
                None
            }
        });
    let sex = required(&mut errors, "sex", &input.sex).and_then(|v| match Sex::parse(v) {
        Some(s) => Some(s),
        None => {
            errors.push(FieldError::new(
                "sex",
                "sex.value",
                "sex must be L (laki-laki) or P (perempuan)",
            ));
            None
        }
    });
    let phone = if input.phone.trim().is_empty() {
        None
    } else {
        match normalise_phone(&input.phone) {
            Ok(p) => Some(p),
            Err(m) => {
                errors.push(FieldError::new("phone", "phone.format", m));
                None
            }
        }
    };
    let village = required(&mut errors, "village_code", &input.village_code).and_then(|v| {
        match RegionCode::parse(v) {
            Ok(c) if c.level() != Level::Village => {
                errors.push(FieldError::new(
                    "village_code",
                    "village_code.level",
                    format!(
                        "village_code {c} is a {}, not a village (NN.NN.NN.NNNN)",
                        c.level().as_str()
                    ),
                ));
                None
            }
            Ok(c) if !ctx.regions.contains_code(c) => {
                errors.push(FieldError::new(
                    "village_code",
                    "village_code.unknown",
                    format!("village_code {c} is not in the Kemendagri region list"),
                ));
                None
            }
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(FieldError::new(
                    "village_code",
                    "village_code.format",
                    format!("village_code {e}"),
                ));
                None
            }
        }
    });
    let segment =
        required(&mut errors, "segment", &input.segment).and_then(|v| match Segment::parse(v) {
            Some(s) => Some(s),
            None => {
                errors.push(FieldError::new(
                    "segment",
                    "segment.value",
                    format!("segment must be one of {}", Segment::expected()),
                ));
                None
            }
        });
    let occupation =
        required(&mut errors, "occupation_code", &input.occupation_code).and_then(|v| {
            match ctx.rules.occupation(v) {
                Some(o) => Some(o),
                None => {
                    errors.push(FieldError::new(
                    "occupation_code",
                    "occupation_code.unknown",
                    format!(
                        "occupation_code {} is not in the occupation list (rules/occupations.toml)",
                        crate::error::quoted_code(v)
                    ),
                ));
                    None
                }
            }
        });
    let income_base = required(&mut errors, "income_base", &input.income_base).and_then(|v| {
        let parsed = Rupiah::parse(v);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "income_base",
                "income_base.integer",
                "income_base must be a whole number of rupiah (e.g. 1000000)",
            ));
        }
        parsed
    });
    let programmes =
        required(&mut errors, "programs", &input.programs).and_then(
            |v| match ProgrammeSet::parse(v) {
                Ok(p) => Some(p),
                Err(m) => {
                    errors.push(FieldError::new("programs", "programs.format", m));
                    None
                }
            },
        );
    let channel =
        required(&mut errors, "channel", &input.channel).and_then(|v| match Channel::parse(v) {
            Some(c) => Some(c),
            None => {
                errors.push(FieldError::new(
                    "channel",
                    "channel.value",
                    format!("channel must be one of {}", Channel::expected()),
                ));
                None
            }
        });
    let agent = input.agent_code.trim();
    let agent_code = match channel {
        Some(Channel::Perisai) if agent.is_empty() => {
            errors.push(FieldError::new(
                "agent_code",
                "agent_code.required",
                "agent_code is required when channel is perisai",
            ));
            None
        }
        // A worker enrolling themselves may name the agent who helped them (issue #20): the
        // agent gets the acquisition as for their own registrations.
        Some(Channel::Perisai | Channel::SelfService) if !agent.is_empty() => {
            if agent.len() > AGENT_CODE_MAX
                || !agent
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                errors.push(FieldError::new(
                    "agent_code",
                    "agent_code.format",
                    format!(
                        "agent_code must be at most {AGENT_CODE_MAX} letters, digits, '-' or '_'"
                    ),
                ));
                None
            } else {
                Some(agent.to_string())
            }
        }
        Some(_) if !agent.is_empty() => {
            errors.push(FieldError::new(
                "agent_code",
                "agent_code.only_perisai",
                "agent_code must be empty unless channel is perisai or self",
            ));
            None
        }
        _ => None,
    };
    // A registration date before the segment's scheme took participants is the date's fault,
    // not the programmes': named on the date, and nothing else is checked against that month.
    let scheme_open = match (segment, registered_on) {
        (Some(seg), Some(d)) if ctx.rules.registration_rule(seg, month).is_none() => {
            let opened = ctx
                .rules
                .registration
                .iter()
                .filter(|r| r.segment == seg)
                .map(|r| r.provenance.period.from)
                .min();
            errors.push(FieldError::new(
                "registered_on",
                "registered_on.before_scheme",
                match opened {
                    Some(from) => format!(
                        "registered_on {} is before {seg} participants could register (from {})",
                        format_date(d),
                        format_date(from)
                    ),
                    None => format!("no rule lets {seg} participants register"),
                },
            ));
            false
        }
        _ => true,
    };
    if scheme_open
        && let (Some(seg), Some(p)) = (segment, programmes)
        && let Err(e) = check_programmes(ctx.rules, seg, p, month, "programs")
    {
        errors.push(e);
    }
    if scheme_open
        && let (Some(seg), Some(base)) = (segment, income_base)
        && let Err(e) = check_income_base(ctx.rules, seg, base, month, "income_base")
    {
        errors.push(e);
    }
    let address = match check_free_text("address", &input.address, ADDRESS_MAX) {
        Ok(a) => a,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let budget_funded = match input.budget_funded.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "tidak" => false,
        "1" | "true" | "yes" | "ya" => true,
        _ => {
            errors.push(FieldError::new(
                "budget_funded",
                "budget_funded.value",
                "budget_funded must be ya or tidak (yes/no, true/false, 1/0)",
            ));
            false
        }
    };
    let mut heirs = Vec::new();
    for (i, h) in input.heirs.iter().enumerate() {
        let f = |name: &str| format!("heirs[{i}].{name}");
        let name = check_name(&mut errors, &f("name"), &h.name);
        let rel = match Relationship::parse(&h.relationship) {
            Some(r) => Some(r),
            None => {
                errors.push(FieldError::new(
                    f("relationship"),
                    "heir.relationship",
                    "relationship must be spouse, child, parent, sibling or other (suami/istri, anak, orang tua, saudara, lainnya)",
                ));
                None
            }
        };
        let hnik = if h.nik.trim().is_empty() {
            None
        } else {
            match Nik::parse(&h.nik) {
                Ok(n) => Some(n),
                Err(e) => {
                    errors.push(FieldError::new(f("nik"), e.rule(), e.to_string()));
                    None
                }
            }
        };
        let hphone = if h.phone.trim().is_empty() {
            None
        } else {
            match normalise_phone(&h.phone) {
                Ok(p) => Some(p),
                Err(m) => {
                    errors.push(FieldError::new(f("phone"), "phone.format", m));
                    None
                }
            }
        };
        if let (Some(name), Some(relationship)) = (name, rel) {
            heirs.push(Heir {
                name,
                relationship,
                nik: hnik,
                phone: hphone,
            });
        }
    }

    let (
        Some(nik),
        Some(name),
        Some(birth_date),
        Some(sex),
        Some(village),
        Some(segment),
        Some(occupation),
        Some(income_base),
        Some(programmes),
        Some(registered_on),
        Some(channel),
    ) = (
        nik,
        name,
        birth_date,
        sex,
        village,
        segment,
        occupation,
        income_base,
        programmes,
        registered_on,
        channel,
    )
    else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut review_flags = Vec::new();
    let province_known = |p: u8| {
        RegionCode::parse(&format!("{p:02}"))
            .ok()
            .is_some_and(|c| ctx.regions.contains_code(c))
    };
    for w in nik.warnings(province_known, Some(birth_date), Some(sex), registered_on) {
        push_warning(&mut warnings, &mut review_flags, w);
    }
    if let Some(rule) = ctx.rules.registration_rule(segment, month) {
        let age = age_on(birth_date, registered_on);
        if age < i32::from(rule.min_age) || age > i32::from(rule.max_age) {
            let msg = format!(
                "age at registration is {age}, outside {}–{} for {segment} ({})",
                rule.min_age, rule.max_age, rule.provenance.source
            );
            let e = FieldError::new("birth_date", "age.range", msg).with_args([
                age,
                i32::from(rule.min_age),
                i32::from(rule.max_age),
            ]);
            if rule.age_rule == "reject" {
                return Err(e.into());
            }
            warnings.push(e);
            review_flags.push("age.range".to_string());
        }
    }
    Ok((
        Registration {
            nik,
            name,
            birth_date,
            sex,
            phone,
            village,
            segment,
            occupation_code: occupation.code.clone(),
            sector: occupation.sector,
            income_base,
            programmes,
            registered_on,
            channel,
            agent_code,
            address,
            heirs,
            budget_funded,
            review_flags,
        },
        warnings,
    ))
}

fn push_warning(warnings: &mut Vec<Warning>, flags: &mut Vec<String>, w: NikWarning) {
    warnings.push(FieldError::new("nik", w.rule(), w.message()));
    flags.push(w.rule().to_string());
}

/// Age in whole years on `on`.
pub fn age_on(birth: Date, on: Date) -> i32 {
    let mut age = on.year() - birth.year();
    if (u8::from(on.month()), on.day()) < (u8::from(birth.month()), birth.day()) {
        age -= 1;
    }
    age
}

impl Registration {
    /// The registration as input text again: what a form shows for editing, and what a
    /// correction changes one field of before validating the whole again.
    pub fn to_input(&self) -> RegistrationInput {
        RegistrationInput {
            nik: self.nik.to_string(),
            name: self.name.clone(),
            birth_date: format_date(self.birth_date),
            sex: self.sex.to_string(),
            phone: self.phone.clone().unwrap_or_default(),
            village_code: self.village.to_string(),
            segment: self.segment.to_string(),
            occupation_code: self.occupation_code.clone(),
            income_base: self.income_base.0.to_string(),
            programs: self.programmes.to_string(),
            registered_on: format_date(self.registered_on),
            channel: self.channel.to_string(),
            agent_code: self.agent_code.clone().unwrap_or_default(),
            address: self.address.clone().unwrap_or_default(),
            budget_funded: if self.budget_funded {
                "ya".into()
            } else {
                String::new()
            },
            heirs: self
                .heirs
                .iter()
                .map(|h| HeirInput {
                    name: h.name.clone(),
                    relationship: h.relationship.as_str().to_string(),
                    nik: h.nik.map(|n| n.to_string()).unwrap_or_default(),
                    phone: h.phone.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Whether `other` registers the same participation with the same facts, so that a retry
    /// of a registration is recognised as the registration already stored. Heirs are left out:
    /// they are edited after registration, and derived review flags follow from the rest.
    pub fn same_registration(&self, other: &Registration) -> bool {
        self.nik == other.nik
            && self.name == other.name
            && self.birth_date == other.birth_date
            && self.sex == other.sex
            && self.phone == other.phone
            && self.village == other.village
            && self.segment == other.segment
            && self.occupation_code == other.occupation_code
            && self.income_base == other.income_base
            && self.programmes == other.programmes
            && self.registered_on == other.registered_on
            && self.channel == other.channel
            && self.agent_code == other.agent_code
            && self.address == other.address
    }

    /// The facts [`Registration::same_registration`] compares, as one text (fields apart by a
    /// unit separator, which no validated field holds): two registrations are the same when
    /// their texts are, so a store can compare them by a digest of it (the bulk load, issue
    /// #23) without holding them.
    pub fn same_registration_text(&self) -> String {
        let opt = |o: &Option<String>| match o {
            Some(v) => format!("+{v}"),
            None => "-".to_string(),
        };
        [
            self.nik.to_string(),
            self.name.clone(),
            self.birth_date.to_string(),
            self.sex.to_string(),
            opt(&self.phone),
            self.village.to_string(),
            self.segment.to_string(),
            self.occupation_code.clone(),
            self.income_base.to_string(),
            self.programmes.to_string(),
            self.registered_on.to_string(),
            self.channel.to_string(),
            opt(&self.agent_code),
            opt(&self.address),
        ]
        .join("\u{1f}")
    }
}

#[cfg(test)]
mod name_word_tests {
    use super::name_words;

    #[test]
    fn names_split_into_their_words() {
        assert_eq!(name_words("Siti Nur'aini"), ["siti", "nur", "aini"]);
        assert_eq!(
            name_words("  DEWI  lestari-PUTRI dewi "),
            ["dewi", "lestari", "putri"]
        );
        assert_eq!(name_words("A. Rahman, S.Pd"), ["rahman", "pd"]);
        assert!(name_words("-- . ").is_empty());
    }
}
