//! `cakupan participant`: registering, finding and correcting participants from the command
//! line.

use crate::{Global, Reference, agents, ledger, open_store, store};
use anyhow::{Result, bail};
use cakupan_app::today_wib;
use cakupan_domain::month::format_date;
use cakupan_domain::participants::{Context, HeirInput, RegistrationInput, validate};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum ParticipantCommand {
    /// Register one participant.
    Register(Box<RegisterArgs>),
    /// Coverage status per month, with the reason, by id, KPJ or NIK.
    Coverage {
        key: String,
        /// YYYY-MM (default: the registration month).
        #[arg(long)]
        from: Option<String>,
        /// YYYY-MM (default: this month).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a participant by id, KPJ or NIK.
    Show {
        /// A participant id, an 11-digit KPJ or a 16-digit NIK.
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Write the name search's index (the blind index of each word of each name) for every
    /// participation, keeping what is there: for a database filled before the index existed.
    /// Safe to run again, and while the service runs; registrations and corrections keep the
    /// index themselves.
    ReindexNames {
        /// Participations per transaction.
        #[arg(long, default_value_t = 5000)]
        batch: u32,
    },
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[arg(long)]
    nik: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    birth_date: String,
    #[arg(long)]
    sex: String,
    #[arg(long, default_value = "")]
    phone: String,
    #[arg(long)]
    village_code: String,
    #[arg(long)]
    segment: String,
    #[arg(long)]
    occupation_code: String,
    #[arg(long)]
    income_base: String,
    #[arg(long)]
    programs: String,
    /// YYYY-MM-DD; today when absent.
    #[arg(long, default_value = "")]
    registered_on: String,
    #[arg(long, default_value = "self")]
    channel: String,
    #[arg(long, default_value = "")]
    agent_code: String,
    /// Domicile address within the village (street, number, RT/RW).
    #[arg(long, default_value = "")]
    address: String,
    /// JKK and JKM are paid from the state or a regional budget (APBN/APBD): no PP 50/2025
    /// discount.
    #[arg(long)]
    budget_funded: bool,
    /// An heir as NAME:RELATIONSHIP[:NIK[:PHONE]]; repeatable.
    #[arg(long = "heir")]
    heirs: Vec<String>,
}

pub async fn participant(
    global: &Global,
    reference: &Reference,
    cmd: ParticipantCommand,
) -> Result<()> {
    let store = open_store(global, reference).await?;
    match cmd {
        ParticipantCommand::Register(a) => {
            let a = *a;
            let mut heirs = Vec::new();
            for h in &a.heirs {
                let parts: Vec<&str> = h.split(':').collect();
                if parts.len() < 2 {
                    bail!("--heir '{h}': write NAME:RELATIONSHIP[:NIK[:PHONE]]");
                }
                heirs.push(HeirInput {
                    name: parts[0].into(),
                    relationship: parts[1].into(),
                    nik: parts.get(2).copied().unwrap_or("").into(),
                    phone: parts.get(3).copied().unwrap_or("").into(),
                });
            }
            let input = RegistrationInput {
                nik: a.nik,
                name: a.name,
                birth_date: a.birth_date,
                sex: a.sex,
                phone: a.phone,
                village_code: a.village_code,
                segment: a.segment,
                occupation_code: a.occupation_code,
                income_base: a.income_base,
                programs: a.programs,
                registered_on: a.registered_on,
                channel: a.channel,
                agent_code: a.agent_code,
                address: a.address,
                budget_funded: if a.budget_funded {
                    "ya".into()
                } else {
                    String::new()
                },
                heirs,
            };
            let ctx = Context {
                regions: &reference.regions,
                rules: &reference.rules,
                today: today_wib(),
            };
            let (reg, warnings) = match validate(&ctx, &input) {
                Ok(v) => v,
                Err(errs) => {
                    for e in errs.iter() {
                        eprintln!("error: {e}");
                    }
                    bail!(
                        "registration rejected: {} problem(s), nothing stored",
                        errs.0.len()
                    );
                }
            };
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            // The API's own path: an agent of the directory must be active and serve the
            // village; the registration is audited as `cli`.
            use cakupan_app::auth::ConflictView;
            use cakupan_app::participants::{Registered, register};
            let st = agents::operations(store.clone(), reference)?;
            let kpj = |id: i64| cakupan_store::kpj_for(id).map_err(|e| anyhow::anyhow!(e));
            match register(&st, &crate::accounts::cli_admin(), "cli", &reg)
                .await
                .map_err(agents::api)?
            {
                Registered::Created { id } => {
                    let k = kpj(id)?;
                    // The payment code a worker quotes at a bank or a counter (issue #19).
                    let code = cakupan_app::payments::code_of_kpj(&st, &k).map(|v| v.digits());
                    match code {
                        Some(c) => println!("Registered: id {id}, KPJ {k}, payment code {c}"),
                        None => println!("Registered: id {id}, KPJ {k}"),
                    }
                }
                Registered::Existing { id } => println!(
                    "Already registered with the same details: id {id}, KPJ {} (nothing changed)",
                    kpj(id)?
                ),
                Registered::Conflict { segment, view } => match view {
                    ConflictView::Visible { kpj } => {
                        bail!("nik: this NIK already has a {segment} participation (KPJ {kpj})")
                    }
                    ConflictView::Elsewhere => {
                        bail!("nik: this NIK already has a {segment} participation")
                    }
                },
            }
            Ok(())
        }
        ParticipantCommand::Coverage {
            key,
            from,
            to,
            json,
        } => ledger::coverage(store.as_ref(), reference, &key, from, to, json).await,
        ParticipantCommand::ReindexNames { batch } => {
            let started = std::time::Instant::now();
            let (mut after, mut total) = (0i64, 0u64);
            loop {
                let (n, last) = store.reindex_names(after, batch.max(1)).await?;
                let Some(last) = last else { break };
                total += n;
                after = last;
            }
            // The planner's statistics for the new rows (and any index the upgrade added).
            store.after_bulk_load(total).await?;
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "Indexed the names of {total} participations in {secs:.1} s ({:.0}/s).",
                total as f64 / secs.max(1e-9)
            );
            Ok(())
        }
        ParticipantCommand::Show { key, json } => {
            let found = ledger::find(store.as_ref(), &key).await?;
            // Personal data leaves the store: recorded as the API and the pages record it.
            for p in &found {
                store::audit(
                    store.as_ref(),
                    "participant.read",
                    format!("participant:{}", p.id),
                    "service",
                )
                .await?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&found)?);
                return Ok(());
            }
            for p in found {
                let r = &p.registration;
                let path = reference.regions.path_label(r.village);
                println!("KPJ {}  (id {})  {}", p.kpj, p.id, r.segment);
                println!("  NIK          {}", r.nik);
                println!("  name         {}", r.name);
                println!("  born         {} ({})", format_date(r.birth_date), r.sex);
                println!("  phone        {}", r.phone.as_deref().unwrap_or("-"));
                println!("  domicile     {} {path}", r.village);
                if let Some(a) = &r.address {
                    println!("  address      {a}");
                }
                println!(
                    "  occupation   {} ({})",
                    r.occupation_code,
                    r.sector.as_str()
                );
                println!("  income base  {}", r.income_base);
                println!("  programmes   {}", r.programmes);
                println!(
                    "  registered   {} via {}{}",
                    format_date(r.registered_on),
                    r.channel,
                    r.agent_code
                        .as_deref()
                        .map(|a| format!(" (agent {a})"))
                        .unwrap_or_default()
                );
                for h in &r.heirs {
                    println!("  heir         {} ({})", h.name, h.relationship.as_str());
                }
                if !r.review_flags.is_empty() {
                    println!("  review       {}", r.review_flags.join(", "));
                }
                println!("  dukcapil     {}", p.dukcapil_status);
            }
            Ok(())
        }
    }
}
