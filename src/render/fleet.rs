//! Many endpoints: one row per endpoint (worst first), the service-wide checks in the
//! provider view, then each root cause with its fix.

use super::table::{
    colored_status, colored_verdict, finding, new_table, status_cell, verdict_cell,
};
use super::Style;
use colored::Colorize;
use comfy_table::Cell;
use pl_checks::check::{CheckResult, Status};
use pl_checks::fleet::{FleetKind, FleetReport};
use pl_checks::report::Report;

/// The check a row is about: its root cause, else its first warning or unknown.
fn headline(r: &Report) -> Option<&CheckResult> {
    match r.root_cause.as_deref() {
        Some(id) => r.checks.iter().find(|c| c.id == id),
        None => r
            .checks
            .iter()
            .find(|c| matches!(c.status, Status::Warn | Status::Unknown)),
    }
}

fn headline_id(r: &Report) -> String {
    headline(r).map(|c| c.id.clone()).unwrap_or_default()
}

fn headline_text(r: &Report) -> String {
    headline(r)
        .map(|c| format!("{}: {}", c.id, c.summary))
        .unwrap_or_default()
}

fn zones(r: &Report) -> String {
    if r.target.availability_zones.is_empty() {
        "-".into()
    } else {
        r.target.availability_zones.join(" ")
    }
}

fn title(f: &FleetReport) -> String {
    let s = &f.scope;
    let n = f.reports.len();
    match f.kind {
        FleetKind::Fleet => format!(
            "fleet: {n} interface endpoint{} to PrivateLink services in {}{}, account {}",
            if n == 1 { "" } else { "s" },
            s.region,
            s.vpc_id
                .as_deref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default(),
            s.account.as_deref().unwrap_or("unknown"),
        ),
        FleetKind::Service => format!(
            "service {} ({}) in {}: {n} connection{}, provider account {}",
            s.service_id.as_deref().unwrap_or("unknown"),
            s.service_name.as_deref().unwrap_or("unknown"),
            s.region,
            if n == 1 { "" } else { "s" },
            s.account.as_deref().unwrap_or("unknown"),
        ),
    }
}

pub fn fleet_table(f: &FleetReport, style: Style) -> String {
    let mut out = format!("{} {}  {}\n\n", "pl-doctor".bold(), f.version, title(f));
    if let Some(service) = &f.service {
        out.push_str(&format!("{}\n", "Service-wide checks".bold()));
        let mut t = new_table(style, vec!["#", "Check", "Status", "Summary"]);
        for c in &service.checks {
            t.add_row(vec![
                Cell::new(c.step),
                Cell::new(&c.id),
                status_cell(c.status, style),
                Cell::new(&c.summary),
            ]);
        }
        out.push_str(&t.to_string());
        out.push_str("\n\n");
    }
    if f.reports.is_empty() {
        out.push_str(match f.kind {
            FleetKind::Fleet => "No interface endpoint to a PrivateLink service found.\n\n",
            FleetKind::Service => "No endpoint is connected to this service.\n\n",
        });
    }
    if let Some(line) = pl_checks::fleet::left_out_summary(&f.scope) {
        out.push_str(&format!("{line}.\n\n"));
    }
    if !f.reports.is_empty() {
        let mut t = match f.kind {
            FleetKind::Fleet => new_table(
                style,
                vec![
                    "Endpoint",
                    "VPC",
                    "Service",
                    "State",
                    "Verdict",
                    "Root cause / finding",
                ],
            ),
            FleetKind::Service => new_table(
                style,
                vec![
                    "Endpoint",
                    "Owner",
                    "State",
                    "AZs (owner's names)",
                    "Verdict",
                    "Root cause / finding",
                ],
            ),
        };
        // Every cell is an id or a state: wrapping would break them mid-word, so rows
        // may run wider than the terminal instead (the findings below wrap).
        t.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
        for r in &f.reports {
            let second = match f.kind {
                FleetKind::Fleet => r.target.vpc_id.clone().unwrap_or_default(),
                FleetKind::Service => r.target.consumer_account.clone().unwrap_or_default(),
            };
            let third = match f.kind {
                FleetKind::Fleet => r
                    .target
                    .service_id
                    .clone()
                    .unwrap_or_else(|| r.target.service_name.clone()),
                FleetKind::Service => r.target.endpoint_state.clone(),
            };
            let fourth = match f.kind {
                FleetKind::Fleet => r.target.endpoint_state.clone(),
                FleetKind::Service => zones(r),
            };
            t.add_row(vec![
                Cell::new(&r.target.endpoint_id),
                Cell::new(second),
                Cell::new(third),
                Cell::new(fourth),
                verdict_cell(r.verdict, style),
                Cell::new(headline_id(r)),
            ]);
        }
        out.push_str(&t.to_string());
        out.push_str("\n\n");
    }
    if let Some(rc) = f
        .service
        .as_ref()
        .and_then(|s| s.root_cause.as_deref())
        .and_then(|id| f.service.as_ref()?.checks.iter().find(|c| c.id == id))
    {
        out.push_str(&format!(
            "{} {} (step {}, service-wide)\n",
            "Root cause:".red().bold(),
            rc.id.bold(),
            rc.step
        ));
        finding(&mut out, rc, style.width);
    }
    for r in f.reports.iter().filter(|r| r.root_cause.is_some()) {
        if let Some(rc) = headline(r) {
            out.push_str(&format!(
                "{} {} {} (step {})\n",
                r.target.endpoint_id.bold(),
                colored_status(rc.status),
                rc.id.bold(),
                rc.step
            ));
            finding(&mut out, rc, style.width);
        }
    }
    let n = &f.counts;
    out.push_str(&format!(
        "Verdict: {}  ({} endpoint{}: {} fail, {} inconclusive, {} warn, {} pass)\n",
        colored_verdict(f.verdict),
        f.reports.len(),
        if f.reports.len() == 1 { "" } else { "s" },
        n.fail,
        n.inconclusive,
        n.warn,
        n.pass
    ));
    if !f.reports.is_empty() {
        out.push_str("One endpoint's whole runbook: pl-doctor --endpoint <vpce-…> (or --from-snapshot FILE --endpoint <vpce-…>)\n");
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn fleet_markdown(f: &FleetReport) -> String {
    let mut out = format!("## pl-doctor: {}\n\n", title(f));
    out.push_str(&format!(
        "**Verdict: {}** · {} fail · {} inconclusive · {} warn · {} pass · pl-doctor {} · {}\n\n",
        f.verdict.as_str(),
        f.counts.fail,
        f.counts.inconclusive,
        f.counts.warn,
        f.counts.pass,
        f.version,
        f.started_at
    ));
    if let Some(service) = &f.service {
        out.push_str(
            "### Service-wide checks\n\n| # | Check | Status | Summary |\n|---:|---|---|---|\n",
        );
        for c in &service.checks {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                c.step,
                c.id,
                c.status.as_str(),
                cell(&c.summary)
            ));
        }
        out.push('\n');
    }
    if let Some(line) = pl_checks::fleet::left_out_summary(&f.scope) {
        out.push_str(&format!("{line}.\n\n"));
    }
    out.push_str("| Endpoint | Account | VPC | State | AZs | Verdict | Root cause or first finding |\n|---|---|---|---|---|---|---|\n");
    for r in &f.reports {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            r.target.endpoint_id,
            r.target.consumer_account.as_deref().unwrap_or("-"),
            r.target.vpc_id.as_deref().unwrap_or("-"),
            r.target.endpoint_state,
            zones(r),
            r.verdict.as_str(),
            cell(&headline_text(r)),
        ));
    }
    for r in f.reports.iter().filter(|r| r.root_cause.is_some()) {
        if let Some(rc) = headline(r) {
            out.push_str(&format!(
                "\n#### `{}`: {} `{}`\n\n{}\n",
                r.target.endpoint_id,
                rc.status.as_str().to_uppercase(),
                rc.id,
                rc.summary
            ));
            if let Some(fix) = &rc.remediation {
                out.push_str(&format!("\n**Fix:** {fix}\n"));
            }
        }
    }
    out
}

pub fn fleet_json(f: &FleetReport) -> String {
    let mut s = serde_json::to_string_pretty(f).expect("fleet report always serializes");
    s.push('\n');
    s
}
