//! The rights feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `RightsStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. A method whose SQL differs
/// between the databases calls the backend's own `<method>_own`.
#[macro_export]
macro_rules! rights_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        #[async_trait::async_trait]
        impl $crate::rights::RightsStore for $store {
            async fn add_consent(&self, nik_index: &[u8], c: &$crate::accounts::Consent) -> Result<()> {
                sqlx::query(
                    "INSERT INTO consents (nik_index, purpose, notice_version, decision, at, channel) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(nik_index)
                .bind(&c.purpose)
                .bind(&c.notice_version)
                .bind(&c.decision)
                .bind(c.at)
                .bind(&c.channel)
                .execute(&self.$write)
                .await
                .map_err($dberr)?;
                Ok(())
            }

            async fn consents(&self, nik_index: &[u8]) -> Result<Vec<$crate::accounts::Consent>> {
                let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
                    "SELECT purpose, notice_version, decision, at, channel FROM consents WHERE nik_index = $1 ORDER BY id",
                )
                .bind(nik_index)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(purpose, notice_version, decision, at, channel)| $crate::accounts::Consent {
                            purpose,
                            notice_version,
                            decision,
                            at,
                            channel,
                        },
                    )
                    .collect())
            }

            async fn add_correction(&self, c: &$crate::accounts::Correction) -> Result<i64> {
                use $crate::accounts::correction_column;
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
                    "INSERT INTO corrections (participant_id, village_code, field, value, reason, requested_at, due_at, nik_index)
                     SELECT $1, $2, $3, $4, $5, $6, $7, nik_index FROM participants WHERE id = $1 RETURNING id",
                )
                .bind(c.participant_id)
                .bind(&c.village_code)
                .bind(&c.field)
                .bind(value)
                .bind(reason)
                .bind(c.requested_at)
                .bind(c.due_at)
                .fetch_one(&self.$write)
                .await
                .map_err($dberr)
            }

            async fn open_corrections(
                &self,
                within: RegionCode,
            ) -> Result<Vec<$crate::accounts::Correction>> {
                let prefix = if within == RegionCode::NATION {
                    String::new()
                } else {
                    format!("{within}.")
                };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {cols} FROM corrections
                     WHERE status = 'open' AND ($1 = '' OR village_code = $1 OR substr(village_code, 1, length($2)) = $2)
                     ORDER BY requested_at, id",
                    cols = $crate::accounts::CORRECTION_COLUMNS
                )))
                .bind(within.to_string())
                .bind(prefix)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?
                .iter()
                .map(|r| $crate::rows::correction(r, &self.keys))
                .collect()
            }

            async fn correction(&self, id: i64) -> Result<Option<$crate::accounts::Correction>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&self.$read)
                .await
                .map_err($dberr)?
                .map(|r| $crate::rows::correction(&r, &self.keys))
                .transpose()
            }

            async fn corrections_of(
                &self,
                participant_ids: &[i64],
            ) -> Result<Vec<$crate::accounts::Correction>> {
                let mut out = Vec::new();
                for id in participant_ids {
                    for r in sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE participant_id = $1"
                    )))
                    .bind(id)
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?
                    {
                        out.push($crate::rows::correction(&r, &self.keys)?);
                    }
                }
                out.sort_by_key(|c| std::cmp::Reverse((c.requested_at, c.id)));
                Ok(out)
            }

            async fn decide_correction(
                &self,
                rules: &RuleSet,
                d: &$crate::accounts::CorrectionDecision,
            ) -> Result<Option<$crate::accounts::Correction>> {
                use $crate::ledger::{Base, relocation};
                use sqlx::Row;
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                // The request first (so two reviewers deciding at once queue here), then the person.
                let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM corrections WHERE id = $1{}",
                    $crate::accounts::CORRECTION_COLUMNS,
                    <$store as $crate::Dialect>::FOR_UPDATE
                )))
                .bind(d.id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($dberr)?
                else {
                    return Ok(None);
                };
                let mut c = $crate::rows::correction(&row, &self.keys)?;
                if c.status != "open" {
                    d.settle(&c)?;
                    return Ok(Some(c));
                }
                if d.status == "done" {
                    let index = $store::lock_person_own(&mut tx, c.participant_id).await?;
                    let stored = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "{} WHERE id = $1",
                        <$store as $crate::Dialect>::SELECT_PARTICIPANTS
                    )))
                    .bind(c.participant_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($dberr)?;
                    let stored = $crate::rows::participant(&stored, &self.keys)?
                        .into_participant(Vec::new())?;
                    if let Some(r) = d.corrected_for(&stored)? {
                        if r.village != stored.registration.village {
                            let mut group = Vec::new();
                            for o in sqlx::query(sqlx::AssertSqlSafe(format!(
                                "SELECT id, segment, village_code, {} FROM participants WHERE nik_index = $1 ORDER BY id",
                                <$store as $crate::Dialect>::date_text("registered_on")
                            )))
                            .bind(&index)
                            .fetch_all(&mut *tx)
                            .await
                            .map_err($dberr)?
                            {
                                let b = Base::parse(
                                    o.try_get(0).map_err($dberr)?,
                                    &o.try_get::<String, _>(1).map_err($dberr)?,
                                    &o.try_get::<String, _>(2).map_err($dberr)?,
                                    &o.try_get::<String, _>(3).map_err($dberr)?,
                                )?;
                                group.push((b, ledger_rows(&mut tx, b.id).await?));
                            }
                            let changes = relocation(rules, stored.id, r.village, &group)?;
                            upsert_counters(&mut tx, &changes).await?;
                        }
                        let row = $crate::ParticipantRow::from_registration(
                            stored.id,
                            stored.kpj.clone(),
                            r,
                        );
                        rewrite(&mut tx, &row, &row.seal(&self.keys)?).await?;
                        // A corrected name or village is found by its new words only.
                        write_name_words(&mut tx, &self.keys, &[(stored.id, r.village, r.name.as_str())], true)
                            .await?;
                    }
                }
                let note = $crate::accounts::seal_note(&self.keys, &c, &d.note)?;
                sqlx::query(
                    "UPDATE corrections SET status = $1, decided_at = $2, decided_by = $3, note = $4 WHERE id = $5",
                )
                .bind(&d.status)
                .bind(d.decided_at)
                .bind(&d.decided_by)
                .bind(note)
                .bind(c.id)
                .execute(&mut *tx)
                .await
                .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                c.status = d.status.clone();
                c.decided_at = Some(d.decided_at);
                c.decided_by = Some(d.decided_by.clone());
                c.note = Some(d.note.clone());
                Ok(Some(c))
            }
        }
    };
}
