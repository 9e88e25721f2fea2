//! The payment rails' SQL (issue #19), written once for both sqlx backends (`$N` placeholders).

/// Expands to `PaymentStore` and `ChannelWriter` for `$store` on the sqlx database `$db`. It
/// builds on the shared flows (`post_batch_in`), the employers' `payment_in` (in the
/// backend's `employers` module), the backend's `lock_references_own` and
/// `lock_participants_own`, and its bulk writes `insert_settlement_lines_own` and
/// `insert_exceptions_own`.
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

        /// Records channel payment rows once their postings are made (`(payment, posting
        /// reference, receipt)`), in one statement: the records, in order.
        async fn insert_channel_payments(
            tx: &mut sqlx::Transaction<'_, $db>,
            rows: &[(&$crate::payments::ChannelPayment, String, String)],
        ) -> $crate::Result<Vec<$crate::payments::ChannelRecord>> {
            use $crate::payments::ChannelPayee;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let values: Vec<String> = (0..rows.len())
                .map(|i| {
                    let n = i * 14;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, false, ${})",
                        n + 1, n + 2, n + 3, n + 4, n + 5, n + 6, n + 7, n + 8, n + 9, n + 10, n + 11, n + 12, n + 13, n + 14
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO channel_payments (partner_code, payment_request_id, virtual_account, amount, paid_on, trx_date_time, partner_reference, posting_reference, participant_id, invoice_id, first_month, months, receipt, reversed, recorded_at)
                 VALUES {}
                 RETURNING {}",
                values.join(", "),
                $crate::payments::CHANNEL_COLUMNS
            );
            let now = $crate::clock::now_rfc3339();
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (p, posting_reference, receipt) in rows {
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
                q = q
                    .bind(p.partner_code.clone())
                    .bind(p.payment_request_id.clone())
                    .bind(p.virtual_account.clone())
                    .bind(p.amount.0)
                    .bind(cakupan_domain::month::format_date(p.paid_on))
                    .bind(p.trx_date_time.clone())
                    .bind(p.partner_reference.clone())
                    .bind(posting_reference.clone())
                    .bind(participant_id)
                    .bind(invoice_id)
                    .bind(first)
                    .bind(months)
                    .bind(receipt.clone())
                    .bind(now.clone());
            }
            let mut made: std::collections::HashMap<(String, String), $crate::payments::ChannelRecord> =
                std::collections::HashMap::new();
            for row in q.fetch_all(&mut **tx).await.map_err($dberr)? {
                let r = record_at(&row)?;
                made.insert((r.partner_code.clone(), r.payment_request_id.clone()), r);
            }
            rows.iter()
                .map(|(p, _, _)| {
                    made.remove(&(p.partner_code.clone(), p.payment_request_id.clone()))
                        .ok_or_else(|| $crate::StoreError::Database("a channel payment was not recorded".into()))
                })
                .collect()
        }

        /// Claims X-EXTERNAL-IDs, in one statement: whether each was claimed now (of two
        /// works with the same id, the first).
        async fn claim_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            work: &[$crate::payments::ChannelWork],
        ) -> $crate::Result<Vec<bool>> {
            use sqlx::Row;
            if work.is_empty() {
                return Ok(Vec::new());
            }
            let values: Vec<String> = (0..work.len())
                .map(|i| format!("(${}, ${}, ${})", i * 3 + 1, i * 3 + 2, i * 3 + 3))
                .collect();
            let sql = format!(
                "INSERT INTO snap_external_ids (partner_code, day, external_id) VALUES {} ON CONFLICT DO NOTHING RETURNING partner_code, day, external_id",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for w in work {
                let (partner, day, external_id) = w.external_id();
                q = q
                    .bind(partner.to_string())
                    .bind(cakupan_domain::month::format_date(day))
                    .bind(external_id.to_string());
            }
            let mut claimed: std::collections::HashSet<(String, String, String)> = Default::default();
            for row in q.fetch_all(&mut **tx).await.map_err($dberr)? {
                claimed.insert((
                    row.try_get(0).map_err($dberr)?,
                    row.try_get(1).map_err($dberr)?,
                    row.try_get(2).map_err($dberr)?,
                ));
            }
            Ok(work
                .iter()
                .map(|w| {
                    let (partner, day, external_id) = w.external_id();
                    claimed.remove(&(
                        partner.to_string(),
                        cakupan_domain::month::format_date(day),
                        external_id.to_string(),
                    ))
                })
                .collect())
        }

        /// Gives back the X-EXTERNAL-IDs of refused payments: a refused request changes
        /// nothing, its id included.
        async fn unclaim_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            work: &[&$crate::payments::ChannelWork],
        ) -> $crate::Result<()> {
            for w in work {
                let (partner, day, external_id) = w.external_id();
                sqlx::query(
                    "DELETE FROM snap_external_ids WHERE partner_code = $1 AND day = $2 AND external_id = $3",
                )
                .bind(partner)
                .bind(cakupan_domain::month::format_date(day))
                .bind(external_id)
                .execute(&mut **tx)
                .await
                .map_err($dberr)?;
            }
            Ok(())
        }

        /// The payments recorded before under these partners' payment request ids.
        async fn firsts_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            pays: &[&$crate::payments::ChannelPayment],
        ) -> $crate::Result<std::collections::HashMap<(String, String), $crate::payments::ChannelRecord>> {
            let mut by_partner: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
            for p in pays {
                by_partner
                    .entry(p.partner_code.as_str())
                    .or_default()
                    .push(p.payment_request_id.as_str());
            }
            let mut found = std::collections::HashMap::new();
            for (partner, ids) in by_partner {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM channel_payments WHERE partner_code = $1 AND payment_request_id {}",
                    $crate::payments::CHANNEL_COLUMNS,
                    <$store as $crate::Dialect>::one_of(2)
                )))
                .bind(partner)
                .bind(<$store as $crate::Dialect>::texts(&ids))
                .fetch_all(&mut **tx)
                .await
                .map_err($dberr)?;
                for row in &rows {
                    let r = record_at(row)?;
                    found.insert((r.partner_code.clone(), r.payment_request_id.clone()), r);
                }
            }
            Ok(found)
        }

        /// The participations of which a contribution posted and not reversed covers `first`
        /// or a later month, of those asked (`(participant, first month index)`): a payment
        /// for them is no longer due. Their people are locked first (where rows lock).
        async fn covered_since_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            asked: &[(i64, i32)],
        ) -> $crate::Result<std::collections::HashSet<i64>> {
            use sqlx::Row;
            let mut covered = std::collections::HashSet::new();
            if asked.is_empty() {
                return Ok(covered);
            }
            let ids: Vec<i64> = asked.iter().map(|(id, _)| *id).collect();
            $store::lock_participants_own(tx, &ids).await?;
            let mut ledgers: std::collections::HashMap<i64, Vec<$crate::ledger::LedgerRow>> =
                Default::default();
            for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT participant_id, {} FROM postings WHERE participant_id {} ORDER BY participant_id, id",
                $crate::rows::LEDGER_COLUMNS,
                <$store as $crate::Dialect>::one_of(1)
            )))
            .bind(<$store as $crate::Dialect>::ids(&ids))
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?
            {
                let pid: i64 = row.try_get(0).map_err($dberr)?;
                ledgers.entry(pid).or_default().push($crate::rows::ledger(&row, 1)?);
            }
            for (id, first) in asked {
                let rows = ledgers.get(id).map(Vec::as_slice).unwrap_or_default();
                let reversed: std::collections::HashSet<&str> = rows
                    .iter()
                    .filter(|r| r.kind == "reversal")
                    .filter_map(|r| r.target_reference.as_deref())
                    .collect();
                if rows.iter().any(|r| {
                    r.kind == "contribution"
                        && !reversed.contains(r.reference.as_str())
                        && r.first_month.zip(r.months).is_some_and(|(f, m)| f + m > *first)
                }) {
                    covered.insert(*id);
                }
            }
            Ok(covered)
        }

        /// Posts payments that were not recorded before and records them: each contribution
        /// is refused as no longer due (`None`) when a contribution posted since covers its
        /// first month or a later one, refused as the ledger refuses it, or posted (all in
        /// one batch); each invoice's payment settles the employer's dues. One answer per
        /// payment, in order.
        async fn post_payments_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            keys: &$crate::crypto::Keys,
            rules: &cakupan_domain::RuleSet,
            pays: &[&$crate::payments::ChannelPayment],
        ) -> $crate::Result<Vec<$crate::Result<Option<$crate::payments::ChannelRecord>>>> {
            use $crate::payments::ChannelPayee;
            let asked: Vec<(i64, i32)> = pays
                .iter()
                .filter_map(|p| match &p.payee {
                    ChannelPayee::Contribution { participant_id, payment } => {
                        Some((*participant_id, payment.first_month.index()))
                    }
                    ChannelPayee::Invoice { .. } => None,
                })
                .collect();
            let covered = covered_since_in(tx, &asked).await?;
            let mut answers: Vec<Option<$crate::Result<Option<$crate::payments::ChannelRecord>>>> =
                Vec::with_capacity(pays.len());
            let mut to_post = Vec::new();
            let mut posted_by = Vec::new();
            let mut records = Vec::new();
            for (i, p) in pays.iter().enumerate() {
                match &p.payee {
                    ChannelPayee::Contribution { participant_id, payment } => {
                        if covered.contains(participant_id) {
                            answers.push(Some(Ok(None)));
                        } else {
                            to_post.push($crate::ledger::NewPosting::Contribution(payment.clone()));
                            posted_by.push(i);
                            answers.push(None);
                        }
                    }
                    ChannelPayee::Invoice { payment, .. } => {
                        super::employers::payment_in(tx, keys, rules, payment).await?;
                        records.push((i, (*p, payment.reference.clone(), payment.reference.clone())));
                        answers.push(None);
                    }
                }
            }
            let outcomes = post_batch_in(tx, keys, rules, &to_post).await?;
            if outcomes.len() != posted_by.len() {
                return Err($crate::StoreError::Database("a posting was left without an outcome".into()));
            }
            for (i, outcome) in posted_by.into_iter().zip(outcomes) {
                let p = pays[i];
                match outcome {
                    Ok($crate::ledger::PostingOutcome::Posted { id, .. }
                    | $crate::ledger::PostingOutcome::Existing { id, .. }) => {
                        let receipt = $crate::agents::receipt_number(keys, id);
                        records.push((i, (p, to_post_reference(p), receipt)));
                    }
                    Err(e) => answers[i] = Some(Err($crate::StoreError::Rejected(e))),
                }
            }
            let (at, rows): (Vec<usize>, Vec<_>) = records.into_iter().unzip();
            for (i, record) in at.into_iter().zip(insert_channel_payments(tx, &rows).await?) {
                answers[i] = Some(Ok(Some(record)));
            }
            answers
                .into_iter()
                .map(|a| a.ok_or_else(|| $crate::StoreError::Database("a payment was left without an answer".into())))
                .collect()
        }

        /// The ledger reference of a channel payment's posting.
        fn to_post_reference(p: &$crate::payments::ChannelPayment) -> String {
            match &p.payee {
                $crate::payments::ChannelPayee::Contribution { payment, .. } => payment.reference.clone(),
                $crate::payments::ChannelPayee::Invoice { payment, .. } => payment.reference.clone(),
            }
        }

        /// The channel writes of a group, in the caller's transaction: the claims, then each
        /// payment answered from its first record or posted and recorded
        /// (`post_payments_in`). One reply per work, in order; a refused payment gives its
        /// X-EXTERNAL-ID back.
        async fn write_channel_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            keys: &$crate::crypto::Keys,
            rules: &cakupan_domain::RuleSet,
            work: &[$crate::payments::ChannelWork],
        ) -> $crate::Result<Vec<$crate::Result<$crate::payments::ChannelReply>>> {
            use $crate::payments::{ChannelOutcome, ChannelReply, ChannelWork};
            fn pay_of(w: &ChannelWork) -> Option<&$crate::payments::ChannelPayment> {
                match w {
                    ChannelWork::Pay(p) => Some(&**p),
                    ChannelWork::Claim { .. } => None,
                }
            }
            // Concurrent retries of one payment (in other groups) wait here for the first.
            let references: Vec<String> = work.iter().filter_map(pay_of).map(to_post_reference).collect();
            let refs: Vec<&str> = references.iter().map(String::as_str).collect();
            $store::lock_references_own(tx, &refs).await?;
            let claimed = claim_in(tx, work).await?;
            let mut replies: Vec<Option<$crate::Result<ChannelReply>>> = work
                .iter()
                .zip(&claimed)
                .map(|(w, c)| match w {
                    ChannelWork::Claim { .. } => Some(Ok(ChannelReply::Claimed(*c))),
                    ChannelWork::Pay(_) if !c => {
                        Some(Ok(ChannelReply::Paid(Box::new(ChannelOutcome::ExternalIdUsed))))
                    }
                    ChannelWork::Pay(_) => None,
                })
                .collect();
            let open: Vec<usize> = (0..work.len()).filter(|i| replies[*i].is_none()).collect();
            let pays: Vec<&$crate::payments::ChannelPayment> =
                open.iter().filter_map(|i| pay_of(&work[*i])).collect();
            let firsts = firsts_in(tx, &pays).await?;
            let mut refused: Vec<&ChannelWork> = Vec::new();
            let mut new = Vec::new();
            for &i in &open {
                let Some(p) = pay_of(&work[i]) else { continue };
                let key = (p.partner_code.clone(), p.payment_request_id.clone());
                match firsts.get(&key) {
                    Some(first) if first.virtual_account == p.virtual_account && first.amount == p.amount => {
                        replies[i] = Some(Ok(ChannelReply::Paid(Box::new(ChannelOutcome::Repeat(first.clone())))));
                    }
                    Some(first) => {
                        refused.push(&work[i]);
                        replies[i] = Some(Ok(ChannelReply::Paid(Box::new(ChannelOutcome::Inconsistent(first.clone())))));
                    }
                    None => new.push(i),
                }
            }
            let new_pays: Vec<&$crate::payments::ChannelPayment> =
                new.iter().filter_map(|i| pay_of(&work[*i])).collect();
            let answers = post_payments_in(tx, keys, rules, &new_pays).await?;
            for (i, answer) in new.into_iter().zip(answers) {
                replies[i] = Some(match answer {
                    Ok(Some(record)) => Ok(ChannelReply::Paid(Box::new(ChannelOutcome::Paid(record)))),
                    Ok(None) => {
                        refused.push(&work[i]);
                        Ok(ChannelReply::Paid(Box::new(ChannelOutcome::NoLongerDue)))
                    }
                    Err(e) => {
                        refused.push(&work[i]);
                        Err(e)
                    }
                });
            }
            unclaim_in(tx, &refused).await?;
            replies
                .into_iter()
                .map(|r| r.ok_or_else(|| $crate::StoreError::Database("a channel write was left without a reply".into())))
                .collect()
        }

        #[async_trait::async_trait]
        impl $crate::payments::ChannelWriter for $store {
            async fn write_channel_group(
                &self,
                rules: &cakupan_domain::RuleSet,
                work: &[$crate::payments::ChannelWork],
            ) -> $crate::Result<Vec<$crate::Result<$crate::payments::ChannelReply>>> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let replies = write_channel_in(&mut tx, &self.keys, rules, work).await?;
                tx.commit().await.map_err($dberr)?;
                Ok(replies)
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
                self.partners.forget(&p.code);
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
                let changed = sqlx::query("UPDATE channel_partners SET active = $1 WHERE code = $2")
                    .bind(active)
                    .bind(code)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?
                    .rows_affected();
                self.partners.forget(code);
                Ok(changed == 1)
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

            async fn partner_recent(
                &self,
                code: &str,
                max_age_secs: u32,
            ) -> $crate::Result<Option<$crate::payments::Partner>> {
                let max_age = std::time::Duration::from_secs(u64::from(max_age_secs));
                if let Some(p) = self.partners.get(code, max_age) {
                    return Ok(Some(p));
                }
                let found = self.partner(code).await?;
                if let Some(p) = &found {
                    self.partners.put(p);
                }
                Ok(found)
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
                let work = $crate::payments::ChannelWork::Pay(Box::new(p.clone()));
                match self.channels.submit(self, rules, work).await? {
                    $crate::payments::ChannelReply::Paid(outcome) => Ok(*outcome),
                    $crate::payments::ChannelReply::Claimed(_) => Err($crate::StoreError::Database(
                        "a payment was answered as a claim".into(),
                    )),
                }
            }

            async fn claim_external_id(
                &self,
                rules: &cakupan_domain::RuleSet,
                partner: &str,
                day: time::Date,
                external_id: &str,
            ) -> $crate::Result<bool> {
                let work = $crate::payments::ChannelWork::Claim {
                    partner: partner.to_string(),
                    day,
                    external_id: external_id.to_string(),
                };
                match self.channels.submit(self, rules, work).await? {
                    $crate::payments::ChannelReply::Claimed(claimed) => Ok(claimed),
                    $crate::payments::ChannelReply::Paid(_) => Err($crate::StoreError::Database(
                        "a claim was answered as a payment".into(),
                    )),
                }
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
                        // The reference first (a payment of the same request waits or has
                        // committed), then the person, as every posting locks.
                        let reference = to_post_reference(p);
                        $store::lock_references_own(&mut tx, &[reference.as_str()]).await?;
                        let claimed = channel_payment_in(&mut *tx, &p.partner_code, &p.payment_request_id).await?;
                        if claimed.is_none() {
                            let answer = post_payments_in(&mut tx, &self.keys, rules, &[p])
                                .await?
                                .into_iter()
                                .next()
                                .ok_or_else(|| $crate::StoreError::Database("a payment was left without an answer".into()))?;
                            match answer? {
                                Some(_) => {}
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
