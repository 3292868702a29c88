//! Reading the reports' JSON in the end-to-end tests: a fleet report's rows, one row by
//! endpoint id, and a report's (or a service summary's) checks by id.

use serde_json::Value;
use std::collections::BTreeMap;

/// A fleet report's `reports`.
pub fn rows(json: &Value) -> &Vec<Value> {
    json["reports"].as_array().expect("reports array")
}

/// The row of `endpoint` in a fleet report.
pub fn row<'a>(json: &'a Value, endpoint: &str) -> &'a Value {
    rows(json)
        .iter()
        .find(|r| r["target"]["endpoint_id"] == endpoint)
        .unwrap_or_else(|| panic!("no row for {endpoint} in\n{json:#}"))
}

/// Check id → status of a report (or of a fleet report's `service`).
pub fn statuses(report: &Value) -> BTreeMap<String, String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Check `id` of a report (or of a fleet report's `service`).
pub fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {:#}", report["checks"]))
}
