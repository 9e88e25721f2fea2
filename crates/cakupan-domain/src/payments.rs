//! Payment codes (issue #19): the permanent virtual-account number of every participation and
//! of every employer invoice, which a payer quotes at a bank's ATM or app, a minimarket
//! counter, an e-wallet or the post office.
//!
//! After Bank Indonesia's SNAP virtual-account specification (docs/formats.md): the number is
//! the biller's `partnerServiceId` (at most 8 digits, left-padded with spaces to 8) followed by
//! a `customerNo`. Cakupan's customer number is 13 digits: a kind digit (1 a participation, 2
//! an employer invoice), the 11 digits of the KPJ or of the invoice's payment code, and a Damm
//! check digit over those 12, so a mistyped digit or two swapped neighbours name nobody.

use crate::kpj::{Kpj, damm_digit};
use crate::rules::BillerRule;

/// What a payment code pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payee {
    /// A participation's contributions, by its KPJ.
    Participation(Kpj),
    /// An employer invoice, by its id.
    Invoice(i64),
}

/// The digits of a customer number.
pub const CUSTOMER_NO_LEN: usize = 13;
/// The width of a partner service id in a virtual-account number.
pub const PARTNER_SERVICE_ID_LEN: usize = 8;

const PARTICIPATION: u8 = b'1';
const INVOICE: u8 = b'2';

/// Why a payment code names nobody.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentCodeError {
    #[error("a payment code is the biller's id and 13 digits")]
    Format,
    #[error("the payment code is not this biller's")]
    OtherBiller,
    #[error(
        "the payment code's check digit does not match (a digit is mistyped or two are swapped)"
    )]
    CheckDigit,
    #[error("the payment code names no kind of payment")]
    Kind,
}

impl PaymentCodeError {
    /// The rule code of the error, for field errors.
    pub fn rule(&self) -> &'static str {
        match self {
            PaymentCodeError::Format => "payment_code.format",
            PaymentCodeError::OtherBiller => "payment_code.biller",
            PaymentCodeError::CheckDigit => "payment_code.check_digit",
            PaymentCodeError::Kind => "payment_code.kind",
        }
    }
}

/// A virtual account: the biller's partner service id (padded to 8) and the customer number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAccount {
    pub partner_service_id: String,
    pub customer_no: String,
}

impl VirtualAccount {
    /// The virtual account of `payee` at `biller`.
    pub fn of(biller: &BillerRule, payee: Payee) -> VirtualAccount {
        VirtualAccount {
            partner_service_id: padded(&biller.partner_service_id),
            customer_no: customer_no(payee),
        }
    }

    /// The whole number as SNAP's `virtualAccountNo` carries it (21 characters).
    pub fn number(&self) -> String {
        format!("{}{}", self.partner_service_id, self.customer_no)
    }

    /// The number as a person reads and types it: the biller's digits and the customer
    /// number, without the padding.
    pub fn digits(&self) -> String {
        format!(
            "{}{}",
            self.partner_service_id.trim_start(),
            self.customer_no
        )
    }
}

/// A partner service id as SNAP sends it: left-padded with spaces to 8.
pub fn padded(partner_service_id: &str) -> String {
    format!(
        "{:>width$}",
        partner_service_id.trim(),
        width = PARTNER_SERVICE_ID_LEN
    )
}

/// The 13-digit customer number of `payee`.
pub fn customer_no(payee: Payee) -> String {
    let body = match payee {
        Payee::Participation(k) => format!("{}{k}", PARTICIPATION as char),
        Payee::Invoice(id) => format!("{}{}", INVOICE as char, crate::employers::payment_code(id)),
    };
    let check = damm_digit(&body).unwrap_or(0);
    format!("{body}{check}")
}

/// What a customer number names (its check digits hold).
pub fn parse_customer_no(s: &str) -> Result<Payee, PaymentCodeError> {
    let t = s.trim();
    if t.len() != CUSTOMER_NO_LEN || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PaymentCodeError::Format);
    }
    let (body, check) = t.split_at(CUSTOMER_NO_LEN - 1);
    if damm_digit(body).map(|d| d.to_string()) != Some(check.to_string()) {
        return Err(PaymentCodeError::CheckDigit);
    }
    let inner = &body[1..];
    match body.as_bytes()[0] {
        PARTICIPATION => Kpj::parse(inner)
            .map(Payee::Participation)
            .map_err(|_| PaymentCodeError::CheckDigit),
        INVOICE => crate::employers::invoice_of_payment_code(inner)
            .map(Payee::Invoice)
            .ok_or(PaymentCodeError::CheckDigit),
        _ => Err(PaymentCodeError::Kind),
    }
}

/// What a virtual-account number names at `biller`: the number as SNAP carries it (the
/// padded id and the customer number) or as a person types it (no padding).
pub fn parse_virtual_account(biller: &BillerRule, s: &str) -> Result<Payee, PaymentCodeError> {
    let t = s.trim();
    if t.len() <= CUSTOMER_NO_LEN || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PaymentCodeError::Format);
    }
    let (prefix, customer) = t.split_at(t.len() - CUSTOMER_NO_LEN);
    if prefix != biller.partner_service_id.trim() {
        return Err(PaymentCodeError::OtherBiller);
    }
    parse_customer_no(customer)
}

/// The kinds of channel partner (issue #19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerKind {
    Bank,
    Aggregator,
    Minimarket,
    Ewallet,
    Post,
}

impl PartnerKind {
    pub const ALL: [PartnerKind; 5] = [
        PartnerKind::Bank,
        PartnerKind::Aggregator,
        PartnerKind::Minimarket,
        PartnerKind::Ewallet,
        PartnerKind::Post,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PartnerKind::Bank => "bank",
            PartnerKind::Aggregator => "aggregator",
            PartnerKind::Minimarket => "minimarket",
            PartnerKind::Ewallet => "ewallet",
            PartnerKind::Post => "post",
        }
    }

    pub fn parse(s: &str) -> Option<PartnerKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// A channel partner's details as an administrator enters them (its credentials are checked
/// where they are parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerDetails<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub settlement_account: &'a str,
    pub fee: i64,
}

/// Checks a partner's details, reporting every problem at once: the code is 2 to 16 capital
/// letters, digits or `-` (it is the partner's `X-PARTNER-ID` and `X-CLIENT-KEY`), a name, one
/// of the kinds, a settlement account of 5 to 34 digits, a fee of zero or more rupiah.
pub fn check_partner(d: &PartnerDetails<'_>) -> Result<(), crate::FieldErrors> {
    use crate::FieldError;
    let mut errors = crate::FieldErrors::default();
    let code_ok = (2..=16).contains(&d.code.len())
        && d.code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if !code_ok {
        errors.push(FieldError::new(
            "code",
            "partner.code",
            "a partner code is 2 to 16 capital letters, digits or '-'",
        ));
    }
    if d.name.trim().is_empty() || d.name.chars().count() > 100 {
        errors.push(FieldError::new(
            "name",
            "partner.name",
            "a partner's name is 1 to 100 characters",
        ));
    }
    if PartnerKind::parse(d.kind).is_none() {
        let all: Vec<&str> = PartnerKind::ALL.iter().map(|k| k.as_str()).collect();
        errors.push(FieldError::new(
            "kind",
            "partner.kind",
            format!("the kind is one of {}", all.join(", ")),
        ));
    }
    let account = d.settlement_account.trim();
    if !(5..=34).contains(&account.len()) || !account.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(FieldError::new(
            "settlement_account",
            "partner.settlement_account",
            "the settlement account is 5 to 34 digits",
        ));
    }
    if d.fee < 0 {
        errors.push(FieldError::new(
            "fee",
            "partner.fee",
            "the fee is zero or more rupiah",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RuleSet;
    use proptest::prelude::*;

    fn biller() -> BillerRule {
        RuleSet::builtin()
            .unwrap()
            .biller(crate::Month::parse("2026-12").unwrap())
            .unwrap()
            .clone()
    }

    #[test]
    fn a_participation_and_an_invoice_have_their_codes() {
        let b = biller();
        let k = Kpj::from_sequence(42).unwrap();
        let va = VirtualAccount::of(&b, Payee::Participation(k));
        assert_eq!(va.partner_service_id.len(), PARTNER_SERVICE_ID_LEN);
        assert!(
            va.partner_service_id
                .ends_with(b.partner_service_id.as_str())
        );
        assert_eq!(va.customer_no.len(), CUSTOMER_NO_LEN);
        assert!(va.customer_no.starts_with(&format!("1{k}")));
        assert_eq!(va.number().len(), 21);
        assert_eq!(
            parse_virtual_account(&b, &va.number()),
            Ok(Payee::Participation(k))
        );
        assert_eq!(
            parse_virtual_account(&b, &va.digits()),
            Ok(Payee::Participation(k))
        );
        let inv = VirtualAccount::of(&b, Payee::Invoice(7));
        assert_eq!(parse_customer_no(&inv.customer_no), Ok(Payee::Invoice(7)));
        assert_ne!(inv.customer_no, va.customer_no);
    }

    #[test]
    fn bad_codes_are_named() {
        let b = biller();
        let va = VirtualAccount::of(&b, Payee::Invoice(7));
        assert_eq!(
            parse_virtual_account(&b, "12345"),
            Err(PaymentCodeError::Format)
        );
        assert_eq!(
            parse_virtual_account(&b, &format!("1{}", va.customer_no)),
            Err(PaymentCodeError::OtherBiller)
        );
        // A kind digit that names nothing, with a valid check digit.
        let body = "912345678901";
        let bad = format!("{body}{}", damm_digit(body).unwrap());
        assert_eq!(parse_customer_no(&bad), Err(PaymentCodeError::Kind));
        assert_eq!(
            parse_customer_no("12345678901x3"),
            Err(PaymentCodeError::Format)
        );
    }

    proptest! {
        #[test]
        fn a_mistyped_digit_or_a_swap_names_nobody(seq in 1u64..=Kpj::MAX_SEQUENCE, pos in 0usize..CUSTOMER_NO_LEN, delta in 1u8..10) {
            let code = customer_no(Payee::Participation(Kpj::from_sequence(seq).unwrap()));
            let mut typo: Vec<u8> = code.bytes().collect();
            typo[pos] = b'0' + (typo[pos] - b'0' + delta) % 10;
            let typo = String::from_utf8(typo).unwrap();
            prop_assert!(parse_customer_no(&typo).is_err());
            if pos + 1 < CUSTOMER_NO_LEN && code.as_bytes()[pos] != code.as_bytes()[pos + 1] {
                let mut swapped: Vec<u8> = code.bytes().collect();
                swapped.swap(pos, pos + 1);
                let swapped = String::from_utf8(swapped).unwrap();
                prop_assert!(parse_customer_no(&swapped).is_err());
            }
            prop_assert_eq!(
                parse_customer_no(&code),
                Ok(Payee::Participation(Kpj::from_sequence(seq).unwrap()))
            );
        }
    }
}
