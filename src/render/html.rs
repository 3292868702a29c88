//! `-o html`: one self-contained file for a ticket (inline CSS and SVG; no script, font,
//! stylesheet or image from anywhere else, and a Content-Security-Policy that forbids
//! loading any even if someone edits the file).
//!
//! Templating is `maud`: templates are Rust, checked at compile time, and every
//! interpolated string is HTML-escaped unless explicitly marked otherwise. Everything
//! on the page that came from AWS (names, ids, tags, messages) goes through that
//! escaping; the only unescaped text is the stylesheet constant below.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use pl_checks::check::{CheckResult, Status};
use pl_checks::fleet::{FleetKind, FleetReport};
use pl_checks::path::{Hop, PathPicture};
use pl_checks::report::{Report, Verdict};

/// No network, no script: inline styles and `data:` images only.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const CSS: &str = r#"
:root { --pass:#1e8e3e; --warn:#b06000; --fail:#d93025; --unknown:#9334e6; --skip:#80868b; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #202124; background: #fafafa; }
main { max-width: 1400px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #dadce0; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f1f3f4; padding: 8px 10px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; border-radius: 4px; }
.meta { color: #5f6368; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 12px; text-transform: uppercase; }
.pass { background: var(--pass); } .warn { background: var(--warn); } .fail { background: var(--fail); }
.unknown, .inconclusive { background: var(--unknown); } .skip { background: var(--skip); }
.verdict { font-size: 16px; padding: 3px 12px; }
.root { border-left: 5px solid var(--fail); background: #fce8e6; padding: 8px 14px; border-radius: 4px; }
.fix { white-space: pre-wrap; }
details.check { background: #fff; border: 1px solid #dadce0; border-radius: 4px; margin: 6px 0; padding: 6px 10px; }
details.check > summary { cursor: pointer; }
details.check.is-root { border: 2px solid var(--fail); }
details.evidence > summary { cursor: pointer; color: #5f6368; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #dadce0; padding: 4px 8px; text-align: left; vertical-align: top; }
svg.path { width: 100%; height: auto; background: #fff; border: 1px solid #dadce0; border-radius: 4px; }
.fp { color: #5f6368; font-size: 12px; }
"#;

fn status_class(s: Status) -> &'static str {
    s.as_str()
}

fn verdict_badge(v: Verdict) -> Markup {
    html! { span class={ "badge verdict " (v.as_str()) } { (v.as_str()) } }
}

fn status_badge(s: Status) -> Markup {
    html! { span class={ "badge " (status_class(s)) } { (s.as_str()) } }
}

fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="viewport" content="width=device-width, initial-scale=1";
                // An empty icon, so the browser does not go looking for /favicon.ico.
                link rel="icon" href="data:,";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { main { (body) } }
        }
    }
    .into_string()
}

pub fn html(report: &Report) -> String {
    let t = &report.target;
    page(
        &format!("pl-doctor: {} ({})", t.endpoint_id, report.verdict.as_str()),
        html! {
            h1 { "pl-doctor: " code { (t.endpoint_id) } " → " code { (t.service_name) } }
            (report_body(report, false))
        },
    )
}

/// Header facts, the path, the root cause with its fix, then every check.
fn report_body(report: &Report, nested: bool) -> Markup {
    let t = &report.target;
    let root = report
        .root_cause
        .as_deref()
        .and_then(|id| report.checks.iter().find(|c| c.id == id));
    let anchor = |id: &str| format!("{}-{}", t.endpoint_id, id);
    html! {
        p {
            "Verdict " (verdict_badge(report.verdict))
            @if let Some(rc) = root { " · root cause " a href={ "#" (anchor(&rc.id)) } { code { (rc.id) } } }
        }
        p class="meta" {
            "region " code { (t.region) }
            " · consumer " code { (t.consumer_account.as_deref().unwrap_or("unknown")) }
            " · provider " code { (t.provider_label()) }
            @if let Some(vpc) = &t.vpc_id { " · " code { (vpc) } }
            " · pl-doctor " (report.version) " · " (report.started_at)
            " · " (report.counts.pass) " pass, " (report.counts.warn) " warn, " (report.counts.fail) " fail, "
            (report.counts.unknown) " unknown, " (report.counts.skip) " skip"
        }
        @if nested { h3 { "Path" } } @else { h2 { "Path" } }
        (path_svg(&report.path))
        @if let Some(rc) = root {
            @if nested { h3 { "Root cause" } } @else { h2 { "Root cause" } }
            div class="root" {
                p { strong { code { (rc.id) } ": " (rc.title) } " (step " (rc.step) ")" }
                p { (rc.summary) }
                @if !rc.details.is_empty() { ul { @for d in &rc.details { li { (d) } } } }
                @if let Some(fix) = &rc.remediation { p { strong { "Fix: " } span class="fix" { (fix) } } }
            }
        }
        @let recent = super::recent_change_lines(report);
        @if !recent.is_empty() {
            @if nested { h3 { "Recent changes" } } @else { h2 { "Recent changes" } }
            ul class="changes" { @for l in &recent { li { (l) } } }
        }
        @if nested { h3 { "Checks" } } @else { h2 { "Checks" } }
        @for c in &report.checks {
            (check_block(c, report.root_cause.as_deref() == Some(c.id.as_str()), &anchor(&c.id)))
        }
    }
}

fn check_block(c: &CheckResult, is_root: bool, anchor: &str) -> Markup {
    let open = matches!(c.status, Status::Fail | Status::Warn | Status::Unknown);
    let class = if is_root { "check is-root" } else { "check" };
    let evidence = serde_json::to_string_pretty(&c.evidence).unwrap_or_default();
    html! {
        details class=(class) id=(anchor) open[open] {
            summary {
                (c.step) ". " (status_badge(c.status)) " " code { (c.id) } " " (c.title) ": " (c.summary)
            }
            @if !c.details.is_empty() { ul { @for d in &c.details { li { (d) } } } }
            @if let Some(fix) = &c.remediation { p { strong { "Fix: " } span class="fix" { (fix) } } }
            @let changes = super::change_lines(c);
            @if !changes.is_empty() { p { strong { "What changed:" } } ul class="changes" { @for l in &changes { li { (l) } } } }
            @if let Some(fp) = &c.fingerprint { p class="fp" { "fingerprint " code { (fp) } } }
            @if !c.evidence.is_empty() {
                details class="evidence" { summary { "Evidence" } pre { (evidence) } }
            }
        }
    }
}

fn colors(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Pass => ("#e6f4ea", "#1e8e3e"),
        Status::Warn => ("#fef7e0", "#b06000"),
        Status::Fail => ("#fce8e6", "#d93025"),
        Status::Unknown => ("#f3e8fd", "#9334e6"),
        Status::Skip => ("#f1f3f4", "#80868b"),
    }
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "✔",
        Status::Warn => "!",
        Status::Fail => "✘",
        Status::Unknown => "?",
        Status::Skip => "–",
    }
}

/// SVG text does not wrap: long names are cut (the full text stays in the tooltip and in
/// the checks below).
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// One line of a hop's box: text, colour, weight.
struct Line {
    text: String,
    full: String,
    color: &'static str,
    bold: bool,
}

fn hop_lines(h: &Hop) -> Vec<Line> {
    let plain = |t: &str| Line {
        text: clip(t, 25),
        full: t.to_owned(),
        color: "#202124",
        bold: false,
    };
    let mut lines: Vec<Line> = h.facts.iter().map(|f| plain(f)).collect();
    for z in &h.zones {
        let (_, stroke) = colors(z.status);
        let name = match &z.availability_zone_id {
            Some(id) => format!("{} ({id})", z.availability_zone),
            None => z.availability_zone.clone(),
        };
        lines.push(Line {
            text: clip(&format!("{} {name}", mark(z.status)), 22),
            full: name.clone(),
            color: stroke,
            bold: z.dead,
        });
        let text = format!("{}{}", z.text, if z.dead { " · DEAD AZ" } else { "" });
        lines.push(Line {
            text: clip(&format!("   {text}"), 22),
            full: text,
            color: stroke,
            bold: z.dead,
        });
    }
    for c in h.checks.iter().filter(|c| c.status != Status::Skip) {
        let (_, stroke) = colors(c.status);
        let t = format!("{} {}", mark(c.status), c.id);
        lines.push(Line {
            text: clip(&t, 25),
            full: format!("{}: {}", c.id, c.status.as_str()),
            color: stroke,
            bold: false,
        });
    }
    lines
}

fn path_svg(path: &PathPicture) -> Markup {
    const W: i64 = 170;
    const GAP: i64 = 34;
    const LINE: i64 = 15;
    const TOP: i64 = 26;
    let per_hop: Vec<Vec<Line>> = path.hops.iter().map(hop_lines).collect();
    let most = per_hop.iter().map(Vec::len).max().unwrap_or(0) as i64;
    let box_h = 44 + most * LINE + 8;
    let n = path.hops.len() as i64;
    let width = n * W + (n - 1).max(0) * GAP + 20;
    let height = TOP + box_h + 14;
    html! {
        svg class="path" xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height)
            font-family="system-ui, sans-serif" font-size="12" {
            title { "The path from the client to the targets, each hop marked by its checks" }
            @for (i, (h, lines)) in path.hops.iter().zip(&per_hop).enumerate() {
                @let x = 10 + i as i64 * (W + GAP);
                @let (fill, stroke) = colors(h.status);
                @if h.root_cause {
                    text x=(x + W / 2) y=(TOP - 8) text-anchor="middle" font-weight="700" fill="#d93025" { "ROOT CAUSE" }
                }
                rect x=(x) y=(TOP) width=(W) height=(box_h) rx="8" fill=(fill) stroke=(stroke)
                    stroke-width=(if h.root_cause { "4" } else { "1.5" }) {}
                text x=(x + 10) y=(TOP + 20) font-weight="700" font-size="13" fill="#202124" { (h.kind.title()) }
                text x=(x + 10) y=(TOP + 37) font-weight="700" fill=(stroke) {
                    (mark(h.status)) " " (h.status.as_str().to_uppercase())
                }
                @for (j, l) in lines.iter().enumerate() {
                    text x=(x + 10) y=(TOP + 56 + j as i64 * LINE) fill=(l.color)
                        font-weight=(if l.bold { "700" } else { "400" }) {
                        title { (l.full) }
                        (l.text)
                    }
                }
                @if i + 1 < path.hops.len() {
                    @let ay = TOP + 30;
                    line x1=(x + W + 3) y1=(ay) x2=(x + W + GAP - 6) y2=(ay) stroke="#5f6368" stroke-width="2" {}
                    polygon points={ (x + W + GAP - 4) "," (ay) " " (x + W + GAP - 11) "," (ay - 5) " " (x + W + GAP - 11) "," (ay + 5) } fill="#5f6368" {}
                }
            }
        }
    }
}

pub fn fleet_html(f: &FleetReport) -> String {
    let s = &f.scope;
    let title = match f.kind {
        FleetKind::Fleet => format!(
            "fleet: {} endpoint{} in {}",
            f.reports.len(),
            if f.reports.len() == 1 { "" } else { "s" },
            s.region
        ),
        FleetKind::Service => format!(
            "service {}: {} connection{}",
            s.service_id.as_deref().unwrap_or("unknown"),
            f.reports.len(),
            if f.reports.len() == 1 { "" } else { "s" }
        ),
    };
    page(
        &format!("pl-doctor {title} ({})", f.verdict.as_str()),
        html! {
            h1 { "pl-doctor " (title) }
            p {
                "Verdict " (verdict_badge(f.verdict)) " · "
                (f.counts.fail) " fail, " (f.counts.inconclusive) " inconclusive, " (f.counts.warn) " warn, " (f.counts.pass) " pass"
            }
            p class="meta" {
                "region " code { (s.region) }
                @if let Some(a) = &s.account { " · account " code { (a) } }
                " · pl-doctor " (f.version) " · " (f.started_at)
            }
            @for line in pl_checks::quota::summary_lines(&f.vpc_endpoints) {
                p class="meta" { (line) }
            }
            h2 { "Endpoints, worst first" }
            table {
                thead { tr { th { "endpoint" } th { "account" } th { "verdict" } th { "root cause or first finding" } } }
                tbody {
                    @for r in &f.reports {
                        @let head = r.root_cause.as_deref().and_then(|id| r.checks.iter().find(|c| c.id == id))
                            .or_else(|| r.checks.iter().find(|c| matches!(c.status, Status::Warn | Status::Unknown)));
                        tr {
                            td { a href={ "#" (r.target.endpoint_id) } { code { (r.target.endpoint_id) } } }
                            td { code { (r.target.consumer_account.as_deref().unwrap_or("unknown")) } }
                            td { (verdict_badge(r.verdict)) }
                            td { @if let Some(c) = head { code { (c.id) } ": " (c.summary) } }
                        }
                    }
                }
            }
            @if !f.recent_changes.is_empty() {
                h2 { "Recent changes" }
                ul class="changes" { @for c in &f.recent_changes { li { (c.line()) } } }
            }
            @if let Some(svc) = &f.service {
                h2 { "Service-wide checks " (verdict_badge(svc.verdict)) }
                @for c in &svc.checks {
                    (check_block(c, svc.root_cause.as_deref() == Some(c.id.as_str()), &format!("service-{}", c.id)))
                }
            }
            @for r in &f.reports {
                section id=(r.target.endpoint_id) {
                    h2 { code { (r.target.endpoint_id) } " → " code { (r.target.service_name) } }
                    (report_body(r, true))
                }
            }
        },
    )
}
