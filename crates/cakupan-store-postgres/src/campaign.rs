//! The village campaign's records on PostgreSQL (issue #8): the shared SQL of
//! `cakupan_store::campaign_store_impl!` (the entry a change rewrites is read `FOR UPDATE`),
//! and the queries whose column types are PostgreSQL's own (dates as DATE).

use crate::{PgStore, db};

cakupan_store::campaign_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    lock = " FOR UPDATE",
    db_err = db
);

impl PgStore {
    pub(crate) async fn enrolments_in_impl(
        &self,
        villages: &[RegionCode],
        from: time::Date,
        to: time::Date,
    ) -> Result<Vec<Enrolment>> {
        let mut out = Vec::new();
        for chunk in villages.chunks(CHUNK) {
            let mut q: QueryBuilder<sqlx::Postgres> = QueryBuilder::new(
                "SELECT p.village_code, p.registered_on, p.occupation_code, (SELECT MIN(c.paid_on) FROM postings c WHERE c.participant_id = p.id AND c.kind = 'contribution') FROM participants p WHERE p.registered_on >= ",
            );
            q.push_bind(from)
                .push(" AND p.registered_on <= ")
                .push_bind(to)
                .push(" AND p.village_code IN (");
            let mut sep = q.separated(", ");
            for v in chunk {
                sep.push_bind(v.to_string());
            }
            q.push(")");
            let rows: Vec<(String, time::Date, String, Option<time::Date>)> =
                q.build_query_as().fetch_all(&self.pool).await.map_err(db)?;
            for (v, registered_on, occupation, first_paid) in rows {
                out.push(Enrolment {
                    village: region(&v)?,
                    registered_on,
                    occupation,
                    first_paid,
                });
            }
        }
        Ok(out)
    }
}
