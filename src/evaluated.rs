//! One finished diagnosis, evaluated: what `app` produces and both `app` and `watch`
//! render. It lives apart from both so the imports stay one-way (app → watch → evaluated).

use crate::cli::{FailOn, OutputFormat};
use crate::exit;
use crate::render;
use pl_checks::fleet::FleetReport;
use pl_checks::report;

#[derive(Debug, Clone)]
pub enum Evaluated {
    One(Box<report::Report>),
    Many(Box<FleetReport>),
}

impl Evaluated {
    /// Today's policy: 1 when a check failed (what `--watch` stops on).
    pub fn exit_code(&self) -> u8 {
        match self {
            Evaluated::One(r) => exit::for_report(r),
            Evaluated::Many(f) => exit::for_fleet(f),
        }
    }

    /// The exit code under `--fail-on`.
    pub fn exit_code_gated(&self, fail_on: FailOn) -> u8 {
        match (fail_on, self) {
            (FailOn::Fail, _) => self.exit_code(),
            (_, Evaluated::One(r)) => exit::gated(r.verdict, fail_on),
            (_, Evaluated::Many(f)) => exit::gated(f.verdict, fail_on),
        }
    }

    pub fn render(&self, format: OutputFormat, style: render::Style) -> String {
        match (self, format) {
            (Evaluated::One(r), OutputFormat::Table) => render::table(r, style),
            (Evaluated::One(r), OutputFormat::Json) => render::json(r),
            (Evaluated::One(r), OutputFormat::Markdown) => render::markdown(r),
            (Evaluated::One(r), OutputFormat::Html) => render::html(r),
            (Evaluated::One(r), OutputFormat::Openmetrics) => render::openmetrics(r),
            (Evaluated::Many(f), OutputFormat::Table) => render::fleet_table(f, style),
            (Evaluated::Many(f), OutputFormat::Json) => render::fleet_json(f),
            (Evaluated::Many(f), OutputFormat::Markdown) => render::fleet_markdown(f),
            (Evaluated::Many(f), OutputFormat::Html) => render::fleet_html(f),
            (Evaluated::Many(f), OutputFormat::Openmetrics) => render::fleet_openmetrics(f),
        }
    }
}
