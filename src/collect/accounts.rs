//! Many accounts and regions in one run (the seed's platform: one service, ~120 consumer
//! accounts).
//!
//! - `--all --accounts ID,… | --org` with `--role-name NAME`: each account × region is
//!   today's batched `--all` ([`super::collect_with`]), read through
//!   `arn:aws:iam::<account>:role/NAME` (the caller's own account without assuming),
//!   `--concurrency` of them at a time, under one tracker and one deadline.
//! - `--provider-role-name NAME`: the provider side of every service the fleet connects
//!   to, read once per service, through NAME in the service owner's account (assumed once
//!   per provider account); `--provider-role-arn`/`--provider-profile` reach one provider.
//! - `--service … --consumer-role-name NAME` (service.rs): each connection's consumer side
//!   through its owner's role, with [`assume`] and [`read_member`] from here.
//!
//! Failures stay local: an account that cannot be listed, assumed or read is a
//! [`ScopeFailure`] (and the rows it would have given are absent, never made up); only a
//! run where nothing at all could be read exits 3.

use super::config::{self, AwsConfigs, AwsOptions, ProviderAccess};
use super::consumer::Lookup;
use super::errors::{CallFailure, FailureKind};
use super::progress::{Stage, Tracker};
use super::{metrics, now_rfc3339, one_line, provider, Collection, LiveRequest, NetworkScope};
use crate::exit::Failure;
use aws_config::{Region, SdkConfig};
use aws_types::sdk_config::SharedCredentialsProvider;
use futures_util::StreamExt;
use pl_checks::fact::{Fact, Missing};
use pl_checks::fleet::{
    FleetKind, FleetScope, FleetSnapshot, ScopeFailure, FLEET_SNAPSHOT_VERSION,
};
use pl_checks::model::{ProviderSide, Snapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Account × region collections in flight at once by default. Each one's widest stage
/// has about 15 calls in flight, so 32 keep roughly 500 requests open from this host:
/// comfortable for one process and its connection pool (well under the usual 1,024 open
/// files), and far from any rate limit, because EC2's and ELB's request limits are per
/// account and region (each member account sees only its own ~20 calls) while the hub
/// makes one AssumeRole per account, each inside the account's slot, so about one in
/// five slots asks STS at any time (an account is 1 AssumeRole + about 4 round trips).
/// 120 accounts then take 4 waves of one account's round trips (16 would take 8).
pub const DEFAULT_CONCURRENCY: usize = 32;

/// Role chaining (a role assuming a role) caps sessions at one hour: never ask for more.
/// A run needs its session for its `--timeout` only; `--watch` assumes again every run,
/// so credentials are fresh however long it watches.
pub const MAX_SESSION: Duration = Duration::from_secs(3600);
/// STS's shortest session.
const MIN_SESSION: Duration = Duration::from_secs(900);
/// On the member account's CloudTrail: who assumed the role and why.
const SESSION_NAME: &str = "pl-doctor";

/// A role pl-doctor assumes in many accounts: `--role-name`, `--consumer-role-name`,
/// `--provider-role-name`, with `--external-id` for all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRole {
    /// The role's name (with its path, if any: `path/name`).
    pub name: String,
    pub external_id: Option<String>,
}

impl MemberRole {
    pub fn arn(&self, partition: &str, account: &str) -> String {
        format!("arn:{partition}:iam::{account}:role/{}", self.name)
    }
}

/// Which accounts a fleet run covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSource {
    /// `--accounts ID,…`.
    List(Vec<String>),
    /// `--org`: organizations:ListAccounts, ACTIVE accounts.
    Organization,
}

/// Which regions each account is read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionChoice {
    /// The configured region (`--region`, the profile, AWS_REGION).
    Configured,
    /// `--regions R,…`.
    List(Vec<String>),
    /// `--regions all`: ec2:DescribeRegions (the regions enabled for the caller's account).
    All,
}

/// How the provider side of a fleet's services is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderReach {
    /// Not at all: the provider-only checks say what would make them evaluable.
    None,
    /// `--provider-profile` / `--provider-role-arn`: one provider for every service.
    One(ProviderAccess),
    /// `--provider-role-name`: this role in each service's owner account (ServiceDetail.Owner).
    ByOwner(MemberRole),
}

#[derive(Debug, Clone)]
pub struct AccountsRequest {
    pub accounts: AccountSource,
    /// `--role-name` (+ `--external-id`).
    pub role: MemberRole,
    pub regions: RegionChoice,
    /// `--vpc`: only this VPC's endpoints (in whichever account has it).
    pub vpc_id: Option<String>,
    pub provider: ProviderReach,
    pub concurrency: usize,
    /// The VPC pl-doctor runs in, when known: DNS and the probe run only for its endpoints.
    pub vantage_vpc: Option<String>,
    /// The settings every account is collected with (`aws` holds the caller's profile,
    /// region and endpoint URL; its `endpoint_id` is unused).
    pub live: LiveRequest,
}

/// The session length to ask for: the run's deadline and a margin, within STS's bounds.
pub fn session_length(timeout: Duration) -> Duration {
    (timeout + Duration::from_secs(120)).clamp(MIN_SESSION, MAX_SESSION)
}

/// Assume `role_arn` with the caller's configuration and return a configuration for
/// `region` carrying the session's credentials. One sts:AssumeRole call, through the
/// tracker (counted, bounded by the deadline, its failure classified).
pub async fn assume(
    stage: Stage<'_>,
    hub: &SdkConfig,
    role_arn: &str,
    external_id: Option<&str>,
    session: Duration,
) -> Result<SdkConfig, CallFailure> {
    let sts = aws_sdk_sts::Client::new(hub);
    let out = stage
        .call(
            "sts:AssumeRole",
            sts.assume_role()
                .role_arn(role_arn)
                .role_session_name(SESSION_NAME)
                .set_external_id(external_id.map(str::to_owned))
                .duration_seconds(session.as_secs() as i32)
                .send(),
        )
        .await?;
    let unreadable = |what: &str| CallFailure {
        action: "sts:AssumeRole",
        kind: FailureKind::Other,
        code: None,
        message: format!("unreadable reply: {what}"),
    };
    let c = out
        .credentials()
        .ok_or_else(|| unreadable("no Credentials"))?;
    let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
    let credentials = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        expiry,
        "pl-doctor-assume-role",
    );
    Ok(hub
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build())
}

/// `conf` in `region`.
pub fn in_region(conf: &SdkConfig, region: &str) -> SdkConfig {
    conf.to_builder()
        .region(Region::new(region.to_owned()))
        .build()
}

/// The one line a failed AssumeRole gives: "cannot assume ARN: AccessDenied (message)".
pub fn assume_failure_reason(role_arn: &str, f: &CallFailure) -> String {
    let code = f.code.clone().unwrap_or_else(|| format!("{:?}", f.kind));
    let message = one_line(&f.message);
    if message.is_empty() {
        format!("cannot assume {role_arn}: {code}")
    } else {
        format!("cannot assume {role_arn}: {code} ({message})")
    }
}

/// What to do when a role cannot be assumed.
pub fn assume_failure_hint(role_arn: &str, account: &str, f: &CallFailure) -> String {
    match f.kind {
        FailureKind::DeadlinePassed => "raise --timeout".to_owned(),
        FailureKind::Unreachable => {
            "check --endpoint-url / AWS_ENDPOINT_URL and the network (proxy, VPN)".to_owned()
        }
        _ => format!(
            "create {role_arn} in account {account} with the member policy (pl-doctor iam-policy --member) and a trust policy allowing the caller (and --external-id if it requires one); the caller needs sts:AssumeRole on it (pl-doctor iam-policy --hub)"
        ),
    }
}

/// A fact absent because the role in `account` could not be assumed.
pub fn unassumable(account: &str, reason: &str) -> Missing {
    Missing::NotVisible {
        account: Some(account.to_owned()),
        hint: reason.to_owned(),
    }
}

/// The partition of an ARN (`arn:aws-us-gov:…` → `aws-us-gov`), `aws` when unknown.
pub fn partition_of(arn: Option<&str>) -> String {
    arn.and_then(|a| a.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
        .to_owned()
}

/// One account × region's collection, with the failure that stopped it as a scope entry.
pub async fn read_member(
    req: &LiveRequest,
    lookup: &Lookup,
    conf: &SdkConfig,
    tracker: &Tracker,
    deadline: tokio::time::Instant,
    network: &NetworkScope,
    account: &str,
) -> Result<Collection, ScopeFailure> {
    let configs = AwsConfigs {
        consumer: conf.clone(),
        provider: None,
    };
    let region = conf.region().map(|r| r.to_string());
    super::collect_with(req, lookup, &configs, tracker, deadline, network)
        .await
        .map_err(|f| {
            let (reason, hint) = match f {
                Failure::CannotDiagnose { reason, hint } => (reason, hint),
                other => (other.to_string(), "retry".to_owned()),
            };
            ScopeFailure {
                account: Some(account.to_owned()),
                region,
                operation: "ec2:DescribeVpcEndpoints".into(),
                reason,
                hint,
            }
        })
}

pub fn collect_blocking(req: &AccountsRequest) -> Result<FleetSnapshot, Failure> {
    super::runtime(&req.live)?.block_on(Box::pin(collect(req)))
}

/// The caller: its account and ARN (for the partition), read first.
struct Caller {
    account: Option<String>,
    arn: Option<String>,
}

pub async fn collect(req: &AccountsRequest) -> Result<FleetSnapshot, Failure> {
    let live = &req.live;
    let collected_at = now_rfc3339();
    let deadline = tokio::time::Instant::now() + live.timeout;
    let tracker = Tracker::with_deadline(deadline);
    let result = collect_on(req, &tracker, deadline, collected_at).await;
    match &result {
        Ok(_) => tracker.finish_and_log(),
        Err(_) => {
            tracker.finish();
        }
    }
    result
}

async fn collect_on(
    req: &AccountsRequest,
    tracker: &Tracker,
    deadline: tokio::time::Instant,
    collected_at: String,
) -> Result<FleetSnapshot, Failure> {
    let live = &req.live;
    let hub_options = AwsOptions {
        provider: ProviderAccess::None,
        ..live.aws.clone()
    };
    let hub = config::load_configs(&hub_options).await.consumer;
    let home_region = match (hub.region(), &req.regions) {
        (Some(r), _) => r.to_string(),
        (None, RegionChoice::List(list)) if !list.is_empty() => list[0].clone(),
        (None, _) => {
            return Err(Failure::CannotDiagnose {
                reason: "cannot scan the accounts: no AWS region configured".into(),
                hint: "pass --region or --regions (e.g. --regions us-east-1,eu-west-1), set AWS_REGION, or set region in the profile".into(),
            })
        }
    };
    let hub = in_region(&hub, &home_region);
    let mut failed: Vec<ScopeFailure> = Vec::new();

    // The hub's own questions, all at once: who am I, which accounts, which regions.
    let stage = tracker.stage("hub: accounts and regions");
    let sts = aws_sdk_sts::Client::new(&hub);
    let identity = stage.call("sts:GetCallerIdentity", sts.get_caller_identity().send());
    let accounts = async {
        match &req.accounts {
            AccountSource::List(ids) => Ok(ids.clone()),
            AccountSource::Organization => list_organization(stage, &hub).await,
        }
    };
    let regions = async {
        match &req.regions {
            RegionChoice::Configured => Ok(vec![home_region.clone()]),
            RegionChoice::List(list) => Ok(list.clone()),
            RegionChoice::All => enabled_regions(stage, &hub).await,
        }
    };
    let (identity, accounts, regions) = tokio::join!(identity, accounts, regions);
    let caller = match identity {
        Ok(out) => Caller {
            account: out.account().map(str::to_owned),
            arn: out.arn().map(str::to_owned),
        },
        Err(f) if matches!(f.kind, FailureKind::NoCredentials | FailureKind::Unreachable) => {
            return Err(Failure::CannotDiagnose {
                reason: format!(
                    "cannot scan the accounts: {} ({})",
                    if f.kind == FailureKind::NoCredentials {
                        "no AWS credentials"
                    } else {
                        "AWS API unreachable"
                    },
                    one_line(&f.message)
                ),
                hint: "set AWS_PROFILE or pass --profile (the hub account's credentials); check --endpoint-url and the network".into(),
            })
        }
        Err(_) => Caller {
            account: None,
            arn: None,
        },
    };
    let accounts = match accounts {
        // `--all --regions …` alone: the caller's own account, in each region.
        Ok(a) if a.is_empty() && matches!(req.accounts, AccountSource::List(_)) => {
            match &caller.account {
                Some(own) => vec![own.clone()],
                None => {
                    return Err(Failure::CannotDiagnose {
                        reason: "cannot scan the regions: the caller's account is unknown (sts:GetCallerIdentity failed)".into(),
                        hint: "check the credentials (--profile, AWS_PROFILE) and --endpoint-url".into(),
                    })
                }
            }
        }
        Ok(a) => a,
        Err(f) => {
            return Err(Failure::CannotDiagnose {
                reason: format!(
                    "cannot list the organization's accounts with the caller's credentials (account {}): {}",
                    caller.account.as_deref().unwrap_or("unknown"),
                    one_line(&f.detail())
                ),
                hint: "run from the organization's management account or a delegated administrator, with organizations:ListAccounts (pl-doctor iam-policy --hub), or name the accounts with --accounts".into(),
            })
        }
    };
    let regions = match regions {
        Ok(r) => r,
        Err(f) => {
            failed.push(ScopeFailure {
                account: caller.account.clone(),
                region: Some(home_region.clone()),
                operation: f.action.to_owned(),
                reason: format!(
                    "cannot list the enabled regions: {}; only {home_region} was read",
                    one_line(&f.detail())
                ),
                hint: "grant ec2:DescribeRegions to the caller (pl-doctor iam-policy --hub), or name the regions with --regions".into(),
            });
            vec![home_region.clone()]
        }
    };
    let partition = partition_of(caller.arn.as_deref());
    let session = session_length(live.timeout);
    // Where pl-doctor runs (instance metadata on EC2), asked once for the whole run.
    let here = match &req.vantage_vpc {
        Some(vpc) => Some(vpc.clone()),
        None => super::vantage::find().await.vpc_id,
    };
    let network = NetworkScope::OnlyInVpc(here);
    let lookup = Lookup::Fleet {
        vpc_id: req.vpc_id.clone(),
        include_aws_services: req.live.include_aws_services,
    };
    let total = accounts.len() * regions.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    tracker.headline(format!("accounts × regions: 0/{total} read"));

    // One bound on account × region collections in flight. An account's slot covers its
    // AssumeRole and then its first region's collection (each further region takes a slot
    // of its own): a session is opened only when it is about to be used, an account costs
    // one AssumeRole plus its collection's depth in round trips, and the hub never has
    // more than `concurrency` sessions opening.
    let permits = tokio::sync::Semaphore::new(req.concurrency.max(1));
    let per_account = futures_util::future::join_all(accounts.iter().map(|account| {
        let (hub, permits, lookup, network, regions, partition, caller, done) = (
            &hub, &permits, &lookup, &network, &regions, &partition, &caller, &done,
        );
        async move {
            let own = caller.account.as_deref() == Some(account.as_str());
            let slot = permits.acquire().await;
            let conf = if own {
                Ok(hub.clone())
            } else {
                let role_arn = req.role.arn(partition, account);
                assume(
                    tracker.stage("account: assume role"),
                    hub,
                    &role_arn,
                    req.role.external_id.as_deref(),
                    session,
                )
                .await
                .map_err(|f| ScopeFailure {
                    account: Some(account.clone()),
                    region: None,
                    operation: "sts:AssumeRole".into(),
                    reason: assume_failure_reason(&role_arn, &f),
                    hint: assume_failure_hint(&role_arn, account, &f),
                })
            };
            let conf = match conf {
                Ok(c) => c,
                Err(f) => {
                    let n = done.fetch_add(regions.len(), std::sync::atomic::Ordering::Relaxed);
                    tracker.headline(format!(
                        "accounts × regions: {}/{total} read",
                        n + regions.len()
                    ));
                    return vec![Err(f)];
                }
            };
            let mut slot = Some(slot);
            futures_util::future::join_all(regions.iter().map(|region| {
                let conf = in_region(&conf, region);
                let held = slot.take();
                async move {
                    let _permit = match held {
                        Some(p) => p,
                        None => permits.acquire().await,
                    };
                    let r = read_member(
                        &req.live, lookup, &conf, tracker, deadline, network, account,
                    )
                    .await
                    .map(|c| (c, conf.clone()));
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    tracker.headline(format!("accounts × regions: {n}/{total} read"));
                    r
                }
            }))
            .await
        }
    }))
    .await;

    let mut snapshots = Vec::new();
    // Each snapshot's account's configuration, for the change lookups after the provider
    // sides are in.
    let mut member_confs: Vec<Option<SdkConfig>> = Vec::new();
    let mut left_out = Vec::new();
    let mut endpoint_quotas = Vec::new();
    let mut read_any = false;
    for result in per_account.into_iter().flatten() {
        match result {
            Ok((c, conf)) => {
                read_any = true;
                member_confs.extend(c.snapshots.iter().map(|_| Some(conf.clone())));
                snapshots.extend(c.snapshots);
                left_out.extend(c.left_out);
                endpoint_quotas.extend(c.endpoint_quota);
            }
            Err(f) => failed.push(f),
        }
    }
    if !read_any {
        let first = failed.first().map(|f| f.reason.clone()).unwrap_or_default();
        return Err(Failure::CannotDiagnose {
            reason: format!(
                "could not read any of the {} account(s) in {}: {first}",
                accounts.len(),
                regions.join(", ")
            ),
            hint: failed
                .first()
                .map(|f| f.hint.clone())
                .unwrap_or_else(|| "check --accounts/--org and --role-name".into()),
        });
    }

    let provider_confs = provider_sides(
        req,
        tracker,
        &hub,
        &partition,
        caller.account.as_deref(),
        session,
        deadline,
        &mut snapshots,
        &mut failed,
    )
    .await;
    // The provider sides change what fails: what those checks name and the rows' own
    // collections did not look up follows now, in the row's account and the owner's.
    let owners: Vec<Option<SdkConfig>> = snapshots
        .iter()
        .map(|s| {
            provider_confs
                .get(&(s.region.clone(), s.consumer.endpoint.service_name.clone()))
                .cloned()
        })
        .collect();
    super::changes::complete_all(
        tracker,
        &mut snapshots,
        &member_confs,
        &owners,
        &super::eval_options(&req.live),
        None,
        &[],
        deadline,
    )
    .await;

    snapshots.sort_by(|a, b| {
        (
            a.consumer.endpoint.owner_id.as_str(),
            a.region.as_str(),
            a.consumer.endpoint.id.as_str(),
        )
            .cmp(&(
                b.consumer.endpoint.owner_id.as_str(),
                b.region.as_str(),
                b.consumer.endpoint.id.as_str(),
            ))
    });
    failed.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    Ok(FleetSnapshot {
        fleet_snapshot_version: FLEET_SNAPSHOT_VERSION,
        kind: FleetKind::Fleet,
        collected_by: format!("pl-doctor {}", env!("CARGO_PKG_VERSION")),
        collected_at,
        scope: FleetScope {
            region: home_region,
            account: caller.account.clone(),
            vpc_id: req.vpc_id.clone(),
            left_out,
            accounts,
            regions,
            failed,
            ..FleetScope::default()
        },
        service: None,
        snapshots,
        endpoint_quotas,
    })
}

/// organizations:ListAccounts (paginated), ACTIVE accounts only, sorted.
async fn list_organization(stage: Stage<'_>, hub: &SdkConfig) -> Result<Vec<String>, CallFailure> {
    let org = aws_sdk_organizations::Client::new(hub);
    let pages = stage
        .call(
            "organizations:ListAccounts",
            org.list_accounts().into_paginator().send().try_collect(),
        )
        .await?;
    let mut ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.accounts())
        .filter(|a| {
            a.status()
                .is_some_and(|s| s.as_str().eq_ignore_ascii_case("ACTIVE"))
        })
        .filter_map(|a| a.id().map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// ec2:DescribeRegions: without AllRegions it lists the regions enabled for the account
/// (opted-in or not requiring opt-in), which are the only ones that answer.
async fn enabled_regions(stage: Stage<'_>, hub: &SdkConfig) -> Result<Vec<String>, CallFailure> {
    let ec2 = aws_sdk_ec2::Client::new(hub);
    let out = stage
        .call("ec2:DescribeRegions", ec2.describe_regions().send())
        .await?;
    let mut names: Vec<String> = out
        .regions()
        .iter()
        .filter(|r| r.opt_in_status().is_none_or(|s| s != "not-opted-in"))
        .filter_map(|r| r.region_name().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// The provider side of every service the fleet's endpoints connect to: collected once
/// per service and region, shared by its endpoints; with `--provider-role-name`, the
/// role is assumed once per owner account.
#[allow(clippy::too_many_arguments)]
async fn provider_sides(
    req: &AccountsRequest,
    tracker: &Tracker,
    hub: &SdkConfig,
    partition: &str,
    caller_account: Option<&str>,
    session: Duration,
    deadline: tokio::time::Instant,
    snapshots: &mut [Snapshot],
    failed: &mut Vec<ScopeFailure>,
) -> BTreeMap<(String, String), SdkConfig> {
    // (region, service name) → owner account, from the consumer's view of the service.
    let mut services: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    // AWS runs the provider side of its own services (--include-aws-services): no owner
    // account to reach for them, and their snapshots keep `ProviderSide::aws_managed`.
    for s in snapshots.iter().filter(|s| {
        pl_checks::endpoint_type::service_kind(s)
            != pl_checks::endpoint_type::ServiceKind::AwsService
    }) {
        let owner = s.consumer.service.known().map(|v| v.owner.clone());
        services
            .entry((s.region.clone(), s.consumer.endpoint.service_name.clone()))
            .or_insert(owner);
    }
    if services.is_empty() {
        return BTreeMap::new();
    }
    // Owner account (or "" for the one provider) → a configuration reaching it.
    let mut reach: BTreeMap<String, Result<SdkConfig, Missing>> = BTreeMap::new();
    match &req.provider {
        ProviderReach::None => return BTreeMap::new(),
        ProviderReach::One(access) => {
            let opts = AwsOptions {
                provider: access.clone(),
                ..req.live.aws.clone()
            };
            if let Some(conf) = config::load_configs(&opts).await.provider {
                reach.insert(String::new(), Ok(conf));
            }
        }
        ProviderReach::ByOwner(role) => {
            let owners: BTreeSet<String> = services.values().flatten().cloned().collect();
            let assumed =
                futures_util::future::join_all(owners.into_iter().map(|owner| async move {
                    if Some(owner.as_str()) == caller_account {
                        return (owner, Ok(hub.clone()));
                    }
                    let role_arn = role.arn(partition, &owner);
                    let r = assume(
                        tracker.stage("provider: assume role"),
                        hub,
                        &role_arn,
                        role.external_id.as_deref(),
                        session,
                    )
                    .await
                    .map_err(|f| (role_arn, f));
                    (owner, r)
                }))
                .await;
            for (owner, r) in assumed {
                match r {
                    Ok(conf) => {
                        reach.insert(owner, Ok(conf));
                    }
                    Err((role_arn, f)) => {
                        let reason = assume_failure_reason(&role_arn, &f);
                        failed.push(ScopeFailure {
                            account: Some(owner.clone()),
                            region: None,
                            operation: "sts:AssumeRole".into(),
                            reason: format!("provider side: {reason}"),
                            hint: assume_failure_hint(&role_arn, &owner, &f),
                        });
                        reach.insert(owner.clone(), Err(unassumable(&owner, &reason)));
                    }
                }
            }
        }
    }
    let period = metrics::period_for(req.live.window);
    let window_end = time::OffsetDateTime::now_utc();
    let window = metrics::Window {
        start: (window_end - req.live.window).into(),
        end: window_end.into(),
    };
    // (region, service name) → the provider configuration in that region, for the change lookups.
    let confs: BTreeMap<(String, String), SdkConfig> = services
        .iter()
        .filter_map(|((region, name), owner)| {
            let key = match &req.provider {
                ProviderReach::ByOwner(_) => owner.clone().unwrap_or_default(),
                _ => String::new(),
            };
            match reach.get(&key) {
                Some(Ok(conf)) => Some(((region.clone(), name.clone()), in_region(conf, region))),
                _ => None,
            }
        })
        .collect();
    let collected = futures_util::stream::iter(services)
        .map(|((region, name), owner)| {
            let key = match &req.provider {
                ProviderReach::ByOwner(_) => owner.clone().unwrap_or_default(),
                _ => String::new(),
            };
            let conf = reach.get(&key).cloned();
            async move {
                let side = match conf {
                    None => None,
                    Some(Err(m)) => Some((absent_provider(&m), Some(Err(m)))),
                    Some(Ok(conf)) => {
                        let conf = in_region(&conf, &region);
                        let clients = provider::Clients::new(&conf);
                        let cloudwatch = aws_sdk_cloudwatch::Client::new(&conf);
                        let metrics_request = match &req.live.skip_metrics {
                            Some(_) => None,
                            None => Some(provider::MetricsRequest {
                                client: &cloudwatch,
                                period_seconds: period,
                                window,
                                deadline,
                            }),
                        };
                        Some(
                            provider::collect(
                                tracker,
                                &clients,
                                &name,
                                std::future::ready(None),
                                metrics_request,
                            )
                            .await,
                        )
                    }
                };
                ((region, name), side)
            }
        })
        .buffer_unordered(req.concurrency.max(1))
        .collect::<BTreeMap<_, _>>()
        .await;
    for s in snapshots.iter_mut() {
        let key = (s.region.clone(), s.consumer.endpoint.service_name.clone());
        if let Some(Some((side, series))) = collected.get(&key) {
            s.provider = side.clone();
            if let Some(series) = series {
                let own = std::mem::replace(&mut s.observability.metrics, Fact::Known(vec![]));
                s.observability.metrics = match metrics::combine(
                    Some(series.clone()),
                    own.as_result().cloned().map_err(|m| m.clone()),
                ) {
                    Ok(all) => Fact::Known(all),
                    Err(m) => Fact::Absent(m),
                };
            }
        }
    }
    confs
}

/// Every provider fact absent with `why`.
fn absent_provider(why: &Missing) -> ProviderSide {
    fn a<T>(why: &Missing) -> Fact<T> {
        Fact::Absent(why.clone())
    }
    ProviderSide {
        identity: a(why),
        service_configuration: a(why),
        allowed_principals: a(why),
        connections: a(why),
        az_map: a(why),
        load_balancers: a(why),
        target_groups: a(why),
        subnets: a(why),
        security_groups: a(why),
        prefix_lists: a(why),
        connection_notifications: a(why),
        alb_target_groups: a(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_stay_within_the_role_chaining_hour() {
        assert_eq!(session_length(Duration::from_secs(60)), MIN_SESSION);
        assert_eq!(session_length(Duration::from_secs(7200)), MAX_SESSION);
        assert_eq!(
            session_length(Duration::from_secs(1200)),
            Duration::from_secs(1320)
        );
    }

    #[test]
    fn a_denied_assume_names_the_role_and_the_code() {
        let f = CallFailure {
            action: "sts:AssumeRole",
            kind: FailureKind::AccessDenied,
            code: Some("AccessDenied".into()),
            message: "not authorized\n to assume".into(),
        };
        let arn = MemberRole {
            name: "pl-doctor-read".into(),
            external_id: None,
        }
        .arn("aws", "444444444444");
        assert_eq!(arn, "arn:aws:iam::444444444444:role/pl-doctor-read");
        assert_eq!(
            assume_failure_reason(&arn, &f),
            "cannot assume arn:aws:iam::444444444444:role/pl-doctor-read: AccessDenied (not authorized to assume)"
        );
        assert!(assume_failure_hint(&arn, "444444444444", &f).contains("trust policy"));
        assert_eq!(
            partition_of(Some("arn:aws-us-gov:iam::1:user/x")),
            "aws-us-gov"
        );
        assert_eq!(partition_of(None), "aws");
    }
}
