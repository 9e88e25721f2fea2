//! What makes a password acceptable (issue #17, item 8): long enough (`min_password_length` of
//! `rules/security.toml`, NIST SP 800-63B §5.1.1.2), enough different characters
//! (`min_password_distinct`), and not one that guessers try first: not a
//! common password (`data/passwords/common.txt`, from SecLists, with its variants: any case,
//! digits or symbols around it, written twice), not one character repeated or a run along the
//! keyboard or the alphabet (`aaaaaaaaaaaa`, twelve spaces and `123456789012` were accepted),
//! and not the username.

use crate::FieldError;
use crate::rules::SecurityRule;
use std::collections::HashSet;
use std::sync::OnceLock;

const COMMON: &str = include_str!("../../../data/passwords/common.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Rows of a keyboard and runs of letters and digits, forwards; a password inside one of them
/// (or its reverse) is a walk, not a secret.
const RUNS: [&str; 4] = [
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    "012345678901234567890123456789",
    "qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p1qaz2wsx3edc4rfv",
];

/// Checks a new password for `username` (field `field`) under the security policy: `Err` names
/// the first rule broken, `password.length`, `password.repetitive`, `password.sequence`,
/// `password.username` or `password.common`.
pub fn check(
    field: &str,
    password: &str,
    username: &str,
    policy: &SecurityRule,
) -> Result<(), FieldError> {
    let min_length = policy.min_password_length as usize;
    let min_distinct = policy.min_password_distinct as usize;
    let refuse = |rule: &'static str, message: String| Err(FieldError::new(field, rule, message));
    if password.chars().count() < min_length {
        return refuse(
            "password.length",
            format!("the password must have at least {min_length} characters"),
        );
    }
    let lower = password.to_lowercase();
    let distinct: HashSet<char> = lower.chars().filter(|c| !c.is_whitespace()).collect();
    if distinct.len() < min_distinct {
        return refuse(
            "password.repetitive",
            format!(
                "the password repeats too few characters: use at least {min_distinct} different ones (a few unrelated words work well)"
            ),
        );
    }
    let squeezed: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let reversed: String = squeezed.chars().rev().collect();
    if RUNS
        .iter()
        .any(|run| run.contains(squeezed.as_str()) || run.contains(reversed.as_str()))
    {
        return refuse(
            "password.sequence",
            "the password is a run along the keyboard or the alphabet: choose something less predictable".into(),
        );
    }
    let user = username.trim().to_lowercase();
    if user.chars().count() >= 4 && lower.contains(&user) {
        return refuse(
            "password.username",
            "the password must not contain the username".into(),
        );
    }
    if is_common(&lower) {
        return refuse(
            "password.common",
            "this password is among the most common ones guessers try first: choose another".into(),
        );
    }
    Ok(())
}

/// Whether a (lower-case) password is a common one or a common one dressed up: digits, symbols
/// and spaces around it, letters for digits (`p4ssw0rd`), or written twice.
fn is_common(lower: &str) -> bool {
    let set = common();
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    let unleet = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '0' => 'o',
                '1' => 'i',
                '3' => 'e',
                '4' | '@' => 'a',
                '5' | '$' => 's',
                '7' => 't',
                c => c,
            })
            .collect()
    };
    // Digits at the ends are padding, digits inside stand for letters.
    let padded = lower.trim_matches(|c: char| !c.is_alphanumeric());
    let inner = padded
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .trim_start_matches(|c: char| c.is_ascii_digit());
    let unleet_lower = unleet(lower);
    let unleet_inner = unleet(inner);
    let letters: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    let halves = |s: &str| {
        let n = s.chars().count();
        n.is_multiple_of(2) && {
            let (a, b) = s.split_at(s.char_indices().nth(n / 2).map_or(s.len(), |(i, _)| i));
            a == b && set.contains(a)
        }
    };
    [
        lower,
        core,
        unleet_lower.as_str(),
        unleet_inner.as_str(),
        letters.as_str(),
    ]
    .iter()
    .any(|c| !c.is_empty() && (set.contains(c) || halves(c)))
        || set.contains(lower.trim_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rule(p: &str) -> Option<&'static str> {
        let rules = crate::RuleSet::builtin().unwrap();
        let policy = rules.security.first().unwrap();
        assert_eq!(
            (policy.min_password_length, policy.min_password_distinct),
            (12, 5)
        );
        check("password", p, "siti.aminah", policy)
            .err()
            .map(|e| e.rule)
    }

    #[test]
    fn weak_passwords_are_refused_by_name() {
        assert_eq!(rule("short"), Some("password.length"));
        // Issue #17: these were accepted.
        assert_eq!(rule("aaaaaaaaaaaa"), Some("password.repetitive"));
        assert_eq!(rule("            "), Some("password.repetitive"));
        assert_eq!(rule("abababababab"), Some("password.repetitive"));
        assert_eq!(rule("123456789012"), Some("password.sequence"));
        assert_eq!(rule("qwertyuiopas"), Some("password.sequence"));
        assert_eq!(rule("lkjhgfdsapoiu"), Some("password.sequence"));
        assert_eq!(rule("siti.aminah2026"), Some("password.username"));
        for common in [
            "password1234",
            "Password123!",
            "p4ssw0rd2026",
            "bismillah123",
            "sayangku1234",
            "!!persib1933",
            "iloveyou2026",
            "monkeymonkey",
        ] {
            assert_eq!(rule(common), Some("password.common"), "{common}");
        }
    }

    #[test]
    fn good_passwords_pass() {
        for good in [
            "kerja keras bebas cemas",
            "sawah-hijau-pagi-7",
            "g87dph-kw9ha2-qnggud",
            "Nelayan Pulang Senja 2026",
        ] {
            assert_eq!(rule(good), None, "{good}");
        }
    }

    #[test]
    fn the_list_is_loaded() {
        assert!(common().len() > 900);
        assert!(common().contains("rahasia"));
    }
}
