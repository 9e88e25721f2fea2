//! Who may do what, where: roles scoped to the region tree (issue #4, DESIGN.md §7).
//!
//! Every request is decided here and nowhere else: [`authorize`] takes the caller, the action
//! and what the action touches, and answers allow or deny with the reason. The matrix it
//! implements is written out in `docs/security.md`; a test walks every route for every role.

use crate::region::RegionCode;
use serde::Serialize;

/// The roles of DESIGN.md §7 / issue #4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Head office: everything.
    Admin,
    /// National aggregates and targets; no personal data.
    Analyst,
    /// Personal data and actions within a region subtree (their branch).
    BranchOfficer,
    /// A Perisai agent: only the participants they enrolled, in their villages.
    Agent,
    /// Their village's aggregates (and, later, campaign records); no personal data.
    VillageOfficial,
    /// A worker: their own record.
    Participant,
    /// An employer's staff: their employer's workers, wage reports, invoices and payments.
    Employer,
}

/// What a role does beyond the decisions of [`authorize`] (which pages it is offered, whose
/// work it does, what an account of it must be bound to). Code asks [`Role::can`] instead of
/// comparing roles, so that a new role answers every question here, where the compiler asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Registers people and records their contributions (the participant list and form).
    RegistersPeople,
    /// Works in the field as a Perisai agent: registers and collects in their own name (the
    /// `perisai` channel); their account is bound to an agent code.
    FieldAgent,
    /// Manages a region's agents and employers.
    ManagesRegion,
    /// Reads coverage and the village campaign (aggregates).
    SeesCoverage,
    /// Administers accounts.
    AdministersAccounts,
    /// Is a worker with a record of their own (their page, their data rights); the account is
    /// bound to a NIK.
    OwnRecord,
    /// Acts for one employer; the account is bound to the employer.
    ActsForEmployer,
}

impl Role {
    /// Whether this role has the capability: each role lists its own.
    pub fn can(self, c: Capability) -> bool {
        use Capability::*;
        let caps: &[Capability] = match self {
            Role::Admin => &[
                RegistersPeople,
                ManagesRegion,
                SeesCoverage,
                AdministersAccounts,
            ],
            Role::Analyst => &[SeesCoverage],
            Role::BranchOfficer => &[RegistersPeople, ManagesRegion, SeesCoverage],
            Role::Agent => &[RegistersPeople, FieldAgent, SeesCoverage],
            Role::VillageOfficial => &[SeesCoverage],
            Role::Participant => &[OwnRecord],
            Role::Employer => &[ActsForEmployer],
        };
        caps.contains(&c)
    }

    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Analyst,
        Role::BranchOfficer,
        Role::Agent,
        Role::VillageOfficial,
        Role::Participant,
        Role::Employer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::BranchOfficer => "branch_officer",
            Role::Agent => "agent",
            Role::VillageOfficial => "village_official",
            Role::Participant => "participant",
            Role::Employer => "employer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// What the role's `region` must be: the nation for head-office roles, a village for
    /// village officials, any region for branch officers and agents; participants are scoped
    /// by their NIK instead, employers' staff by their employer (its region is theirs).
    pub fn check_scope(self, region: RegionCode) -> Result<(), &'static str> {
        match self {
            Role::Admin | Role::Analyst if region != RegionCode::NATION => {
                Err("head-office roles cover the whole nation: give no region")
            }
            Role::BranchOfficer | Role::Agent if region == RegionCode::NATION => {
                Err("branch officers and agents work in a region: give its code")
            }
            Role::VillageOfficial if region.level() != crate::Level::Village => {
                Err("a village official's region must be a village")
            }
            _ => Ok(()),
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    /// The root of the caller's region subtree (the nation for head office).
    pub region: RegionCode,
    /// Agents: their agent code (participants they enrolled carry it).
    pub agent_code: Option<String>,
    /// Participants: the blind index of their NIK (hex), compared with the participation's.
    pub nik: Option<String>,
    /// Employers' staff: their employer's business registration number (NIB).
    pub employer_code: Option<String>,
}

/// Whether aggregate cells shown to this role are subject to small-cell suppression (the
/// roles that see counts but no personal data, for whom a count of 1–4 could point to a person).
pub fn suppresses_small_cells(role: Role) -> bool {
    matches!(role, Role::Analyst | Role::VillageOfficial)
}

/// A count as shown to `role`: withheld (`None`) when it is between 1 and `min_cell` − 1 and the
/// role is subject to suppression.
pub fn shown(role: Role, value: i64, min_cell: u32) -> Option<i64> {
    if suppresses_small_cells(role) && value > 0 && value < i64::from(min_cell) {
        None
    } else {
        Some(value)
    }
}

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Counts per region (reports, targets).
    ReadAggregates,
    /// One participant's record or coverage.
    ReadPersonal,
    /// Register a participant.
    Register,
    /// Post a contribution, reversal or termination.
    Post,
    /// Create users, set targets.
    Administer,
    /// See and handle participants' requests (corrections) in an area.
    ReviewRequests,
    /// Manage the Perisai network of an area: offices, agents, their events and deposits.
    ManageNetwork,
    /// See one agent's record: standing, cash held, statements, worklist.
    ReadAgent,
    /// Register employers and record their payments (branch and head office).
    ManageEmployers,
    /// See an employer's workers, invoices, payments and arrears (lists of employers, for
    /// branch and head office).
    ReadEmployer,
    /// Submit an employer's monthly wage report.
    ReportWages,
    /// See a region's campaign records: villages planned and their stages, sessions, the
    /// funnel and uplift, survey results (aggregates; no personal data).
    ReadCampaign,
    /// Plan a campaign in a region: create it, plan waves, edit villages' entries, draw
    /// surveys.
    ManageCampaign,
    /// Sign off a village's coordination (its village official, or the branch).
    SignOffCampaign,
    /// Record what happened in the field: sessions and survey answers.
    RecordFieldwork,
    /// See a region's payment exceptions and settlements and resolve them (branch finance,
    /// head office; issue #19).
    Reconcile,
}

/// What an action touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// Aggregates of a region (the nation included).
    Region(RegionCode),
    /// One participation: where it is counted, who enrolled it, whose it is (the blind index
    /// of its NIK, hex).
    Participant {
        village: RegionCode,
        agent_code: Option<String>,
        nik: String,
    },
    /// One Perisai agent: counted where they live, known by their code.
    Agent { home: RegionCode, code: String },
    /// One employer: where it is registered, known by its NIB.
    Employer { region: RegionCode, code: String },
    /// Nothing regional (administration).
    System,
}

/// Why a request was refused (shown to the caller; says nothing about the resource itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub &'static str);

/// The one decision: may `who` do `action` on `what`?
pub fn authorize(who: &Principal, action: Action, what: &Resource) -> Result<(), Denied> {
    use Action::*;
    use Role::*;
    let within = |r: RegionCode| who.region.contains(r);
    match (who.role, action, what) {
        (Admin, _, _) => Ok(()),
        (_, Administer, _) => Err(Denied("only head-office administrators may do this")),
        (Analyst, ReadCampaign, Resource::Region(_)) => Ok(()),
        (BranchOfficer | Agent | VillageOfficial, ReadCampaign, Resource::Region(r))
        | (BranchOfficer, ManageCampaign, Resource::Region(r))
        | (BranchOfficer | VillageOfficial, SignOffCampaign, Resource::Region(r))
        | (BranchOfficer | Agent, RecordFieldwork, Resource::Region(r)) => {
            if within(*r) {
                Ok(())
            } else {
                Err(Denied("this region is outside your area"))
            }
        }
        (_, ReadCampaign, _) => Err(Denied(
            "campaign records are for head office, branches, agents and village officials",
        )),
        (_, ManageCampaign, _) => Err(Denied(
            "campaigns are planned by branch officers and administrators",
        )),
        (_, SignOffCampaign, _) => Err(Denied(
            "a village's coordination is signed off by its village official or the branch",
        )),
        (_, RecordFieldwork, _) => Err(Denied(
            "sessions and survey answers are recorded by agents, branch officers and administrators",
        )),
        (BranchOfficer, ReviewRequests, Resource::Region(r)) => {
            if within(*r) {
                Ok(())
            } else {
                Err(Denied("this region is outside your area"))
            }
        }
        (_, ReviewRequests, _) => Err(Denied(
            "participants' requests are handled by branch officers and administrators",
        )),
        (BranchOfficer, ManageNetwork, Resource::Region(r)) => {
            if within(*r) {
                Ok(())
            } else {
                Err(Denied("this region is outside your area"))
            }
        }
        (_, ManageNetwork, _) => Err(Denied(
            "the Perisai network is managed by branch officers and administrators",
        )),
        (BranchOfficer, ReadAgent, Resource::Agent { home, .. }) => {
            if within(*home) {
                Ok(())
            } else {
                Err(Denied("this agent is outside your area"))
            }
        }
        (Agent, ReadAgent, Resource::Agent { code, .. }) => {
            if who.agent_code.as_deref() == Some(code.as_str()) {
                Ok(())
            } else {
                Err(Denied("agents see only their own record"))
            }
        }
        (_, ReadAgent, _) => Err(Denied(
            "an agent's record is for the agent, their branch and head office",
        )),
        (
            BranchOfficer,
            ManageEmployers | ReadEmployer | ReportWages,
            Resource::Employer { region: r, .. } | Resource::Region(r),
        ) => {
            if within(*r) {
                Ok(())
            } else {
                Err(Denied("this employer is outside your area"))
            }
        }
        (Employer, ReadEmployer | ReportWages, Resource::Employer { code, .. }) => {
            if who.employer_code.as_deref() == Some(code.as_str()) {
                Ok(())
            } else {
                Err(Denied("employers see only their own workers and accounts"))
            }
        }
        (_, ManageEmployers, _) => Err(Denied(
            "employers are registered and their payments recorded by branch officers and administrators",
        )),
        (_, ReadEmployer | ReportWages, _) => Err(Denied(
            "an employer's account is for the employer, its branch and head office",
        )),
        (BranchOfficer, Reconcile, Resource::Region(r)) => {
            if within(*r) {
                Ok(())
            } else {
                Err(Denied("this region is outside your area"))
            }
        }
        (_, Reconcile, _) => Err(Denied(
            "payment exceptions are resolved by branch finance and head office",
        )),
        (Analyst, ReadAggregates, Resource::Region(_)) => Ok(()),
        (Analyst, _, _) => Err(Denied("analysts see aggregates only, no personal data")),
        (BranchOfficer | Agent | VillageOfficial, ReadAggregates, Resource::Region(r)) => {
            if within(*r) {
                Ok(())
            } else {
                Err(Denied("this region is outside your area"))
            }
        }
        (BranchOfficer, ReadPersonal | Register | Post, Resource::Participant { village, .. }) => {
            if within(*village) {
                Ok(())
            } else {
                Err(Denied("this participant is outside your area"))
            }
        }
        (
            Agent,
            ReadPersonal | Register | Post,
            Resource::Participant {
                village,
                agent_code,
                ..
            },
        ) => {
            if !within(*village) {
                Err(Denied("this participant is outside your villages"))
            } else if who.agent_code.is_none() || agent_code != &who.agent_code {
                Err(Denied("agents see only the participants they enrolled"))
            } else {
                Ok(())
            }
        }
        (VillageOfficial, _, _) => Err(Denied(
            "village officials see their village's aggregates, no personal data",
        )),
        (Participant, ReadPersonal, Resource::Participant { nik, .. }) => {
            if who.nik.as_deref() == Some(nik.as_str()) {
                Ok(())
            } else {
                Err(Denied("participants see only their own record"))
            }
        }
        // A worker registers themselves (issue #20): only under their own NIK.
        (Participant, Register, Resource::Participant { nik, .. }) => {
            if who.nik.as_deref() == Some(nik.as_str()) {
                Ok(())
            } else {
                Err(Denied("participants register only themselves"))
            }
        }
        (Participant, _, _) => Err(Denied("participants see only their own record")),
        (Employer, _, _) => Err(Denied("employers see only their own workers and accounts")),
        (_, _, _) => Err(Denied("not allowed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, region: &str) -> Principal {
        Principal {
            user_id: 1,
            username: "u".into(),
            role,
            region: if region.is_empty() {
                RegionCode::NATION
            } else {
                RegionCode::parse(region).unwrap()
            },
            agent_code: (role == Role::Agent).then(|| "PRS-32-0001".into()),
            nik: (role == Role::Participant).then(|| "3273015203900003".into()),
            employer_code: (role == Role::Employer).then(|| "9120001234567".into()),
        }
    }

    fn person(village: &str, agent: Option<&str>, nik: &str) -> Resource {
        Resource::Participant {
            village: RegionCode::parse(village).unwrap(),
            agent_code: agent.map(String::from),
            nik: nik.into(),
        }
    }

    #[test]
    fn the_matrix() {
        let mine = person("32.73.01.1001", Some("PRS-32-0001"), "3273015203900003");
        let other_agent = person("32.73.01.1001", Some("PRS-32-0002"), "3273014506850002");
        let elsewhere = person("33.01.01.2001", None, "3301014506850002");
        let bandung = Resource::Region(RegionCode::parse("32.73").unwrap());
        let nation = Resource::Region(RegionCode::NATION);
        let ok = |p: &Principal, a: Action, r: &Resource| authorize(p, a, r).is_ok();

        let admin = who(Role::Admin, "");
        assert!(ok(&admin, Action::Administer, &Resource::System));
        assert!(ok(&admin, Action::ReadPersonal, &elsewhere));

        let analyst = who(Role::Analyst, "");
        assert!(ok(&analyst, Action::ReadAggregates, &nation));
        assert!(!ok(&analyst, Action::ReadPersonal, &mine));
        assert!(!ok(&analyst, Action::Register, &mine));

        let branch = who(Role::BranchOfficer, "32.73");
        assert!(ok(&branch, Action::ReadAggregates, &bandung));
        assert!(!ok(&branch, Action::ReadAggregates, &nation));
        assert!(ok(&branch, Action::ReadPersonal, &other_agent));
        assert!(ok(&branch, Action::Post, &mine));
        assert!(!ok(&branch, Action::ReadPersonal, &elsewhere));
        assert!(!ok(&branch, Action::Administer, &Resource::System));

        let agent = who(Role::Agent, "32.73.01");
        assert!(ok(&agent, Action::Register, &mine));
        assert!(!ok(&agent, Action::ReadPersonal, &other_agent));
        assert!(!ok(&agent, Action::ReadPersonal, &elsewhere));

        let official = who(Role::VillageOfficial, "32.73.01.1001");
        assert!(ok(
            &official,
            Action::ReadAggregates,
            &Resource::Region(RegionCode::parse("32.73.01.1001").unwrap())
        ));
        assert!(!ok(&official, Action::ReadAggregates, &bandung));
        assert!(!ok(&official, Action::ReadPersonal, &mine));

        let worker = who(Role::Participant, "");
        assert!(ok(&worker, Action::ReadPersonal, &mine));
        assert!(!ok(&worker, Action::ReadPersonal, &other_agent));
        assert!(!ok(&worker, Action::ReadAggregates, &nation));

        let firm = |code: &str, region: &str| Resource::Employer {
            region: RegionCode::parse(region).unwrap(),
            code: code.into(),
        };
        let own = firm("9120001234567", "32.73.01.1001");
        let other = firm("9120009999999", "32.73.01.1001");
        let far = firm("9120008888888", "33.01");
        let staff = who(Role::Employer, "32.73.01.1001");
        assert!(ok(&staff, Action::ReadEmployer, &own));
        assert!(ok(&staff, Action::ReportWages, &own));
        assert!(!ok(&staff, Action::ManageEmployers, &own));
        assert!(!ok(&staff, Action::ReadEmployer, &other));
        assert!(!ok(&staff, Action::ReadPersonal, &mine));
        assert!(!ok(&staff, Action::ReadAggregates, &nation));
        assert!(ok(&branch, Action::ManageEmployers, &own));
        assert!(ok(&branch, Action::ReadEmployer, &bandung));
        assert!(!ok(&branch, Action::ReadEmployer, &far));
        assert!(!ok(&analyst, Action::ReadEmployer, &own));
        assert!(!ok(&agent, Action::ReportWages, &own));
        // The campaign: a village official signs off their own village only; agents record
        // fieldwork in their area; analysts read every region's campaign but plan none.
        let village = Resource::Region(RegionCode::parse("32.73.01.1001").unwrap());
        let next_door = Resource::Region(RegionCode::parse("32.73.01.1002").unwrap());
        assert!(ok(&official, Action::SignOffCampaign, &village));
        assert!(ok(&official, Action::ReadCampaign, &village));
        assert!(!ok(&official, Action::SignOffCampaign, &next_door));
        assert!(!ok(&official, Action::RecordFieldwork, &village));
        assert!(ok(&agent, Action::RecordFieldwork, &village));
        assert!(!ok(&agent, Action::ManageCampaign, &village));
        assert!(ok(&analyst, Action::ReadCampaign, &nation));
        assert!(!ok(&analyst, Action::ManageCampaign, &village));
        assert!(ok(&branch, Action::ManageCampaign, &bandung));
        assert!(!ok(&branch, Action::ManageCampaign, &nation));
        assert!(!ok(&worker, Action::ReadCampaign, &village));
        assert!(!ok(&staff, Action::RecordFieldwork, &village));
        assert!(ok(&admin, Action::ManageEmployers, &far));
    }

    #[test]
    fn small_cells_are_withheld_from_aggregate_roles() {
        assert_eq!(shown(Role::Analyst, 3, 5), None);
        assert_eq!(shown(Role::VillageOfficial, 4, 5), None);
        assert_eq!(shown(Role::Analyst, 0, 5), Some(0));
        assert_eq!(shown(Role::Analyst, 5, 5), Some(5));
        assert_eq!(shown(Role::BranchOfficer, 1, 5), Some(1));
        assert_eq!(shown(Role::Admin, 2, 5), Some(2));
    }

    #[test]
    fn scopes_fit_roles() {
        let nation = RegionCode::NATION;
        let village = RegionCode::parse("32.73.01.1001").unwrap();
        assert!(Role::Admin.check_scope(nation).is_ok());
        assert!(Role::Analyst.check_scope(village).is_err());
        assert!(Role::BranchOfficer.check_scope(nation).is_err());
        assert!(
            Role::VillageOfficial
                .check_scope(RegionCode::parse("32.73").unwrap())
                .is_err()
        );
        assert!(Role::VillageOfficial.check_scope(village).is_ok());
    }
}
