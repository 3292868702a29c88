//! Rendering the same report for people (table), ticket bots (JSON) and tickets (Markdown),
//! plus `checks` and `explain`.

mod fleet;
mod html;
mod markdown;
mod openmetrics;
mod path;
mod table;

pub use fleet::{fleet_json, fleet_markdown, fleet_table};
pub use html::{fleet_html, html};
pub use markdown::markdown;
pub use openmetrics::{fleet_openmetrics, openmetrics};
pub use table::table;

use crate::cli::ColorChoice;
use pl_checks::check::{CheckMeta, Severity};
use pl_checks::registry::RUNBOOK;
use pl_checks::report::Report;
use std::io::IsTerminal;

/// The lines under a failing or warning check: each change (newest first), that nothing
/// changed on what was looked up, and which lookups are missing and why.
pub(crate) fn change_lines(c: &pl_checks::CheckResult) -> Vec<String> {
    let Some(ch) = &c.changes else {
        return Vec::new();
    };
    let mut out: Vec<String> = ch.events.iter().map(|e| e.line()).collect();
    if ch.events.is_empty() && !ch.resources.is_empty() {
        out.push(format!(
            "no changes (CloudTrail write events) on {} since {}",
            ch.resources.join(", "),
            ch.since
        ));
    }
    for m in &ch.missing {
        out.push(format!("changes on {} missing: {}", m.resource, m.reason));
    }
    out
}

/// A check's changes as a Markdown block under its section (one endpoint, or a fleet
/// row's headline).
pub(crate) fn markdown_changes(out: &mut String, c: &pl_checks::CheckResult) {
    let lines = change_lines(c);
    if !lines.is_empty() {
        out.push_str("\n**What changed:**\n");
        for line in lines {
            out.push_str(&format!("- {line}\n"));
        }
    }
}

/// The report's "Recent changes", newest first.
pub(crate) fn recent_change_lines(report: &Report) -> Vec<String> {
    report.recent_changes.iter().map(|c| c.line()).collect()
}

/// Whether to colour (and draw the path with box-drawing characters): `--color`, else
/// NO_COLOR (no-color.org: set and non-empty turns colour off), else CLICOLOR_FORCE (set
/// and not `0` turns it on even when piped), else only for a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Width to wrap tables to.
    pub width: u16,
}

/// The decision of [`Style::detect`], apart from the environment so it can be tested.
pub fn use_color(
    choice: ColorChoice,
    tty: bool,
    no_color: Option<&std::ffi::OsStr>,
    clicolor_force: Option<&std::ffi::OsStr>,
) -> bool {
    let set = |v: Option<&std::ffi::OsStr>| v.is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set(no_color) => false,
        ColorChoice::Auto if set(clicolor_force) && clicolor_force != Some("0".as_ref()) => true,
        ColorChoice::Auto => tty,
    }
}

impl Style {
    pub fn detect(choice: ColorChoice) -> Self {
        let tty = std::io::stdout().is_terminal();
        let width = if tty {
            comfy_table::Table::new().width().unwrap_or(120)
        } else {
            120
        };
        let style = Style {
            color: use_color(
                choice,
                tty,
                std::env::var_os("NO_COLOR").as_deref(),
                std::env::var_os("CLICOLOR_FORCE").as_deref(),
            ),
            width,
        };
        colored::control::set_override(style.color);
        style
    }
}

pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("report always serializes");
    s.push('\n');
    s
}

/// The runbook, one check a line: step, id, which endpoints it applies to (`both`,
/// `endpoint-svc` only, `aws-svc` only), title.
pub fn checks_list(_style: Style) -> String {
    let mut out = String::new();
    for (i, c) in RUNBOOK.iter().enumerate() {
        out.push_str(&format!(
            "{:>2}  {:<26} {:<13} {}\n",
            i + 1,
            c.meta.id,
            applies_marker(c.meta.applies_to),
            c.meta.title
        ));
    }
    out
}

/// The short form of `applies_to` in `pl-doctor checks` and the README runbook table.
pub fn applies_marker(a: pl_checks::endpoint_type::AppliesTo) -> &'static str {
    use pl_checks::endpoint_type::AppliesTo;
    match a {
        AppliesTo::Both => "both",
        AppliesTo::EndpointServices => "endpoint-svc",
        AppliesTo::AwsServices => "aws-svc",
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
    }
}

/// Wrap prose to the output width, keeping the author's line breaks, indented by `pad`.
pub(crate) fn wrap(text: &str, width: u16, pad: &str) -> String {
    // Never split a word: remediation lines hold commands and flags that must copy-paste whole.
    let opts = textwrap::Options::new(usize::from(width).max(40))
        .break_words(false)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .initial_indent(pad)
        .subsequent_indent(pad);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                textwrap::fill(l, &opts)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn explain(meta: &CheckMeta, style: Style) -> String {
    let indent = |t: &str| wrap(t, style.width, "  ");
    let list = |xs: &[&str]| {
        if xs.is_empty() {
            "none".to_owned()
        } else {
            xs.join(", ")
        }
    };
    format!(
        "{id} (runbook step {step} of {total}): {title}\n\
         Severity: {sev}   Source: {src}\n\
         Applies to: {applies}\n\
         Reads: {reads}\n\
         IAM actions, consumer account: {ca}\n\
         IAM actions, provider account: {pa}\n\
         Docs: {url}\n\n\
         What it checks\n{what}\n\n\
         Why it matters\n{why}\n\n\
         How to fix\n{fix}\n",
        id = meta.id,
        step = pl_checks::registry::step(meta.id),
        total = RUNBOOK.len(),
        title = meta.title,
        sev = severity(meta.severity),
        src = meta.source,
        applies = meta.applies_to.describe(),
        reads = meta.reads.join(", "),
        ca = list(meta.consumer_actions),
        pa = list(meta.provider_actions),
        url = meta.docs_url,
        what = indent(meta.doc.what_it_checks),
        why = indent(meta.doc.why_it_matters),
        fix = indent(meta.doc.how_to_fix),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_follows_the_flag_then_no_color_then_clicolor_force_then_the_terminal() {
        let on = Some(std::ffi::OsStr::new("1"));
        let zero = Some(std::ffi::OsStr::new("0"));
        let empty = Some(std::ffi::OsStr::new(""));
        assert!(use_color(ColorChoice::Always, false, on, None));
        assert!(!use_color(ColorChoice::Never, true, None, on));
        assert!(use_color(ColorChoice::Auto, true, None, None));
        assert!(!use_color(ColorChoice::Auto, false, None, None));
        assert!(!use_color(ColorChoice::Auto, true, on, None), "NO_COLOR");
        assert!(
            use_color(ColorChoice::Auto, true, empty, None),
            "empty NO_COLOR is unset"
        );
        assert!(
            use_color(ColorChoice::Auto, false, None, on),
            "CLICOLOR_FORCE"
        );
        assert!(
            !use_color(ColorChoice::Auto, false, None, zero),
            "CLICOLOR_FORCE=0"
        );
        assert!(
            !use_color(ColorChoice::Auto, false, on, on),
            "NO_COLOR beats CLICOLOR_FORCE"
        );
    }
}
