//! Accounts, sessions and the hash-chained audit log, as the backends store them (issue #4).

use crate::crypto::Keys;
use crate::{Result, StoreError};
use cakupan_domain::RegionCode;
use cakupan_domain::access::{Principal, Role};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub role: String,
    /// '' for the nation.
    pub region: String,
    pub agent_code: Option<String>,
    /// Participants: the blind index of their NIK (never the NIK itself).
    pub nik_index: Option<Vec<u8>>,
    pub disabled: bool,
    /// Employers' staff: their employer's NIB.
    pub employer_code: Option<String>,
    /// The password was set by someone else (a reset): it must be changed before anything
    /// else is done.
    pub must_change_password: bool,
}

/// One line of the accounts list (administrators' page): nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListing {
    pub username: String,
    pub role: String,
    /// '' for the nation.
    pub region: String,
    pub disabled: bool,
    pub must_change_password: bool,
    pub second_factor: bool,
}

impl UserRow {
    /// The caller this user acts as.
    pub fn principal(&self) -> Result<Principal> {
        let bad = |what: &str| StoreError::Corrupt(format!("user {}: {what}", self.id));
        Ok(Principal {
            user_id: self.id,
            username: self.username.clone(),
            role: Role::parse(&self.role).ok_or_else(|| bad("role"))?,
            region: if self.region.is_empty() {
                RegionCode::NATION
            } else {
                RegionCode::parse(&self.region).map_err(|_| bad("region"))?
            },
            agent_code: self.agent_code.clone(),
            nik: self.nik_index.as_ref().map(hex::encode),
            employer_code: self.employer_code.clone(),
        })
    }
}

/// A user to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub region: RegionCode,
    pub agent_code: Option<String>,
    /// Participants: the blind index of their NIK (`Store::nik_index`).
    pub nik_index: Option<Vec<u8>>,
    /// Employers' staff: their employer's NIB.
    pub employer_code: Option<String>,
}

/// One audit entry to append: who did what to which record, when, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Unix time in milliseconds.
    pub at: i64,
    pub actor: String,
    pub role: String,
    /// e.g. `participant.read`, `participant.register`, `posting.post`, `user.add`.
    pub action: String,
    /// e.g. `participant:123`.
    pub record: String,
    pub request_id: String,
    /// Why (the lawful purpose): `service`, `enrolment`, `contribution`, `administration`, …
    pub purpose: String,
}

/// A stored audit entry with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn field(h: &mut Hmac<Sha256>, s: &str) {
    // Length-prefixed, so no two different entries serialise alike.
    h.update(&(s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// The chain hash of entry `id` after `prev_hash`: an HMAC under the deployment's audit key
/// (see [`crate::crypto::Keys::audit_mac`]), so a copy of the database is not enough to forge
/// or rewrite the chain.
pub fn chain_hash(keys: &Keys, prev_hash: &str, id: i64, e: &AuditEntry) -> Result<String> {
    let mut h = keys.audit_mac()?;
    field(&mut h, prev_hash);
    h.update(&id.to_be_bytes());
    h.update(&e.at.to_be_bytes());
    for s in [
        &e.actor,
        &e.role,
        &e.action,
        &e.record,
        &e.request_id,
        &e.purpose,
    ] {
        field(&mut h, s);
    }
    Ok(hex::encode(h.finalize().into_bytes()))
}

/// Links new entries after the last stored one (`last`: its id and hash, if any).
pub fn link(
    keys: &Keys,
    last: Option<(i64, String)>,
    entries: &[AuditEntry],
) -> Result<Vec<AuditRecord>> {
    let (mut id, mut prev) = last.unwrap_or((0, GENESIS.to_string()));
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        id += 1;
        let hash = chain_hash(keys, &prev, id, e)?;
        out.push(AuditRecord {
            id,
            entry: e.clone(),
            prev_hash: prev.clone(),
            hash: hash.clone(),
        });
        prev = hash;
    }
    Ok(out)
}

/// Checks the chain a page at a time, so a log of any length is verified in bounded memory:
/// ids must run 1, 2, 3, … and each entry must carry the previous entry's hash and its own
/// recomputed hash.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    prev: String,
    next_id: i64,
}

impl Default for ChainCheck {
    fn default() -> Self {
        ChainCheck {
            prev: GENESIS.to_string(),
            next_id: 1,
        }
    }
}

impl ChainCheck {
    /// Checks the next records in id order; `Err` names the first break.
    pub fn feed(
        &mut self,
        keys: &Keys,
        records: &[AuditRecord],
    ) -> Result<std::result::Result<(), String>> {
        for r in records {
            let want_id = self.next_id;
            if r.id != want_id {
                return Ok(Err(format!(
                    "entry {want_id} is missing (the next stored entry is {}): deleted or reordered",
                    r.id
                )));
            }
            if r.prev_hash != self.prev {
                return Ok(Err(format!(
                    "entry {} does not follow entry {}: its previous hash differs (deleted, inserted or reordered)",
                    r.id,
                    r.id - 1
                )));
            }
            if chain_hash(keys, &self.prev, r.id, &r.entry)? != r.hash {
                return Ok(Err(format!(
                    "entry {} was altered: its hash does not match its content and the audit key",
                    r.id
                )));
            }
            self.prev = r.hash.clone();
            self.next_id += 1;
        }
        Ok(Ok(()))
    }

    /// Entries checked so far.
    pub fn count(&self) -> u64 {
        (self.next_id - 1).max(0) as u64
    }

    /// The hash of the last entry checked (GENESIS before any): record it outside the database
    /// to detect entries removed from the end.
    pub fn last_hash(&self) -> &str {
        &self.prev
    }
}

/// Checks a whole chain held in memory (tests and small logs): the number of entries, or where
/// it breaks.
pub fn verify_chain(keys: &Keys, records: &[AuditRecord]) -> std::result::Result<u64, String> {
    let mut c = ChainCheck::default();
    match c.feed(keys, records) {
        Ok(Ok(())) => Ok(c.count()),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(e.to_string()),
    }
}

/// A consent decision of one person for one purpose (UU 27/2022 arts. 20–24, 40).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consent {
    pub purpose: String,
    /// The version of the notice the person was shown.
    pub notice_version: String,
    /// `given` or `withdrawn`.
    pub decision: String,
    /// Unix seconds.
    pub at: i64,
    /// How it was recorded: `self` (the participant, signed in) or `branch`.
    pub channel: String,
}

/// A request to correct a participant's data (UU 27/2022 art. 30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Correction {
    pub id: i64,
    pub participant_id: i64,
    pub village_code: String,
    pub field: String,
    pub value: String,
    pub reason: String,
    /// Unix seconds.
    pub requested_at: i64,
    pub due_at: i64,
    /// `open`, `done` (applied to the record) or `refused`.
    pub status: String,
    /// Unix seconds, once decided.
    pub decided_at: Option<i64>,
    /// The reviewer's username, once decided.
    pub decided_by: Option<String>,
    /// The reviewer's note to the participant, once decided.
    pub note: Option<String>,
}

/// Columns of `corrections` in the order [`crate::rows::correction`] reads them.
pub const CORRECTION_COLUMNS: &str = "id, participant_id, village_code, field, value, reason, requested_at, due_at, status, decided_at, decided_by, note";

/// A reviewer's decision on an open correction request.
#[derive(Debug, Clone)]
pub struct CorrectionDecision {
    pub id: i64,
    /// `done` (applied) or `refused`.
    pub status: String,
    pub decided_by: String,
    /// Unix seconds.
    pub decided_at: i64,
    pub note: String,
    /// For `done`: the participation as corrected, validated by the caller. Its NIK and segment
    /// must be those stored; a changed village moves its counters.
    pub corrected: Option<cakupan_domain::participants::Registration>,
}

impl CorrectionDecision {
    /// Whether a request already decided was decided this way (a retry), else the refusal.
    pub fn settle(&self, stored: &Correction) -> Result<()> {
        if stored.status == self.status {
            return Ok(());
        }
        Err(StoreError::Rejected(
            cakupan_domain::FieldError::new(
                "decision",
                "correction.decided",
                format!(
                    "correction {} was already decided: {}",
                    stored.id, stored.status
                ),
            )
            .into(),
        ))
    }

    /// The corrected participation of a `done` decision, checked against the stored one.
    pub fn corrected_for(
        &self,
        stored: &crate::Participant,
    ) -> Result<Option<&cakupan_domain::participants::Registration>> {
        let Some(r) = &self.corrected else {
            return Ok(None);
        };
        if r.nik != stored.registration.nik || r.segment != stored.registration.segment {
            return Err(StoreError::Rejected(
                cakupan_domain::FieldError::new(
                    "field",
                    "correction.identity",
                    "a correction cannot change the NIK or the segment of a participation",
                )
                .into(),
            ));
        }
        Ok(Some(r))
    }
}

/// The sealed note of a decided correction: bound to the request's row.
pub fn seal_note(keys: &Keys, c: &Correction, note: &str) -> Result<Vec<u8>> {
    keys.seal(
        "corrections",
        c.participant_id,
        &correction_column(&c.field, c.requested_at, &format!("note/{}", c.id)),
        note,
    )
}

/// The associated-data column of a correction's sealed value or reason.
pub fn correction_column(field: &str, requested_at: i64, part: &str) -> String {
    format!("{field}/{requested_at}/{part}")
}

/// SHA-256 of a session token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Accounts: users, sessions, second factors and the hash-chained audit log.
#[async_trait::async_trait]
pub trait AccountStore: crate::Keyed {
    /// Creates a user; a taken username is [`crate::StoreError::Rejected`] naming `username`.
    async fn create_user(&self, user: &NewUser, now: i64) -> Result<i64>;
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>>;
    async fn count_users(&self) -> Result<u64>;
    /// The participant account of the person with this NIK index (signing in with a code).
    async fn participant_user(&self, nik_index: &[u8]) -> Result<Option<UserRow>>;
    /// Stores a session by the SHA-256 of its token (unix seconds).
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// The user of an unexpired session of an enabled account.
    /// The user of a live session: not past its end, used within the last `idle_secs`, its
    /// account not disabled. Marks the session used (at most once a minute).
    async fn session_user(
        &self,
        token_hash: &str,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<UserRow>>;
    /// Ends every session of a user but `keep` (a token hash): all of them when `None`. The
    /// number ended.
    async fn end_sessions(&self, user_id: i64, keep: Option<&str>) -> Result<u64>;
    /// Keeps `keep` (the session just opened) and the user's newest others up to `newest`
    /// sessions in all (by sign-in), and ends the older ones and the expired.
    async fn trim_sessions(&self, user_id: i64, keep: &str, newest: u32, now: i64) -> Result<u64>;
    /// Sets a user's password hash; `must_change` makes the next sign-in change it first.
    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        must_change: bool,
    ) -> Result<()>;
    /// Disables or enables a user (a disabled user's sessions stop working at once).
    async fn set_disabled(&self, user_id: i64, disabled: bool) -> Result<()>;
    /// Every account, by username, as the administrators' page lists them.
    async fn users(&self) -> Result<Vec<UserListing>>;
    /// A user's sealed TOTP secret, if they have a second factor.
    async fn totp_secret(&self, user_id: i64) -> Result<Option<Vec<u8>>>;
    /// Sets (or with `None` removes) a user's sealed TOTP secret and replaces their recovery
    /// codes (hashes), in one transaction.
    async fn set_totp(
        &self,
        user_id: i64,
        sealed: Option<&[u8]>,
        recovery_hashes: &[String],
    ) -> Result<()>;
    /// Records that a TOTP code of time step `step` was used: false if that step or a later
    /// one was used already (a code is good once).
    async fn advance_totp_step(&self, user_id: i64, step: i64) -> Result<bool>;
    /// Spends a recovery code: false if it is not one of the user's or was spent.
    async fn use_recovery_code(&self, user_id: i64, code_hash: &str, now: i64) -> Result<bool>;
    /// Ends a session (logout); ending one that is gone is not an error.
    async fn delete_session(&self, token_hash: &str) -> Result<()>;

    /// Appends entries to the hash-chained audit log, in order, in one transaction.
    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<()>;
    /// Up to `limit` audit entries with ids above `after`, in id order.
    async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>>;
    /// The whole audit log in id order (tests and small logs; `audit_verify` pages).
    async fn audit_log(&self) -> Result<Vec<AuditRecord>> {
        let mut out: Vec<AuditRecord> = Vec::new();
        loop {
            let after = out.last().map(|r| r.id).unwrap_or(0);
            let page = self.audit_page(after, 10_000).await?;
            if page.is_empty() {
                return Ok(out);
            }
            out.extend(page);
        }
    }
    /// Checks the whole chain a page at a time (`cakupan audit verify`): the check's state
    /// (entries and last hash) and the first break, if any.
    async fn audit_verify(&self) -> Result<(ChainCheck, std::result::Result<(), String>)> {
        let mut check = ChainCheck::default();
        let mut after = 0;
        loop {
            let page = self.audit_page(after, 10_000).await?;
            let Some(last) = page.last() else {
                return Ok((check, Ok(())));
            };
            after = last.id;
            if let Err(e) = check.feed(self.keys(), &page)? {
                return Ok((check, Err(e)));
            }
        }
    }
    /// The anchor of the log as it stands, from its last entry alone (ids run without gaps, so
    /// the last id is the count): one row read, whatever the log's length. The chain is not
    /// checked here (`audit_verify` does that).
    async fn audit_anchor(&self) -> Result<Anchor>;
    /// Whether the log still holds an earlier anchor's entry with the anchor's hash.
    async fn audit_holds(&self, anchor: &Anchor) -> Result<std::result::Result<(), String>> {
        if anchor.count <= 0 {
            return Ok(Ok(()));
        }
        let page = self.audit_page(anchor.count - 1, 1).await?;
        Ok(anchor.check(page.first()))
    }
    /// The audit entries about these records (`participant:<id>`), in id order: a person's
    /// processing log.
    async fn audit_for(&self, records: &[String]) -> Result<Vec<AuditRecord>>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(n: i64) -> AuditEntry {
        AuditEntry {
            at: 1_700_000_000_000 + n,
            actor: "siti".into(),
            role: "branch_officer".into(),
            action: "participant.read".into(),
            record: format!("participant:{n}"),
            request_id: format!("r{n}"),
            purpose: "service".into(),
        }
    }

    #[test]
    fn tampering_breaks_the_chain() {
        let k = Keys::for_tests();
        let entries: Vec<AuditEntry> = (1..=5).map(entry).collect();
        let mut chain = link(&k, None, &entries[..3]).unwrap();
        let last = chain.last().map(|r| (r.id, r.hash.clone()));
        chain.extend(link(&k, last, &entries[3..]).unwrap());
        assert_eq!(verify_chain(&k, &chain), Ok(5));
        let mut edited = chain.clone();
        edited[2].entry.record = "participant:999".into();
        assert!(
            verify_chain(&k, &edited)
                .unwrap_err()
                .contains("entry 3 was altered")
        );
        let mut deleted = chain.clone();
        deleted.remove(1);
        assert!(
            verify_chain(&k, &deleted)
                .unwrap_err()
                .contains("entry 2 is missing")
        );
        let mut reordered = chain.clone();
        reordered.swap(1, 2);
        assert!(verify_chain(&k, &reordered).is_err());
        // Rewriting one entry's hash to match does not help: the next one no longer follows.
        let mut rehashed = chain.clone();
        rehashed[2].entry.record = "participant:999".into();
        rehashed[2].hash = chain_hash(&k, &rehashed[2].prev_hash, 3, &rehashed[2].entry).unwrap();
        assert!(
            verify_chain(&k, &rehashed)
                .unwrap_err()
                .contains("entry 4 does not follow")
        );
        // A truncated tail is not detectable from the chain alone (see docs/security.md).
        assert_eq!(verify_chain(&k, &chain[..4]), Ok(4));
    }

    #[test]
    fn a_chain_rewritten_without_the_key_does_not_verify() {
        // Someone with write access to the table but not the key file recomputes the whole
        // chain under a key of their own: the real key finds the first entry altered.
        let k = Keys::for_tests();
        let entries: Vec<AuditEntry> = (1..=3).map(entry).collect();
        let mut forged_entries = entries.clone();
        forged_entries[0].actor = "someone-else".into();
        let other = Keys::parse(&Keys::generate().unwrap()).unwrap();
        let forged = link(&other, None, &forged_entries).unwrap();
        assert_eq!(verify_chain(&other, &forged), Ok(3));
        assert!(
            verify_chain(&k, &forged)
                .unwrap_err()
                .contains("entry 1 was altered")
        );
    }

    #[test]
    fn a_chain_checked_page_by_page_equals_all_at_once() {
        let k = Keys::for_tests();
        let entries: Vec<AuditEntry> = (1..=10).map(entry).collect();
        let chain = link(&k, None, &entries).unwrap();
        let mut c = ChainCheck::default();
        for page in chain.chunks(3) {
            assert_eq!(c.feed(&k, page).unwrap(), Ok(()));
        }
        assert_eq!(c.count(), 10);
        assert_eq!(c.last_hash(), chain[9].hash);
    }
}

/// The audit entry a registration writes in its own transaction, chosen by its outcome: the
/// entry for a new participation or for one already stored (a retry); the record is set to
/// `participant:<id>`. A conflict writes none. Owned, so that a store may gather concurrent
/// registrations into one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationAudit {
    pub created: AuditEntry,
    pub existing: AuditEntry,
}

impl RegistrationAudit {
    pub fn for_outcome(&self, o: &crate::Outcome) -> Option<AuditEntry> {
        let (entry, id) = match o {
            crate::Outcome::Created { id, .. } => (&self.created, *id),
            crate::Outcome::Existing { id, .. } => (&self.existing, *id),
            crate::Outcome::Conflict { .. } => return None,
        };
        let mut e = entry.clone();
        e.record = format!("participant:{id}");
        Some(e)
    }
}

/// A point of the audit chain kept outside the database (issue #17): its number of entries
/// and the hash of the last. A chain that verifies on its own can still have lost its tail
/// (or been wiped: an empty log verifies); against an earlier anchor it must still hold entry
/// `count` with `hash`. Written as one line, `audit anchor count=N hash=H at=T`, which the
/// server also writes to its log at start and every hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub count: i64,
    pub hash: String,
}

impl Anchor {
    /// The anchor's line, stamped with when it was taken.
    pub fn line(&self, at: &str) -> String {
        format!(
            "audit anchor count={} hash={} at={at}",
            self.count, self.hash
        )
    }

    /// Every anchor in a text (a file of anchor lines, or a server log holding them).
    pub fn all_in(text: &str) -> Vec<Anchor> {
        text.lines()
            .filter(|l| l.contains("audit anchor"))
            .filter_map(|l| {
                let field = |k: &str| {
                    l.split_whitespace()
                        .find_map(|w| w.strip_prefix(k))
                        .map(|v| v.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
                };
                let count = field("count=")?.parse().ok()?;
                let hash = field("hash=")?;
                (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Anchor {
                    count,
                    hash: hash.to_ascii_lowercase(),
                })
            })
            .collect()
    }

    /// Whether `record` (the entry numbered `count`, if the log has one) matches: `Err` says
    /// how the log departs from the anchor.
    pub fn check(&self, record: Option<&AuditRecord>) -> std::result::Result<(), String> {
        if self.count == 0 {
            return Ok(());
        }
        match record {
            Some(r) if r.id == self.count && r.hash == self.hash => Ok(()),
            Some(r) if r.id == self.count => Err(format!(
                "entry {} differs from the anchor (hash {}…): the log was rewritten",
                self.count,
                &self.hash[..12]
            )),
            _ => Err(format!(
                "the log no longer holds entry {} of the anchor (hash {}…): it was truncated or wiped",
                self.count,
                &self.hash[..12]
            )),
        }
    }
}
