//! The village campaign's records on SQLite (issue #8): the shared SQL of
//! `cakupan_store::campaign_store_impl!`, and the queries whose column types are SQLite's own
//! (registration and payment dates as TEXT).

use crate::{SqliteStore, db};
use cakupan_domain::month::format_date;

cakupan_store::campaign_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    lock = "",
    db_err = db
);

impl SqliteStore {
    pub(crate) async fn enrolments_in_impl(
        &self,
        villages: &[RegionCode],
        from: time::Date,
        to: time::Date,
    ) -> Result<Vec<Enrolment>> {
        let mut out = Vec::new();
        for chunk in villages.chunks(CHUNK) {
            let mut q: QueryBuilder<sqlx::Sqlite> = QueryBuilder::new(
                "SELECT p.village_code, p.registered_on, p.occupation_code, (SELECT MIN(c.paid_on) FROM postings c WHERE c.participant_id = p.id AND c.kind = 'contribution') FROM participants p WHERE p.registered_on >= ",
            );
            q.push_bind(format_date(from))
                .push(" AND p.registered_on <= ")
                .push_bind(format_date(to))
                .push(" AND p.village_code IN (");
            let mut sep = q.separated(", ");
            for v in chunk {
                sep.push_bind(v.to_string());
            }
            q.push(")");
            let rows: Vec<(String, String, String, Option<String>)> = q
                .build_query_as()
                .persistent(cakupan_store::keep_prepared(chunk.len(), CHUNK))
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
            for (v, on, occ, paid) in rows {
                out.push(Enrolment {
                    village: region(&v)?,
                    registered_on: cmp::date(&on)?,
                    occupation: occ,
                    first_paid: paid.as_deref().map(cmp::date).transpose()?,
                });
            }
        }
        Ok(out)
    }
}
