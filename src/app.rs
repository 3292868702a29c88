//! The imperative shell: turn the command line into a snapshot (loaded, or collected
//! live from AWS), evaluate it with the core, render, and pick the exit code.

use crate::cli::{Cli, Command, DiagnoseArgs, OutputFormat};
use crate::collect::config::{AwsOptions, ProviderAccess};
use crate::collect::LiveRequest;
use crate::exit::{self, Failure};
use crate::render;
use pl_checks::check::EvalOptions;
use pl_checks::client::ClientSpec;
use pl_checks::iam;
use pl_checks::model::Snapshot;
use pl_checks::registry;
use pl_checks::report;
use pl_checks::snapshot_io;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

pub fn run(cli: Cli) -> Result<u8, Failure> {
    let style = render::Style::detect();
    match cli.command {
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
            provider,
            provider_role_arn,
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
    })
}

fn diagnose(args: DiagnoseArgs, style: render::Style) -> Result<u8, Failure> {
    let options = eval_options(&args)?;
    if let Some(ep) = &args.endpoint {
        if !crate::cli::is_endpoint_id(ep) {
            return Err(Failure::BadInput(format!(
                "--endpoint: {ep:?} is not an interface endpoint id (vpce- then 8 or 17 hex digits, e.g. vpce-0a1b2c3d4e5f6a7b8)"
            )));
        }
    }
    let started_at = now_rfc3339();
    let clock = Instant::now();
    let snapshot = match (&args.from_snapshot, &args.endpoint) {
        (Some(path), endpoint) => {
            let snap = load_snapshot(path)?;
            if let Some(ep) = endpoint {
                if *ep != snap.consumer.endpoint.id {
                    return Err(Failure::BadInput(format!(
                        "--endpoint {ep} does not match the snapshot, which is of {}; drop --endpoint or use the right file",
                        snap.consumer.endpoint.id
                    )));
                }
            }
            snap
        }
        (None, Some(ep)) => crate::collect::collect_blocking(&live_request(ep, &args, &options))?,
        (None, None) => {
            return Err(Failure::BadInput(
                "nothing to diagnose: give --endpoint vpce-… or --from-snapshot FILE (see pl-doctor --help)".into(),
            ))
        }
    };
    if let Some(path) = &args.save_snapshot {
        save_snapshot(path, &snapshot)?;
    }
    let report = report::build(
        &snapshot,
        &options,
        started_at,
        clock.elapsed().as_millis() as u64,
    );
    let text = match args.output {
        OutputFormat::Table => render::table(&report, style),
        OutputFormat::Json => render::json(&report),
        OutputFormat::Markdown => render::markdown(&report),
    };
    print_out(&text)?;
    Ok(exit::for_report(&report))
}

fn live_request(endpoint_id: &str, args: &DiagnoseArgs, options: &EvalOptions) -> LiveRequest {
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
        skip_metrics: not_requested_by(options, "idle-timeout-resets"),
        skip_reject_query: not_requested_by(options, "flow-log-rejects"),
        aws: AwsOptions {
            region: args.region.clone(),
            profile: args.profile.clone(),
            endpoint_url: args.endpoint_url.clone(),
            provider,
        },
        network: crate::collect::NetworkRequest {
            resolver: args.resolver,
            probe_targets: args.probe_target.clone(),
            probe_tls: args.probe_tls,
            skip_dns: !options.selects("dns-resolution"),
            skip_probe: !options.selects("connect-probe"),
        },
        only: options.only.clone(),
        skip: options.skip.clone(),
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

fn load_snapshot(path: &Path) -> Result<Snapshot, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::BadInput(format!(
            "--from-snapshot {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    snapshot_io::from_slice(&bytes)
        .map_err(|e| Failure::BadInput(format!("--from-snapshot {}: {e}", path.display())))
}

fn save_snapshot(path: &Path, snapshot: &Snapshot) -> Result<(), Failure> {
    // Write beside the target and rename, so an interrupted run never leaves half a snapshot.
    let tmp = path.with_extension("tmp-pl-doctor");
    std::fs::write(&tmp, snapshot_io::to_string(snapshot))
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
