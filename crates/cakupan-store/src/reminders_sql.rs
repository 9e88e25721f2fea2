//! Reminders' SQL, written once for both sqlx backends (`$N` placeholders).

/// Expands to `ReminderStore` for `$store` on the sqlx database `$db`: `$write` and `$read`
/// name its pools, `$db_err` maps a sqlx error.
#[macro_export]
macro_rules! reminders_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        fn reminder_columns() -> String {
            format!(
                "id, rule, month, participant_id, invoice_id, employer_code, region, segment, arm, agent_code, {}, pay_by, status, sms_id, sent_at, outcome, outcome_at",
                <$store as $crate::Dialect>::date_text("planned_on")
            )
        }

        fn reminder_row(row: &<$db as sqlx::Database>::Row) -> Result<$crate::reminders::Reminder> {
            use sqlx::Row;
            Ok($crate::reminders::Reminder {
                id: row.try_get(0).map_err($dberr)?,
                rule: row.try_get(1).map_err($dberr)?,
                month: row.try_get(2).map_err($dberr)?,
                participant_id: row.try_get(3).map_err($dberr)?,
                invoice_id: row.try_get(4).map_err($dberr)?,
                employer_code: row.try_get(5).map_err($dberr)?,
                region: row.try_get(6).map_err($dberr)?,
                segment: row.try_get(7).map_err($dberr)?,
                arm: row.try_get(8).map_err($dberr)?,
                agent_code: row.try_get(9).map_err($dberr)?,
                planned_on: row.try_get(10).map_err($dberr)?,
                pay_by: row.try_get(11).map_err($dberr)?,
                status: row.try_get(12).map_err($dberr)?,
                sms_id: row.try_get(13).map_err($dberr)?,
                sent_at: row.try_get(14).map_err($dberr)?,
                outcome: row.try_get(15).map_err($dberr)?,
                outcome_at: row.try_get(16).map_err($dberr)?,
            })
        }

        #[async_trait::async_trait]
        impl $crate::reminders::ReminderStore for $store {
            async fn due_candidates(
                &self,
                segment: &str,
                last_paid: i32,
                pending: &[i32],
                month: i32,
            ) -> Result<Vec<$crate::reminders::DueCandidate>> {
                use sqlx::Row;
                // The person's latest decision about reminders, their agent (the one who
                // enrolled them, else one serving their village) and this month's reminders,
                // each an index probe.
                let select = "SELECT s.participant_id, p.village_code, s.segment,
                        COALESCE(p.agent_code, (SELECT MIN(av.agent_code) FROM agent_villages av WHERE av.village_code = p.village_code)),
                        COALESCE((SELECT c.decision FROM consents c WHERE c.nik_index = p.nik_index AND c.purpose = 'reminders' ORDER BY c.id DESC LIMIT 1), 'given'),
                        (SELECT COUNT(*) FROM reminders r WHERE r.participant_id = s.participant_id AND r.planned_month = $2 AND r.arm <> 'holdout')
                     FROM coverage_states s JOIN participants p ON p.id = s.participant_id
                     WHERE s.segment = $1 AND s.terminated IS NULL";
                let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{select} AND s.last_paid = $3"
                )))
                .bind(segment)
                .bind(month)
                .bind(last_paid)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                if !pending.is_empty() {
                    let pending: Vec<i64> = pending.iter().map(|m| i64::from(*m)).collect();
                    rows.extend(
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "{select} AND s.last_paid IS NULL AND s.registered {}",
                            <$store as $crate::Dialect>::one_of(3)
                        )))
                        .bind(segment)
                        .bind(month)
                        .bind(<$store as $crate::Dialect>::ids(&pending))
                        .fetch_all(&self.$read)
                        .await
                        .map_err($dberr)?,
                    );
                }
                rows.iter()
                    .map(|row| {
                        let decision: String = row.try_get(4).map_err($dberr)?;
                        Ok($crate::reminders::DueCandidate {
                            participant_id: row.try_get(0).map_err($dberr)?,
                            village_code: row.try_get(1).map_err($dberr)?,
                            segment: row.try_get(2).map_err($dberr)?,
                            agent_code: row.try_get(3).map_err($dberr)?,
                            opted_out: decision == "withdrawn",
                            this_month: row.try_get(5).map_err($dberr)?,
                        })
                    })
                    .collect()
            }

            async fn due_invoices(&self, due_on: time::Date) -> Result<Vec<$crate::reminders::DueInvoice>> {
                let rows: Vec<(i64, String, String, i64, i64)> = sqlx::query_as(
                    "SELECT i.id, i.employer_code, e.region, i.month, i.total
                     FROM invoices i JOIN employers e ON e.code = i.employer_code
                     WHERE i.due_on = $1 AND i.settled_on IS NULL ORDER BY i.id",
                )
                .bind(cakupan_domain::month::format_date(due_on))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                Ok(rows
                    .into_iter()
                    .map(|(invoice_id, employer_code, region, month, total)| $crate::reminders::DueInvoice {
                        invoice_id,
                        employer_code,
                        region,
                        month: i32::try_from(month).unwrap_or(0),
                        total,
                    })
                    .collect())
            }

            async fn add_reminders(&self, rows: &[$crate::reminders::NewReminder]) -> Result<u64> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let mut added = 0u64;
                for chunk in rows.chunks(400) {
                    let sql = format!(
                        "INSERT INTO reminders (rule, month, subject, participant_id, invoice_id, employer_code, region, segment, arm, agent_code, planned_on, planned_month, window_end, pay_by, status)
                         VALUES {} ON CONFLICT (subject, rule, month) DO NOTHING",
                        $crate::values_rows(chunk.len(), 15)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for r in chunk {
                        q = q
                            .bind(&r.rule)
                            .bind(r.month)
                            .bind(&r.subject)
                            .bind(r.participant_id)
                            .bind(r.invoice_id)
                            .bind(&r.employer_code)
                            .bind(&r.region)
                            .bind(&r.segment)
                            .bind(r.arm.as_str())
                            .bind(&r.agent_code)
                            .bind(<$store as $crate::Dialect>::day(r.planned_on))
                            .bind(cakupan_domain::Month::of(r.planned_on).index())
                            .bind(<$store as $crate::Dialect>::day(r.window_end))
                            .bind(cakupan_domain::month::format_date(r.pay_by))
                            .bind(&r.status);
                    }
                    added += q.execute(&mut *tx).await.map_err($dberr)?.rows_affected();
                }
                tx.commit().await.map_err($dberr)?;
                Ok(added)
            }

            async fn reminders_to_send(&self, after_id: i64, limit: i64) -> Result<Vec<$crate::reminders::Reminder>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM reminders WHERE status IN ('planned', 'sending') AND arm = 'sms' AND status = 'planned' AND id > $1 ORDER BY id LIMIT $2",
                    reminder_columns()
                )))
                .bind(after_id)
                .bind(limit)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.iter().map(reminder_row).collect()
            }

            async fn reminders_in_doubt(&self) -> Result<Vec<$crate::reminders::Reminder>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM reminders WHERE status IN ('planned', 'sending') AND arm = 'sms' AND status = 'sending' ORDER BY id",
                    reminder_columns()
                )))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.iter().map(reminder_row).collect()
            }

            async fn claim_reminder(&self, id: i64, sms_id: i64) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE reminders SET status = 'sending', sms_id = $2 WHERE id = $1 AND status = 'planned'",
                )
                .bind(id)
                .bind(sms_id)
                .execute(&self.$write)
                .await
                .map_err($dberr)?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_reminder_status(&self, id: i64, from: &[&str], to: &str, now: i64) -> Result<bool> {
                let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE reminders SET status = $2, sent_at = CASE WHEN $2 = 'sent' THEN $3 ELSE sent_at END
                     WHERE id = $1 AND status {}",
                    <$store as $crate::Dialect>::one_of(4)
                )))
                .bind(id)
                .bind(to)
                .bind(now)
                .bind(<$store as $crate::Dialect>::texts(from))
                .execute(&self.$write)
                .await
                .map_err($dberr)?;
                Ok(done.rows_affected() == 1)
            }

            async fn reminder(&self, id: i64) -> Result<Option<$crate::reminders::Reminder>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM reminders WHERE id = $1",
                    reminder_columns()
                )))
                .bind(id)
                .fetch_optional(&self.$read)
                .await
                .map_err($dberr)?;
                row.as_ref().map(reminder_row).transpose()
            }

            async fn reminders_of(&self, participant_id: i64) -> Result<Vec<$crate::reminders::Reminder>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM reminders WHERE participant_id = $1 ORDER BY id DESC",
                    reminder_columns()
                )))
                .bind(participant_id)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.iter().map(reminder_row).collect()
            }

            async fn agent_tasks(&self, agent_code: &str, open_only: bool) -> Result<Vec<$crate::reminders::Reminder>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM reminders WHERE agent_code = $1 AND arm = 'agent'
                       AND ($2 = 0 OR status = 'planned') ORDER BY id DESC LIMIT 200",
                    reminder_columns()
                )))
                .bind(agent_code)
                .bind(i64::from(open_only))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.iter().map(reminder_row).collect()
            }

            async fn record_task(&self, id: i64, agent_code: &str, outcome: &str, by: &str, now: i64) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE reminders SET status = 'done', outcome = $3, outcome_at = $4, outcome_by = $5, sent_at = $4
                     WHERE id = $1 AND agent_code = $2 AND arm = 'agent' AND status = 'planned'",
                )
                .bind(id)
                .bind(agent_code)
                .bind(outcome)
                .bind(now)
                .bind(by)
                .execute(&self.$write)
                .await
                .map_err($dberr)?;
                Ok(done.rows_affected() == 1)
            }

            async fn refresh_experiment(&self, closed_before: time::Date, since: time::Date, now: i64) -> Result<u64> {
                // One pass over the reminders whose window closed (planned since `since`), each
                // with an index probe of the person's ledger.
                let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
                    "SELECT r.rule, r.arm, r.segment, substr(r.region, 1, 2), COUNT(*),
                            CAST(SUM(CASE WHEN EXISTS (
                                SELECT 1 FROM postings p WHERE p.participant_id = r.participant_id
                                  AND p.kind = 'contribution' AND p.paid_on >= r.planned_on AND p.paid_on <= r.window_end
                                  AND NOT EXISTS (SELECT 1 FROM postings x WHERE x.kind = 'reversal' AND x.target_reference = p.reference AND x.participant_id = p.participant_id)
                            ) THEN 1 ELSE 0 END) AS BIGINT)
                     FROM reminders r
                     WHERE r.participant_id IS NOT NULL AND r.window_end < $1 AND r.planned_on >= $2
                     GROUP BY r.rule, r.arm, r.segment, substr(r.region, 1, 2)",
                )
                .bind(<$store as $crate::Dialect>::day(closed_before))
                .bind(<$store as $crate::Dialect>::day(since))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                sqlx::query("DELETE FROM experiment_counts")
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                for (rule, arm, segment, province, n, paid) in &rows {
                    sqlx::query(
                        "INSERT INTO experiment_counts (rule, arm, segment, province, n, paid, computed_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(rule)
                    .bind(arm)
                    .bind(segment)
                    .bind(province)
                    .bind(n)
                    .bind(paid)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                }
                tx.commit().await.map_err($dberr)?;
                Ok(rows.len() as u64)
            }

            async fn experiment(&self) -> Result<Vec<$crate::reminders::ArmCount>> {
                let rows: Vec<(String, String, String, String, i64, i64, i64)> = sqlx::query_as(
                    "SELECT rule, arm, segment, province, n, paid, computed_at FROM experiment_counts
                     ORDER BY rule, arm, segment, province",
                )
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                Ok(rows
                    .into_iter()
                    .map(|(rule, arm, segment, province, n, paid, computed_at)| $crate::reminders::ArmCount {
                        rule,
                        arm,
                        segment,
                        province,
                        n,
                        paid,
                        computed_at,
                    })
                    .collect())
            }

            async fn plan_counts(&self, planned_on: time::Date) -> Result<Vec<$crate::reminders::PlanCount>> {
                let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
                    "SELECT rule, substr(region, 1, 2), arm, status, COUNT(*) FROM reminders
                     WHERE planned_on = $1 GROUP BY rule, substr(region, 1, 2), arm, status ORDER BY 1, 2, 3, 4",
                )
                .bind(<$store as $crate::Dialect>::day(planned_on))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                Ok(rows
                    .into_iter()
                    .map(|(rule, province, arm, status, n)| $crate::reminders::PlanCount { rule, province, arm, status, n })
                    .collect())
            }

            async fn add_reply(&self, r: &$crate::reminders::NewReply) -> Result<i64> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO sms_replies (received_at, participant_id, region, kind, phone, text, key_version, due_at)
                     VALUES ($1, $2, $3, $4, $5, $5, $6, $7) RETURNING id",
                )
                .bind(r.received_at)
                .bind(r.participant_id)
                .bind(&r.region)
                .bind(&r.kind)
                .bind(Vec::<u8>::new())
                .bind(i64::from(self.keys.current_version()))
                .bind(r.due_at)
                .fetch_one(&mut *tx)
                .await
                .map_err($dberr)?;
                sqlx::query("UPDATE sms_replies SET phone = $2, text = $3 WHERE id = $1")
                    .bind(id)
                    .bind(self.keys.seal("sms_replies", id, "phone", &r.phone)?)
                    .bind(self.keys.seal("sms_replies", id, "text", &r.text)?)
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                Ok(id)
            }

            async fn replies(
                &self,
                within: cakupan_domain::RegionCode,
                open_only: bool,
                limit: u32,
            ) -> Result<Vec<$crate::reminders::Reply>> {
                let (area, prefix) = $crate::enrolment::area_binds(within);
                let rows: Vec<(i64, i64, Option<i64>, String, String, Vec<u8>, Vec<u8>, i64, Option<i64>, Option<String>)> =
                    sqlx::query_as(
                        "SELECT id, received_at, participant_id, region, kind, phone, text, due_at, answered_at, answered_by
                         FROM sms_replies
                         WHERE ($1 = '' OR region = $1 OR substr(region, 1, length($2)) = $2)
                           AND ($3 = 0 OR answered_at IS NULL)
                         ORDER BY id DESC LIMIT $4",
                    )
                    .bind(&area)
                    .bind(&prefix)
                    .bind(i64::from(open_only))
                    .bind(i64::from(limit))
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?;
                rows.into_iter()
                    .map(|(id, received_at, participant_id, region, kind, phone, text, due_at, answered_at, answered_by)| {
                        Ok($crate::reminders::Reply {
                            id,
                            received_at,
                            participant_id,
                            region,
                            kind,
                            phone: self.keys.open("sms_replies", id, "phone", &phone)?,
                            text: self.keys.open("sms_replies", id, "text", &text)?,
                            due_at,
                            answered_at,
                            answered_by,
                        })
                    })
                    .collect()
            }

            async fn answer_reply(&self, id: i64, by: &str, now: i64) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE sms_replies SET answered_at = $2, answered_by = $3 WHERE id = $1 AND answered_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .bind(by)
                .execute(&self.$write)
                .await
                .map_err($dberr)?;
                Ok(done.rows_affected() == 1)
            }

            async fn participants_by_phone(&self, phone_index: &[u8]) -> Result<Vec<i64>> {
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT id FROM participants WHERE phone_index = $1 ORDER BY id",
                )
                .bind(phone_index)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                Ok(ids)
            }

            async fn refresh_lapses(
                &self,
                from: i32,
                to: i32,
                threshold: i32,
                lookback: i32,
                now: i64,
            ) -> Result<u64> {
                // By village, one pass over the lapsed BPU states (the coverage states' index),
                // then summed up the tree here.
                let rows: Vec<(String, i32, i64, i64)> = sqlx::query_as(
                    "SELECT p.village_code, s.last_paid + $1, COUNT(*),
                            CAST(SUM(CASE WHEN EXISTS (
                                SELECT 1 FROM reminders r WHERE r.participant_id = s.participant_id
                                  AND r.arm <> 'holdout' AND r.planned_month BETWEEN s.last_paid + $1 - $2 AND s.last_paid + $1
                            ) THEN 1 ELSE 0 END) AS BIGINT)
                     FROM coverage_states s JOIN participants p ON p.id = s.participant_id
                     WHERE s.segment = 'BPU' AND s.terminated IS NULL
                       AND s.last_paid BETWEEN $3 AND $4
                     GROUP BY p.village_code, s.last_paid",
                )
                .bind(threshold)
                .bind(lookback)
                .bind(from - threshold)
                .bind(to - threshold)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                let mut sums: std::collections::BTreeMap<(String, i32), (i64, i64)> =
                    std::collections::BTreeMap::new();
                for (village, month, lapsed, reminded) in rows {
                    let Ok(code) = cakupan_domain::RegionCode::parse(&village) else {
                        continue;
                    };
                    let mut regions = code.path();
                    regions.push(cakupan_domain::RegionCode::NATION);
                    for r in regions {
                        let e = sums.entry((r.to_string(), month)).or_insert((0, 0));
                        e.0 += lapsed;
                        e.1 += reminded;
                    }
                }
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                sqlx::query("DELETE FROM lapse_counts")
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                let rows: Vec<_> = sums.into_iter().collect();
                for chunk in rows.chunks(500) {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO lapse_counts (region, month, lapsed, reminded, computed_at) VALUES {}",
                        $crate::values_rows(chunk.len(), 5)
                    )));
                    for ((region, month), (lapsed, reminded)) in chunk {
                        q = q.bind(region).bind(month).bind(lapsed).bind(reminded).bind(now);
                    }
                    q.execute(&mut *tx).await.map_err($dberr)?;
                }
                tx.commit().await.map_err($dberr)?;
                Ok(rows.len() as u64)
            }

            async fn lapses(
                &self,
                within: cakupan_domain::RegionCode,
                from: i32,
                to: i32,
            ) -> Result<Vec<$crate::reminders::LapseCount>> {
                let rows: Vec<(i32, i64, i64, i64)> = sqlx::query_as(
                    "SELECT month, lapsed, reminded, computed_at FROM lapse_counts
                     WHERE region = $1 AND month BETWEEN $2 AND $3 ORDER BY month",
                )
                .bind(within.to_string())
                .bind(from)
                .bind(to)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                Ok(rows
                    .into_iter()
                    .map(|(month, lapsed, reminded, computed_at)| $crate::reminders::LapseCount {
                        month,
                        lapsed,
                        reminded,
                        computed_at,
                    })
                    .collect())
            }

            async fn recompute_coverage_states(&self) -> Result<Vec<$crate::reminders::CoverageState>> {
                // From the ledger alone, as `coverage::protected_until` reads it: the latest
                // month covered by a contribution that was not reversed, before the month a
                // termination took effect.
                let rows: Vec<(i64, String, String, Option<i32>, Option<i32>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT p.id, p.segment, {registered}, tm.t,
                            (SELECT MAX(CASE WHEN tm.t IS NULL OR c.first_month + c.months - 1 < tm.t
                                             THEN c.first_month + c.months - 1 ELSE tm.t - 1 END)
                               FROM postings c
                              WHERE c.participant_id = p.id AND c.kind = 'contribution'
                                AND (tm.t IS NULL OR c.first_month < tm.t)
                                AND NOT EXISTS (SELECT 1 FROM postings r WHERE r.participant_id = c.participant_id
                                                  AND r.kind = 'reversal' AND r.target_reference = c.reference))
                     FROM participants p
                     LEFT JOIN (SELECT participant_id, MIN(first_month) AS t FROM postings
                                 WHERE kind = 'termination' GROUP BY participant_id) tm ON tm.participant_id = p.id
                     ORDER BY p.id",
                    registered = <$store as $crate::Dialect>::date_text("p.registered_on")
                )))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.into_iter()
                    .map(|(participant_id, segment, registered, terminated, last_paid)| {
                        let registered = cakupan_domain::month::parse_date(&registered)
                            .map(|d| cakupan_domain::Month::of(d).index())
                            .ok_or_else(|| $crate::StoreError::Database(format!("participant {participant_id}: registered_on {registered}")))?;
                        Ok($crate::reminders::CoverageState { participant_id, segment, registered, last_paid, terminated })
                    })
                    .collect()
            }

            async fn coverage_states(&self) -> Result<Vec<$crate::reminders::CoverageState>> {
                let rows: Vec<(i64, String, i32, Option<i32>, Option<i32>)> = sqlx::query_as(
                    "SELECT participant_id, segment, registered, last_paid, terminated FROM coverage_states ORDER BY participant_id",
                )
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                Ok(rows
                    .into_iter()
                    .map(|(participant_id, segment, registered, last_paid, terminated)| $crate::reminders::CoverageState {
                        participant_id,
                        segment,
                        registered,
                        last_paid,
                        terminated,
                    })
                    .collect())
            }
        }
    };
}
