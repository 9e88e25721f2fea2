//! The payment rails' SQL (issue #19), written once for both sqlx backends (`$N` placeholders).

/// Expands to `PaymentStore` for `$store` on the sqlx database `$db`. It builds on the shared
/// flows (`post_batch_in`, `ledger_rows`), the employers' `payment_in` (in the backend's
/// `employers` module), the backend's `lock_references_own` and `lock_person_own`, and its
/// bulk writes `insert_settlement_lines_own` and `insert_exceptions_own`.
#[macro_export]
macro_rules! payments_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        fn record_at(
            row: &<$db as sqlx::Database>::Row,
        ) -> $crate::Result<$crate::payments::ChannelRecord> {
            use sqlx::Row;
            let first: Option<i64> = row.try_get(11).map_err($dberr)?;
            let months: Option<i64> = row.try_get(12).map_err($dberr)?;
            Ok($crate::payments::ChannelRecord {
                id: row.try_get(0).map_err($dberr)?,
                partner_code: row.try_get(1).map_err($dberr)?,
                payment_request_id: row.try_get(2).map_err($dberr)?,
                virtual_account: row.try_get(3).map_err($dberr)?,
                amount: cakupan_domain::Rupiah(row.try_get(4).map_err($dberr)?),
                paid_on: $crate::employers::rows::date_of(
                    &row.try_get::<String, _>(5).map_err($dberr)?,
                )?,
                trx_date_time: row.try_get(6).map_err($dberr)?,
                partner_reference: row.try_get(7).map_err($dberr)?,
                posting_reference: row.try_get(8).map_err($dberr)?,
                participant_id: row.try_get(9).map_err($dberr)?,
                invoice_id: row.try_get(10).map_err($dberr)?,
                first_month: first.map($crate::employers::rows::month_of).transpose()?,
                months: months.and_then(|m| i32::try_from(m).ok()),
                receipt: row.try_get(13).map_err($dberr)?,
                reversed: row.try_get(14).map_err($dberr)?,
                recorded_at: row.try_get(15).map_err($dberr)?,
            })
        }

        fn exception_at(
            row: &<$db as sqlx::Database>::Row,
        ) -> $crate::Result<$crate::payments::PaymentException> {
            use sqlx::Row;
            Ok($crate::payments::PaymentException {
                id: row.try_get(0).map_err($dberr)?,
                partner_code: row.try_get(1).map_err($dberr)?,
                day: row.try_get(2).map_err($dberr)?,
                kind: row.try_get(3).map_err($dberr)?,
                payment_request_id: row.try_get(4).map_err($dberr)?,
                virtual_account: row.try_get(5).map_err($dberr)?,
                settled_amount: row.try_get(6).map_err($dberr)?,
                recorded_amount: row.try_get(7).map_err($dberr)?,
                settlement_id: row.try_get(8).map_err($dberr)?,
                line_no: row.try_get(9).map_err($dberr)?,
                region: row.try_get(10).map_err($dberr)?,
                state: row.try_get(11).map_err($dberr)?,
                action: row.try_get(12).map_err($dberr)?,
                reason: row.try_get(13).map_err($dberr)?,
                proposed_by: row.try_get(14).map_err($dberr)?,
                proposed_at: row.try_get(15).map_err($dberr)?,
                resolved_by: row.try_get(16).map_err($dberr)?,
                resolved_at: row.try_get(17).map_err($dberr)?,
                found_at: row.try_get(18).map_err($dberr)?,
            })
        }

        fn settlement_at(
            row: &<$db as sqlx::Database>::Row,
        ) -> $crate::Result<$crate::payments::Settlement> {
            use sqlx::Row;
            Ok($crate::payments::Settlement {
                id: row.try_get(0).map_err($dberr)?,
                partner_code: row.try_get(1).map_err($dberr)?,
                sha256: row.try_get(2).map_err($dberr)?,
                format: row.try_get(3).map_err($dberr)?,
                file_name: row.try_get(4).map_err($dberr)?,
                lines: row.try_get(5).map_err($dberr)?,
                bad_lines: row.try_get(6).map_err($dberr)?,
                imported_by: row.try_get(7).map_err($dberr)?,
                imported_at: row.try_get(8).map_err($dberr)?,
            })
        }

        async fn channel_payment_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            partner: &str,
            request_id: &str,
        ) -> $crate::Result<Option<$crate::payments::ChannelRecord>> {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM channel_payments WHERE partner_code = $1 AND payment_request_id = $2",
                $crate::payments::CHANNEL_COLUMNS
            )))
            .bind(partner)
            .bind(request_id)
            .fetch_optional(conn)
            .await
            .map_err($dberr)?
            .as_ref()
            .map(record_at)
            .transpose()
        }

        /// Records a channel payment row once its posting is made.
        async fn insert_channel_payment(
            tx: &mut sqlx::Transaction<'_, $db>,
            p: &$crate::payments::ChannelPayment,
            posting_reference: &str,
            receipt: &str,
        ) -> $crate::Result<$crate::payments::ChannelRecord> {
            use $crate::payments::ChannelPayee;
            let (participant_id, invoice_id, first, months) = match &p.payee {
                ChannelPayee::Contribution {
                    participant_id,
                    payment,
                } => (
                    Some(*participant_id),
                    None,
                    Some(i64::from(payment.first_month.index())),
                    Some(i64::from(payment.months)),
                ),
                ChannelPayee::Invoice { invoice_id, .. } => {
                    (None, Some(*invoice_id), None, None)
                }
            };
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO channel_payments (partner_code, payment_request_id, virtual_account, amount, paid_on, trx_date_time, partner_reference, posting_reference, participant_id, invoice_id, first_month, months, receipt, reversed, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, false, $14)
                 RETURNING {}",
                $crate::payments::CHANNEL_COLUMNS
            )))
            .bind(&p.partner_code)
            .bind(&p.payment_request_id)
            .bind(&p.virtual_account)
            .bind(p.amount.0)
            .bind(cakupan_domain::month::format_date(p.paid_on))
            .bind(&p.trx_date_time)
            .bind(&p.partner_reference)
            .bind(posting_reference)
            .bind(participant_id)
            .bind(invoice_id)
            .bind(first)
            .bind(months)
            .bind(receipt)
            .bind($crate::clock::now_rfc3339())
            .fetch_one(&mut **tx)
            .await
            .map_err($dberr)?;
            record_at(&row)
        }

        /// Posts a channel payment's money: the contribution (refused as no longer due when a
        /// contribution posted since covers its first month or a later one) or the employer
        /// payment. Returns the posting's reference and the receipt, or None when no longer due.
        async fn post_channel_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            keys: &$crate::crypto::Keys,
            rules: &cakupan_domain::RuleSet,
            p: &$crate::payments::ChannelPayment,
        ) -> $crate::Result<Option<(String, String)>> {
            use $crate::payments::ChannelPayee;
            match &p.payee {
                ChannelPayee::Contribution {
                    participant_id,
                    payment,
                } => {
                    $store::lock_person_own(tx, *participant_id).await?;
                    let rows = ledger_rows(&mut **tx, *participant_id).await?;
                    let reversed: std::collections::HashSet<&str> = rows
                        .iter()
                        .filter(|r| r.kind == "reversal")
                        .filter_map(|r| r.target_reference.as_deref())
                        .collect();
                    let first = payment.first_month.index();
                    let covered_since = rows.iter().any(|r| {
                        r.kind == "contribution"
                            && !reversed.contains(r.reference.as_str())
                            && r.first_month.zip(r.months).is_some_and(|(f, m)| f + m > first)
                    });
                    if covered_since {
                        return Ok(None);
                    }
                    let outcome = post_batch_in(
                        tx,
                        keys,
                        rules,
                        &[$crate::ledger::NewPosting::Contribution(payment.clone())],
                    )
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| $crate::StoreError::Database("posting left without an outcome".into()))?
                    .map_err($crate::StoreError::Rejected)?;
                    let id = match outcome {
                        $crate::ledger::PostingOutcome::Posted { id, .. }
                        | $crate::ledger::PostingOutcome::Existing { id, .. } => id,
                    };
                    Ok(Some((
                        payment.reference.clone(),
                        $crate::agents::receipt_number(keys, id),
                    )))
                }
                ChannelPayee::Invoice { payment, .. } => {
                    super::employers::payment_in(tx, keys, rules, payment).await?;
                    Ok(Some((payment.reference.clone(), payment.reference.clone())))
                }
            }
        }

        #[async_trait::async_trait]
        impl $crate::payments::PaymentStore for $store {
            async fn add_partner(
                &self,
                p: &$crate::payments::Partner,
                by: &str,
            ) -> $crate::Result<bool> {
                let key = format!("public_key/{}", p.code);
                let secret = format!("client_secret/{}", p.code);
                let added = sqlx::query(
                    "INSERT INTO channel_partners (code, name, kind, settlement_account, fee, public_key, client_secret, active, added_by, added_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (code) DO NOTHING",
                )
                .bind(&p.code)
                .bind(&p.name)
                .bind(&p.kind)
                .bind(&p.settlement_account)
                .bind(p.fee.0)
                .bind(self.keys.seal("channel_partners", 0, &key, &p.public_key)?)
                .bind(self.keys.seal("channel_partners", 0, &secret, &p.client_secret)?)
                .bind(p.active)
                .bind(by)
                .bind($crate::clock::now_rfc3339())
                .execute(&self.$write)
                .await
                .map_err($dberr)?
                .rows_affected();
                if added == 1 {
                    return Ok(true);
                }
                let stored = self.partner(&p.code).await?;
                if stored.as_ref() == Some(p) {
                    Ok(false)
                } else {
                    Err($crate::StoreError::Rejected(
                        cakupan_domain::FieldError::new(
                            "code",
                            "code.taken",
                            format!("partner code {} is taken by another partner", p.code),
                        )
                        .into(),
                    ))
                }
            }

            async fn set_partner_active(&self, code: &str, active: bool) -> $crate::Result<bool> {
                Ok(sqlx::query("UPDATE channel_partners SET active = $1 WHERE code = $2")
                    .bind(active)
                    .bind(code)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?
                    .rows_affected()
                    == 1)
            }

            async fn partners(&self) -> $crate::Result<Vec<$crate::payments::PartnerSummary>> {
                let rows: Vec<(String, String, String, String, i64, bool, String, String)> =
                    sqlx::query_as(
                        "SELECT code, name, kind, settlement_account, fee, active, added_by, added_at
                         FROM channel_partners ORDER BY code",
                    )
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?;
                Ok(rows
                    .into_iter()
                    .map(|(code, name, kind, settlement_account, fee, active, added_by, added_at)| {
                        $crate::payments::PartnerSummary {
                            code,
                            name,
                            kind,
                            settlement_account,
                            fee: cakupan_domain::Rupiah(fee),
                            active,
                            added_by,
                            added_at,
                        }
                    })
                    .collect())
            }

            async fn partner(&self, code: &str) -> $crate::Result<Option<$crate::payments::Partner>> {
                let row: Option<(String, String, String, String, i64, Vec<u8>, Vec<u8>, bool)> =
                    sqlx::query_as(
                        "SELECT code, name, kind, settlement_account, fee, public_key, client_secret, active
                         FROM channel_partners WHERE code = $1",
                    )
                    .bind(code)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($dberr)?;
                let Some((code, name, kind, settlement_account, fee, key, secret, active)) = row
                else {
                    return Ok(None);
                };
                let public_key =
                    self.keys
                        .open("channel_partners", 0, &format!("public_key/{code}"), &key)?;
                let client_secret = self.keys.open(
                    "channel_partners",
                    0,
                    &format!("client_secret/{code}"),
                    &secret,
                )?;
                Ok(Some($crate::payments::Partner {
                    code,
                    name,
                    kind,
                    settlement_account,
                    fee: cakupan_domain::Rupiah(fee),
                    public_key,
                    client_secret,
                    active,
                }))
            }

            async fn invoice_owner(&self, invoice_id: i64) -> $crate::Result<Option<String>> {
                sqlx::query_scalar("SELECT employer_code FROM invoices WHERE id = $1")
                    .bind(invoice_id)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($dberr)
            }

            async fn pay_channel(
                &self,
                rules: &cakupan_domain::RuleSet,
                p: &$crate::payments::ChannelPayment,
            ) -> $crate::Result<$crate::payments::ChannelOutcome> {
                use $crate::payments::ChannelOutcome;
                let reference = match &p.payee {
                    $crate::payments::ChannelPayee::Contribution { payment, .. } => {
                        payment.reference.clone()
                    }
                    $crate::payments::ChannelPayee::Invoice { payment, .. } => {
                        payment.reference.clone()
                    }
                };
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                // Concurrent retries of one payment wait here for the first to commit.
                $store::lock_references_own(&mut tx, &[reference.as_str()]).await?;
                let claimed = sqlx::query(
                    "INSERT INTO snap_external_ids (partner_code, day, external_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(&p.partner_code)
                .bind(cakupan_domain::month::format_date(p.day))
                .bind(&p.external_id)
                .execute(&mut *tx)
                .await
                .map_err($dberr)?
                .rows_affected();
                if claimed == 0 {
                    return Ok(ChannelOutcome::ExternalIdUsed);
                }
                if let Some(first) =
                    channel_payment_in(&mut *tx, &p.partner_code, &p.payment_request_id).await?
                {
                    return if first.virtual_account == p.virtual_account && first.amount == p.amount
                    {
                        tx.commit().await.map_err($dberr)?;
                        Ok(ChannelOutcome::Repeat(first))
                    } else {
                        Ok(ChannelOutcome::Inconsistent(first))
                    };
                }
                let Some((posting_reference, receipt)) =
                    post_channel_in(&mut tx, &self.keys, rules, p).await?
                else {
                    return Ok(ChannelOutcome::NoLongerDue);
                };
                let record =
                    insert_channel_payment(&mut tx, p, &posting_reference, &receipt).await?;
                tx.commit().await.map_err($dberr)?;
                Ok(ChannelOutcome::Paid(record))
            }

            async fn claim_external_id(
                &self,
                partner: &str,
                day: time::Date,
                external_id: &str,
            ) -> $crate::Result<bool> {
                Ok(sqlx::query(
                    "INSERT INTO snap_external_ids (partner_code, day, external_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(partner)
                .bind(cakupan_domain::month::format_date(day))
                .bind(external_id)
                .execute(&self.$write)
                .await
                .map_err($dberr)?
                .rows_affected()
                    == 1)
            }

            async fn channel_payment(
                &self,
                partner: &str,
                request_id: &str,
            ) -> $crate::Result<Option<$crate::payments::ChannelRecord>> {
                let mut conn = self.$read.acquire().await.map_err($dberr)?;
                channel_payment_in(&mut conn, partner, request_id).await
            }

            async fn channel_payment_by_receipt(
                &self,
                receipt: &str,
            ) -> $crate::Result<Option<($crate::payments::ChannelRecord, String)>> {
                use sqlx::Row;
                let cols = $crate::payments::CHANNEL_COLUMNS
                    .split(", ")
                    .map(|c| format!("c.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {cols}, p.name FROM channel_payments c JOIN channel_partners p ON p.code = c.partner_code
                     WHERE c.receipt = $1"
                )))
                .bind(receipt)
                .fetch_optional(&self.$read)
                .await
                .map_err($dberr)?
                else {
                    return Ok(None);
                };
                Ok(Some((record_at(&row)?, row.try_get(16).map_err($dberr)?)))
            }

            async fn channel_payments_on(
                &self,
                partner: &str,
                day: time::Date,
            ) -> $crate::Result<Vec<$crate::payments::ChannelRecord>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM channel_payments WHERE partner_code = $1 AND paid_on = $2 ORDER BY id",
                    $crate::payments::CHANNEL_COLUMNS
                )))
                .bind(partner)
                .bind(cakupan_domain::month::format_date(day))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?
                .iter()
                .map(record_at)
                .collect()
            }

            async fn begin_settlement(
                &self,
                s: &$crate::payments::Settlement,
            ) -> $crate::Result<(i64, bool)> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let found: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT id, lines FROM settlements WHERE partner_code = $1 AND sha256 = $2",
                )
                .bind(&s.partner_code)
                .bind(&s.sha256)
                .fetch_optional(&mut *tx)
                .await
                .map_err($dberr)?;
                // `lines` is -1 until the import finishes: an unfinished import resumes.
                if let Some((id, lines)) = found {
                    return Ok((id, lines >= 0));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO settlements (partner_code, sha256, format, file_name, lines, bad_lines, imported_by, imported_at)
                     VALUES ($1, $2, $3, $4, -1, 0, $5, $6) RETURNING id",
                )
                .bind(&s.partner_code)
                .bind(&s.sha256)
                .bind(&s.format)
                .bind(&s.file_name)
                .bind(&s.imported_by)
                .bind($crate::clock::now_rfc3339())
                .fetch_one(&mut *tx)
                .await
                .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                Ok((id, false))
            }

            async fn settle_lines(
                &self,
                settlement_id: i64,
                partner: &str,
                lines: &[$crate::payments::SettlementLine],
            ) -> $crate::Result<Vec<$crate::payments::NewException>> {
                use sqlx::Row;
                if lines.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let ids: Vec<&str> = lines.iter().map(|l| l.payment_request_id.as_str()).collect();
                let mut recorded = std::collections::HashMap::new();
                for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM channel_payments WHERE partner_code = $1 AND payment_request_id {}",
                    $crate::payments::CHANNEL_COLUMNS,
                    <$store as $crate::Dialect>::one_of(2)
                )))
                .bind(partner)
                .bind(<$store as $crate::Dialect>::texts(&ids))
                .fetch_all(&mut *tx)
                .await
                .map_err($dberr)?
                {
                    let r = record_at(&row)?;
                    recorded.insert(r.payment_request_id.clone(), r);
                }
                // Lines of other settlements (or other lines of this one) with the same ids.
                let mut seen: std::collections::HashMap<String, Vec<(i64, i64)>> =
                    std::collections::HashMap::new();
                for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT payment_request_id, settlement_id, line_no FROM settlement_lines WHERE partner_code = $1 AND payment_request_id {}",
                    <$store as $crate::Dialect>::one_of(2)
                )))
                .bind(partner)
                .bind(<$store as $crate::Dialect>::texts(&ids))
                .fetch_all(&mut *tx)
                .await
                .map_err($dberr)?
                {
                    seen.entry(row.try_get(0).map_err($dberr)?)
                        .or_default()
                        .push((row.try_get(1).map_err($dberr)?, row.try_get(2).map_err($dberr)?));
                }
                let regions = {
                    let pids: Vec<i64> =
                        recorded.values().filter_map(|r| r.participant_id).collect();
                    let mut m = std::collections::HashMap::new();
                    if !pids.is_empty() {
                        for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT id, village_code FROM participants WHERE id {}",
                            <$store as $crate::Dialect>::one_of(1)
                        )))
                        .bind(<$store as $crate::Dialect>::ids(&pids))
                        .fetch_all(&mut *tx)
                        .await
                        .map_err($dberr)?
                        {
                            let id: i64 = row.try_get(0).map_err($dberr)?;
                            let v: String = row.try_get(1).map_err($dberr)?;
                            m.insert(id, v);
                        }
                    }
                    m
                };
                $store::insert_settlement_lines_own(&mut tx, partner, settlement_id, lines).await?;
                let mut found = Vec::new();
                for l in lines {
                    let earlier = seen
                        .get(&l.payment_request_id)
                        .is_some_and(|v| v.iter().any(|&(s, n)| (s, n) < (settlement_id, l.line_no)));
                    seen.entry(l.payment_request_id.clone())
                        .or_default()
                        .push((settlement_id, l.line_no));
                    let rec = recorded.get(&l.payment_request_id);
                    let kind = if earlier {
                        Some("duplicate")
                    } else {
                        match rec {
                            None => Some("missing_here"),
                            Some(r) if r.amount != l.amount || r.virtual_account != l.virtual_account => {
                                Some("amount_differs")
                            }
                            Some(_) => None,
                        }
                    };
                    if let Some(kind) = kind {
                        found.push($crate::payments::NewException {
                            partner_code: partner.to_string(),
                            day: l.day,
                            kind,
                            payment_request_id: l.payment_request_id.clone(),
                            virtual_account: l.virtual_account.clone(),
                            settled_amount: Some(l.amount.0),
                            recorded_amount: rec.map(|r| r.amount.0),
                            settlement_id: Some(settlement_id),
                            line_no: Some(l.line_no),
                            region: rec
                                .and_then(|r| r.participant_id)
                                .and_then(|id| regions.get(&id).cloned())
                                .unwrap_or_default(),
                            state: "open",
                            action: None,
                        });
                    }
                }
                // A payment flagged as missing there whose line has arrived since: settled late.
                let matched: Vec<&str> = lines
                    .iter()
                    .filter(|l| recorded.contains_key(&l.payment_request_id))
                    .map(|l| l.payment_request_id.as_str())
                    .collect();
                if !matched.is_empty() {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE payment_exceptions SET state = 'resolved', action = 'close', reason = 'settled late', resolved_by = 'reconciliation', resolved_at = $3
                         WHERE partner_code = $1 AND kind = 'missing_there' AND state <> 'resolved' AND payment_request_id {}",
                        <$store as $crate::Dialect>::one_of(2)
                    )))
                    .bind(partner)
                    .bind(<$store as $crate::Dialect>::texts(&matched))
                    .bind($crate::clock::now_rfc3339())
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                }
                tx.commit().await.map_err($dberr)?;
                Ok(found)
            }

            async fn add_exceptions(
                &self,
                found: &[$crate::payments::NewException],
            ) -> $crate::Result<u64> {
                if found.is_empty() {
                    return Ok(0);
                }
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let added =
                    $store::insert_exceptions_own(&mut tx, found, &$crate::clock::now_rfc3339())
                        .await?;
                tx.commit().await.map_err($dberr)?;
                Ok(added)
            }

            async fn finish_settlement(
                &self,
                settlement_id: i64,
                lines: i64,
                bad_lines: i64,
            ) -> $crate::Result<()> {
                sqlx::query("UPDATE settlements SET lines = $1, bad_lines = $2 WHERE id = $3")
                    .bind(lines)
                    .bind(bad_lines)
                    .bind(settlement_id)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                Ok(())
            }

            async fn settlements(
                &self,
                partner: Option<&str>,
            ) -> $crate::Result<Vec<$crate::payments::Settlement>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM settlements WHERE ($1 IS NULL OR partner_code = $1) ORDER BY id DESC",
                    $crate::payments::SETTLEMENT_COLUMNS
                )))
                .bind(partner)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?
                .iter()
                .map(settlement_at)
                .collect()
            }

            async fn flag_unsettled(
                &self,
                partner: &str,
                from: time::Date,
                to: time::Date,
                propose_before: time::Date,
            ) -> $crate::Result<u64> {
                let f = cakupan_domain::month::format_date(from);
                let t = cakupan_domain::month::format_date(to);
                let p = cakupan_domain::month::format_date(propose_before);
                let now = $crate::clock::now_rfc3339();
                let flagged = sqlx::query(
                    "INSERT INTO payment_exceptions (partner_code, day, kind, payment_request_id, virtual_account, settled_amount, recorded_amount, settlement_id, line_no, region, state, action, found_at)
                     SELECT c.partner_code, c.paid_on, 'missing_there', c.payment_request_id, c.virtual_account, NULL, c.amount, NULL, NULL,
                            COALESCE(x.village_code, ''),
                            CASE WHEN c.paid_on <= $4 THEN 'proposed' ELSE 'open' END,
                            CASE WHEN c.paid_on <= $4 THEN 'reverse' ELSE NULL END,
                            $5
                     FROM channel_payments c
                     LEFT JOIN participants x ON x.id = c.participant_id
                     WHERE c.partner_code = $1 AND c.paid_on >= $2 AND c.paid_on <= $3 AND c.reversed = false
                       AND EXISTS (SELECT 1 FROM settlement_lines d WHERE d.partner_code = c.partner_code AND d.day = c.paid_on)
                       AND NOT EXISTS (SELECT 1 FROM settlement_lines s WHERE s.partner_code = c.partner_code AND s.payment_request_id = c.payment_request_id)
                     ON CONFLICT DO NOTHING",
                )
                .bind(partner)
                .bind(&f)
                .bind(&t)
                .bind(&p)
                .bind(&now)
                .execute(&self.$write)
                .await
                .map_err($dberr)?
                .rows_affected();
                // Flagged before and unsettled for long enough since: propose the reversal.
                let proposed = sqlx::query(
                    "UPDATE payment_exceptions SET state = 'proposed', action = 'reverse'
                     WHERE partner_code = $1 AND kind = 'missing_there' AND state = 'open' AND day <= $2",
                )
                .bind(partner)
                .bind(&p)
                .execute(&self.$write)
                .await
                .map_err($dberr)?
                .rows_affected();
                Ok(flagged + proposed)
            }

            async fn payment_exceptions(
                &self,
                state: Option<&str>,
            ) -> $crate::Result<Vec<$crate::payments::PaymentException>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM payment_exceptions WHERE ($1 IS NULL OR state = $1) ORDER BY id",
                    $crate::payments::EXCEPTION_COLUMNS
                )))
                .bind(state)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?
                .iter()
                .map(exception_at)
                .collect()
            }

            async fn payment_exception(
                &self,
                id: i64,
            ) -> $crate::Result<Option<$crate::payments::PaymentException>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM payment_exceptions WHERE id = $1",
                    $crate::payments::EXCEPTION_COLUMNS
                )))
                .bind(id)
                .fetch_optional(&self.$read)
                .await
                .map_err($dberr)?
                .as_ref()
                .map(exception_at)
                .transpose()
            }

            async fn propose_exception(
                &self,
                id: i64,
                action: &str,
                reason: &str,
                by: &str,
            ) -> $crate::Result<bool> {
                Ok(sqlx::query(
                    "UPDATE payment_exceptions SET state = 'proposed', action = $2, reason = $3, proposed_by = $4, proposed_at = $5
                     WHERE id = $1 AND state = 'open'",
                )
                .bind(id)
                .bind(action)
                .bind(reason)
                .bind(by)
                .bind($crate::clock::now_rfc3339())
                .execute(&self.$write)
                .await
                .map_err($dberr)?
                .rows_affected()
                    == 1)
            }

            async fn resolve_exception(
                &self,
                rules: &cakupan_domain::RuleSet,
                id: i64,
                resolution: &$crate::payments::Resolution,
                reason: &str,
                by: &str,
            ) -> $crate::Result<$crate::payments::ResolveOutcome> {
                use $crate::payments::{Resolution, ResolveOutcome};
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let state: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT state FROM payment_exceptions WHERE id = $1{}",
                    <$store as $crate::Dialect>::FOR_UPDATE
                )))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($dberr)?;
                match state.as_deref() {
                    None => {
                        return Err($crate::StoreError::Rejected(
                            cakupan_domain::FieldError::new(
                                "exception",
                                "exception.unknown",
                                format!("there is no exception {id}"),
                            )
                            .into(),
                        ));
                    }
                    Some("resolved") => return Ok(ResolveOutcome::AlreadyResolved),
                    Some(_) => {}
                }
                let posted = match resolution {
                    Resolution::Close => None,
                    Resolution::Post(p) => {
                        let claimed = channel_payment_in(&mut *tx, &p.partner_code, &p.payment_request_id).await?;
                        if claimed.is_none() {
                            match post_channel_in(&mut tx, &self.keys, rules, p).await? {
                                Some((reference, receipt)) => {
                                    insert_channel_payment(&mut tx, p, &reference, &receipt).await?;
                                }
                                None => {
                                    return Err($crate::StoreError::Rejected(
                                        cakupan_domain::FieldError::new(
                                            "exception",
                                            "exception.not_due",
                                            "the months this payment would cover are paid already: close it instead, or hold it in suspense",
                                        )
                                        .into(),
                                    ));
                                }
                            }
                        }
                        None
                    }
                    Resolution::Reverse { reference, on } => {
                        let out = post_batch_in(
                            &mut tx,
                            &self.keys,
                            rules,
                            &[$crate::ledger::NewPosting::Reversal {
                                reference: format!("REV-{reference}"),
                                target: reference.clone(),
                                on: *on,
                            }],
                        )
                        .await?
                        .into_iter()
                        .next()
                        .ok_or_else(|| $crate::StoreError::Database("posting left without an outcome".into()))?
                        .map_err($crate::StoreError::Rejected)?;
                        sqlx::query("UPDATE channel_payments SET reversed = true WHERE posting_reference = $1")
                            .bind(reference)
                            .execute(&mut *tx)
                            .await
                            .map_err($dberr)?;
                        Some(out)
                    }
                };
                sqlx::query(
                    "UPDATE payment_exceptions SET state = 'resolved', reason = $2, resolved_by = $3, resolved_at = $4,
                            action = COALESCE(action, 'close')
                     WHERE id = $1",
                )
                .bind(id)
                .bind(reason)
                .bind(by)
                .bind($crate::clock::now_rfc3339())
                .execute(&mut *tx)
                .await
                .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                Ok(ResolveOutcome::Resolved(posted))
            }

            async fn daily_totals(
                &self,
                from: time::Date,
                to: time::Date,
            ) -> $crate::Result<Vec<$crate::payments::DailyTotal>> {
                let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
                    "SELECT partner_code, day, CAST(SUM(expected) AS BIGINT), CAST(SUM(expected_count) AS BIGINT),
                            CAST(SUM(settled) AS BIGINT), CAST(SUM(settled_count) AS BIGINT)
                     FROM (
                       SELECT partner_code, paid_on AS day, amount AS expected, 1 AS expected_count, 0 AS settled, 0 AS settled_count
                       FROM channel_payments WHERE paid_on >= $1 AND paid_on <= $2 AND reversed = false
                       UNION ALL
                       SELECT partner_code, day, 0, 0, amount, 1
                       FROM settlement_lines WHERE day >= $1 AND day <= $2
                     ) AS t
                     GROUP BY partner_code, day ORDER BY day, partner_code",
                )
                .bind(cakupan_domain::month::format_date(from))
                .bind(cakupan_domain::month::format_date(to))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                Ok(rows
                    .into_iter()
                    .map(|(partner_code, day, expected, expected_count, settled, settled_count)| {
                        $crate::payments::DailyTotal {
                            partner_code,
                            day,
                            expected,
                            expected_count,
                            settled,
                            settled_count,
                            difference: settled - expected,
                        }
                    })
                    .collect())
            }
        }
    };
}
