//! The path picture in text: a chain of hops for the terminal (box-drawing and colour
//! when colouring, plain ASCII otherwise), and a Mermaid `flowchart LR` for Markdown
//! (GitHub and GitLab draw it in issues). The hops and their statuses come from the
//! report (`pl_checks::path`); nothing here judges.

use super::Style;
use colored::Colorize;
use pl_checks::check::Status;
use pl_checks::path::{Hop, HopKind, PathPicture, ZoneBox};

/// The picture never gets wider than this, whatever the terminal.
const MAX_WIDTH: usize = 100;

fn mark(s: Status, unicode: bool) -> &'static str {
    match (s, unicode) {
        (Status::Pass, true) => "✔",
        (Status::Warn, true) => "!",
        (Status::Fail, true) => "✘",
        (Status::Unknown, true) => "?",
        (Status::Skip, true) => "–",
        (Status::Pass, false) => "+",
        (Status::Warn, false) => "!",
        (Status::Fail, false) => "X",
        (Status::Unknown, false) => "?",
        (Status::Skip, false) => "-",
    }
}

fn paint(text: &str, s: Status, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    match s {
        Status::Pass => text.green().to_string(),
        Status::Warn => text.yellow().to_string(),
        Status::Fail => text.red().bold().to_string(),
        Status::Unknown => text.magenta().to_string(),
        Status::Skip => text.dimmed().to_string(),
    }
}

/// The chain line's shorter names (the hop lines below spell them out).
fn chain_name(k: HopKind) -> &'static str {
    match k {
        HopKind::EndpointSecurity => "SG+NACL",
        HopKind::EndpointEnis => "ENIs",
        other => other.title(),
    }
}

fn zone_text(z: &ZoneBox, unicode: bool) -> String {
    let id = z
        .availability_zone_id
        .as_deref()
        .map(|i| format!("/{i}"))
        .unwrap_or_default();
    format!(
        "{} {}{id} {}{}",
        mark(z.status, unicode),
        z.availability_zone,
        z.text,
        if z.dead { " DEAD" } else { "" }
    )
}

/// The picture for the table output: one chain line, then one line per hop (wrapped
/// to at most 100 columns) with what it is and the checks behind it.
pub fn text(path: &PathPicture, style: Style) -> String {
    if path.hops.is_empty() {
        return String::new();
    }
    let unicode = style.color;
    let color = style.color;
    let width = usize::from(style.width).clamp(60, MAX_WIDTH);
    let arrow = if unicode { " ─▶ " } else { " -> " };
    let mut out = String::new();
    let legend = if unicode {
        "✔ pass  ! warn  ✘ fail  ? unknown  – skip"
    } else {
        "+ pass  ! warn  X fail  ? unknown  - skip"
    };
    let heading = "Path".bold().to_string();
    out.push_str(&format!("{heading}  ({legend}; [..] root cause)\n"));
    // The chain wraps at an arrow if it ever outgrows the width (lengths are counted
    // before colouring, so escape codes never count).
    let mut line = String::from("  ");
    let mut visible = 2;
    for (i, h) in path.hops.iter().enumerate() {
        let t = format!("{} {}", chain_name(h.kind), mark(h.status, unicode));
        let t = if h.root_cause { format!("[{t}]") } else { t };
        let sep = if i == 0 { "" } else { arrow };
        let len = sep.chars().count() + t.chars().count();
        if visible + len > width && i > 0 {
            out.push_str(&line);
            out.push('\n');
            line = format!("   {}", arrow.trim_start());
            visible = line.chars().count();
        } else {
            line.push_str(sep);
            visible += sep.chars().count();
        }
        line.push_str(&paint(&t, h.status, color));
        visible += t.chars().count();
    }
    out.push_str(&line);
    out.push('\n');
    let bar = if unicode { "│" } else { "|" };
    for h in &path.hops {
        out.push_str(&hop_line(h, unicode, color, width, bar));
    }
    out.push('\n');
    out
}

fn hop_line(h: &Hop, unicode: bool, color: bool, width: usize, bar: &str) -> String {
    let mut parts: Vec<String> = h.facts.clone();
    if !h.zones.is_empty() {
        parts.push(
            h.zones
                .iter()
                .map(|z| zone_text(z, unicode))
                .collect::<Vec<_>>()
                .join(if unicode { ", " } else { "; " }),
        );
    }
    // A hop that does not pass names the checks that made it so, and counts the rest;
    // a passing hop names them all.
    let ran: Vec<_> = h
        .checks
        .iter()
        .filter(|c| c.status != Status::Skip)
        .collect();
    let bad: Vec<String> = ran
        .iter()
        .filter(|c| c.status != Status::Pass)
        .map(|c| format!("{} {}", c.id, mark(c.status, unicode)))
        .collect();
    let passed = ran.len() - bad.len();
    let checks = if ran.is_empty() {
        "no check ran".to_owned()
    } else if bad.is_empty() {
        ran.iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    } else if passed > 0 {
        format!("{} (+{passed} pass)", bad.join(" "))
    } else {
        bad.join(" ")
    };
    let body = format!(
        "{} {bar} {checks}",
        parts.join(if unicode { " · " } else { ", " })
    );
    let lead = format!("  {} {:<16} ", mark(h.status, unicode), h.kind.title());
    let opts = textwrap::Options::new(width)
        .break_words(false)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .initial_indent(&lead)
        .subsequent_indent("                     ");
    let wrapped = textwrap::fill(&body, &opts);
    // Colour after wrapping, so escape codes never count as width.
    let mut lines = wrapped.lines();
    let first = lines.next().unwrap_or_default();
    let mut s = String::new();
    let (head, rest) = first.split_at(lead.len().min(first.len()));
    let root = if h.root_cause {
        if unicode {
            "  ◀ root cause"
        } else {
            "  <== root cause"
        }
    } else {
        ""
    };
    s.push_str(&paint(head, h.status, color));
    s.push_str(rest);
    if !root.is_empty() {
        s.push_str(&paint(root, Status::Fail, color));
    }
    s.push('\n');
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// Mermaid labels are quoted strings; quotes and markup characters go as entities so a
/// name from AWS cannot break the chart or inject markup.
fn mermaid_label(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => "#quot;".to_owned(),
            '<' => "#lt;".to_owned(),
            '>' => "#gt;".to_owned(),
            '&' => "#amp;".to_owned(),
            '`' | '|' | '[' | ']' | '{' | '}' => format!("#{};", c as u32),
            '\n' => " ".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn node_id(k: HopKind) -> &'static str {
    match k {
        HopKind::Client => "client",
        HopKind::EndpointSecurity => "sg",
        HopKind::EndpointEnis => "enis",
        HopKind::Connection => "conn",
        HopKind::LoadBalancer => "nlb",
        HopKind::TargetGroups => "tgs",
        HopKind::Targets => "targets",
    }
}

/// A Mermaid `flowchart LR`, one node per hop (AZ lines inside the ENI and target
/// nodes), classes per status, the root-cause hop with a thick red border.
pub fn mermaid(path: &PathPicture) -> String {
    if path.hops.is_empty() {
        return String::new();
    }
    let mut out = String::from("```mermaid\nflowchart LR\n");
    for h in &path.hops {
        let mut lines = vec![format!(
            "{} {}{}",
            h.kind.title(),
            h.status.as_str().to_uppercase(),
            if h.root_cause { " (root cause)" } else { "" }
        )];
        lines.extend(h.facts.iter().map(|f| mermaid_label(f)));
        for z in &h.zones {
            lines.push(mermaid_label(&format!(
                "{}{} {} {}{}",
                z.availability_zone,
                z.availability_zone_id
                    .as_deref()
                    .map(|i| format!(" ({i})"))
                    .unwrap_or_default(),
                z.text,
                z.status.as_str(),
                if z.dead { " DEAD" } else { "" }
            )));
        }
        let bad: Vec<String> = h
            .checks
            .iter()
            .filter(|c| !matches!(c.status, Status::Pass | Status::Skip))
            .map(|c| format!("{} {}", c.id, c.status.as_str()))
            .collect();
        if !bad.is_empty() {
            lines.push(bad.join(", "));
        }
        out.push_str(&format!(
            "  {}[\"{}\"]:::{}\n",
            node_id(h.kind),
            lines.join("<br/>"),
            h.status.as_str()
        ));
    }
    let ids: Vec<&str> = path.hops.iter().map(|h| node_id(h.kind)).collect();
    out.push_str(&format!("  {}\n", ids.join(" --> ")));
    out.push_str(
        "  classDef pass fill:#e6f4ea,stroke:#1e8e3e,color:#0d3d1a\n\
         \x20 classDef warn fill:#fef7e0,stroke:#f9ab00,color:#5c3d00\n\
         \x20 classDef fail fill:#fce8e6,stroke:#d93025,color:#5c0b05\n\
         \x20 classDef unknown fill:#f3e8fd,stroke:#9334e6,color:#3b0a63\n\
         \x20 classDef skip fill:#f1f3f4,stroke:#9aa0a6,color:#3c4043\n",
    );
    for h in path.hops.iter().filter(|h| h.root_cause) {
        out.push_str(&format!(
            "  style {} stroke-width:4px,stroke:#d93025\n",
            node_id(h.kind)
        ));
    }
    out.push_str("```\n\n");
    out
}
