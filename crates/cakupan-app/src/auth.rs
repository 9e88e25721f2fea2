//! Passwords, sign-in limits and lockouts, tokens, and the access decisions every feature
//! asks (an administrator; a participant's record as a resource; a conflict outside the
//! caller's area). The HTTP side (who the caller of a request is) is `cakupan_server::auth`.

use crate::Context;
use crate::error::AppError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use cakupan_domain::access::{Action, Principal, Resource, authorize};
use cakupan_domain::rules::SecurityRule;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Argon2id cost: memory in KiB, passes, lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Cost {
    /// The OWASP minimum (19 MiB, 2 passes, 1 lane): the starting point of tuning.
    pub const OWASP: Cost = Cost {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };
    /// Only for tests: as cheap as Argon2 allows. Never used unless asked for by name.
    pub const TEST_ONLY: Cost = Cost {
        m_kib: 8,
        t: 1,
        p: 1,
    };

    fn hasher(self) -> Result<Argon2<'static>, argon2::Error> {
        Ok(Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(self.m_kib, self.t, self.p, None)?,
        ))
    }

    /// The cost whose hash takes about `target` here with `m_kib` of memory: passes grow from
    /// one until a hash takes at least the target (at most 64). Memory stays fixed, so the
    /// memory of every hash is known in advance and bounded by the hashing budget.
    pub fn tuned(target: Duration, m_kib: u32) -> Cost {
        let mut c = Cost {
            m_kib: m_kib.max(Cost::OWASP.m_kib),
            t: 1,
            p: 1,
        };
        loop {
            let started = Instant::now();
            if hash_with(c, "tuning the password hash cost").is_err() {
                return Cost::OWASP;
            }
            let took = started.elapsed();
            if took >= target || c.t >= 64 {
                return c;
            }
            // Time grows with passes about linearly: jump close to the target, then step.
            let ratio = target.as_secs_f64() / took.as_secs_f64().max(1e-6);
            let next = ((f64::from(c.t) * ratio).floor() as u32).clamp(c.t + 1, 64);
            c.t = next;
        }
    }

    /// The memory one hash at this cost holds, in MiB (rounded up).
    pub fn memory_mib(self) -> u32 {
        self.m_kib.div_ceil(1024)
    }

    /// Whether a hash made at `stored` should be made again at this cost: another memory or
    /// lane count (the hashing budget counts memory), or fewer passes. A few more passes than
    /// this server's own tuning measured are left alone (tuning varies from start to start).
    pub fn redo(self, stored: Option<Cost>) -> bool {
        stored.is_none_or(|c| c.m_kib != self.m_kib || c.p != self.p || c.t < self.t)
    }

    /// The cost a stored PHC string was made with, if it can be read.
    pub fn of_stored(stored: &str) -> Option<Cost> {
        let h = PasswordHash::new(stored).ok()?;
        let p = Params::try_from(&h).ok()?;
        Some(Cost {
            m_kib: p.m_cost(),
            t: p.t_cost(),
            p: p.p_cost(),
        })
    }
}

fn hash_with(cost: Cost, password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    cost.hasher()
        .map_err(|e| e.to_string())?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a stored PHC string (the comparison is constant-time).
pub fn verify_password(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A new opaque session token: 32 random bytes, hex.
pub fn new_token() -> Result<String, String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| e.to_string())?;
    Ok(hex::encode(b))
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    cakupan_store::clock::now_secs()
}

/// Failed sign-ins per key (a username, an address) in a sliding window.
#[derive(Debug, Default)]
struct Failures(HashMap<String, Vec<Instant>>);

impl Failures {
    fn recent(&mut self, key: &str, window: Duration, now: Instant) -> &mut Vec<Instant> {
        let v = self.0.entry(key.to_string()).or_default();
        v.retain(|t| now.duration_since(*t) < window);
        v
    }
}

/// What signing in needs besides the store.
#[derive(Debug)]
pub struct Auth {
    /// Session cookies carry `Secure` (set when serving TLS).
    pub secure_cookies: bool,
    pub cost: Cost,
    pub policy: SecurityRule,
    /// A hash of a random password at `cost`, checked when a username is unknown.
    pub dummy_hash: String,
    by_username: Mutex<Failures>,
    by_ip: Mutex<Failures>,
    /// Public receipt checks per address in the last minute.
    receipt_checks: Mutex<Failures>,
    /// One-time codes sent (issue #20), per phone, NIK or KPJ, and address, in the last hour.
    code_sends: Mutex<Failures>,
    /// The password-hashing memory budget, one permit per MiB: a hash holds as many permits
    /// as its memory while it runs.
    hashing: Arc<tokio::sync::Semaphore>,
    budget_mib: u32,
}

/// Every password hash the budget allows is running: try again after `retry_after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub retry_after: Duration,
}

/// Why a sign-in is refused before the password is even checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub what: &'static str,
    pub retry_after: Duration,
}

impl Auth {
    pub fn new(cost: Cost, policy: SecurityRule) -> Auth {
        let dummy_hash = new_token()
            .and_then(|t| hash_with(cost, &t))
            .unwrap_or_default();
        Auth {
            secure_cookies: false,
            cost,
            dummy_hash,
            by_username: Mutex::default(),
            by_ip: Mutex::default(),
            receipt_checks: Mutex::default(),
            code_sends: Mutex::default(),
            hashing: Arc::new(tokio::sync::Semaphore::new(
                policy.password_hashing_budget_mib as usize,
            )),
            budget_mib: policy.password_hashing_budget_mib,
            policy,
        }
    }

    /// Counts one public receipt check from `ip`, or refuses it when the address has made
    /// `receipt_checks_per_minute` in the last minute: how long until the next is allowed.
    /// Addresses not seen for a minute are forgotten once many are held.
    pub fn receipt_check(&self, ip: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let mut m = self
            .receipt_checks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if m.0.len() > 10_000 {
            m.0.retain(|_, v| v.last().is_some_and(|t| now.duration_since(*t) < minute));
        }
        let recent = m.recent(ip, minute, now);
        if recent.len() >= self.policy.receipt_checks_per_minute as usize {
            let oldest = recent.first().copied().unwrap_or(now);
            return Err(minute.saturating_sub(now.duration_since(oldest)));
        }
        recent.push(now);
        Ok(())
    }

    /// Counts one code sent under each of `keys` (what it is counted by, and the most allowed in
    /// an hour), or refuses when any of them has reached its limit, counting nothing: how long
    /// until the next is allowed. Keys not seen for an hour are forgotten once many are held.
    pub fn code_send(&self, keys: &[(String, u32)]) -> Result<(), Duration> {
        let now = Instant::now();
        let hour = Duration::from_secs(3600);
        let mut m = self.code_sends.lock().unwrap_or_else(|p| p.into_inner());
        if m.0.len() > 100_000 {
            m.0.retain(|_, v| v.last().is_some_and(|t| now.duration_since(*t) < hour));
        }
        let mut wait = Duration::ZERO;
        for (key, limit) in keys {
            let recent = m.recent(key, hour, now);
            if recent.len() >= *limit as usize {
                let oldest = recent.first().copied().unwrap_or(now);
                wait = wait.max(hour.saturating_sub(now.duration_since(oldest)));
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        for (key, _) in keys {
            m.recent(key, hour, now).push(now);
        }
        Ok(())
    }

    /// A share of the hashing budget for one hash at `cost`, or [`Busy`] at once when the
    /// budget is spent: nothing waits, so no number of requests can hold more memory than the
    /// budget. A hash larger than the whole budget takes the whole budget.
    pub fn hashing_permit(&self, cost: Cost) -> Result<tokio::sync::OwnedSemaphorePermit, Busy> {
        let need = cost.memory_mib().clamp(1, self.budget_mib.max(1));
        self.hashing
            .clone()
            .try_acquire_many_owned(need)
            .map_err(|_| Busy {
                retry_after: Duration::from_millis(
                    u64::from(self.policy.argon2_target_ms).max(1000),
                ),
            })
    }

    /// A session unused this long ends (`session_idle_minutes`), in seconds.
    pub fn idle_secs(&self) -> i64 {
        i64::from(self.policy.session_idle_minutes.max(1)) * 60
    }

    /// How many hashes at this server's own cost can run at once under the budget.
    pub fn parallel_hashes(&self) -> u32 {
        (self.budget_mib / self.cost.memory_mib().max(1)).max(1)
    }

    /// Checks a password against a stored hash under a permit of the budget
    /// ([`Auth::hashing_permit`] for the stored hash's cost), off the async workers; the
    /// permit is given back when the hash ends, even if the request has gone.
    pub async fn verify(
        permit: tokio::sync::OwnedSemaphorePermit,
        stored: String,
        password: String,
    ) -> bool {
        tokio::task::spawn_blocking(move || {
            let ok = verify_password(&stored, &password);
            drop(permit);
            ok
        })
        .await
        .unwrap_or(false)
    }

    /// Hashes a new password within the budget, off the async workers.
    pub async fn hash(&self, password: String) -> Result<Result<String, String>, Busy> {
        let permit = self.hashing_permit(self.cost)?;
        let cost = self.cost;
        Ok(tokio::task::spawn_blocking(move || {
            let h = hash_with(cost, &password);
            drop(permit);
            h
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string())))
    }

    /// The same, with `Secure` session cookies (under TLS).
    pub fn with_secure_cookies(mut self, on: bool) -> Auth {
        self.secure_cookies = on;
        self
    }

    pub fn hash_password(&self, password: &str) -> Result<String, String> {
        hash_with(self.cost, password)
    }

    fn window(&self) -> Duration {
        Duration::from_secs(u64::from(self.policy.failure_window_minutes) * 60)
    }

    fn lockout(&self) -> Duration {
        Duration::from_secs(u64::from(self.policy.lockout_minutes) * 60)
    }

    /// Reserves one sign-in attempt for a username and an address before the password is
    /// checked, or refuses it when either has its limit of recent attempts: the attempt counts
    /// as a failure from now on, so parallel guesses can never evaluate more passwords than
    /// the limit in a window (they used to be checked before the ~250 ms hash and recorded
    /// after it: 40 at once got one right password through). Both maps are held together, so
    /// the check and the reservation are one step. A success gives the reservation back
    /// ([`Auth::succeeded`]).
    pub fn reserve(&self, username: &str, ip: &str) -> Result<Instant, Locked> {
        let now = Instant::now();
        let window = self.window().max(self.lockout());
        let mut users = self.by_username.lock().unwrap_or_else(|p| p.into_inner());
        let mut ips = self.by_ip.lock().unwrap_or_else(|p| p.into_inner());
        for (m, key, limit, what) in [
            (
                &mut *users,
                username,
                self.policy.login_failures_per_username,
                "this username",
            ),
            (
                &mut *ips,
                ip,
                self.policy.login_failures_per_ip,
                "this address",
            ),
        ] {
            let recent = m.recent(key, window, now);
            if recent.len() >= limit as usize
                && let Some(last) = recent.last()
            {
                let since = now.duration_since(*last);
                if since < self.lockout() {
                    return Err(Locked {
                        what,
                        retry_after: self.lockout() - since,
                    });
                }
            }
        }
        users.recent(username, window, now).push(now);
        ips.recent(ip, window, now).push(now);
        Ok(now)
    }

    /// A reserved attempt that signed in: the username's failures are forgotten and the
    /// address's reservation given back.
    pub fn succeeded(&self, username: &str, ip: &str, reserved: Instant) {
        self.by_username
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .remove(username);
        let mut ips = self.by_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = ips.0.get_mut(ip)
            && let Some(i) = v.iter().position(|t| *t == reserved)
        {
            v.remove(i);
        }
    }
}

/// The CSRF token of a cookie session: derived from the session token, so nothing more is
/// stored, and unguessable without it. Pages put it in forms and in `X-CSRF-Token`.
pub fn csrf_token(session_token: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"cakupan csrf\0");
    h.update(session_token.as_bytes());
    hex::encode(h.finalize())[..32].to_string()
}

/// Compares two secrets in time that depends only on their lengths.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The audit entry of `who` doing `action` to `record` now, for `purpose`: the one shape the
/// API and the pages write.
pub fn audit_entry(
    who: &Principal,
    request_id: &str,
    action: &str,
    record: String,
    purpose: &str,
) -> cakupan_store::accounts::AuditEntry {
    cakupan_store::accounts::AuditEntry {
        at: cakupan_store::clock::now_millis(),
        actor: who.username.clone(),
        role: who.role.as_str().into(),
        action: action.into(),
        record,
        request_id: request_id.to_string(),
        purpose: purpose.into(),
    }
}

/// The one access decision (`cakupan_domain::access::authorize`) as the services' error: a
/// refusal is `Forbidden` (403) with its reason.
pub fn allow(who: &Principal, action: Action, what: &Resource) -> Result<(), AppError> {
    authorize(who, action, what).map_err(|d| AppError::Forbidden(d.0.into()))
}

/// Appends one audit entry as `who`; the operation fails if it cannot be written.
pub async fn audit(
    st: &Context,
    who: &Principal,
    request_id: &str,
    action: &str,
    record: String,
    purpose: &str,
) -> Result<(), AppError> {
    st.store
        .append_audit(&[audit_entry(who, request_id, action, record, purpose)])
        .await?;
    Ok(())
}

/// What access decisions need to know of a participation (the NIK by its blind index, the
/// form participant accounts carry).
pub fn participant_resource(st: &Context, p: &cakupan_store::Participant) -> Resource {
    Resource::Participant {
        village: p.registration.village,
        agent_code: p.registration.agent_code.clone(),
        nik: hex::encode(st.store.nik_index(&p.registration.nik)),
    }
}

/// What a registration that meets another participation of the same NIK and segment may tell
/// its caller: the KPJ when the caller may read that participation, nothing of it otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictView {
    /// The caller may read it: its KPJ, to find it.
    Visible { kpj: String },
    /// It lies outside the caller's area: neither its KPJ nor its region is told (issue #17:
    /// the 409 used to carry the KPJ while a look-up of the same NIK answered 404).
    Elsewhere,
}

/// Decides what a registration conflict may show `who`, and audits a conflict outside their
/// area (the holding region's participation is named in the audit, not in the answer).
pub async fn registration_conflict(
    st: &Context,
    who: &Principal,
    request_id: &str,
    kpj: &str,
) -> Result<ConflictView, AppError> {
    let existing = st.store.participant_by_kpj(kpj).await?;
    let visible = existing.as_ref().is_some_and(|p| {
        authorize(who, Action::ReadPersonal, &participant_resource(st, p)).is_ok()
    });
    if visible {
        return Ok(ConflictView::Visible {
            kpj: kpj.to_string(),
        });
    }
    let record = existing.map_or_else(String::new, |p| format!("participant:{}", p.id));
    audit(
        st,
        who,
        request_id,
        "participant.register_conflict_elsewhere",
        record,
        "enrolment",
    )
    .await?;
    Ok(ConflictView::Elsewhere)
}

/// Only administrators manage accounts.
pub fn authorize_admin(who: &Principal) -> Result<(), AppError> {
    allow(who, Action::Administer, &Resource::System)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cakupan_domain::RuleSet;

    fn auth() -> Auth {
        let rules = RuleSet::builtin().unwrap();
        let policy = rules.security.first().unwrap().clone();
        Auth::new(Cost::TEST_ONLY, policy)
    }

    #[test]
    fn passwords_hash_and_verify() {
        let a = auth();
        let h = a.hash_password("kerja keras bebas cemas").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "kerja keras bebas cemas"));
        assert!(!verify_password(&h, "kerja keras bebas cemaS"));
        assert!(!verify_password("not a hash", "x"));
        // Salted: the same password hashes differently.
        assert_ne!(h, a.hash_password("kerja keras bebas cemas").unwrap());
    }

    #[test]
    fn too_many_failures_lock_the_username() {
        let a = auth();
        for _ in 0..a.policy.login_failures_per_username {
            assert!(a.reserve("siti", "10.0.0.1").is_ok());
        }
        let locked = a.reserve("siti", "10.0.0.2").unwrap_err();
        assert_eq!(locked.what, "this username");
        assert!(locked.retry_after <= Duration::from_secs(15 * 60));
        // Another username from the same address is not locked yet.
        assert!(a.reserve("budi", "10.0.0.1").is_ok());
    }

    /// Issue 17, item 2: 100 guesses at once, none of them finished (each still hashing),
    /// reserve no more attempts than the limit; the rest are refused before any hash. (With the
    /// old check-then-record, every one of them passed the check.)
    #[test]
    fn parallel_guesses_cannot_pass_the_limit() {
        let a = std::sync::Arc::new(auth());
        let start = std::sync::Arc::new(std::sync::Barrier::new(100));
        let threads: Vec<_> = (0..100)
            .map(|i| {
                let (a, start) = (a.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    a.reserve("siti", &format!("10.0.1.{i}")).is_ok()
                })
            })
            .collect();
        let passed = threads
            .into_iter()
            .map(|t| t.join())
            .filter(|r| matches!(r, Ok(true)))
            .count();
        assert_eq!(passed, a.policy.login_failures_per_username as usize);
        // A success gives its reservation back: the address is not held against later users.
        let b = auth();
        let r = b.reserve("budi", "10.0.0.9").unwrap();
        b.succeeded("budi", "10.0.0.9", r);
        for i in 0..b.policy.login_failures_per_ip {
            assert!(b.reserve(&format!("user{i}"), "10.0.0.9").is_ok(), "{i}");
        }
        assert!(b.reserve("one-more", "10.0.0.9").is_err());
    }

    #[test]
    fn tokens_are_random() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
