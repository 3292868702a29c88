//! Rendering the same report for people (table), ticket bots (JSON) and tickets (Markdown),
//! plus `checks` and `explain`.

mod fleet;
mod markdown;
mod table;

pub use fleet::{fleet_json, fleet_markdown, fleet_table};
pub use markdown::markdown;
pub use table::table;

use pl_checks::check::{CheckMeta, Severity};
use pl_checks::registry::RUNBOOK;
use pl_checks::report::Report;
use std::io::IsTerminal;

/// Whether to color: only for a terminal, and never when NO_COLOR is set (no-color.org).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Width to wrap tables to.
    pub width: u16,
}

impl Style {
    pub fn detect() -> Self {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let width = if tty {
            comfy_table::Table::new().width().unwrap_or(120)
        } else {
            120
        };
        let style = Style {
            color: tty && !no_color,
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

pub fn checks_list(_style: Style) -> String {
    let mut out = String::new();
    for (i, c) in RUNBOOK.iter().enumerate() {
        out.push_str(&format!(
            "{:>2}  {:<26} {}\n",
            i + 1,
            c.meta.id,
            c.meta.title
        ));
    }
    out
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
        reads = meta.reads.join(", "),
        ca = list(meta.consumer_actions),
        pa = list(meta.provider_actions),
        url = meta.docs_url,
        what = indent(meta.doc.what_it_checks),
        why = indent(meta.doc.why_it_matters),
        fix = indent(meta.doc.how_to_fix),
    )
}
