//! The `fingerprint` of a failing or warning check: a ticket bot's dedup key (like
//! PagerDuty's `dedup_key`). The same endpoint, check and cause give the same value in
//! every run; a different cause gives a different value.
//!
//! It is derived from identifiers that name the cause, never from the summary text:
//! summaries carry figures (counts, timings, percentages) that change between runs of
//! the same problem. The cause is what the check names as such ([`Outcome::cause`]),
//! or by default the AWS resource identifiers, ports and state/reason codes in its
//! evidence (see [`default_cause`]).
//!
//! [`Outcome::cause`]: crate::check::Outcome::cause

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Bumped if the derivation ever changes, so a bot can tell a new key scheme from a new problem.
const SCHEME: &str = "pl-doctor-fingerprint-v1";

/// `sha256:` and the first 32 hex digits (128 bits) of SHA-256 over the scheme, the
/// subject (endpoint id, or the service id for service-wide checks), the check id and
/// the cause parts, each NUL-terminated so no two inputs run together.
pub fn fingerprint(subject: &str, check_id: &str, cause: &[String]) -> String {
    let mut h = Sha256::new();
    for part in [SCHEME, subject, check_id]
        .into_iter()
        .chain(cause.iter().map(String::as_str))
    {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Evidence keys whose string values are categories (a state, an AWS reason code), which
/// name the cause as much as an id does.
const CATEGORY_KEYS: &[&str] = &["state", "reason", "code", "endpoint_type", "scheme"];
/// Evidence keys whose numbers are ports: part of the cause (TCP 443 blocked is not TCP 8443 blocked).
const PORT_KEYS: &[&str] = &["port", "ports"];

/// The default cause: every AWS resource identifier (`sg-…`, `eni-…`, `subnet-…`,
/// `acl-…`, `vpc-…`, `i-…`, ARNs, account ids under `account` keys), every port, and
/// every state or reason code in the evidence, sorted and deduplicated. Figures (counts,
/// durations, addresses seen in traffic) are left out, so they may change freely.
pub fn default_cause(evidence: &Map<String, Value>) -> Vec<String> {
    let mut parts = Vec::new();
    walk_map(evidence, &mut parts);
    parts.sort();
    parts.dedup();
    parts
}

fn walk_map(map: &Map<String, Value>, out: &mut Vec<String>) {
    for (k, v) in map {
        walk(k, v, out);
    }
}

fn walk(key: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if is_resource_id(s) {
                out.push(s.clone());
            } else if CATEGORY_KEYS.contains(&key) && !s.is_empty() {
                out.push(format!("{key}={s}"));
            } else if key.ends_with("account")
                && s.len() == 12
                && s.bytes().all(|b| b.is_ascii_digit())
            {
                out.push(format!("account={s}"));
            }
        }
        Value::Number(n) if PORT_KEYS.contains(&key) => out.push(format!("port={n}")),
        Value::Array(items) => {
            for item in items {
                walk(key, item, out);
            }
        }
        Value::Object(m) => walk_map(m, out),
        _ => {}
    }
}

/// An ARN, or `<prefix>-` and 8 or 17 lowercase hex digits (the EC2 id shape).
pub(crate) fn is_resource_id(s: &str) -> bool {
    if s.starts_with("arn:") {
        return true;
    }
    let Some((prefix, hex)) = s.rsplit_once('-') else {
        return false;
    };
    !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && (hex.len() == 8 || hex.len() == 17)
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn figures_do_not_change_the_cause_but_ids_ports_and_states_do() {
        let a = map(json!({
            "security_group_ids": ["sg-0e1d2c3b4a5f60718"],
            "ports": [8443],
            "records_scanned": 48210,
            "summary_figures": {"rejects": 12, "peak": 4.5},
            "state": "pendingAcceptance",
            "top_sources": ["10.0.3.10"],
        }));
        let mut b = a.clone();
        b.insert("records_scanned".into(), json!(99));
        b.insert(
            "summary_figures".into(),
            json!({"rejects": 40, "peak": 9.0}),
        );
        b.insert("top_sources".into(), json!(["10.0.9.9"]));
        assert_eq!(default_cause(&a), default_cause(&b));
        assert_eq!(
            default_cause(&a),
            vec![
                "port=8443",
                "sg-0e1d2c3b4a5f60718",
                "state=pendingAcceptance"
            ]
        );

        let mut other_port = a.clone();
        other_port.insert("ports".into(), json!([443]));
        assert_ne!(default_cause(&a), default_cause(&other_port));
        let mut other_sg = a.clone();
        other_sg.insert("security_group_ids".into(), json!(["sg-0123456789abcdef0"]));
        assert_ne!(default_cause(&a), default_cause(&other_sg));
    }

    #[test]
    fn the_key_depends_on_subject_check_and_cause_only() {
        let cause = vec!["sg-0e1d2c3b4a5f60718".to_owned(), "port=8443".to_owned()];
        let k = fingerprint("vpce-0a1b2c3d4e5f6a7b8", "endpoint-sg-ingress", &cause);
        assert!(k.starts_with("sha256:") && k.len() == 7 + 32, "{k}");
        assert_eq!(
            k,
            fingerprint("vpce-0a1b2c3d4e5f6a7b8", "endpoint-sg-ingress", &cause)
        );
        assert_ne!(
            k,
            fingerprint("vpce-0a1b2c3d4e5f6a7b9", "endpoint-sg-ingress", &cause)
        );
        assert_ne!(
            k,
            fingerprint("vpce-0a1b2c3d4e5f6a7b8", "subnet-nacl", &cause)
        );
        assert_ne!(
            k,
            fingerprint("vpce-0a1b2c3d4e5f6a7b8", "endpoint-sg-ingress", &cause[..1])
        );
        // Parts are delimited: ["ab", "c"] is not ["a", "bc"].
        assert_ne!(
            fingerprint("s", "c", &["ab".into(), "c".into()]),
            fingerprint("s", "c", &["a".into(), "bc".into()])
        );
    }

    #[test]
    fn recognises_aws_ids_and_arns_only() {
        assert!(is_resource_id("sg-0e1d2c3b4a5f60718"));
        assert!(is_resource_id("vpce-svc-0123456789abcdef0"));
        assert!(is_resource_id("i-0123abcd"));
        assert!(is_resource_id(
            "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/tg/73e2d6bc24d8a067"
        ));
        assert!(!is_resource_id("10.0.3.10"));
        assert!(!is_resource_id("us-east-1a"));
        assert!(!is_resource_id("payments.internal.example.com"));
        assert!(!is_resource_id("sg-XYZ"));
    }
}
