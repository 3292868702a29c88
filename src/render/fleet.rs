//! Many endpoints: one row per endpoint (worst first), the service-wide checks in the
//! provider view, then each root cause with its fix.

use super::table::{
    colored_status, colored_verdict, finding, new_table, status_cell, verdict_cell,
};
use super::Style;
use colored::Colorize;
use comfy_table::Cell;
use pl_checks::check::{CheckResult, Status};
use pl_checks::fact::Fact;
use pl_checks::fleet::{FleetKind, FleetReport, ServiceSummary, SERVICE_WIDE};
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

/// A run over many accounts (or regions): rows name their account and region, and the
/// table groups them by account.
fn many_accounts(f: &FleetReport) -> bool {
    !f.scope.accounts.is_empty() || f.scope.regions.len() > 1
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn title(f: &FleetReport) -> String {
    let s = &f.scope;
    let n = f.reports.len();
    if many_accounts(f) {
        let regions = if s.regions.is_empty() {
            s.region.clone()
        } else {
            s.regions.join(", ")
        };
        return match f.kind {
            FleetKind::Fleet => format!(
                "fleet: {} to PrivateLink services in {} ({regions}){}, caller account {}",
                plural(n, "interface endpoint", "interface endpoints"),
                plural(s.accounts.len(), "account", "accounts"),
                s.vpc_id
                    .as_deref()
                    .map(|v| format!(" ({v})"))
                    .unwrap_or_default(),
                s.account.as_deref().unwrap_or("unknown"),
            ),
            FleetKind::Service => format!(
                "service {} ({}) in {}: {}, both sides, {} consumer {}, provider account {}",
                s.service_id.as_deref().unwrap_or("unknown"),
                s.service_name.as_deref().unwrap_or("unknown"),
                s.region,
                plural(n, "connection", "connections"),
                s.accounts.len(),
                if s.accounts.len() == 1 {
                    "account"
                } else {
                    "accounts"
                },
                s.account.as_deref().unwrap_or("unknown"),
            ),
        };
    }
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

/// `3 (2 available, 1 deleted)`, or why the connections are not known.
fn connections_line(s: &ServiceSummary) -> String {
    match &s.connections {
        Fact::Known(by_state) => {
            let total: usize = by_state.values().sum();
            if total == 0 {
                "Connections: none".into()
            } else {
                format!(
                    "Connections: {total} ({})",
                    by_state
                        .iter()
                        .map(|(state, n)| format!("{n} {state}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
        Fact::Absent(m) => format!("Connections: could not be listed: {m}"),
    }
}

/// (target group, `us-east-1a (use1-az2)`, `1/2`) rows, or the reason per target group.
fn target_rows(s: &ServiceSummary) -> Result<Vec<[String; 3]>, String> {
    let groups = s.target_health.as_result().map_err(|m| m.to_string())?;
    let mut rows = Vec::new();
    for g in groups {
        match &g.zones {
            Fact::Known(zones) if zones.is_empty() => {
                rows.push([g.target_group.clone(), "-".into(), "no targets".into()])
            }
            Fact::Known(zones) => {
                for z in zones {
                    rows.push([
                        g.target_group.clone(),
                        match &z.availability_zone_id {
                            Some(id) => format!("{} ({id})", z.availability_zone),
                            None => z.availability_zone.clone(),
                        },
                        format!("{}/{} healthy", z.healthy, z.total),
                    ]);
                }
            }
            Fact::Absent(m) => rows.push([g.target_group.clone(), "-".into(), m.to_string()]),
        }
    }
    Ok(rows)
}

/// The allowed-principals hygiene, one line each: the count, then what needs a look.
fn principal_lines(s: &ServiceSummary) -> Vec<String> {
    let h = match &s.principals {
        Fact::Known(h) => h,
        Fact::Absent(m) => return vec![format!("Allowed principals: not known: {m}")],
    };
    let mut lines = vec![format!(
        "Allowed principals: {} entr{}; acceptance required: {}",
        h.in_use,
        if h.in_use == 1 { "y" } else { "ies" },
        match h.acceptance_required {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        }
    )];
    if h.wildcard {
        lines.push(format!(
            "  `*` is listed: every AWS account may connect{}",
            if h.acceptance_required == Some(false) {
                ", with no acceptance"
            } else {
                " (the acceptance gate decides)"
            }
        ));
    }
    match &h.without_connection {
        Fact::Known(v) if !v.is_empty() => lines.push(format!(
            "  allowed, but no endpoint connected from that account: {}",
            v.join(", ")
        )),
        Fact::Known(_) => {}
        Fact::Absent(m) => lines.push(format!("  unused entries: not known: {m}")),
    }
    match &h.owners_not_allowed {
        Fact::Known(v) if !v.is_empty() => lines.push(format!(
            "  connected, but the owner is no longer allowed (works until the endpoint is recreated): {}",
            v.iter()
                .map(|o| format!("{} (account {}, {})", o.endpoint_id, o.owner, o.state))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => {}
    }
    if !h.organization_entries.is_empty() {
        lines.push(format!(
            "  organization entries (membership not visible to pl-doctor): {}",
            h.organization_entries.join(", ")
        ));
    }
    lines
}

/// Rows whose root cause is a service-wide check the summary shows: named once, not
/// repeated per connection.
fn service_wide_root_cause(f: &FleetReport, r: &Report) -> bool {
    f.service.is_some()
        && r.root_cause
            .as_deref()
            .is_some_and(|id| SERVICE_WIDE.contains(&id))
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
        out.push_str(&connections_line(service));
        out.push('\n');
        match target_rows(service) {
            Ok(rows) if !rows.is_empty() => {
                out.push_str(&format!("{}\n", "Target health per AZ".bold()));
                let mut t = new_table(style, vec!["Target group", "AZ (ID)", "Targets"]);
                for row in rows {
                    t.add_row(row.to_vec());
                }
                out.push_str(&t.to_string());
                out.push('\n');
            }
            Ok(_) => out.push_str("Target health per AZ: no target group\n"),
            Err(why) => out.push_str(&format!("Target health per AZ: not known: {why}\n")),
        }
        for line in principal_lines(service) {
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
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
    let quota = pl_checks::quota::summary_lines(&f.vpc_endpoints);
    for line in &quota {
        let near = f.vpc_endpoints.iter().any(|u| u.near_quota);
        out.push_str(&format!(
            "{}\n",
            if near {
                line.yellow().to_string()
            } else {
                line.clone()
            }
        ));
    }
    if !quota.is_empty() {
        out.push('\n');
    }
    if many_accounts(f) {
        out.push_str(&many_accounts_tables(f, style));
    } else if !f.reports.is_empty() {
        out.push_str(&endpoint_table(
            f,
            &f.reports.iter().collect::<Vec<_>>(),
            style,
        ));
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
    let shared: Vec<&str> = f
        .reports
        .iter()
        .filter(|r| service_wide_root_cause(f, r))
        .map(|r| r.target.endpoint_id.as_str())
        .collect();
    if !shared.is_empty() {
        out.push_str(&format!(
            "{} share the service-wide root cause above: {}\n\n",
            if shared.len() == 1 {
                "1 connection".to_owned()
            } else {
                format!("{} connections", shared.len())
            },
            shared.join(", ")
        ));
    }
    for r in f
        .reports
        .iter()
        .filter(|r| r.root_cause.is_some() && !service_wide_root_cause(f, r))
    {
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
    if !f.recent_changes.is_empty() {
        out.push_str(&format!("{}\n", "Recent changes:".bold()));
        for c in &f.recent_changes {
            let w = super::wrap(&c.line(), style.width, "    ");
            out.push_str(&format!("  - {}\n", w.trim_start()));
        }
        out.push('\n');
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

/// One row per endpoint of `rows`; with many accounts, the region is a column.
fn endpoint_table(f: &FleetReport, rows: &[&Report], style: Style) -> String {
    let many = many_accounts(f);
    let mut header = match f.kind {
        FleetKind::Fleet => vec!["Endpoint", "VPC", "Service", "State"],
        FleetKind::Service => vec![
            "Endpoint",
            "Owner",
            "Region",
            "State",
            "AZs (owner's names)",
            "RSTs sent",
        ],
    };
    // The provider view always shows where each consumer's endpoint is (cross-region
    // PrivateLink); a fleet over many regions shows each row's region.
    let region_column = many && f.kind == FleetKind::Fleet;
    if region_column {
        header.insert(1, "Region");
    }
    header.extend(["Verdict", "Root cause / finding"]);
    let mut t = new_table(style, header);
    // Every cell is an id or a state: wrapping would break them mid-word, so rows
    // may run wider than the terminal instead (the findings below wrap).
    t.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    for r in rows {
        let mut cells = match f.kind {
            FleetKind::Fleet => vec![
                Cell::new(&r.target.endpoint_id),
                Cell::new(r.target.vpc_id.clone().unwrap_or_default()),
                Cell::new(
                    r.target
                        .service_id
                        .clone()
                        .unwrap_or_else(|| r.target.service_name.clone()),
                ),
                Cell::new(&r.target.endpoint_state),
            ],
            FleetKind::Service => vec![
                Cell::new(&r.target.endpoint_id),
                Cell::new(r.target.consumer_account.clone().unwrap_or_default()),
                // Where the consumer's endpoint is: another Region for cross-region PrivateLink.
                Cell::new(r.target.endpoint_region.as_deref().unwrap_or("-")),
                Cell::new(&r.target.endpoint_state),
                Cell::new(zones(r)),
                // AWS/PrivateLinkServices RstPacketsSent: resets the service sent this endpoint.
                Cell::new(
                    r.target
                        .provider_rst_packets_sent
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
            ],
        };
        if region_column {
            cells.insert(1, Cell::new(&r.target.region));
        }
        cells.push(verdict_cell(r.verdict, style));
        cells.push(Cell::new(headline_id(r)));
        t.add_row(cells);
    }
    t.to_string()
}

/// Many accounts: the root causes counted first (the pattern), the accounts that could
/// not be read, then one table per account, worst account first.
fn many_accounts_tables(f: &FleetReport, style: Style) -> String {
    let mut out = String::new();
    if let Some(line) = root_cause_line(f) {
        out.push_str(&format!("{} {line}\n\n", "Root causes:".bold()));
    }
    if !f.scope.failed.is_empty() {
        out.push_str(&format!(
            "{} ({}: the verdict is at worst inconclusive)\n",
            "Not read".bold(),
            plural(f.scope.failed.len(), "entry", "entries")
        ));
        let mut t = new_table(style, vec!["Account", "Region", "Failed", "Reason", "Hint"]);
        for x in &f.scope.failed {
            t.add_row(vec![
                x.account.clone().unwrap_or_else(|| "-".into()),
                x.region.clone().unwrap_or_else(|| "all".into()),
                x.operation.clone(),
                x.reason.clone(),
                x.hint.clone(),
            ]);
        }
        out.push_str(&t.to_string());
        out.push_str("\n\n");
    }
    for (account, rows) in by_account(&f.reports) {
        let worst = pl_checks::fleet::worst(rows.iter().map(|r| r.verdict));
        out.push_str(&format!(
            "{} {account}: {}, {}\n",
            "account".bold(),
            plural(rows.len(), "endpoint", "endpoints"),
            colored_verdict(worst)
        ));
        out.push_str(&endpoint_table(f, &rows, style));
        out.push_str("\n\n");
    }
    out
}

/// "12 × endpoint-sg-ingress, 3 × connection-acceptance", or None with no root cause.
pub fn root_cause_line(f: &FleetReport) -> Option<String> {
    if f.root_causes.is_empty() {
        return None;
    }
    Some(
        f.root_causes
            .iter()
            .map(|c| format!("{} × {}", c.endpoints, c.check))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// Reports grouped by account (the order within stays worst first); accounts with the
/// worst verdict first, then by id.
fn by_account(reports: &[Report]) -> Vec<(String, Vec<&Report>)> {
    let mut groups: std::collections::BTreeMap<String, Vec<&Report>> = Default::default();
    for r in reports {
        groups
            .entry(
                r.target
                    .consumer_account
                    .clone()
                    .unwrap_or_else(|| "unknown".into()),
            )
            .or_default()
            .push(r);
    }
    let mut out: Vec<(String, Vec<&Report>)> = groups.into_iter().collect();
    out.sort_by_key(|(account, rows)| {
        (
            pl_checks::fleet::severity_rank(pl_checks::fleet::worst(
                rows.iter().map(|r| r.verdict),
            )),
            account.clone(),
        )
    });
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
        out.push_str(&format!("{}\n\n", connections_line(service)));
        match target_rows(service) {
            Ok(rows) if !rows.is_empty() => {
                out.push_str("### Target health per AZ\n\n| Target group | AZ (ID) | Targets |\n|---|---|---|\n");
                for [tg, az, n] in rows {
                    out.push_str(&format!(
                        "| {} | {} | {} |\n",
                        cell(&tg),
                        cell(&az),
                        cell(&n)
                    ));
                }
                out.push('\n');
            }
            Ok(_) => out.push_str("Target health per AZ: no target group\n\n"),
            Err(why) => out.push_str(&format!(
                "Target health per AZ: not known: {}\n\n",
                cell(&why)
            )),
        }
        out.push_str("### Allowed principals\n\n");
        for line in principal_lines(service) {
            out.push_str(&format!("- {}\n", line.trim_start()));
        }
        out.push('\n');
    }
    if let Some(line) = pl_checks::fleet::left_out_summary(&f.scope) {
        out.push_str(&format!("{line}.\n\n"));
    }
    for line in pl_checks::quota::summary_lines(&f.vpc_endpoints) {
        out.push_str(&format!("- {}\n", cell(&line)));
    }
    if !f.vpc_endpoints.is_empty() {
        out.push('\n');
    }
    if let Some(line) = root_cause_line(f).filter(|_| many_accounts(f)) {
        out.push_str(&format!("**Root causes:** {line}\n\n"));
    }
    if !f.scope.failed.is_empty() {
        out.push_str("### Not read (the verdict is at worst inconclusive)\n\n| Account | Region | Failed | Reason | Hint |\n|---|---|---|---|---|\n");
        for x in &f.scope.failed {
            out.push_str(&format!(
                "| {} | {} | `{}` | {} | {} |\n",
                x.account.as_deref().unwrap_or("-"),
                x.region.as_deref().unwrap_or("all"),
                x.operation,
                cell(&x.reason),
                cell(&x.hint)
            ));
        }
        out.push('\n');
    }
    let many = many_accounts(f);
    if many {
        out.push_str("| Endpoint | Account | Region | VPC | State | AZs | Verdict | Root cause or first finding |\n|---|---|---|---|---|---|---|---|\n");
    } else {
        out.push_str("| Endpoint | Account | VPC | State | AZs | Verdict | Root cause or first finding |\n|---|---|---|---|---|---|---|\n");
    }
    let rows: Vec<&Report> = if many {
        by_account(&f.reports)
            .into_iter()
            .flat_map(|(_, r)| r)
            .collect()
    } else {
        f.reports.iter().collect()
    };
    for r in rows {
        let region = if many {
            format!(" {} |", r.target.region)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "| `{}` | {} |{region} {} | {} | {} | {} | {} |\n",
            r.target.endpoint_id,
            r.target.consumer_account.as_deref().unwrap_or("-"),
            r.target.vpc_id.as_deref().unwrap_or("-"),
            r.target.endpoint_state,
            zones(r),
            r.verdict.as_str(),
            cell(&headline_text(r)),
        ));
    }
    if let Some(rc) = f
        .service
        .as_ref()
        .and_then(|s| s.root_cause.as_deref())
        .and_then(|id| f.service.as_ref()?.checks.iter().find(|c| c.id == id))
    {
        out.push_str(&format!(
            "\n#### Service-wide: FAIL `{}`\n\n{}\n",
            rc.id, rc.summary
        ));
        if let Some(fix) = &rc.remediation {
            out.push_str(&format!("\n**Fix:** {fix}\n"));
        }
        super::markdown_changes(&mut out, rc);
    }
    for r in f
        .reports
        .iter()
        .filter(|r| r.root_cause.is_some() && !service_wide_root_cause(f, r))
    {
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
            super::markdown_changes(&mut out, rc);
        }
    }
    if !f.recent_changes.is_empty() {
        out.push_str("\n### Recent changes\n\n");
        for c in &f.recent_changes {
            out.push_str(&format!("- {}\n", c.line()));
        }
    }
    out
}

pub fn fleet_json(f: &FleetReport) -> String {
    let mut s = serde_json::to_string_pretty(f).expect("fleet report always serializes");
    s.push('\n');
    s
}
