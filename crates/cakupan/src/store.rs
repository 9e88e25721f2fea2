//! Opening a store from its URL: the scheme picks the backend.

use anyhow::{Context, Result, bail};
use cakupan_store::Store;
use cakupan_store_postgres::PgStore;
use cakupan_store_sqlite::SqliteStore;
use std::sync::Arc;

/// Opens `sqlite://…` or `postgres://…` (also `postgresql://…`) and applies migrations.
pub async fn open(url: &str, pg_pool: u32) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        let s = SqliteStore::open(url)
            .await
            .with_context(|| format!("opening SQLite database {url}"))?;
        Ok(Arc::new(s))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s = PgStore::open(url, pg_pool)
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
