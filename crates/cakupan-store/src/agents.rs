//! The Perisai agent network as stored (issue #6): partner offices (Kantor Perisai), their
//! agents with territories and recorded events, deposits of collected cash, and the receipts
//! of collections.

use crate::Participant;
use crate::ledger;
use crate::{Result, StoreError};
use cakupan_domain::agents::{AgentEvent, AgentMonth};
use cakupan_domain::{FieldError, Month, RegionCode};
use serde::Serialize;
use time::Date;

/// The kinds of partner office (DOMAIN.md §5).
pub const OFFICE_KINDS: [&str; 4] = ["cooperative", "foundation", "business", "community"];

/// A Kantor Perisai: a partner office with a cooperation agreement (PKS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Office {
    pub code: String,
    pub name: String,
    /// cooperative, foundation, business or community.
    pub kind: String,
    /// Where the office is (a region code at any level).
    pub region: RegionCode,
    pub agreement_from: Date,
    pub agreement_to: Option<Date>,
}

/// An agent: appointed by an office, a registered BPU participant themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub code: String,
    pub office_code: String,
    /// The agent's own BPU participation.
    pub participant_id: i64,
    /// The village of that participation: where the agent is counted.
    pub home_village: RegionCode,
    pub appointed: Month,
    /// The villages the agent serves.
    pub villages: Vec<RegionCode>,
}

/// A deposit of collected cash (at the partner bank or the office).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deposit {
    /// The bank's or office's reference: the idempotency key.
    pub reference: String,
    pub agent_code: String,
    pub amount: i64,
    pub deposited_on: Date,
    pub recorded_by: String,
}

/// A contribution an agent collected, as a receipt shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collection {
    pub posting_id: i64,
    pub reference: String,
    pub participant_id: i64,
    pub agent_code: String,
    pub amount: i64,
    pub paid_on: Date,
    pub first_month: Month,
    pub months: i32,
    /// Whether the payment was reversed since.
    pub reversed: bool,
}

/// The receipt number of a collection: `KW`, the posting id in nine digits, a Damm check
/// digit (a mistyped digit or two swapped ones are caught before any look-up), `-` and the
/// keyed check code ([`Keys::receipt_code`]: without the key file a valid number cannot be
/// made up, so receipts cannot be enumerated).
///
/// [`Keys::receipt_code`]: crate::crypto::Keys::receipt_code
pub fn receipt_number(keys: &crate::crypto::Keys, posting_id: i64) -> String {
    let digits = format!("{:09}", posting_id.max(0));
    format!(
        "KW{digits}{}-{}",
        cakupan_domain::kpj::damm_digit(&digits).unwrap_or(0),
        keys.receipt_code(posting_id)
    )
}

/// The posting id of a receipt number, if it is well formed and its check code is right
/// (compared in constant time). Letters are read case-blind; `O`, `I` and `L` are read as the
/// digits they look like (Crockford).
pub fn receipt_posting(keys: &crate::crypto::Keys, number: &str) -> Option<i64> {
    let n = number.trim().to_ascii_uppercase();
    let (number, code) = n.split_once('-')?;
    let digits = number.strip_prefix("KW")?;
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (body, check) = digits.split_at(digits.len() - 1);
    let want = cakupan_domain::kpj::damm_digit(body)?;
    if check.parse::<u8>().ok()? != want {
        return None;
    }
    let id: i64 = body.parse().ok()?;
    let code: String = code
        .trim()
        .chars()
        .map(|c| match c {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    let expected = keys.receipt_code(id);
    let same = code.len() == expected.len()
        && code
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then_some(id)
}

/// Which agents to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentFilter<'a> {
    Code(&'a str),
    Office(&'a str),
    /// Agents whose home village is inside the region.
    Within(RegionCode),
}

/// An agent with everything its standing is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub agent: Agent,
    pub events: Vec<AgentEvent>,
    /// The agent's monthly figures, oldest first (months without any are absent).
    pub months: Vec<(Month, AgentMonth)>,
}

impl AgentRecord {
    /// The months with an acquisition, a collection or a contribution received from the
    /// agent's participants.
    pub fn active_months(&self) -> std::collections::BTreeSet<Month> {
        self.months
            .iter()
            .filter(|(_, m)| m.active())
            .map(|(m, _)| *m)
            .collect()
    }
}

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} '{v}'"))
}

fn date(what: &str, v: &str) -> Result<Date> {
    cakupan_domain::month::parse_date(v).ok_or_else(|| corrupt(what, v))
}

impl Office {
    /// An office from its stored text columns.
    pub fn from_text(
        code: String,
        name: String,
        kind: String,
        region: &str,
        from: &str,
        to: Option<&str>,
    ) -> Result<Office> {
        Ok(Office {
            region: if region.is_empty() {
                RegionCode::NATION
            } else {
                RegionCode::parse(region).map_err(|_| corrupt("office region", region))?
            },
            agreement_from: date("agreement_from", from)?,
            agreement_to: to.map(|t| date("agreement_to", t)).transpose()?,
            code,
            name,
            kind,
        })
    }
}

impl Deposit {
    /// A deposit from its stored columns.
    pub fn from_text(
        reference: String,
        agent_code: String,
        amount: i64,
        deposited_on: &str,
        recorded_by: String,
    ) -> Result<Deposit> {
        Ok(Deposit {
            reference,
            agent_code,
            amount,
            deposited_on: date("deposited_on", deposited_on)?,
            recorded_by,
        })
    }

    /// Whether `other` is this deposit again (a retry).
    pub fn same(&self, other: &Deposit) -> bool {
        self.agent_code == other.agent_code
            && self.amount == other.amount
            && self.deposited_on == other.deposited_on
    }
}

impl Agent {
    /// An agent from its stored columns.
    pub fn from_parts(
        code: String,
        office_code: String,
        participant_id: i64,
        home: &str,
        appointed: i64,
        villages: &[String],
    ) -> Result<Agent> {
        Ok(Agent {
            home_village: RegionCode::parse(home).map_err(|_| corrupt("agent home", home))?,
            appointed: i32::try_from(appointed)
                .ok()
                .and_then(Month::from_index)
                .ok_or_else(|| corrupt("appointed", &appointed.to_string()))?,
            villages: villages
                .iter()
                .map(|v| RegionCode::parse(v).map_err(|_| corrupt("agent village", v)))
                .collect::<Result<_>>()?,
            code,
            office_code,
            participant_id,
        })
    }
}

/// A collection as both backends select it: posting id, reference, participant id, agent,
/// amount, paid on (YYYY-MM-DD), first month and months (indexes), reversed (0 or 1).
pub type CollectionRow = (i64, String, i64, String, i64, String, i64, i64, i64);

impl Collection {
    /// A collection from its selected row.
    pub fn from_row(r: CollectionRow) -> Result<Collection> {
        let (id, reference, pid, agent, amount, paid_on, first, months, reversed) = r;
        Collection::from_parts(
            id,
            reference,
            pid,
            agent,
            amount,
            &paid_on,
            first,
            months,
            reversed != 0,
        )
    }

    /// A collection from its stored columns.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        posting_id: i64,
        reference: String,
        participant_id: i64,
        agent_code: String,
        amount: i64,
        paid_on: &str,
        first_month: i64,
        months: i64,
        reversed: bool,
    ) -> Result<Collection> {
        Ok(Collection {
            posting_id,
            reference,
            participant_id,
            agent_code,
            amount,
            paid_on: date("paid_on", paid_on)?,
            first_month: i32::try_from(first_month)
                .ok()
                .and_then(Month::from_index)
                .ok_or_else(|| corrupt("first_month", &first_month.to_string()))?,
            months: i32::try_from(months).unwrap_or(0),
            reversed,
        })
    }
}

/// Checks an agent against what the store holds: the office exists, the participation is a
/// registered BPU one (agents are participants themselves, DOMAIN.md §5), not another agent's,
/// and the villages are villages.
pub fn check_agent(
    a: &Agent,
    office_exists: bool,
    participant_segment: Option<&str>,
    agent_of_participant: Option<&str>,
) -> Result<()> {
    let mut errs = Vec::new();
    if !office_exists {
        errs.push(FieldError::new(
            "office_code",
            "office.unknown",
            format!("no Kantor Perisai has code {}", a.office_code),
        ));
    }
    match participant_segment {
        None => errs.push(FieldError::new(
            "participant",
            "participant.unknown",
            "the agent's own participation is not registered",
        )),
        Some("BPU") => {}
        Some(_) => errs.push(FieldError::new(
            "participant",
            "agent.not_bpu",
            "an agent must be a registered BPU participant (DOMAIN.md §5)",
        )),
    }
    if let Some(other) = agent_of_participant {
        errs.push(FieldError::new(
            "participant",
            "agent.already",
            format!("this participant is already agent {other}"),
        ));
    }
    if a.villages.is_empty() {
        errs.push(FieldError::new(
            "villages",
            "villages.required",
            "an agent serves at least one village",
        ));
    }
    if let Some(v) = a
        .villages
        .iter()
        .find(|v| v.level() != cakupan_domain::Level::Village)
    {
        errs.push(FieldError::new(
            "villages",
            "villages.level",
            format!("{v} is not a village code (NN.NN.NN.NNNN)"),
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Rejected(cakupan_domain::FieldErrors(errs)))
    }
}

/// The refusal of a deposit reference already used for another deposit.
pub fn reference_reused(reference: &str) -> StoreError {
    rejected(
        "reference",
        "reference.reused",
        format!("reference {reference} was already used for another deposit"),
    )
}

/// The agent rows read by a backend, put together: agents (code, office, participant, home,
/// appointed), their villages, events and months, each list sorted by agent code.
#[allow(clippy::type_complexity)]
pub fn assemble(
    agents: Vec<(String, String, i64, String, i64)>,
    villages: Vec<(String, String)>,
    events: Vec<(String, i32, String, String)>,
    months: Vec<(String, i32, [i64; 7])>,
) -> Result<Vec<AgentRecord>> {
    use std::collections::HashMap;
    let mut v: HashMap<String, Vec<String>> = HashMap::new();
    for (a, village) in villages {
        v.entry(a).or_default().push(village);
    }
    let mut e: HashMap<String, Vec<AgentEvent>> = HashMap::new();
    for (a, m, kind, reason) in events {
        e.entry(a).or_default().push(event_from(m, &kind, reason)?);
    }
    let mut m: HashMap<String, Vec<(i32, [i64; 7])>> = HashMap::new();
    for (a, month, values) in months {
        m.entry(a).or_default().push((month, values));
    }
    agents
        .into_iter()
        .map(|(code, office, pid, home, appointed)| {
            let villages = v.remove(&code).unwrap_or_default();
            Ok(AgentRecord {
                events: e.remove(&code).unwrap_or_default(),
                months: months_of(m.remove(&code).unwrap_or_default()),
                agent: Agent::from_parts(code, office, pid, &home, appointed, &villages)?,
            })
        })
        .collect()
}

/// The agent months of one agent from stored rows (code, month index, values).
pub fn months_of(rows: Vec<(i32, [i64; 7])>) -> Vec<(Month, AgentMonth)> {
    let mut out: Vec<(Month, AgentMonth)> = rows
        .into_iter()
        .filter_map(|(m, v)| Some((Month::from_index(m)?, AgentMonth::from_values(v))))
        .collect();
    out.sort_by_key(|(m, _)| *m);
    out
}

/// A recorded event from its stored columns.
pub fn event_from(month: i32, kind: &str, reason: String) -> Result<AgentEvent> {
    let m = Month::from_index(month).ok_or_else(|| corrupt("event month", &month.to_string()))?;
    match kind {
        "reactivated" => Ok(AgentEvent::Reactivated { month: m }),
        "terminated" => Ok(AgentEvent::Terminated { month: m, reason }),
        other => Err(corrupt("event kind", other)),
    }
}

/// What an agent holds: collected, less collections reversed, less deposits.
pub fn held(months: &[(Month, AgentMonth)], deposits: &[Deposit]) -> i64 {
    months
        .iter()
        .map(|(_, m)| m.collected - m.collected_reversed)
        .sum::<i64>()
        - deposits.iter().map(|d| d.amount).sum::<i64>()
}

/// The oldest collection not yet settled by the deposits (oldest first), with what is still
/// held of it: deposits settle collections in the order they were taken.
pub fn oldest_unsettled(collections: &[Collection], deposited: i64) -> Option<&Collection> {
    let mut left = deposited;
    for c in collections.iter().filter(|c| !c.reversed) {
        if left >= c.amount {
            left -= c.amount;
        } else {
            return Some(c);
        }
    }
    None
}

fn rejected(field: &str, rule: &'static str, message: String) -> StoreError {
    StoreError::Rejected(FieldError::new(field, rule, message).into())
}

/// The refusal of a code already taken by a different record.
pub fn code_taken(what: &str, code: &str) -> StoreError {
    rejected(
        "code",
        "code.taken",
        format!("{what} code {code} is already registered with other details"),
    )
}

/// The refusal of a deposit above what the agent holds.
pub fn deposit_above_held(amount: i64, held: i64) -> StoreError {
    StoreError::Rejected(
        FieldError::new(
            "amount",
            "deposit.above_held",
            format!(
                "the deposit of {} is more than the {} the agent holds from collections not yet deposited",
                cakupan_domain::Rupiah(amount),
                cakupan_domain::Rupiah(held.max(0))
            ),
        )
        .with_args([amount, held.max(0)])
        .into(),
    )
}

/// Checks an office before it is stored.
pub fn check_office(o: &Office) -> Result<()> {
    let mut errs = Vec::new();
    if !valid_code(&o.code) {
        errs.push(FieldError::new(
            "code",
            "code.format",
            "code must be 3 to 32 capital letters, digits or '-'",
        ));
    }
    let name = o.name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        errs.push(FieldError::new(
            "name",
            "name.length",
            "name must have 1 to 120 characters",
        ));
    } else if let Err(e) = cakupan_domain::participants::check_free_text("name", name, 120) {
        errs.push(e);
    }
    if !OFFICE_KINDS.contains(&o.kind.as_str()) {
        errs.push(FieldError::new(
            "kind",
            "kind.value",
            format!("kind must be one of {}", OFFICE_KINDS.join(", ")),
        ));
    }
    if let Some(to) = o.agreement_to
        && to < o.agreement_from
    {
        errs.push(FieldError::new(
            "agreement_to",
            "agreement_to.before_from",
            "the agreement cannot end before it begins",
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Rejected(cakupan_domain::FieldErrors(errs)))
    }
}

/// Whether `code` is a well-formed office or agent code.
pub fn valid_code(code: &str) -> bool {
    (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// The Perisai network (issue #6): partner offices, agents, deposits and collections.
#[async_trait::async_trait]
pub trait AgentStore: crate::Keyed {
    /// Stores a partner office (checked first); the same office again is a retry, other
    /// details under its code are refused (`code.taken`).
    async fn add_office(&self, office: &Office) -> Result<()>;
    async fn office(&self, code: &str) -> Result<Option<Office>>;
    /// Sets an office's monthly target from `from` on (the same month again replaces it: a
    /// retry or a correction). The office must exist.
    async fn set_office_target(
        &self,
        code: &str,
        from: Month,
        acquisitions: i64,
        set_by: &str,
    ) -> Result<()>;
    /// An office's targets, oldest first: (from month, new participants a month).
    async fn office_targets(&self, code: &str) -> Result<Vec<(Month, i64)>>;
    /// Ends an office's agreement on `last_day` and every one of its agents' appointments from
    /// `from` (a `terminated` event with `reason`), in one transaction. A retry changes
    /// nothing; an earlier end stays.
    async fn end_office_agreement(
        &self,
        code: &str,
        last_day: time::Date,
        from: Month,
        reason: &str,
        by: &str,
        at: i64,
    ) -> Result<()>;
    /// The offices located inside `within`, by code.
    async fn offices(&self, within: RegionCode) -> Result<Vec<Office>>;
    /// Stores an agent and their villages in one transaction: the office must exist, the
    /// participation must be a registered BPU one and not already an agent's. The same agent
    /// again is a retry; other details under the code are refused.
    async fn add_agent(&self, agent: &Agent) -> Result<()>;
    /// Agents with their villages, events and monthly figures.
    async fn agent_records(&self, filter: AgentFilter<'_>) -> Result<Vec<AgentRecord>>;
    /// Agents with their events and monthly figures but not their villages (`villages` is
    /// empty): what an agent's status and month need, a third less to read for a region's
    /// counts (an agent serves many villages).
    async fn agent_standings(&self, filter: AgentFilter<'_>) -> Result<Vec<AgentRecord>>;
    /// Records a reactivation or termination (checked by the caller against the agent's
    /// standing); the same event again is a retry.
    async fn add_agent_event(
        &self,
        code: &str,
        event: &cakupan_domain::agents::AgentEvent,
        by: &str,
        at: i64,
    ) -> Result<()>;
    /// Records a deposit, in one transaction with the check that it does not exceed what the
    /// agent holds (`deposit.above_held`); the same reference with the same content is a retry.
    async fn add_deposit(&self, deposit: &Deposit) -> Result<Deposit>;
    async fn deposits(&self, agent_code: &str) -> Result<Vec<Deposit>>;
    /// The contributions an agent collected, oldest first.
    async fn collections(&self, agent_code: &str) -> Result<Vec<Collection>>;
    /// The collection recorded as posting `posting_id`, if an agent collected it.
    async fn collection(&self, posting_id: i64) -> Result<Option<Collection>>;
    /// The participations an agent acquired, each with its ledger.
    async fn acquired_by(
        &self,
        agent_code: &str,
    ) -> Result<Vec<(Participant, Vec<ledger::LedgerRow>)>>;
    /// Every stored agent-month row, as changes (for `cakupan verify`).
    async fn agent_months_all(&self) -> Result<ledger::AgentChanges>;
    /// The agent-month rows recomputed from the ledger alone.
    async fn recompute_agents(&self) -> Result<ledger::AgentChanges>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn receipts_carry_a_check_digit_and_a_keyed_code() {
        let keys = crate::crypto::Keys::for_tests();
        let n = receipt_number(&keys, 1234);
        assert_eq!(n.len(), 19, "{n}");
        assert_eq!(receipt_posting(&keys, &n), Some(1234));
        assert_eq!(receipt_posting(&keys, &n.to_lowercase()), Some(1234));
        // One digit changed, or two swapped: refused.
        let mut wrong: Vec<char> = n.chars().collect();
        wrong[9] = if wrong[9] == '9' { '8' } else { '9' };
        assert_eq!(
            receipt_posting(&keys, &wrong.iter().collect::<String>()),
            None
        );
        let mut swapped: Vec<char> = n.chars().collect();
        swapped.swap(8, 9);
        if swapped != n.chars().collect::<Vec<_>>() {
            assert_eq!(
                receipt_posting(&keys, &swapped.iter().collect::<String>()),
                None
            );
        }
        assert_eq!(receipt_posting(&keys, "KW"), None);
        assert_eq!(receipt_posting(&keys, "XX0000012343"), None);
        // The number without its code, or with another receipt's code, is not a receipt
        // (issue #17: numbers with a check digit alone were enumerable).
        let (number, _) = n.split_once('-').unwrap();
        assert_eq!(receipt_posting(&keys, number), None);
        let other = receipt_number(&keys, 1235);
        let (_, other_code) = other.split_once('-').unwrap();
        assert_eq!(
            receipt_posting(&keys, &format!("{number}-{other_code}")),
            None
        );
        // Another deployment's keys make other codes.
        let mut text = String::from("index:");
        text.push_str(&"11".repeat(32));
        text.push_str("\nv1:");
        text.push_str(&"22".repeat(32));
        let theirs = crate::crypto::Keys::parse(&text).unwrap();
        assert_eq!(receipt_posting(&theirs, &n), None);
    }
}
