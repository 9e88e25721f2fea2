//! `cakupan user …` and `cakupan audit verify|anchor`: accounts and the audit log from the command line (issue #4).

use crate::Reference;
use anyhow::{Context as _, Result, anyhow, bail};
use cakupan_app::auth::{Auth, Cost};
use cakupan_domain::Month;
use cakupan_store::Store;
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-file a random password is generated and shown once;
    /// no account, the first administrator included, ever has a default password.
    Add {
        #[arg(long)]
        username: String,
        /// admin, analyst, branch_officer, agent, village_official, participant or employer.
        #[arg(long)]
        role: String,
        /// The root of the user's area (none for admin and analyst; a village for village
        /// officials).
        #[arg(long)]
        region: Option<String>,
        /// Agents: their agent code (participants they enrol carry it).
        #[arg(long)]
        agent_code: Option<String>,
        /// Participants: their NIK.
        #[arg(long)]
        nik: Option<String>,
        /// Employers' staff: their employer's NIB (the employer's region is theirs).
        #[arg(long)]
        employer: Option<String>,
        /// Read the password from this file (its first line).
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
    },
    /// Measure the Argon2id cost that takes the configured time per hash on this machine.
    Tune,
    /// Disable an account: it cannot sign in and its sessions end at once.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled account again.
    Enable {
        #[arg(long)]
        username: String,
    },
    /// End every session of an account (a lost phone, a shared computer).
    EndSessions {
        #[arg(long)]
        username: String,
    },
    /// Reset an account's password: a one-time password, shown once, that must be changed at
    /// the next sign-in; the account's sessions end.
    ResetPassword {
        #[arg(long)]
        username: String,
    },
    /// Set up (or replace) an account's TOTP second factor: prints the key for an
    /// authenticator app and one-time recovery codes, once.
    Totp {
        #[arg(long)]
        username: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of the audit log: an edited, deleted or reordered entry is found
    /// and named (exit 1). With --anchor, also check that the log still holds every anchor in
    /// the file (a truncated or wiped log fails).
    Verify {
        /// A file of anchor lines (`audit anchor` output, or the server's log, which writes
        /// one at start and every hour).
        #[arg(long)]
        anchor: Option<PathBuf>,
    },
    /// Print the log's anchor (entries and last hash) after checking the chain; with --out,
    /// also append it to that file. Keep anchors away from the database (another machine,
    /// paper): against them a truncation is found.
    Anchor {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The password-hashing cost: `CAKUPAN_ARGON2=m=<KiB>,t=<passes>,p=<lanes>` when set, else
/// tuned on this machine to the target time of `rules/security.toml`.
pub fn password_cost(reference: &Reference) -> Result<Cost> {
    if let Ok(v) = std::env::var("CAKUPAN_ARGON2") {
        let mut c = Cost::OWASP;
        for part in v.split(',') {
            let (k, n) = part
                .split_once('=')
                .ok_or_else(|| anyhow!("CAKUPAN_ARGON2: '{part}' is not key=value"))?;
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| anyhow!("CAKUPAN_ARGON2: {k} must be a whole number"))?;
            match k.trim() {
                "m" => c.m_kib = n,
                "t" => c.t = n,
                "p" => c.p = n,
                other => bail!("CAKUPAN_ARGON2: unknown key {other} (m, t, p)"),
            }
        }
        if c.m_kib < Cost::OWASP.m_kib || c.t < Cost::OWASP.t {
            tracing::warn!(
                "CAKUPAN_ARGON2 is below the OWASP minimum (m=19456,t=2): for tests only"
            );
        }
        return Ok(c);
    }
    let policy = policy(reference)?;
    Ok(Cost::tuned(
        Duration::from_millis(u64::from(policy.argon2_target_ms)),
        policy.argon2_memory_kib,
    ))
}

fn policy(reference: &Reference) -> Result<cakupan_domain::rules::SecurityRule> {
    reference
        .rules
        .security(Month::of(cakupan_app::today_wib()))
        .cloned()
        .context("rules/security.toml has no row in force")
}

/// Sign-in support for the server: the cost and the policy.
pub fn auth(reference: &Reference) -> Result<Auth> {
    Ok(Auth::new(password_cost(reference)?, policy(reference)?))
}

/// The command line acts as `cli` with the administrator's role (whoever can run it holds the
/// keys), as in the audit log.
pub fn cli_admin() -> cakupan_domain::access::Principal {
    cakupan_domain::access::Principal {
        user_id: 0,
        username: "cli".into(),
        role: cakupan_domain::access::Role::Admin,
        region: cakupan_domain::RegionCode::NATION,
        agent_code: None,
        nik: None,
        employer_code: None,
    }
}

/// Creates a user through the same service as the API and the pages (every rule, one audit
/// entry `user.add` by `cli`); returns the password to print when it was generated (it must
/// then be changed at the first sign-in).
#[allow(clippy::too_many_arguments)]
pub async fn add_user(
    store: std::sync::Arc<dyn Store>,
    reference: &Reference,
    username: &str,
    role: &str,
    region: Option<&str>,
    agent_code: Option<&str>,
    nik: Option<&str>,
    employer: Option<&str>,
    password: Option<String>,
) -> Result<cakupan_app::accounts::CreatedAccount> {
    let st = crate::agents::state(store, reference)?;
    let new = cakupan_app::accounts::NewAccount {
        username: username.to_string(),
        role: role.to_string(),
        region: region.map(String::from),
        agent_code: agent_code.map(String::from),
        nik: nik.map(String::from),
        employer: employer.map(String::from),
    };
    cakupan_app::accounts::create_account(&st, &cli_admin(), "cli", &new, password)
        .await
        .map_err(crate::agents::api)
}

pub async fn run(
    shared: std::sync::Arc<dyn Store>,
    reference: &Reference,
    cmd: UserCommand,
) -> Result<()> {
    match cmd {
        UserCommand::Add {
            username,
            role,
            region,
            agent_code,
            nik,
            employer,
            password_file,
        } => {
            let password = match password_file {
                None => None,
                Some(f) => Some(
                    std::fs::read_to_string(&f)
                        .with_context(|| format!("--password-file {}", f.display()))?
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string(),
                ),
            };
            let made = add_user(
                shared.clone(),
                reference,
                &username,
                &role,
                region.as_deref(),
                agent_code.as_deref(),
                nik.as_deref(),
                employer.as_deref(),
                password,
            )
            .await?;
            println!("User {} created ({}).", made.username, made.role);
            if let Some(pw) = made.password {
                println!("Password (shown once, not stored): {pw}");
                println!("It must be changed at the first sign-in.");
            }
        }
        UserCommand::Disable { username }
        | UserCommand::Enable { username }
        | UserCommand::EndSessions { username }
        | UserCommand::ResetPassword { username }
        | UserCommand::Totp { username }
            if username.trim().is_empty() =>
        {
            bail!("--username: required [username.required]")
        }
        UserCommand::Disable { username } => {
            let st = crate::agents::state(shared.clone(), reference)?;
            let n = cakupan_app::accounts::set_disabled(&st, &cli_admin(), "cli", &username, true)
                .await
                .map_err(crate::agents::api)?;
            println!(
                "Account {} disabled; {n} session(s) ended.",
                username.trim()
            );
        }
        UserCommand::Enable { username } => {
            let st = crate::agents::state(shared.clone(), reference)?;
            cakupan_app::accounts::set_disabled(&st, &cli_admin(), "cli", &username, false)
                .await
                .map_err(crate::agents::api)?;
            println!("Account {} enabled.", username.trim());
        }
        UserCommand::EndSessions { username } => {
            let st = crate::agents::state(shared.clone(), reference)?;
            let n = cakupan_app::accounts::end_sessions(&st, &cli_admin(), "cli", &username)
                .await
                .map_err(crate::agents::api)?;
            println!("{n} session(s) of {} ended.", username.trim());
        }
        UserCommand::ResetPassword { username } => {
            let st = crate::agents::state(shared.clone(), reference)?;
            let pw = cakupan_app::accounts::reset_password(&st, &cli_admin(), "cli", &username)
                .await
                .map_err(crate::agents::api)?;
            println!(
                "Password of {} reset; it must be changed at the next sign-in. One-time password (shown once, not stored): {pw}",
                username.trim()
            );
        }
        UserCommand::Totp { username } => {
            let st = crate::agents::state(shared.clone(), reference)?;
            let e = cakupan_app::accounts::enrol_totp(&st, &cli_admin(), "cli", &username)
                .await
                .map_err(crate::agents::api)?;
            println!("Second factor of {} set up (shown once):", username.trim());
            println!("Key: {}", e.secret);
            println!("URL: {}", e.otpauth_url);
            println!("Recovery codes: {}", e.recovery_codes.join(" "));
        }
        UserCommand::Tune => {
            let p = policy(reference)?;
            let started = std::time::Instant::now();
            let c = Cost::tuned(
                Duration::from_millis(u64::from(p.argon2_target_ms)),
                p.argon2_memory_kib,
            );
            println!(
                "Argon2id m={} KiB, t={}, p={} reaches the target of {} ms per hash here (tuning took {:.1} s). Set CAKUPAN_ARGON2=m={},t={},p={} to fix it.",
                c.m_kib,
                c.t,
                c.p,
                p.argon2_target_ms,
                started.elapsed().as_secs_f64(),
                c.m_kib,
                c.t,
                c.p
            );
        }
    }
    Ok(())
}

pub async fn audit(store: &dyn Store, cmd: AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::Verify { anchor } => {
            let (check, chain) = store.audit_verify().await?;
            if let Err(e) = chain {
                bail!("audit log broken: {e}");
            }
            let mut held = 0;
            if let Some(file) = anchor {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("--anchor {}: cannot read", file.display()))?;
                let anchors = cakupan_store::accounts::Anchor::all_in(&text);
                if anchors.is_empty() {
                    bail!(
                        "--anchor {}: no anchor line (`audit anchor count=N hash=H`) in it",
                        file.display()
                    );
                }
                for a in &anchors {
                    if let Err(e) = store.audit_holds(a).await? {
                        bail!("audit log broken against --anchor {}: {e}", file.display());
                    }
                }
                held = anchors.len();
            }
            println!(
                "Audit log intact: {} entries; last hash {}{}",
                check.count(),
                check.last_hash(),
                if held > 0 {
                    format!("; holds all {held} anchor(s)")
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        AuditCommand::Anchor { out } => {
            // The anchor of the chain just checked (an entry appended since is not in it).
            let (check, chain) = store.audit_verify().await?;
            if let Err(e) = chain {
                bail!("audit log broken, no anchor taken: {e}");
            }
            let line = cakupan_store::accounts::Anchor {
                count: i64::try_from(check.count()).unwrap_or(i64::MAX),
                hash: check.last_hash().to_string(),
            }
            .line(&cakupan_app::accounts::rfc3339(
                cakupan_store::clock::now_secs(),
            ));
            if let Some(file) = out {
                use std::io::Write as _;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&file)
                    .with_context(|| format!("--out {}: cannot open", file.display()))?;
                writeln!(f, "{line}")?;
            }
            println!("{line}");
            Ok(())
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new key file (an index key and encryption key v1). Keep it outside the
    /// database, readable by the service only; without it the data cannot be read.
    Generate {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Append a new encryption key version to a key file. Restart the service with the file
    /// (it then writes the new version and still reads the old), then run `keys rotate`.
    AddVersion {
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// Re-encrypt every participant (and their heirs) still under an older key version with
    /// the newest one in the key file, in small transactions, while the service runs. Keep the
    /// old versions in the key file: employers' contacts and correction requests are not
    /// re-encrypted yet (docs/operations.md).
    Rotate {
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
    },
}

pub fn keys_offline(cmd: &KeysCommand) -> Result<bool> {
    match cmd {
        KeysCommand::Generate { out } => {
            crate::write_private(out, &cakupan_store::crypto::Keys::generate()?)?;
            println!(
                "Key file written to {} (mode 600). Back it up apart from the database: without it no personal data can be read.",
                out.display()
            );
            Ok(true)
        }
        KeysCommand::AddVersion { file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("--file {}", file.display()))?;
            let (text, v) = cakupan_store::crypto::Keys::add_version(&text)?;
            let tmp = file.with_extension("new");
            let _ = std::fs::remove_file(&tmp);
            crate::write_private(&tmp, &text)?;
            std::fs::rename(&tmp, file)?;
            println!(
                "Added encryption key v{v} to {}. Restart the service with it, then run `cakupan keys rotate`.",
                file.display()
            );
            Ok(true)
        }
        KeysCommand::Rotate { .. } => Ok(false),
    }
}

pub async fn rotate(store: &dyn Store, batch: usize) -> Result<()> {
    let mut total = 0u64;
    loop {
        let n = store.reseal(batch.max(1)).await?;
        if n == 0 {
            break;
        }
        total += n;
        eprintln!("{total} participants re-encrypted…");
    }
    let versions = store.key_versions().await?;
    println!(
        "{total} participants re-encrypted. Participants per key version: {}",
        versions
            .iter()
            .map(|(v, n)| format!("v{v}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "Keep the older key versions in the key file: employers' contacts and correction requests are not re-encrypted by this command."
    );
    Ok(())
}
