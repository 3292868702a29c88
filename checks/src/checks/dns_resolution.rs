//! PLACEHOLDER: replaced by the real check.
use crate::check::*;
pub static META: CheckMeta = CheckMeta {
    id: "dns-resolution",
    step: 0,
    title: "",
    source: "",
    severity: Severity::Low,
    reads: &[],
    consumer_actions: &[],
    provider_actions: &[],
    docs_url: "",
    doc: CheckDoc {
        what_it_checks: "",
        why_it_matters: "",
        how_to_fix: "",
    },
};
pub fn evaluate(_ctx: &Context) -> Outcome {
    Outcome::unknown("PLACEHOLDER")
}
