//! Group commit of registrations and audit appends, for both backends.
//!
//! A registration's cost is its own write transaction: on SQLite the one writer's commit, on
//! PostgreSQL the commit plus the rows every registration of a month updates (the nation's and
//! the province's counters, the audit chain's lock), which serialise concurrent transactions
//! (docs/benchmarks.md). So concurrent requests queue their writes; whichever request holds the
//! leader lock commits everything queued in one transaction and answers each request with its
//! own outcome. If the group's transaction fails, each write is tried alone, so that one bad
//! write fails only its own request.

use crate::accounts::{AuditEntry, RegistrationAudit};
use crate::{Outcome, Result, StoreError};
use async_trait::async_trait;
use cakupan_domain::RuleSet;
use cakupan_domain::participants::Registration;
use std::sync::Arc;

/// A write queued for the next group commit.
#[derive(Debug)]
pub enum Work {
    /// A registration with its audit entry.
    Register {
        reg: Box<Registration>,
        audit: Box<RegistrationAudit>,
    },
    /// Audit entries (a read or a change recorded after the fact).
    Audit(Vec<AuditEntry>),
}

/// One queued write and where its result goes (a registration's outcome; nothing for audit
/// entries).
#[derive(Debug)]
struct Pending {
    work: Work,
    reply: tokio::sync::oneshot::Sender<Result<Option<Outcome>>>,
}

/// What a backend provides for a group commit.
#[async_trait]
pub trait GroupWriter: Clone + Send + Sync + 'static {
    /// In one transaction: registers `regs` (in order), then appends the audit entries
    /// `entries` gives for their outcomes, and commits. Returns one outcome per registration.
    async fn write_group(
        &self,
        rules: Option<&RuleSet>,
        regs: &[Registration],
        entries: &(dyn for<'o> Fn(&'o [Outcome]) -> Vec<AuditEntry> + Send + Sync),
    ) -> Result<Vec<Outcome>>;

    /// One registration with its audit entry, in its own transaction.
    async fn register_one(
        &self,
        rules: &RuleSet,
        reg: &Registration,
        audit: &RegistrationAudit,
    ) -> Result<Outcome>;

    /// Audit entries in their own transaction.
    async fn append_one(&self, entries: &[AuditEntry]) -> Result<()>;
}

/// Implements [`GroupWriter`] for a sqlx-based store whose writes begin on `self.$pool`, with
/// the calling crate's `register_batch_in(tx, keys, rules, regs)`, `append_audit_in(tx, keys,
/// entries)` and `db(sqlx::Error)` (the same names in both backends), so the group's
/// transaction is written once.
#[macro_export]
macro_rules! group_writer_impl {
    ($store:ty, $pool:ident) => {
        #[::async_trait::async_trait]
        impl $crate::group::GroupWriter for $store {
            async fn write_group(
                &self,
                rules: Option<&::cakupan_domain::RuleSet>,
                regs: &[::cakupan_domain::participants::Registration],
                entries: &(
                     dyn for<'o> Fn(&'o [$crate::Outcome]) -> Vec<$crate::accounts::AuditEntry>
                         + Send
                         + Sync
                 ),
            ) -> $crate::Result<Vec<$crate::Outcome>> {
                let mut tx = self.$pool.begin().await.map_err(db)?;
                let outs = match rules {
                    Some(r) if !regs.is_empty() => {
                        register_batch_in(&mut tx, &self.keys, r, regs).await?
                    }
                    _ => Vec::new(),
                };
                append_audit_in(&mut tx, &self.keys, &entries(&outs)).await?;
                tx.commit().await.map_err(db)?;
                Ok(outs)
            }

            async fn register_one(
                &self,
                rules: &::cakupan_domain::RuleSet,
                reg: &::cakupan_domain::participants::Registration,
                audit: &$crate::accounts::RegistrationAudit,
            ) -> $crate::Result<$crate::Outcome> {
                let mut tx = self.$pool.begin().await.map_err(db)?;
                let out =
                    register_batch_in(&mut tx, &self.keys, rules, ::std::slice::from_ref(reg))
                        .await?
                        .into_iter()
                        .next()
                        .ok_or_else(|| {
                            $crate::StoreError::Database("registration returned no outcome".into())
                        })?;
                if let Some(entry) = audit.for_outcome(&out) {
                    append_audit_in(&mut tx, &self.keys, ::std::slice::from_ref(&entry)).await?;
                }
                tx.commit().await.map_err(db)?;
                Ok(out)
            }

            async fn append_one(
                &self,
                entries: &[$crate::accounts::AuditEntry],
            ) -> $crate::Result<()> {
                let mut tx = self.$pool.begin().await.map_err(db)?;
                append_audit_in(&mut tx, &self.keys, entries).await?;
                tx.commit().await.map_err(db)?;
                Ok(())
            }
        }
    };
}

/// The queue of a store's writes waiting for the next group commit, and the leader lock.
#[derive(Debug, Clone, Default)]
pub struct GroupCommit {
    queue: Arc<std::sync::Mutex<Vec<Pending>>>,
    /// Held by the request that commits the queue.
    leader: Arc<tokio::sync::Mutex<()>>,
}

fn poisoned() -> StoreError {
    StoreError::Database("the write queue's lock was poisoned".into())
}

impl GroupCommit {
    /// A registration and its audit entry, committed with whatever else is queued.
    pub async fn register<W: GroupWriter>(
        &self,
        writer: &W,
        rules: &RuleSet,
        reg: &Registration,
        audit: &RegistrationAudit,
    ) -> Result<Outcome> {
        let work = Work::Register {
            reg: Box::new(reg.clone()),
            audit: Box::new(audit.clone()),
        };
        self.submit(writer, work, Some(rules))
            .await?
            .ok_or_else(|| StoreError::Database("registration returned no outcome".into()))
    }

    /// Audit entries, committed with whatever else is queued.
    pub async fn audit<W: GroupWriter>(&self, writer: &W, entries: &[AuditEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.submit(writer, Work::Audit(entries.to_vec()), None)
            .await
            .map(|_| ())
    }

    /// Queues `work`, then either finds it done by the request that held the leader lock
    /// before, or takes the lock's turn and commits what is queued. A caller without `rules`
    /// (an audit append) commits the queued audit entries only and leaves registrations to
    /// their own requests, which wait for the lock too. The group is checked against the
    /// leader's rules: a server passes its one rule set to every request.
    pub async fn submit<W: GroupWriter>(
        &self,
        writer: &W,
        work: Work,
        rules: Option<&RuleSet>,
    ) -> Result<Option<Outcome>> {
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| poisoned())?
            .push(Pending { work, reply });
        let leader = self.leader.clone().lock_owned().await;
        match answer.try_recv() {
            Ok(r) => return r,
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                return Err(StoreError::Database(
                    "the write's group was abandoned before it committed: retry".into(),
                ));
            }
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
        }
        let jobs = {
            let mut q = self.queue.lock().map_err(|_| poisoned())?;
            if rules.is_some() {
                std::mem::take(&mut *q)
            } else {
                let (audits, rest): (Vec<Pending>, Vec<Pending>) =
                    q.drain(..).partition(|p| matches!(p.work, Work::Audit(_)));
                *q = rest;
                audits
            }
        };
        // The commit runs in a task of its own, holding the lock: if this request is dropped
        // (its client went away), the group still commits and every other request in it is
        // answered.
        let writer = writer.clone();
        let rules = rules.cloned();
        let commit = tokio::spawn(async move {
            commit_group(&writer, rules.as_ref(), jobs).await;
            drop(leader);
        });
        let _ = commit.await;
        answer
            .await
            .map_err(|_| StoreError::Database("the write's group was abandoned: retry".into()))?
    }
}

/// Commits queued writes in one transaction, in queue order (registrations with their audit
/// entries, then the chain in queue order), and answers each; if the group fails, each is
/// tried alone.
async fn commit_group<W: GroupWriter>(writer: &W, rules: Option<&RuleSet>, jobs: Vec<Pending>) {
    if jobs.is_empty() {
        return;
    }
    let regs: Vec<Registration> = jobs
        .iter()
        .filter_map(|j| match &j.work {
            Work::Register { reg, .. } => Some((**reg).clone()),
            Work::Audit(_) => None,
        })
        .collect();
    let entries = |outs: &[Outcome]| -> Vec<AuditEntry> {
        let mut next = outs.iter();
        let mut entries = Vec::new();
        for j in &jobs {
            match &j.work {
                Work::Register { audit, .. } => {
                    if let Some(e) = next.next().and_then(|o| audit.for_outcome(o)) {
                        entries.push(e);
                    }
                }
                Work::Audit(es) => entries.extend(es.iter().cloned()),
            }
        }
        entries
    };
    let together = if !regs.is_empty() && rules.is_none() {
        Err(StoreError::Database(
            "registrations queued without rules".into(),
        ))
    } else {
        match writer.write_group(rules, &regs, &entries).await {
            Ok(outs) if outs.len() != regs.len() => Err(StoreError::Database(
                "a registration of the group returned no outcome".into(),
            )),
            other => other,
        }
    };
    match together {
        Ok(outs) => {
            let mut next = outs.into_iter();
            for j in jobs {
                let r = match j.work {
                    Work::Register { .. } => next.next(),
                    Work::Audit(_) => None,
                };
                let _ = j.reply.send(Ok(r));
            }
        }
        Err(_) => {
            for j in jobs {
                let r = match (&j.work, rules) {
                    (Work::Register { reg, audit }, Some(rules)) => {
                        writer.register_one(rules, reg, audit).await.map(Some)
                    }
                    (Work::Register { .. }, None) => Err(StoreError::Database(
                        "registrations queued without rules".into(),
                    )),
                    (Work::Audit(es), _) => writer.append_one(es).await.map(|()| None),
                };
                let _ = j.reply.send(r);
            }
        }
    }
}
