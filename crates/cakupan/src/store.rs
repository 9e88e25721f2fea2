//! Opening a store from its URL: the scheme picks the backend.

use anyhow::{Context, Result, bail};
use cakupan_store::Store;
use cakupan_store::crypto::Keys;
use cakupan_store_postgres::PgStore;
use cakupan_store_sqlite::SqliteStore;
use std::path::Path;
use std::sync::Arc;

/// The keys that seal personal fields: the file given by `--keys` / `CAKUPAN_KEYS_FILE`, else
/// the key text in `CAKUPAN_KEYS`. They are never stored in the database.
pub fn load_keys(file: Option<&Path>) -> Result<Arc<Keys>> {
    let text = match file {
        Some(f) => std::fs::read_to_string(f)
            .with_context(|| format!("--keys {}: cannot read the key file", f.display()))?,
        None => match std::env::var("CAKUPAN_KEYS") {
            Ok(t) if !t.trim().is_empty() => t,
            _ => bail!(
                "no keys: personal data is stored encrypted, so give the key file with --keys FILE (or CAKUPAN_KEYS_FILE). Create one with `cakupan keys generate --out FILE` and keep it outside the database, readable by the service only"
            ),
        },
    };
    Ok(Arc::new(Keys::parse(&text)?))
}

/// Refuses keys that are not the database's own: the check value of the index key is recorded
/// at the first open (after proving the keys on the stored personal data, for a database from
/// before check values) and compared at every open. Opened with another deployment's keys, a
/// database would take a second participation for a registered NIK (the blind index no longer
/// matches) and break the audit chain.
pub async fn check_keys(store: &dyn Store, keys: &Keys) -> Result<()> {
    let mine = keys.check_value();
    let recorded = match store.meta("keys_check").await? {
        Some(v) => v,
        None => {
            // A database from before check values: the keys must open what is stored.
            store.registry_page(0, 1).await.map_err(|e| {
                anyhow::anyhow!(
                    "the keys given do not open this database's personal data ({e}): give the key file it was created with (--keys FILE or CAKUPAN_KEYS_FILE) [keys.mismatch]"
                )
            })?;
            store.set_meta_once("keys_check", &mine).await?
        }
    };
    if recorded != mine {
        bail!(
            "the keys given are not this database's (its recorded key check value differs): give the key file it was created with (--keys FILE or CAKUPAN_KEYS_FILE); nothing was read or written [keys.mismatch]"
        );
    }
    Ok(())
}

/// Opens `sqlite://…` or `postgres://…` (also `postgresql://…`), applies migrations and refuses
/// keys that are not the database's own ([`check_keys`]).
pub async fn open(url: &str, pg_pool: u32, keys: Arc<Keys>) -> Result<Arc<dyn Store>> {
    let store = open_unchecked(url, pg_pool, keys.clone()).await?;
    check_keys(store.as_ref(), &keys).await?;
    Ok(store)
}

async fn open_unchecked(url: &str, pg_pool: u32, keys: Arc<Keys>) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        let s = SqliteStore::open(url, keys)
            .await
            .with_context(|| format!("opening SQLite database {url}"))?;
        Ok(Arc::new(s))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s = PgStore::open(url, pg_pool, keys)
            .await
            .with_context(|| format!("opening PostgreSQL database {}", redact(url)))?;
        Ok(Arc::new(s))
    } else {
        bail!(
            "--db: unsupported database URL '{}': use sqlite://FILE or postgres://USER@HOST/DB",
            redact(url)
        )
    }
}

/// Hides a password in a URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Records in the audit log what a command did with personal data, before it does it: the
/// command line acts as `cli` with the administrator's role (whoever can run it holds the keys).
pub async fn audit(store: &dyn Store, action: &str, record: String, purpose: &str) -> Result<()> {
    store
        .append_audit(&[cakupan_store::accounts::AuditEntry {
            at: cakupan_store::clock::now_millis(),
            actor: "cli".into(),
            role: "admin".into(),
            action: action.into(),
            record,
            request_id: "cli".into(),
            purpose: purpose.into(),
        }])
        .await?;
    Ok(())
}
