//! The village campaign's records in SQL, written once for both sqlx backends: the SQL uses
//! `$N` placeholders, which PostgreSQL and sqlx's SQLite driver both bind by number. Each
//! backend crate expands [`campaign_store_impl!`] for its store type and database; what differs
//! inside a statement comes from the backend's `Dialect` (dates as text, lists, `FOR UPDATE`).

/// Expands to `CampaignStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name
/// its pools (the same on PostgreSQL), `$db_err` maps a sqlx error. The entry a change rewrites
/// is read with the backend's `Dialect::FOR_UPDATE` (SQLite's single writer needs none).
#[macro_export]
macro_rules! campaign_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        use $crate::campaign::{
            self as cmp, Campaign, CampaignStore as _, Enrolment, EntryChange, PlanEntry, Response,
            ResponsesAdded, Session, StoredQuestionnaire, Survey, Unit, Upload, Wave, from_json, to_json,
        };
        use $crate::{Result, StoreError};
        use cakupan_domain::survey::Questionnaire;
        use cakupan_domain::{RegionCode, RuleSet};
        use sqlx::{QueryBuilder, Transaction};
        use std::collections::HashMap;
        fn region(s: &str) -> Result<RegionCode> {
            RegionCode::parse(s).map_err(|_| StoreError::Corrupt(format!("region code '{s}'")))
        }

        /// Rows per multi-row statement (5 columns × 1,000: under SQLite's 32,766 parameters).
        /// Only a full chunk's statement is kept prepared ([`$crate::keep_prepared`]).
        const CHUNK: usize = 1_000;

        async fn entry_in(
            tx: &mut Transaction<'_, $db>,
            campaign: &str,
            village: RegionCode,
        ) -> Result<Option<PlanEntry>> {
            let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT body FROM campaign_villages WHERE campaign = $1 AND village = $2{}",
                <$store as $crate::Dialect>::FOR_UPDATE
            )))
            .bind(campaign)
            .bind(village.to_string())
            .fetch_optional(&mut **tx)
            .await
            .map_err($dberr)?;
            row.map(|(b,)| from_json("campaign_villages.body", &b))
                .transpose()
        }

        async fn wave_in(
            tx: &mut Transaction<'_, $db>,
            campaign: &str,
            wave: u32,
        ) -> Result<Option<Wave>> {
            let row: Option<(String,)> =
                sqlx::query_as("SELECT body FROM campaign_waves WHERE campaign = $1 AND wave = $2")
                    .bind(campaign)
                    .bind(i64::from(wave))
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($dberr)?;
            row.map(|(b,)| from_json("campaign_waves.body", &b))
                .transpose()
        }

        async fn write_entry(tx: &mut Transaction<'_, $db>, e: &PlanEntry) -> Result<()> {
            sqlx::query(
                "UPDATE campaign_villages SET stage = $3, body = $4 WHERE campaign = $1 AND village = $2",
            )
            .bind(&e.campaign)
            .bind(e.village.to_string())
            .bind(e.stage.as_str())
            .bind(to_json(e)?)
            .execute(&mut **tx)
            .await
            .map_err($dberr)?;
            Ok(())
        }

        fn within_range(within: RegionCode) -> (String, String) {
            if within == RegionCode::NATION {
                (String::new(), "~".into())
            } else {
                let w = within.to_string();
                (w.clone(), format!("{w}~"))
            }
        }

        #[async_trait::async_trait]
        impl $crate::campaign::CampaignStore for $store {
            async fn enrolments_in(
                &self,
                villages: &[RegionCode],
                from: time::Date,
                to: time::Date,
            ) -> Result<Vec<Enrolment>> {
                let codes: Vec<String> = villages.iter().map(|v| v.to_string()).collect();
                let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
                let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT p.village_code, {}, p.occupation_code,
                            (SELECT {} FROM postings c WHERE c.participant_id = p.id AND c.kind = 'contribution')
                     FROM participants p
                     WHERE p.registered_on >= $1 AND p.registered_on <= $2 AND p.village_code {}",
                    <$store as $crate::Dialect>::date_text("p.registered_on"),
                    <$store as $crate::Dialect>::date_text("MIN(c.paid_on)"),
                    <$store as $crate::Dialect>::one_of(3)
                )))
                .bind(<$store as $crate::Dialect>::day(from))
                .bind(<$store as $crate::Dialect>::day(to))
                .bind(<$store as $crate::Dialect>::texts(&codes))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.into_iter()
                    .map(|(v, on, occupation, paid)| {
                        Ok(Enrolment {
                            village: region(&v)?,
                            registered_on: cmp::date(&on)?,
                            occupation,
                            first_paid: paid.as_deref().map(cmp::date).transpose()?,
                        })
                    })
                    .collect()
            }
            async fn participation_ids_in(&self, within: RegionCode) -> Result<Vec<(RegionCode, i64)>> {
                let (lo, hi) = within_range(within);
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT village_code, id FROM participants WHERE village_code >= $1 AND village_code < $2 ORDER BY village_code, id",
                )
                .bind(lo)
                .bind(hi)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.into_iter()
                    .map(|(v, id)| Ok((region(&v)?, id)))
                    .collect()
            }

            async fn add_campaign(&self, c: &Campaign) -> Result<bool> {
                c.check()?;
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let done = sqlx::query(
                    "INSERT INTO campaigns (code, body) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING",
                )
                .bind(&c.code)
                .bind(to_json(c)?)
                .execute(&mut *tx)
                .await
                .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                if done.rows_affected() == 1 {
                    return Ok(true);
                }
                let stored = self.campaigns().await?;
                match stored.iter().find(|s| s.code == c.code) {
                    Some(s) if s.name == c.name && s.region == c.region => Ok(false),
                    _ => Err(cmp::taken(
                        "code",
                        "campaign.code_taken",
                        format!("campaign {} exists with other details", c.code),
                    )),
                }
            }

            async fn campaigns(&self) -> Result<Vec<Campaign>> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT body FROM campaigns ORDER BY code")
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?;
                rows.iter()
                    .map(|(b,)| from_json("campaigns.body", b))
                    .collect()
            }

            async fn add_wave(&self, w: &Wave, entries: &[PlanEntry]) -> Result<bool> {
                cmp::check_wave(w, entries)?;
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let known: Option<(String,)> = sqlx::query_as("SELECT body FROM campaigns WHERE code = $1")
                    .bind(&w.campaign)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($dberr)?;
                if known.is_none() {
                    return Err(cmp::no_campaign(&w.campaign));
                }
                if let Some(old) = wave_in(&mut tx, &w.campaign, w.wave).await? {
                    let stored: Vec<(String,)> =
                                sqlx::query_as("SELECT village FROM campaign_villages WHERE campaign = $1 AND wave = $2 ORDER BY village")
                                    .bind(&w.campaign)
                                    .bind(i64::from(w.wave))
                                    .fetch_all(&mut *tx)
                                    .await
                                    .map_err($dberr)?;
                    return cmp::same_wave(
                        &old,
                        w,
                        &stored.into_iter().map(|(v,)| v).collect::<Vec<_>>(),
                        entries,
                    )
                    .map(|()| false);
                }
                sqlx::query("INSERT INTO campaign_waves (campaign, wave, body) VALUES ($1, $2, $3)")
                    .bind(&w.campaign)
                    .bind(i64::from(w.wave))
                    .bind(to_json(w)?)
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                for chunk in entries.chunks(CHUNK) {
                    // A village already in the campaign (another wave) is named, not overwritten.
                    let mut q: QueryBuilder<$db> =
                        QueryBuilder::new("SELECT village, wave FROM campaign_villages WHERE campaign = ");
                    q.push_bind(&w.campaign).push(" AND village IN (");
                    let mut sep = q.separated(", ");
                    for e in chunk {
                        sep.push_bind(e.village.to_string());
                    }
                    q.push(") LIMIT 1");
                    let clash: Option<(String, i64)> = q
                        .build_query_as()
                        .persistent($crate::keep_prepared(chunk.len(), CHUNK))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($dberr)?;
                    if let Some((v, wave)) = clash {
                        return Err(cmp::village_planned(&v, wave));
                    }
                    let mut q: QueryBuilder<$db> = QueryBuilder::new(
                        "INSERT INTO campaign_villages (campaign, village, wave, stage, body) ",
                    );
                    let mut bodies = Vec::with_capacity(chunk.len());
                    for e in chunk {
                        bodies.push(to_json(e)?);
                    }
                    q.push_values(chunk.iter().zip(&bodies), |mut b, (e, body)| {
                        b.push_bind(&w.campaign)
                            .push_bind(e.village.to_string())
                            .push_bind(i64::from(w.wave))
                            .push_bind(e.stage.as_str())
                            .push_bind(body);
                    });
                    q.build()
                        .persistent($crate::keep_prepared(chunk.len(), CHUNK))
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                }
                tx.commit().await.map_err($dberr)?;
                Ok(true)
            }

            async fn waves(&self, campaign: &str) -> Result<Vec<Wave>> {
                let rows: Vec<(String,)> =
                    sqlx::query_as("SELECT body FROM campaign_waves WHERE campaign = $1 ORDER BY wave")
                        .bind(campaign)
                        .fetch_all(&self.$read)
                        .await
                        .map_err($dberr)?;
                rows.iter()
                    .map(|(b,)| from_json("campaign_waves.body", b))
                    .collect()
            }

            async fn plan_entries(&self, campaign: &str, within: RegionCode) -> Result<Vec<PlanEntry>> {
                let (lo, hi) = within_range(within);
                let rows: Vec<(String,)> = sqlx::query_as(
                            "SELECT body FROM campaign_villages WHERE campaign = $1 AND village >= $2 AND village < $3",
                        )
                        .bind(campaign)
                        .bind(lo)
                        .bind(hi)
                        .fetch_all(&self.$read)
                        .await
                        .map_err($dberr)?;
                let mut out: Vec<PlanEntry> = rows
                    .iter()
                    .map(|(b,)| from_json("campaign_villages.body", b))
                    .collect::<Result<_>>()?;
                cmp::sort_entries(&mut out);
                Ok(out)
            }

            async fn change_entry(
                &self,
                campaign: &str,
                village: RegionCode,
                change: &EntryChange,
                agents: &[String],
            ) -> Result<Option<PlanEntry>> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let Some(mut entry) = entry_in(&mut tx, campaign, village).await? else {
                    return Ok(None);
                };
                let wave = wave_in(&mut tx, campaign, entry.wave).await?;
                let weeks = wave.as_ref().map_or(0, |w| w.weeks);
                let window = wave.as_ref().map(|w| (w.starts_on, w.ends_on()));
                if cmp::apply_change(&mut entry, change, weeks, window, &|a| {
                    agents.iter().any(|x| x == a)
                })? {
                    write_entry(&mut tx, &entry).await?;
                    tx.commit().await.map_err($dberr)?;
                }
                Ok(Some(entry))
            }

            async fn add_entry(&self, entry: &PlanEntry) -> Result<bool> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let known: Option<(String,)> = sqlx::query_as("SELECT body FROM campaigns WHERE code = $1")
                    .bind(&entry.campaign)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($dberr)?;
                let Some((body,)) = known else {
                    return Err(cmp::no_campaign(&entry.campaign));
                };
                let c: Campaign = from_json("campaigns.body", &body)?;
                let wave = wave_in(&mut tx, &entry.campaign, entry.wave).await?;
                cmp::check_added(&c, entry, wave.as_ref())?;
                if let Some(old) = entry_in(&mut tx, &entry.campaign, entry.village).await? {
                    if old.wave == entry.wave && old.week == entry.week {
                        return Ok(false);
                    }
                    return Err(cmp::village_planned(
                        &entry.village.to_string(),
                        i64::from(old.wave),
                    ));
                }
                sqlx::query(
                            "INSERT INTO campaign_villages (campaign, village, wave, stage, body) VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(&entry.campaign)
                        .bind(entry.village.to_string())
                        .bind(i64::from(entry.wave))
                        .bind(entry.stage.as_str())
                        .bind(to_json(entry)?)
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                Ok(true)
            }

            async fn remove_entry(&self, campaign: &str, village: RegionCode) -> Result<bool> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let Some(entry) = entry_in(&mut tx, campaign, village).await? else {
                    return Ok(false);
                };
                let (sessions,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM campaign_sessions WHERE campaign = $1 AND village = $2",
                )
                .bind(campaign)
                .bind(village.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err($dberr)?;
                if entry.stage != cakupan_domain::campaign::Stage::Planned || sessions > 0 {
                    return Err(cmp::in_progress(&entry));
                }
                sqlx::query("DELETE FROM campaign_villages WHERE campaign = $1 AND village = $2")
                    .bind(campaign)
                    .bind(village.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                Ok(true)
            }

            async fn add_session(&self, rules: &RuleSet, s: &Session, today: time::Date) -> Result<bool> {
                let (rule, audiences) = cmp::session_rules(rules, s.held_on)?;
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let old: Option<(String,)> =
                    sqlx::query_as("SELECT body FROM campaign_sessions WHERE reference = $1")
                        .bind(&s.reference)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($dberr)?;
                if let Some((b,)) = old {
                    let old: Session = from_json("campaign_sessions.body", &b)?;
                    return cmp::same_session(&old, s).map(|()| false);
                }
                let mut entry = entry_in(&mut tx, &s.campaign, s.village).await?;
                let wave = match &entry {
                    Some(e) => wave_in(&mut tx, &s.campaign, e.wave).await?,
                    None => None,
                };
                cmp::check_session(rule, &audiences, entry.as_ref(), wave.as_ref(), s, today)?;
                sqlx::query(
                            "INSERT INTO campaign_sessions (reference, campaign, village, held_on, body) VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(&s.reference)
                        .bind(&s.campaign)
                        .bind(s.village.to_string())
                        .bind(cakupan_domain::month::format_date(s.held_on))
                        .bind(to_json(s)?)
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                if let Some(e) = entry.as_mut()
                    && cmp::mark_held(e)
                {
                    write_entry(&mut tx, e).await?;
                }
                tx.commit().await.map_err($dberr)?;
                Ok(true)
            }

            async fn sessions(&self, campaign: &str, within: RegionCode) -> Result<Vec<Session>> {
                let (lo, hi) = within_range(within);
                let rows: Vec<(String,)> = sqlx::query_as(
                            "SELECT body FROM campaign_sessions WHERE campaign = $1 AND village >= $2 AND village < $3 ORDER BY held_on, reference",
                        )
                        .bind(campaign)
                        .bind(lo)
                        .bind(hi)
                        .fetch_all(&self.$read)
                        .await
                        .map_err($dberr)?;
                rows.iter()
                    .map(|(b,)| from_json("campaign_sessions.body", b))
                    .collect()
            }

            async fn add_questionnaire(&self, q: &Questionnaire) -> Result<bool> {
                q.check()?;
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let done = sqlx::query(
                            "INSERT INTO questionnaires (code, version, body) VALUES ($1, $2, $3) ON CONFLICT (code, version) DO NOTHING",
                        )
                        .bind(&q.code)
                        .bind(i64::from(q.version))
                        .bind(to_json(q)?)
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                if done.rows_affected() == 0 {
                    let (b,): (String,) =
                        sqlx::query_as("SELECT body FROM questionnaires WHERE code = $1 AND version = $2")
                            .bind(&q.code)
                            .bind(i64::from(q.version))
                            .fetch_one(&mut *tx)
                            .await
                            .map_err($dberr)?;
                    let old: Questionnaire = from_json("questionnaires.body", &b)?;
                    return cmp::same_questionnaire(&old, q).map(|()| false);
                }
                tx.commit().await.map_err($dberr)?;
                Ok(true)
            }

            async fn retire_questionnaire(&self, code: &str, version: u32, now: i64) -> Result<bool> {
                let done = sqlx::query(
                            "UPDATE questionnaires SET retired_at = COALESCE(retired_at, $3) WHERE code = $1 AND version = $2",
                        )
                        .bind(code)
                        .bind(i64::from(version))
                        .bind(now)
                        .execute(&self.$write)
                        .await
                        .map_err($dberr)?;
                Ok(done.rows_affected() == 1)
            }

            async fn questionnaires(&self) -> Result<Vec<StoredQuestionnaire>> {
                let rows: Vec<(String, Option<i64>)> =
                    sqlx::query_as("SELECT body, retired_at FROM questionnaires ORDER BY code, version")
                        .fetch_all(&self.$read)
                        .await
                        .map_err($dberr)?;
                rows.into_iter()
                    .map(|(b, retired_at)| {
                        Ok(StoredQuestionnaire {
                            questionnaire: from_json("questionnaires.body", &b)?,
                            retired_at,
                        })
                    })
                    .collect()
            }

            async fn add_survey(&self, s: &Survey, units: &[Unit]) -> Result<bool> {
                cmp::check_survey(s, units)?;
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let q: Option<(Option<i64>,)> = sqlx::query_as(
                    "SELECT retired_at FROM questionnaires WHERE code = $1 AND version = $2",
                )
                .bind(&s.questionnaire)
                .bind(i64::from(s.version))
                .fetch_optional(&mut *tx)
                .await
                .map_err($dberr)?;
                match q {
                    None => return Err(cmp::no_questionnaire(&s.questionnaire, s.version)),
                    Some((Some(_),)) => return Err(cmp::retired(&s.questionnaire, s.version)),
                    Some((None,)) => {}
                }
                let old: Option<(String,)> = sqlx::query_as("SELECT body FROM surveys WHERE code = $1")
                    .bind(&s.code)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($dberr)?;
                if let Some((b,)) = old {
                    let old: Survey = from_json("surveys.body", &b)?;
                    return cmp::same_survey(&old, s).map(|()| false);
                }
                sqlx::query(
                    "INSERT INTO surveys (code, questionnaire, version, body) VALUES ($1, $2, $3, $4)",
                )
                .bind(&s.code)
                .bind(&s.questionnaire)
                .bind(i64::from(s.version))
                .bind(to_json(s)?)
                .execute(&mut *tx)
                .await
                .map_err($dberr)?;
                for chunk in units.chunks(CHUNK) {
                    let mut q: QueryBuilder<$db> = QueryBuilder::new(
                        "INSERT INTO survey_units (survey, unit, stratum, village, participant_id) ",
                    );
                    q.push_values(chunk, |mut b, u| {
                        b.push_bind(&s.code)
                            .push_bind(i64::try_from(u.unit).unwrap_or(i64::MAX))
                            .push_bind(u.stratum.to_string())
                            .push_bind(u.village.to_string())
                            .push_bind(u.participant_id);
                    });
                    q.build()
                        .persistent($crate::keep_prepared(chunk.len(), CHUNK))
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                }
                tx.commit().await.map_err($dberr)?;
                Ok(true)
            }

            async fn surveys(&self) -> Result<Vec<Survey>> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT body FROM surveys ORDER BY code")
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?;
                rows.iter()
                    .map(|(b,)| from_json("surveys.body", b))
                    .collect()
            }

            async fn survey_units(&self, survey: &str, within: RegionCode) -> Result<Vec<Unit>> {
                let (lo, hi) = within_range(within);
                let rows: Vec<(i64, String, String, Option<i64>)> = sqlx::query_as(
                            "SELECT unit, stratum, village, participant_id FROM survey_units WHERE survey = $1 AND village >= $2 AND village < $3 ORDER BY unit",
                        )
                        .bind(survey)
                        .bind(lo)
                        .bind(hi)
                        .fetch_all(&self.$read)
                        .await
                        .map_err($dberr)?;
                rows.into_iter()
                    .map(|(unit, stratum, village, participant_id)| {
                        Ok(Unit {
                            unit: u64::try_from(unit).map_err(|_| StoreError::Corrupt("unit".into()))?,
                            stratum: region(&stratum)?,
                            village: region(&village)?,
                            participant_id,
                        })
                    })
                    .collect()
            }

            async fn add_responses(
                &self,
                rules: &RuleSet,
                survey: &str,
                responses: &[Response],
                upload: Option<&Upload>,
            ) -> Result<ResponsesAdded> {
                let audiences = cmp::audience_codes(rules);
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let Some((b,)): Option<(String,)> =
                    sqlx::query_as("SELECT body FROM surveys WHERE code = $1")
                        .bind(survey)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($dberr)?
                else {
                    return Err(cmp::no_survey(survey));
                };
                let s: Survey = from_json("surveys.body", &b)?;
                if let Some(up) = upload {
                    let old: Option<(String,)> =
                        sqlx::query_as("SELECT body FROM survey_uploads WHERE sha256 = $1")
                            .bind(&up.sha256)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err($dberr)?;
                    if let Some((b,)) = old {
                        return Err(cmp::duplicate_upload(&from_json(
                            "survey_uploads.body",
                            &b,
                        )?));
                    }
                }
                let (retired,): (Option<i64>,) = sqlx::query_as(
                    "SELECT retired_at FROM questionnaires WHERE code = $1 AND version = $2",
                )
                .bind(&s.questionnaire)
                .bind(i64::from(s.version))
                .fetch_one(&mut *tx)
                .await
                .map_err($dberr)?;
                let mut units: HashMap<u64, Unit> = HashMap::new();
                let mut existing: HashMap<u64, Response> = HashMap::new();
                for chunk in responses.chunks(CHUNK) {
                    let mut q: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT u.unit, u.stratum, u.village, u.participant_id, r.body FROM survey_units u LEFT JOIN survey_responses r ON r.survey = u.survey AND r.unit = u.unit WHERE u.survey = ",
                    );
                    q.push_bind(survey).push(" AND u.unit IN (");
                    let mut sep = q.separated(", ");
                    for r in chunk {
                        sep.push_bind(i64::try_from(r.unit).unwrap_or(-1));
                    }
                    q.push(")");
                    let rows: Vec<cmp::UnitAndResponse> = q
                        .build_query_as()
                        .persistent($crate::keep_prepared(chunk.len(), CHUNK))
                        .fetch_all(&mut *tx)
                        .await
                        .map_err($dberr)?;
                    for (unit, stratum, village, participant_id, body) in rows {
                        let unit = u64::try_from(unit).map_err(|_| StoreError::Corrupt("unit".into()))?;
                        units.insert(
                            unit,
                            Unit {
                                unit,
                                stratum: region(&stratum)?,
                                village: region(&village)?,
                                participant_id,
                            },
                        );
                        if let Some(b) = body {
                            existing.insert(unit, from_json("survey_responses.body", &b)?);
                        }
                    }
                }
                let (fresh, unchanged) = cmp::check_responses(
                    &s,
                    retired.is_some(),
                    &units,
                    &existing,
                    &audiences,
                    responses,
                )?;
                let mut bodies = Vec::with_capacity(fresh.len());
                for r in &fresh {
                    bodies.push(to_json(r)?);
                }
                let rows: Vec<(&Response, &String)> = fresh.iter().zip(&bodies).collect();
                for chunk in rows.chunks(CHUNK) {
                    let mut q: QueryBuilder<$db> =
                        QueryBuilder::new("INSERT INTO survey_responses (survey, unit, upload, body) ");
                    q.push_values(chunk, |mut b, (r, body)| {
                        b.push_bind(survey)
                            .push_bind(i64::try_from(r.unit).unwrap_or(-1))
                            .push_bind(upload.map(|u| u.sha256.clone()))
                            .push_bind(*body);
                    });
                    q.build()
                        .persistent($crate::keep_prepared(chunk.len(), CHUNK))
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                }
                if let Some(up) = upload {
                    sqlx::query("INSERT INTO survey_uploads (sha256, survey, body) VALUES ($1, $2, $3)")
                        .bind(&up.sha256)
                        .bind(survey)
                        .bind(to_json(up)?)
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                }
                tx.commit().await.map_err($dberr)?;
                Ok(ResponsesAdded {
                    added: fresh.len() as u64,
                    unchanged,
                })
            }

            async fn responses(&self, survey: &str) -> Result<Vec<Response>> {
                let rows: Vec<(String,)> =
                    sqlx::query_as("SELECT body FROM survey_responses WHERE survey = $1 ORDER BY unit")
                        .bind(survey)
                        .fetch_all(&self.$read)
                        .await
                        .map_err($dberr)?;
                rows.iter()
                    .map(|(b,)| from_json("survey_responses.body", b))
                    .collect()
            }
        }
    };
}
