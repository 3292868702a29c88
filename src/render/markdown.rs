//! The report as Markdown for pasting into a ticket: summary table, then each finding
//! with its fix and its evidence folded away.

use pl_checks::check::{CheckResult, Status};
use pl_checks::report::Report;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(report: &Report) -> String {
    let t = &report.target;
    let mut out = format!(
        "## pl-doctor: `{}` -> `{}` ({})\n\n",
        t.endpoint_id, t.service_name, t.region
    );
    out.push_str(&format!(
        "**Verdict: {}**{}  \nconsumer `{}` · provider `{}` · pl-doctor {} · {}\n\n",
        report.verdict.as_str(),
        report
            .root_cause
            .as_deref()
            .map(|r| format!(" · root cause: `{r}`"))
            .unwrap_or_default(),
        t.consumer_account.as_deref().unwrap_or("unknown"),
        t.provider_label(),
        report.version,
        report.started_at,
    ));
    out.push_str(&super::path::mermaid(&report.path));
    out.push_str("| # | Check | Status | Summary |\n|---:|---|---|---|\n");
    for c in &report.checks {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            c.step,
            c.id,
            c.status.as_str(),
            cell(&c.summary)
        ));
    }
    let findings: Vec<&CheckResult> = report
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Warn | Status::Unknown))
        .collect();
    if !findings.is_empty() {
        out.push_str("\n### Findings\n");
    }
    for c in findings {
        let root = report.root_cause.as_deref() == Some(c.id.as_str());
        out.push_str(&format!(
            "\n#### {} `{}`: {}{}\n\n{}\n",
            c.status.as_str().to_uppercase(),
            c.id,
            c.title,
            if root { " (root cause)" } else { "" },
            c.summary
        ));
        for d in &c.details {
            out.push_str(&format!("- {d}\n"));
        }
        if let Some(fix) = &c.remediation {
            out.push_str(&format!("\n**Fix:** {fix}\n"));
        }
        super::markdown_changes(&mut out, c);
        if !c.evidence.is_empty() {
            let ev = serde_json::to_string_pretty(&c.evidence).unwrap_or_default();
            out.push_str(&format!(
                "\n<details><summary>Evidence</summary>\n\n```json\n{ev}\n```\n\n</details>\n"
            ));
        }
    }
    let recent = super::recent_change_lines(report);
    if !recent.is_empty() {
        out.push_str("\n### Recent changes\n\n");
        for line in recent {
            out.push_str(&format!("- {line}\n"));
        }
    }
    out
}
