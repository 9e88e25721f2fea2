use serde::Serialize;
use std::fmt;

/// A problem with one input field: which field, which rule, and a sentence for people.
///
/// `rule` is a stable machine code (`nik.length`, `village_code.unknown`) so that pages can
/// translate it and clients can branch on it; `message` is English prose naming the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub rule: &'static str,
    pub message: String,
    /// The figures the message carries (amounts in whole rupiah, months `YYYY-MM`, dates
    /// `YYYY-MM-DD`, codes), so that a page can say the same in its reader's language.
    #[serde(skip)]
    pub args: Vec<String>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule,
            message: message.into(),
            args: Vec::new(),
        }
    }

    /// The same error with the figures its message carries.
    pub fn with_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.args = args.into_iter().map(|a| a.to_string()).collect();
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.field, self.message, self.rule)
    }
}

/// Every problem found in one input, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }
}

impl From<FieldError> for FieldErrors {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// A value to repeat in a message when it looks like the short code it should be (`'84.1'`),
/// else a neutral phrase: a message never carries markup, a query fragment or a long paste
/// back to the screen or log that shows it.
pub fn quoted_code(v: &str) -> String {
    let plain = v.len() <= 24
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b' '));
    if plain {
        format!("'{v}'")
    } else {
        "given".to_string()
    }
}
