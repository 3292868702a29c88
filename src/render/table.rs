//! The human report: a header, the runbook as a table, then the findings with their fixes.

use super::Style;
use colored::Colorize;
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use pl_checks::check::{CheckResult, Status};
use pl_checks::report::{Report, Verdict};

fn status_color(s: Status) -> Color {
    match s {
        Status::Pass => Color::Green,
        Status::Warn => Color::Yellow,
        Status::Fail => Color::Red,
        Status::Unknown => Color::Magenta,
        Status::Skip => Color::DarkGrey,
    }
}

pub(super) fn colored_status(s: Status) -> colored::ColoredString {
    let t = s.as_str().to_uppercase();
    match s {
        Status::Pass => t.green(),
        Status::Warn => t.yellow(),
        Status::Fail => t.red().bold(),
        Status::Unknown => t.magenta(),
        Status::Skip => t.dimmed(),
    }
}

pub(super) fn new_table(style: Style, header: Vec<&str>) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(style.width)
        .set_header(header);
    if style.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    table
}

pub(super) fn status_cell(s: Status, style: Style) -> Cell {
    let cell = Cell::new(s.as_str());
    if style.color {
        cell.fg(status_color(s))
    } else {
        cell
    }
}

fn verdict_color(v: Verdict) -> Color {
    match v {
        Verdict::Pass => Color::Green,
        Verdict::Warn => Color::Yellow,
        Verdict::Fail => Color::Red,
        Verdict::Inconclusive => Color::Magenta,
    }
}

pub(super) fn verdict_cell(v: Verdict, style: Style) -> Cell {
    let cell = Cell::new(v.as_str());
    if style.color {
        cell.fg(verdict_color(v))
    } else {
        cell
    }
}

pub(super) fn colored_verdict(v: Verdict) -> colored::ColoredString {
    match v {
        Verdict::Pass => "PASS".green().bold(),
        Verdict::Warn => "WARN".yellow().bold(),
        Verdict::Fail => "FAIL".red().bold(),
        Verdict::Inconclusive => "INCONCLUSIVE".magenta().bold(),
    }
}

pub fn table(report: &Report, style: Style) -> String {
    let t = &report.target;
    let mut out = String::new();
    out.push_str(&format!(
        "{} {}  {} -> {} ({})\n",
        "pl-doctor".bold(),
        report.version,
        t.endpoint_id.bold(),
        t.service_name,
        t.region
    ));
    out.push_str(&format!(
        "consumer {}  provider {}\n\n",
        t.consumer_account.as_deref().unwrap_or("unknown"),
        t.provider_label()
    ));

    out.push_str(&super::path::text(&report.path, style));

    let mut table = new_table(style, vec!["#", "Check", "Status", "Summary"]);
    for c in &report.checks {
        table.add_row(vec![
            Cell::new(c.step),
            Cell::new(&c.id),
            status_cell(c.status, style),
            Cell::new(&c.summary),
        ]);
    }
    out.push_str(&table.to_string());
    out.push_str("\n\n");

    let root = report.root_cause.as_deref();
    if let Some(rc) = root.and_then(|id| report.checks.iter().find(|c| c.id == id)) {
        out.push_str(&format!(
            "{} {} (step {})\n",
            "Root cause:".red().bold(),
            rc.id.bold(),
            rc.step
        ));
        finding(&mut out, rc, style.width);
    }
    let others: Vec<&CheckResult> = report
        .checks
        .iter()
        .filter(|c| {
            Some(c.id.as_str()) != root
                && matches!(c.status, Status::Fail | Status::Warn | Status::Unknown)
        })
        .collect();
    if !others.is_empty() {
        out.push_str(&format!("{}\n", "Other findings:".bold()));
        for c in others {
            out.push_str(&format!(
                "[{}] {} (step {})\n",
                colored_status(c.status),
                c.id.bold(),
                c.step
            ));
            finding(&mut out, c, style.width);
        }
    }
    out.push_str(&recent_changes(report, style.width));
    let n = &report.counts;
    let verdict = colored_verdict(report.verdict);
    out.push_str(&format!(
        "Verdict: {verdict}  ({} pass, {} warn, {} fail, {} unknown, {} skip)\n",
        n.pass, n.warn, n.fail, n.unknown, n.skip
    ));
    out
}

pub(super) fn finding(out: &mut String, c: &CheckResult, width: u16) {
    out.push_str(&super::wrap(&c.summary, width, "  "));
    out.push('\n');
    for d in &c.details {
        let w = super::wrap(d, width, "    ");
        out.push_str(&format!("  - {}\n", w.trim_start()));
    }
    if let Some(fix) = &c.remediation {
        let w = super::wrap(fix, width, "       ");
        out.push_str(&format!("  {} {}\n", "Fix:".bold(), w.trim_start()));
    }
    let changes = super::change_lines(c);
    if !changes.is_empty() {
        out.push_str(&format!("  {}\n", "What changed:".bold()));
    }
    for line in changes {
        let w = super::wrap(&line, width, "      ");
        out.push_str(&format!("    - {}\n", w.trim_start()));
    }
    out.push('\n');
}

/// "Recent changes": every failing or warning check's changes, newest first.
fn recent_changes(report: &Report, width: u16) -> String {
    let lines = super::recent_change_lines(report);
    if lines.is_empty() {
        return String::new();
    }
    let mut out = format!("{}\n", "Recent changes:".bold());
    for line in lines {
        let w = super::wrap(&line, width, "    ");
        out.push_str(&format!("  - {}\n", w.trim_start()));
    }
    out.push('\n');
    out
}
