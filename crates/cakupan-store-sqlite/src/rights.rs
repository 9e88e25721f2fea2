//! The data rights (consents, correction requests) on SQLite: the shared SQL of
//! `cakupan_store::rights_store_impl!`, and this backend's own where the SQL differs.

use super::*;

cakupan_store::rights_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);

/// This backend's own SQL of the rights feature.
impl SqliteStore {
    pub(crate) async fn add_correction_own(
        &self,
        c: &cakupan_store::accounts::Correction,
    ) -> Result<i64> {
        use cakupan_store::accounts::correction_column;
        let value = self.keys.seal(
            "corrections",
            c.participant_id,
            &correction_column(&c.field, c.requested_at, "value"),
            &c.value,
        )?;
        let reason = self.keys.seal(
            "corrections",
            c.participant_id,
            &correction_column(&c.field, c.requested_at, "reason"),
            &c.reason,
        )?;
        sqlx::query_scalar(
            "INSERT INTO corrections (participant_id, village_code, field, value, reason, requested_at, due_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        )
        .bind(c.participant_id)
        .bind(&c.village_code)
        .bind(&c.field)
        .bind(value)
        .bind(reason)
        .bind(c.requested_at)
        .bind(c.due_at)
        .fetch_one(&self.writer)
        .await
        .map_err(db)
    }

    pub(crate) async fn decide_correction_own(
        &self,
        rules: &RuleSet,
        d: &cakupan_store::accounts::CorrectionDecision,
    ) -> Result<Option<cakupan_store::accounts::Correction>> {
        use cakupan_store::ledger::{Base, relocation};
        // The single writer: nothing else changes this person while the transaction runs.
        let mut tx = self.writer.begin().await.map_err(db)?;
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE id = ?1"
        )))
        .bind(d.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        let mut c = cakupan_store::rows::correction(&row, &self.keys)?;
        if c.status != "open" {
            d.settle(&c)?;
            return Ok(Some(c));
        }
        if d.status == "done" {
            let stored = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM participants WHERE id = ?1"
            )))
            .bind(c.participant_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            let stored = cakupan_store::rows::participant(&stored, &self.keys)?
                .into_participant(Vec::new())?;
            if let Some(r) = d.corrected_for(&stored)? {
                if r.village != stored.registration.village {
                    let index = self.keys.nik_index(&stored.registration.nik);
                    let mut group = Vec::new();
                    for o in sqlx::query(
                        "SELECT id, segment, village_code, registered_on FROM participants WHERE nik_index = ?1 ORDER BY id",
                    )
                    .bind(&index)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?
                    {
                        let b = Base::parse(
                            o.try_get(0).map_err(db)?,
                            &o.try_get::<String, _>(1).map_err(db)?,
                            &o.try_get::<String, _>(2).map_err(db)?,
                            &o.try_get::<String, _>(3).map_err(db)?,
                        )?;
                        group.push((b, ledger_rows(&mut tx, b.id).await?));
                    }
                    let changes = relocation(rules, stored.id, r.village, &group)?;
                    upsert_counters(&mut tx, &changes).await?;
                }
                let row = ParticipantRow::from_registration(stored.id, stored.kpj.clone(), r);
                rewrite(&mut tx, &row, &row.seal(&self.keys)?).await?;
            }
        }
        let note = cakupan_store::accounts::seal_note(&self.keys, &c, &d.note)?;
        sqlx::query(
            "UPDATE corrections SET status = ?1, decided_at = ?2, decided_by = ?3, note = ?4 WHERE id = ?5",
        )
        .bind(&d.status)
        .bind(d.decided_at)
        .bind(&d.decided_by)
        .bind(note)
        .bind(c.id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        c.status = d.status.clone();
        c.decided_at = Some(d.decided_at);
        c.decided_by = Some(d.decided_by.clone());
        c.note = Some(d.note.clone());
        Ok(Some(c))
    }
}
