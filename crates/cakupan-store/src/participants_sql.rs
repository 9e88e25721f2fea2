//! The registry feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `ParticipantStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. A method whose SQL differs
/// between the databases calls the backend's own `<method>_own`.
#[macro_export]
macro_rules! participants_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        impl $store {
            /// The participation a KPJ names. A KPJ is its participation's id with a check
            /// digit: one that does not parse names nobody, and one that does is read by its id.
            async fn by_kpj(&self, kpj: &str, with_heirs: bool) -> Result<Option<$crate::Participant>> {
                let Ok(k) = cakupan_domain::Kpj::parse(kpj.trim()) else {
                    return Ok(None);
                };
                let Ok(id) = i64::try_from(k.sequence()) else {
                    return Ok(None);
                };
                Ok(self
                    .participant_own(id, with_heirs)
                    .await?
                    .filter(|p| p.kpj == kpj.trim()))
            }
        }

        #[async_trait::async_trait]
        impl $crate::participants::ParticipantStore for $store {
            async fn ensure_regions(&self, tree: &RegionTree) -> Result<RegionsLoaded> {
                let fingerprint = tree.fingerprint();
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                // Serialise concurrent first starts.
                if let Some(lock) =
                    <$store as $crate::Dialect>::table_lock("regions", "SHARE ROW EXCLUSIVE")
                {
                    sqlx::query(sqlx::AssertSqlSafe(lock))
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                }
                let stored: Option<String> =
                    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'regions_fingerprint'")
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($dberr)?;
                if stored.as_deref() == Some(fingerprint.as_str()) {
                    tx.rollback().await.map_err($dberr)?;
                    return Ok(RegionsLoaded {
                        loaded: false,
                        count: tree.len() as u64,
                    });
                }
                // Upsert, never delete: participants reference villages, and a region retired
                // by a newer decree must stay for the people registered in it.
                let regions: Vec<_> = tree.iter().collect();
                $store::upsert_regions_own(&mut tx, &regions).await?;
                sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ('regions_fingerprint', $1)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(&fingerprint)
                .execute(&mut *tx)
                .await
                .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                Ok(RegionsLoaded {
                    loaded: true,
                    count: tree.len() as u64,
                })
            }

            async fn region_counts(&self) -> Result<Vec<(Level, u64)>> {
                let rows = sqlx::query(
                    "SELECT CAST(level AS BIGINT), COUNT(*) FROM regions GROUP BY level ORDER BY level",
                )
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.iter().map($crate::rows::level_count).collect()
            }

            async fn register_batch(&self, rules: &RuleSet, regs: &[Registration]) -> Result<Vec<Outcome>> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let out = register_batch_in(&mut tx, &self.keys, rules, regs).await?;
                tx.commit().await.map_err($dberr)?;
                Ok(out)
            }

            async fn register_bulk(
                &self,
                rules: &RuleSet,
                rows: $crate::participants::BulkRows,
            ) -> Result<$crate::participants::BulkRegistered> {
                self.register_bulk_own(rules, rows).await
            }

            async fn register_audited(
                &self,
                rules: &RuleSet,
                reg: &Registration,
                audit: &$crate::accounts::RegistrationAudit,
            ) -> Result<Outcome> {
                // Group commit (cakupan_store::group): each request queues its registration;
                // whoever holds the leader lock commits everything queued in one transaction
                // and answers each request with its own outcome. On SQLite a registration's cost
                // is its own write transaction (one writer); on PostgreSQL concurrent ones
                // serialise on the counters of their month and the audit chain's lock. The
                // group is checked against the leader's rules: a server passes its one rule set
                // to every request.
                self.group.register(self, rules, reg, audit).await
            }

            async fn participant(&self, id: i64) -> Result<Option<$crate::Participant>> {
                self.participant_own(id, true).await
            }

            async fn participant_by_kpj(&self, kpj: &str) -> Result<Option<$crate::Participant>> {
                self.by_kpj(kpj, true).await
            }

            async fn payer_by_kpj(&self, kpj: &str) -> Result<Option<$crate::Participant>> {
                self.by_kpj(kpj, false).await
            }

            async fn participants_by_index(&self, nik_index: &[u8]) -> Result<Vec<$crate::Participant>> {
                self.load("WHERE nik_index = $1 ORDER BY segment", nik_index.to_vec(), true)
                    .await
            }

            async fn registry_page(&self, after_id: i64, limit: u32) -> Result<Vec<Participant>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{select} WHERE id > $1 ORDER BY id LIMIT $2",
                    select = <Self as $crate::Dialect>::SELECT_PARTICIPANTS
                )))
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.iter()
                    .map(|row| $crate::rows::participant(row, &self.keys)?.into_participant(Vec::new()))
                    .collect()
            }

            async fn find_by_name(
                &self,
                words: &[String],
                within: cakupan_domain::RegionCode,
                limit: u32,
            ) -> Result<Vec<Participant>> {
                if words.is_empty() {
                    return Ok(Vec::new());
                }
                let index: Vec<Vec<u8>> = words.iter().map(|w| self.keys.name_word_index(w)).collect();
                // The searcher's region as a range of the key: its own code, and every code
                // below it (`32.73.` up to `32.73/`); the nation, every region.
                let (from, to) = if within == cakupan_domain::RegionCode::NATION {
                    (String::new(), "~".to_string())
                } else {
                    (within.to_string(), format!("{within}/"))
                };
                let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT participant_id FROM name_words
                     WHERE word {} AND region >= $2 AND region < $3
                     GROUP BY participant_id HAVING COUNT(*) = $4
                     ORDER BY participant_id LIMIT $5",
                    <Self as $crate::Dialect>::one_of_blobs(1)
                )))
                .bind(<Self as $crate::Dialect>::blobs(&index))
                .bind(&from)
                .bind(&to)
                .bind(index.len() as i64)
                .bind(i64::from(limit))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{} WHERE id {} ORDER BY id",
                    <Self as $crate::Dialect>::SELECT_PARTICIPANTS,
                    <Self as $crate::Dialect>::one_of(1)
                )))
                .bind(<Self as $crate::Dialect>::ids(&ids))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.iter()
                    .map(|row| $crate::rows::participant(row, &self.keys)?.into_participant(Vec::new()))
                    .collect()
            }

            async fn reindex_names(&self, after_id: i64, limit: u32) -> Result<(u64, Option<i64>)> {
                let page = self.registry_page(after_id, limit).await?;
                let Some(last) = page.last().map(|p| p.id) else {
                    return Ok((0, None));
                };
                let rows: Vec<(i64, cakupan_domain::RegionCode, &str)> = page
                    .iter()
                    .map(|p| (p.id, p.registration.village, p.registration.name.as_str()))
                    .collect();
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                write_name_words(&mut tx, &self.keys, &rows, false).await?;
                tx.commit().await.map_err($dberr)?;
                Ok((page.len() as u64, Some(last)))
            }

            async fn count_participants(&self) -> Result<u64> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM participants")
                    .fetch_one(&self.$read)
                    .await
                    .map_err($dberr)?;
                Ok(n as u64)
            }

            async fn reseal(&self, batch: usize) -> Result<u64> {
                let current = i32::try_from(self.keys.current_version()).unwrap_or(i32::MAX);
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{select} WHERE key_version < $1 ORDER BY id LIMIT $2{lock}",
                    select = <Self as $crate::Dialect>::SELECT_PARTICIPANTS,
                    lock = <Self as $crate::Dialect>::FOR_UPDATE
                )))
                .bind(current)
                .bind(i64::try_from(batch).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await
                .map_err($dberr)?;
                let mut n = 0;
                for row in &rows {
                    let pr = $crate::rows::participant(row, &self.keys)?;
                    rewrite(&mut tx, &pr, &pr.seal(&self.keys)?).await?;
                    let heirs = sqlx::query(
                        "SELECT name, relationship, nik, phone, CAST(position AS BIGINT) FROM heirs WHERE participant_id = $1 ORDER BY position",
                    )
                    .bind(pr.id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($dberr)?;
                    for h in &heirs {
                        let position: i64 = h.try_get(4).map_err($dberr)?;
                        let plain = $crate::rows::heir(h, pr.id, &self.keys)?;
                        let s = plain.seal(&self.keys, pr.id, usize::try_from(position).unwrap_or(0))?;
                        sqlx::query(
                            "UPDATE heirs SET name = $1, nik = $2, phone = $3 WHERE participant_id = $4 AND position = $5",
                        )
                        .bind(&s.name)
                        .bind(&s.nik)
                        .bind(&s.phone)
                        .bind(pr.id)
                        .bind(i32::try_from(position).unwrap_or(0))
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                    }
                    n += 1;
                }
                tx.commit().await.map_err($dberr)?;
                Ok(n)
            }

            async fn key_versions(&self) -> Result<Vec<(i64, u64)>> {
                let rows: Vec<(i64, i64)> = sqlx::query_as(
                    "SELECT CAST(key_version AS BIGINT), COUNT(*) FROM participants GROUP BY key_version ORDER BY key_version",
                )
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                Ok(rows.into_iter().map(|(v, n)| (v, n as u64)).collect())
            }
        }
    };
}
