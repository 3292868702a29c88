//! The imperative shell: turn the command line into a snapshot (loaded, or collected
//! live from AWS), evaluate it with the core, render, and pick the exit code.

use crate::cli::{Cli, Command, DiagnoseArgs, OutputFormat};
use crate::collect::config::{AwsOptions, ProviderAccess};
use crate::collect::LiveRequest;
pub use crate::evaluated::Evaluated;
use crate::exit::{self, Failure};
use crate::render;
use pl_checks::check::EvalOptions;
use pl_checks::client::ClientSpec;
use pl_checks::fleet::{self, FleetSnapshot};
use pl_checks::iam;
use pl_checks::model::Snapshot;
use pl_checks::registry;
use pl_checks::report;
use pl_checks::snapshot_io::{self, Loaded};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

pub fn run(cli: Cli) -> Result<u8, Failure> {
    let style = render::Style::detect(cli.diagnose.color);
    match cli.command {
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "pl-doctor", &mut out);
            print_out(&String::from_utf8_lossy(&out))?;
            Ok(exit::NO_FAILURE)
        }
        Some(Command::Man) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(|e| Failure::Output(format!("cannot render the manual page: {e}")))?;
            print_out(&String::from_utf8_lossy(&out))?;
            Ok(exit::NO_FAILURE)
        }
        Some(Command::Checks) => {
            print_out(&render::checks_list(style))?;
            Ok(exit::NO_FAILURE)
        }
        Some(Command::Explain { id }) => {
            let check = registry::find(&id).ok_or_else(|| unknown_check(&id, "explain"))?;
            print_out(&render::explain(check.meta, style))?;
            Ok(exit::NO_FAILURE)
        }
        Some(Command::IamPolicy {
            hub: true,
            role_name,
            ..
        }) => {
            let names: Vec<&str> = role_name.iter().map(String::as_str).collect();
            print_json(&iam::hub_policy(&names))
        }
        Some(Command::IamPolicy {
            member: true,
            trust_principal: Some(principal),
            external_id,
            ..
        }) => print_json(&iam::member_trust_policy(
            &principal,
            external_id.as_deref(),
        )),
        Some(Command::IamPolicy {
            provider,
            provider_role_arn,
            ..
        }) => {
            let side = if provider {
                iam::Side::Provider
            } else {
                iam::Side::Consumer
            };
            let policy = iam::policy(side, provider_role_arn.as_deref());
            print_out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&policy).expect("policy serializes")
            ))?;
            Ok(exit::NO_FAILURE)
        }
        None => diagnose(cli.diagnose, style),
    }
}

fn print_json(v: &serde_json::Value) -> Result<u8, Failure> {
    print_out(&format!(
        "{}\n",
        serde_json::to_string_pretty(v).expect("policy serializes")
    ))?;
    Ok(exit::NO_FAILURE)
}

fn unknown_check(id: &str, flag: &str) -> Failure {
    let valid: Vec<&str> = registry::ids().collect();
    Failure::BadInput(format!(
        "{flag}: unknown check id {id:?}; valid ids: {}",
        valid.join(", ")
    ))
}

fn eval_options(args: &DiagnoseArgs) -> Result<EvalOptions, Failure> {
    for (flag, ids) in [("--only", &args.only), ("--skip", &args.skip)] {
        if let Some(bad) = ids.iter().find(|id| registry::find(id).is_none()) {
            return Err(unknown_check(bad, flag));
        }
    }
    let client = args
        .client
        .as_deref()
        .map(ClientSpec::parse)
        .transpose()
        .map_err(|e| Failure::BadInput(format!("--client: {e}")))?;
    Ok(EvalOptions {
        client,
        ports: args.port.clone(),
        only: args.only.clone(),
        skip: args.skip.clone(),
        policy: pl_checks::net::policy::PolicyRequest {
            action: args.action.clone(),
            principal: args.principal.clone(),
            resource: args.resource.clone(),
        },
    })
}

/// What a run looks at.
#[derive(Debug, Clone)]
pub enum Scope {
    /// `--endpoint`: one endpoint, the whole runbook.
    Endpoint(String),
    /// `--service`: the provider's view of one service and all its connections.
    Service(String),
    /// `--all [--vpc]`: the consumer's fleet.
    Fleet { vpc_id: Option<String> },
    /// `--all --accounts …|--org --role-name NAME [--regions …]`: many accounts' fleets.
    Accounts {
        vpc_id: Option<String>,
        accounts: crate::collect::accounts::AccountSource,
        regions: crate::collect::accounts::RegionChoice,
    },
    /// `--from-snapshot` (optionally narrowed to one endpoint of a fleet file by `--endpoint`).
    Replay {
        path: std::path::PathBuf,
        endpoint: Option<String>,
    },
}

impl Scope {
    /// What a run looks at, in words (`--watch` announces it).
    pub fn describe(&self) -> String {
        match self {
            Scope::Endpoint(id) => id.clone(),
            Scope::Service(id) => format!("service {id}"),
            Scope::Fleet { vpc_id: Some(vpc) } => format!("every endpoint in {vpc}"),
            Scope::Fleet { vpc_id: None } => "every endpoint in the region".into(),
            Scope::Accounts { .. } => "every endpoint of the accounts".into(),
            Scope::Replay { path, .. } => path.display().to_string(),
        }
    }
}

/// A snapshot as collected or loaded: one endpoint's, or a fleet's / a service's.
pub enum Collected {
    One(Box<Snapshot>),
    Many(Box<FleetSnapshot>),
}

fn scope(args: &DiagnoseArgs) -> Result<Scope, Failure> {
    if let Some(ep) = &args.endpoint {
        if !crate::cli::is_endpoint_id(ep) {
            return Err(Failure::BadInput(format!(
                "--endpoint: {ep:?} is not an interface endpoint id (vpce- then 8 or 17 hex digits, e.g. vpce-0a1b2c3d4e5f6a7b8)"
            )));
        }
    }
    if let Some(svc) = &args.service {
        if !crate::cli::is_service_id(svc) {
            return Err(Failure::BadInput(format!(
                "--service: {svc:?} is not an endpoint service id (vpce-svc- then 8 or 17 hex digits, e.g. vpce-svc-0123456789abcdef0)"
            )));
        }
    }
    if args.include_aws_services && !args.all {
        return Err(Failure::BadInput(
            "--include-aws-services widens a fleet scan (--all) to the endpoints to AWS services: add --all (with --endpoint, an endpoint to an AWS service is diagnosed as it is)".into(),
        ));
    }
    if let Some(vpc) = &args.vpc {
        // clap counts --all's default (false) as present, so `requires` cannot say this.
        if !args.all {
            return Err(Failure::BadInput(format!(
                "--vpc {vpc} only narrows a fleet scan: add --all (or give --endpoint alone)"
            )));
        }
        if !crate::cli::is_vpc_id(vpc) {
            return Err(Failure::BadInput(format!(
                "--vpc: {vpc:?} is not a VPC id (vpc- then 8 or 17 hex digits, e.g. vpc-0a1b2c3d4e5f6a7b8)"
            )));
        }
    }
    many_accounts_usage(args)?;
    let many = &args.many;
    Ok(match (&args.from_snapshot, &args.endpoint, &args.service, args.all) {
        (Some(path), endpoint, _, _) => Scope::Replay {
            path: path.clone(),
            endpoint: endpoint.clone(),
        },
        (None, Some(ep), _, _) => Scope::Endpoint(ep.clone()),
        (None, None, Some(svc), _) => Scope::Service(svc.clone()),
        (None, None, None, true) if many.org || !many.accounts.is_empty() || !many.regions.is_empty() => {
            use crate::collect::accounts::{AccountSource, RegionChoice};
            Scope::Accounts {
                vpc_id: args.vpc.clone(),
                accounts: if many.org {
                    AccountSource::Organization
                } else {
                    AccountSource::List(many.accounts.clone())
                },
                regions: match many.regions.as_slice() {
                    [] => RegionChoice::Configured,
                    [all] if all == "all" => RegionChoice::All,
                    list => RegionChoice::List(list.to_vec()),
                },
            }
        }
        (None, None, None, true) => Scope::Fleet {
            vpc_id: args.vpc.clone(),
        },
        (None, None, None, false) => {
            return Err(Failure::BadInput(
                "nothing to diagnose: give --endpoint vpce-…, --service vpce-svc-…, --all, or --from-snapshot FILE (see pl-doctor --help)".into(),
            ))
        }
    })
}

/// The many-account flags' combinations clap cannot express (bools count as present).
fn many_accounts_usage(args: &DiagnoseArgs) -> Result<(), Failure> {
    let many = &args.many;
    let bad = |m: &str| Err(Failure::BadInput(m.to_owned()));
    let fleet_of_accounts = many.org || !many.accounts.is_empty();
    if (fleet_of_accounts || !many.regions.is_empty()) && !args.all {
        return bad("--accounts, --org and --regions scan many accounts' fleets: add --all (or use --service vpce-svc-… --consumer-role-name NAME for one service)");
    }
    if fleet_of_accounts && many.role_name.is_none() {
        return bad("--accounts/--org need --role-name NAME: the role pl-doctor assumes in each account (the caller's own account is read without it)");
    }
    if many.role_name.is_some() && !fleet_of_accounts {
        return bad("--role-name is the role assumed in each account of --accounts ID,… or --org: add one of them");
    }
    if many.consumer_role_name.is_some() && args.service.is_none() {
        return bad("--consumer-role-name reads the consumer side of each connection of --service vpce-svc-…: add --service (for fleets, use --all --accounts … --role-name NAME)");
    }
    if many.provider_role_name.is_some() && !args.all {
        return bad("--provider-role-name reaches each service's owner in a fleet scan: add --all (with --endpoint, use --provider-role-arn)");
    }
    if many.regions.len() > 1 && many.regions.iter().any(|r| r == "all") {
        return bad(
            "--regions all cannot be combined with named regions: give either all or a list",
        );
    }
    if let Some(r) = many
        .regions
        .iter()
        .find(|r| *r != "all" && crate::cli::parse_region_name(r).is_err())
    {
        return Err(Failure::BadInput(format!(
            "--regions: {r:?} is not an AWS region name (e.g. us-east-1), nor `all`"
        )));
    }
    if args.external_id.is_some()
        && args.provider_role_arn.is_none()
        && many.role_name.is_none()
        && many.consumer_role_name.is_none()
        && many.provider_role_name.is_none()
    {
        return bad("--external-id applies to an assumed role: give --provider-role-arn, --role-name, --consumer-role-name or --provider-role-name");
    }
    if many.concurrency.is_some() && !(fleet_of_accounts || many.consumer_role_name.is_some()) {
        return bad("--concurrency bounds the accounts read at once: it goes with --all --accounts/--org or --service --consumer-role-name");
    }
    Ok(())
}

fn diagnose(args: DiagnoseArgs, style: render::Style) -> Result<u8, Failure> {
    let options = eval_options(&args)?;
    let scope = scope(&args)?;
    if let Some(interval) = args.watch {
        if matches!(args.output, OutputFormat::Html | OutputFormat::Openmetrics) {
            return Err(Failure::BadInput(format!(
                "-o {} writes one document per run: drop --watch and schedule the runs (e.g. a CronJob writing the file)",
                if args.output == OutputFormat::Html { "html" } else { "openmetrics" }
            )));
        }
        let what = scope.describe();
        let output = args.output;
        let inputs = std::sync::Arc::new((scope, args, options));
        let diagnose = move || diagnose_once(&inputs.0, &inputs.1, &inputs.2);
        return crate::watch::run(&what, output, diagnose, interval, style);
    }
    let evaluated = diagnose_once(&scope, &args, &options)?;
    print_out(&evaluated.render(args.output, style))?;
    Ok(evaluated.exit_code_gated(args.fail_on))
}

/// Collect (or load), save if asked, and evaluate: one pass of the runbook over the scope.
pub fn diagnose_once(
    scope: &Scope,
    args: &DiagnoseArgs,
    options: &EvalOptions,
) -> Result<Evaluated, Failure> {
    let started_at = now_rfc3339();
    let clock = Instant::now();
    let collected = match scope {
        Scope::Replay { path, endpoint } => replay(path, endpoint.as_deref())?,
        Scope::Endpoint(ep) => Collected::One(Box::new(crate::collect::collect_blocking(
            &live_request(ep, args, options),
        )?)),
        Scope::Service(service_id) => Collected::Many(Box::new(
            crate::collect::service::collect_blocking(&crate::collect::service::ServiceRequest {
                service_id: service_id.clone(),
                live: live_request("", args, options),
                consumer_role: args.many.consumer_role_name.as_ref().map(|name| {
                    crate::collect::accounts::MemberRole {
                        name: name.clone(),
                        external_id: args.external_id.clone(),
                    }
                }),
                concurrency: concurrency(args),
                vantage_vpc: vantage_vpc(),
            })?,
        )),
        Scope::Accounts {
            vpc_id,
            accounts,
            regions,
        } => {
            use crate::collect::accounts::{self, MemberRole, ProviderReach};
            let live = live_request("", args, options);
            let provider = match (&args.many.provider_role_name, &live.aws.provider) {
                (Some(name), _) => ProviderReach::ByOwner(MemberRole {
                    name: name.clone(),
                    external_id: args.external_id.clone(),
                }),
                (None, ProviderAccess::None) => ProviderReach::None,
                (None, one) => ProviderReach::One(one.clone()),
            };
            Collected::Many(Box::new(accounts::collect_blocking(
                &accounts::AccountsRequest {
                    accounts: accounts.clone(),
                    role: MemberRole {
                        name: args.many.role_name.clone().unwrap_or_default(),
                        external_id: args.external_id.clone(),
                    },
                    regions: regions.clone(),
                    vpc_id: vpc_id.clone(),
                    provider,
                    concurrency: concurrency(args),
                    vantage_vpc: vantage_vpc(),
                    live,
                },
            )?))
        }
        Scope::Fleet { vpc_id } => Collected::Many(Box::new(
            crate::collect::fleet::collect_blocking(&crate::collect::fleet::FleetRequest {
                vpc_id: vpc_id.clone(),
                live: live_request("", args, options),
            })?,
        )),
    };
    if let Collected::One(s) = &collected {
        if let Some((reason, hint)) =
            pl_checks::endpoint_type::not_diagnosable(&s.consumer.endpoint)
        {
            return Err(Failure::CannotDiagnose { reason, hint });
        }
    }
    if let Some(path) = &args.save_snapshot {
        let text = match &collected {
            Collected::One(s) => snapshot_io::to_string(s),
            Collected::Many(f) => snapshot_io::fleet_to_string(f),
        };
        save_snapshot(path, &text)?;
    }
    let duration_ms = clock.elapsed().as_millis() as u64;
    Ok(match collected {
        Collected::One(s) => Evaluated::One(Box::new(report::build(
            &s,
            options,
            started_at,
            duration_ms,
        ))),
        Collected::Many(f) => {
            Evaluated::Many(Box::new(fleet::build(&f, options, started_at, duration_ms)))
        }
    })
}

fn concurrency(args: &DiagnoseArgs) -> usize {
    args.many
        .concurrency
        .unwrap_or(crate::collect::accounts::DEFAULT_CONCURRENCY)
}

/// An override of the VPC pl-doctor runs in for a many-account run's DNS and probe; none:
/// the collection asks the vantage (instance metadata on EC2) once.
fn vantage_vpc() -> Option<String> {
    None
}

/// Load a snapshot file; `--endpoint` with a fleet file replays that endpoint alone.
fn replay(path: &Path, endpoint: Option<&str>) -> Result<Collected, Failure> {
    let shown = path.display();
    match (load_snapshot(path)?, endpoint) {
        (Loaded::Endpoint(s), None) => Ok(Collected::One(s)),
        (Loaded::Endpoint(s), Some(ep)) if s.consumer.endpoint.id == ep => Ok(Collected::One(s)),
        (Loaded::Endpoint(s), Some(ep)) => Err(Failure::BadInput(format!(
            "--endpoint {ep} does not match the snapshot, which is of {}; drop --endpoint or use the right file",
            s.consumer.endpoint.id
        ))),
        (Loaded::Fleet(f), None) => Ok(Collected::Many(f)),
        (Loaded::Fleet(f), Some(ep)) => {
            let count = f.snapshots.len();
            match f.snapshots.into_iter().find(|s| s.consumer.endpoint.id == ep) {
                Some(s) => Ok(Collected::One(Box::new(s))),
                None => Err(Failure::BadInput(format!(
                    "--endpoint {ep} is not among the {count} endpoints of {shown}; drop --endpoint to see them all"
                ))),
            }
        }
    }
}

pub fn live_request(endpoint_id: &str, args: &DiagnoseArgs, options: &EvalOptions) -> LiveRequest {
    let provider = match (&args.provider_profile, &args.provider_role_arn) {
        (Some(profile), _) => ProviderAccess::Profile(profile.clone()),
        (None, Some(role_arn)) => ProviderAccess::AssumeRole {
            role_arn: role_arn.clone(),
            external_id: args.external_id.clone(),
        },
        (None, None) => ProviderAccess::None,
    };
    LiveRequest {
        endpoint_id: endpoint_id.to_owned(),
        client: options.client.clone(),
        ports: args.port.clone(),
        window: args.since,
        timeout: args.timeout,
        // CloudWatch serves idle-timeout-resets and nlb-capacity (nlb-security-group only
        // adds its series as evidence): the call is skipped when neither runs.
        skip_metrics: match (
            not_requested_by(options, "idle-timeout-resets"),
            not_requested_by(options, "nlb-capacity"),
        ) {
            (Some(a), Some(b)) if a.starts_with("--only") && b.starts_with("--only") => {
                Some("--only without idle-timeout-resets or nlb-capacity".into())
            }
            (Some(a), Some(b)) => Some(format!("{a} and {b}")),
            _ => None,
        },
        skip_reject_query: not_requested_by(options, "flow-log-rejects"),
        aws: AwsOptions {
            region: args.region.clone(),
            profile: args.profile.clone(),
            endpoint_url: args.endpoint_url.clone(),
            provider,
        },
        changes_since: args.changes.then_some(args.changes_since),
        network: crate::collect::NetworkRequest {
            resolver: args.resolver,
            probe_targets: args.probe_target.clone(),
            probe_tls: args.probe_tls,
            skip_dns: !options.selects("dns-resolution"),
            skip_probe: !options.selects("connect-probe"),
        },
        only: options.only.clone(),
        skip: options.skip.clone(),
        policy: options.policy.clone(),
        include_aws_services: args.include_aws_services,
    }
}

/// Why `--only`/`--skip` leave out check `id`, or None when it runs. The facts only
/// that check reads are then not collected (the Logs Insights query bills per GB scanned).
fn not_requested_by(options: &EvalOptions, id: &str) -> Option<String> {
    if options.skip.iter().any(|s| s == id) {
        Some(format!("--skip {id}"))
    } else if !options.only.is_empty() && !options.only.iter().any(|s| s == id) {
        Some(format!("--only without {id}"))
    } else {
        None
    }
}

fn load_snapshot(path: &Path) -> Result<Loaded, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::BadInput(format!(
            "--from-snapshot {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    snapshot_io::load(&bytes)
        .map_err(|e| Failure::BadInput(format!("--from-snapshot {}: {e}", path.display())))
}

fn save_snapshot(path: &Path, text: &str) -> Result<(), Failure> {
    // Write beside the target and rename, so an interrupted run never leaves half a snapshot.
    let tmp = path.with_extension("tmp-pl-doctor");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            Failure::BadInput(format!(
                "--save-snapshot {}: cannot write it: {e}",
                path.display()
            ))
        })
}

fn print_out(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`pl-doctor … | head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Output(format!("cannot write output: {e}"))),
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_checks_leave_out_the_facts_only_they_read() {
        let options = |only: &[&str], skip: &[&str]| EvalOptions {
            only: only.iter().map(|s| s.to_string()).collect(),
            skip: skip.iter().map(|s| s.to_string()).collect(),
            ..EvalOptions::default()
        };
        let id = "flow-log-rejects";
        assert_eq!(not_requested_by(&options(&[], &[]), id), None);
        assert_eq!(
            not_requested_by(&options(&[], &[id]), id).as_deref(),
            Some("--skip flow-log-rejects")
        );
        assert_eq!(
            not_requested_by(&options(&["endpoint-state"], &[]), id).as_deref(),
            Some("--only without flow-log-rejects")
        );
        assert_eq!(not_requested_by(&options(&[id], &[]), id), None);
    }
}
