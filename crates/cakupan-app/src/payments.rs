//! Payments through the channels Indonesians use (issue #19): the payment code of a
//! participation, from the biller rule in force today.

use crate::Context;
use cakupan_domain::Month;
use cakupan_domain::kpj::Kpj;
use cakupan_domain::payments::{Payee, VirtualAccount};
use cakupan_store::Participant;

/// The payment code (virtual account) of participation `p`, under the biller rule in force
/// today; none when no rule is in force or the KPJ does not parse (neither happens with the
/// built-in rules and stored participations).
pub fn code_of(st: &Context, p: &Participant) -> Option<VirtualAccount> {
    let biller = st.rules.biller(Month::of((st.today)()))?;
    let kpj = Kpj::parse(&p.kpj).ok()?;
    Some(VirtualAccount::of(biller, Payee::Participation(kpj)))
}
