//! Whether an SNS topic's access policy lets the VPC endpoint service principal
//! (`vpce.amazonaws.com`) publish: what a connection notification needs to be delivered.
//! A deliberately small IAM-policy reader: Allow/Deny statements with Principal and
//! Action (strings or lists, `*` and `?` wildcards); anything it cannot judge
//! (NotPrincipal, NotAction, unreadable JSON) is said, never guessed. The pattern and
//! list helpers are the endpoint-policy evaluator's (`net::policy`).

use serde_json::Value;

/// The service principal that publishes connection notifications.
pub const VPCE_PRINCIPAL: &str = "vpce.amazonaws.com";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishVerdict {
    /// An Allow statement covers it; the condition keys it carries (aws:SourceAccount,
    /// aws:SourceArn are the usual ones) are listed for the evidence.
    Allowed {
        sid: Option<String>,
        condition_keys: Vec<String>,
    },
    /// An explicit Deny covers it.
    Denied { sid: Option<String> },
    /// No statement allows it: publishing is implicitly denied.
    NotAllowed,
    /// The policy holds a statement this reader cannot judge.
    Undecided(String),
}

use super::policy::strings;

/// `*`/`?` glob match, case-insensitive (IAM action names are).
fn glob(pattern: &str, text: &str) -> bool {
    super::policy::glob(pattern, text, true)
}

/// How a statement's Principal reaches the endpoint service principal.
#[derive(PartialEq)]
enum Reach {
    /// Names `vpce.amazonaws.com`.
    Named,
    /// `*` or `{"AWS": "*"}`.
    Everyone,
    No,
}

fn principal_reach(p: &Value) -> Reach {
    match p {
        Value::String(s) if s == "*" => Reach::Everyone,
        Value::Object(m) => {
            if m.get("Service").is_some_and(|v| {
                strings(v)
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(VPCE_PRINCIPAL))
            }) {
                Reach::Named
            } else if m.get("AWS").is_some_and(|v| strings(v).contains(&"*")) {
                Reach::Everyone
            } else {
                Reach::No
            }
        }
        _ => Reach::No,
    }
}

/// Judge `policy` (the topic's `Policy` attribute) for sns:Publish by vpce.amazonaws.com.
pub fn vpce_may_publish(policy: &str) -> PublishVerdict {
    let doc: Value = match serde_json::from_str(policy) {
        Ok(v) => v,
        Err(e) => return PublishVerdict::Undecided(format!("the topic policy is not JSON: {e}")),
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => return PublishVerdict::NotAllowed,
    };
    let mut allowed = None;
    for st in statements {
        let sid = st.get("Sid").and_then(Value::as_str).map(str::to_owned);
        if st.get("NotPrincipal").is_some() || st.get("NotAction").is_some() {
            return PublishVerdict::Undecided(format!(
                "statement {} uses NotPrincipal or NotAction, which pl-doctor does not evaluate",
                sid.as_deref().unwrap_or("(no Sid)")
            ));
        }
        let reach = st
            .get("Principal")
            .map(principal_reach)
            .unwrap_or(Reach::No);
        let action = st
            .get("Action")
            .map(|a| strings(a).iter().any(|p| glob(p, "sns:Publish")))
            .unwrap_or(false);
        let condition_keys: Vec<String> = st
            .get("Condition")
            .and_then(Value::as_object)
            .map(|ops| {
                ops.values()
                    .filter_map(Value::as_object)
                    .flat_map(|m| m.keys().cloned())
                    .collect()
            })
            .unwrap_or_default();
        // A statement for everyone narrowed by conditions (CreateTopic's default policy
        // limits it to the owner account with AWS:SourceOwner) is not a grant to the
        // service principal: AWS documents adding a statement naming it.
        let applies = match reach {
            Reach::Named => true,
            Reach::Everyone => condition_keys.is_empty(),
            Reach::No => false,
        };
        if !(applies && action) {
            continue;
        }
        match st.get("Effect").and_then(Value::as_str) {
            Some(e) if e.eq_ignore_ascii_case("Deny") => return PublishVerdict::Denied { sid },
            Some(e) if e.eq_ignore_ascii_case("Allow") => {
                allowed.get_or_insert(PublishVerdict::Allowed {
                    sid,
                    condition_keys,
                });
            }
            _ => {}
        }
    }
    allowed.unwrap_or(PublishVerdict::NotAllowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_iam() {
        assert!(glob("sns:Publish", "SNS:Publish"));
        assert!(glob("sns:*", "sns:Publish"));
        assert!(glob("*", "sns:Publish"));
        assert!(glob("sns:Pub?ish", "sns:Publish"));
        assert!(!glob("sns:Subscribe", "sns:Publish"));
        assert!(!glob("sqs:*", "sns:Publish"));
    }

    #[test]
    fn the_documented_policy_allows_with_its_conditions() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Sid":"vpce","Effect":"Allow",
            "Principal":{"Service":"vpce.amazonaws.com"},"Action":"SNS:Publish",
            "Resource":"arn:aws:sns:us-east-1:111111111111:privatelink-events",
            "Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:ec2:us-east-1:111111111111:vpc-endpoint-service/vpce-svc-1"},
                         "StringEquals":{"aws:SourceAccount":"111111111111"}}}]}"#;
        assert_eq!(
            vpce_may_publish(p),
            PublishVerdict::Allowed {
                sid: Some("vpce".into()),
                condition_keys: vec!["aws:SourceArn".into(), "aws:SourceAccount".into()]
            }
        );
    }

    #[test]
    fn the_default_owner_only_policy_does_not_allow_it() {
        // What CreateTopic writes: only the owner account's principals.
        let p = r#"{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID",
            "Effect":"Allow","Principal":{"AWS":"*"},"Action":["SNS:Publish","SNS:Subscribe"],
            "Resource":"arn:aws:sns:us-east-1:111111111111:t","Condition":{"StringEquals":{"AWS:SourceOwner":"111111111111"}}}]}"#;
        // Everyone, narrowed to the owner account: not a grant to the service principal.
        assert_eq!(vpce_may_publish(p), PublishVerdict::NotAllowed);
        let open = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:Publish"}]}"#;
        assert!(matches!(
            vpce_may_publish(open),
            PublishVerdict::Allowed { .. }
        ));
        let owner_only = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sns:Publish"}]}"#;
        assert_eq!(vpce_may_publish(owner_only), PublishVerdict::NotAllowed);
        assert_eq!(vpce_may_publish("{}"), PublishVerdict::NotAllowed);
    }

    #[test]
    fn deny_wins_and_unjudgeable_statements_are_said() {
        let p = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"Service":["vpce.amazonaws.com"]},"Action":"sns:*"},
            {"Sid":"no","Effect":"Deny","Principal":"*","Action":"sns:Publish"}]}"#;
        assert_eq!(
            vpce_may_publish(p),
            PublishVerdict::Denied {
                sid: Some("no".into())
            }
        );
        let p =
            r#"{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"sns:Publish"}}"#;
        assert!(matches!(vpce_may_publish(p), PublishVerdict::Undecided(_)));
        assert!(matches!(
            vpce_may_publish("not json"),
            PublishVerdict::Undecided(_)
        ));
    }
}
