//! Phone numbers, stored in E.164 (`+628…`), accepted as `08…`, `628…` or `+628…` (DOMAIN.md §6).

/// Normalises an Indonesian mobile number to E.164, or says what is wrong with it.
pub fn normalise_phone(s: &str) -> Result<String, &'static str> {
    let cleaned: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let rest = if let Some(r) = cleaned.strip_prefix("+62") {
        r
    } else if let Some(r) = cleaned.strip_prefix("62") {
        r
    } else if let Some(r) = cleaned.strip_prefix('0') {
        r
    } else {
        return Err("phone must start with 08, 628 or +628 (an Indonesian mobile number)");
    };
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return Err("phone may contain only digits after the country or trunk prefix");
    }
    if !rest.starts_with('8') {
        return Err("phone must be a mobile number: 8 after the 0 or 62 prefix");
    }
    // Indonesian mobile numbers have 9 to 12 digits after the country code.
    if !(9..=12).contains(&rest.len()) {
        return Err("phone must have 9 to 12 digits after the 0 or 62 prefix");
    }
    Ok(format!("+62{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises() {
        assert_eq!(normalise_phone("0812-3456-7890").unwrap(), "+6281234567890");
        assert_eq!(normalise_phone("6281234567890").unwrap(), "+6281234567890");
        assert_eq!(
            normalise_phone("+62 812 3456 7890").unwrap(),
            "+6281234567890"
        );
        assert!(normalise_phone("0212345678").is_err());
        assert!(normalise_phone("081").is_err());
        assert!(normalise_phone("hello").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in ".*") { let _ = normalise_phone(&s); }

        #[test]
        fn idempotent(rest in "8[0-9]{8,11}") {
            let e = normalise_phone(&format!("0{rest}")).unwrap();
            prop_assert_eq!(normalise_phone(&e).unwrap(), e);
        }
    }
}
