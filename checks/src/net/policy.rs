//! A small IAM policy evaluator for resource policies such as VPC endpoint policies:
//! does the policy allow one request (action, principal, resource) through, and which
//! statement decides?
//!
//! It follows IAM's evaluation logic for a single resource-based policy: an explicit
//! `Deny` that applies wins; otherwise an `Allow` that applies allows; otherwise the
//! request is implicitly denied. A statement applies when its Principal/NotPrincipal,
//! Action/NotAction, Resource/NotResource and every Condition match. What it cannot
//! judge it says, never guesses: a part of the request that was not given while a
//! statement depends on it, a condition key or operator it does not evaluate, a policy
//! variable. Such a statement is *undecided*, and so is the verdict whenever it could
//! change the outcome.
//!
//! Condition keys it evaluates, from the request's context: `aws:PrincipalAccount`,
//! `aws:PrincipalArn`, `aws:PrincipalOrgID` (only when the caller supplies it),
//! `aws:SourceVpc`, `aws:SourceVpce`. Operators: `StringEquals`, `StringNotEquals`,
//! `StringEqualsIgnoreCase`, `StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike`,
//! `ArnEquals`, `ArnLike`, `ArnNotEquals`, `ArnNotLike`, `Null`, each with the
//! `ForAnyValue:`/`ForAllValues:` set qualifiers and the `…IfExists` suffix.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The request a client makes through the endpoint, as far as the user named it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRequest {
    /// `service:Action`, e.g. `s3:GetObject` (`--action`).
    pub action: Option<String>,
    /// The principal's ARN (`--principal`): a role, a user, an assumed-role session, or
    /// an account root.
    pub principal: Option<String>,
    /// The resource ARN (`--resource`).
    pub resource: Option<String>,
}

impl PolicyRequest {
    pub fn is_empty(&self) -> bool {
        self.action.is_none() && self.principal.is_none() && self.resource.is_none()
    }
}

/// The request with its context: the condition keys whose values are known.
#[derive(Debug, Clone)]
pub struct Evaluation<'a> {
    pub request: &'a PolicyRequest,
    /// Lowercase key (`aws:sourcevpc`) → its values. A key absent here but listed in
    /// [`KNOWN_KEYS`] is absent from the request (what `…IfExists` and `Null` test).
    pub context: BTreeMap<String, Vec<String>>,
    /// Keys whose presence and value cannot be known from the request as given (e.g.
    /// `aws:PrincipalArn` without `--principal`): a condition on them is undecided.
    pub unknown: BTreeMap<String, String>,
}

/// The condition keys this evaluator knows the meaning of (lowercase).
pub const KNOWN_KEYS: [&str; 5] = [
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:sourcevpc",
    "aws:sourcevpce",
];

impl<'a> Evaluation<'a> {
    /// The context of a request through VPC endpoint `vpce` in VPC `vpc`: aws:SourceVpc and
    /// aws:SourceVpce are set by AWS on every request through an endpoint; the principal
    /// keys come from `--principal` (the organization from `org_id` when known).
    pub fn through_endpoint(
        request: &'a PolicyRequest,
        vpc: &str,
        vpce: &str,
        org_id: Option<&str>,
    ) -> Self {
        let mut e = Evaluation {
            request,
            context: BTreeMap::new(),
            unknown: BTreeMap::new(),
        };
        e.context
            .insert("aws:sourcevpc".into(), vec![vpc.to_owned()]);
        e.context
            .insert("aws:sourcevpce".into(), vec![vpce.to_owned()]);
        match request.principal.as_deref() {
            Some(p) => {
                e.context
                    .insert("aws:principalarn".into(), vec![principal_arn(p)]);
                if let Some(account) = arn_account(p) {
                    e.context
                        .insert("aws:principalaccount".into(), vec![account.to_owned()]);
                }
                match org_id {
                    Some(o) => {
                        e.context
                            .insert("aws:principalorgid".into(), vec![o.to_owned()]);
                    }
                    None => {
                        e.unknown.insert(
                            "aws:principalorgid".into(),
                            "the principal's organization is not known to pl-doctor".into(),
                        );
                    }
                }
            }
            None => {
                for k in [
                    "aws:principalarn",
                    "aws:principalaccount",
                    "aws:principalorgid",
                ] {
                    e.unknown
                        .insert(k.into(), "no --principal was given".into());
                }
            }
        }
        e
    }
}

/// How one part of a statement meets the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    /// It cannot be told, and why.
    Unknown(String),
}

impl Tri {
    fn and(self, other: impl FnOnce() -> Tri) -> Tri {
        match self {
            Tri::No => Tri::No,
            Tri::Yes => other(),
            Tri::Unknown(why) => match other() {
                Tri::No => Tri::No,
                _ => Tri::Unknown(why),
            },
        }
    }
    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            u => u,
        }
    }
    fn from_bool(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }
}

/// One statement, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// 1-based position in the policy.
    pub index: usize,
    pub sid: Option<String>,
}

impl std::fmt::Display for StatementRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sid {
            Some(sid) => write!(f, "statement {} (Sid {sid:?})", self.index),
            None => write!(f, "statement {} (no Sid)", self.index),
        }
    }
}

/// The policy's verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement applies and no Deny does (or could).
    Allowed(StatementRef),
    /// An explicit Deny applies: it wins over any Allow.
    Denied(StatementRef),
    /// No statement allows it: implicitly denied.
    ImplicitlyDenied,
    /// A statement that could change the verdict cannot be evaluated (which, and why).
    Undecided(Vec<(StatementRef, String)>),
}

/// A policy that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

/// The statements of a policy document (a JSON object with `Statement`, one object or a list).
pub fn statements(policy: &str) -> Result<Vec<Map<String, Value>>, Unreadable> {
    let doc: Value = serde_json::from_str(policy)
        .map_err(|e| Unreadable(format!("the policy is not JSON: {e}")))?;
    let list = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(v @ Value::Object(_)) => vec![v.clone()],
        Some(_) => {
            return Err(Unreadable(
                "Statement is neither an object nor a list".into(),
            ))
        }
        None => vec![],
    };
    list.into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(m) => Ok(m),
            _ => Err(Unreadable(format!("statement {} is not an object", i + 1))),
        })
        .collect()
}

/// Whether `policy` is AWS's default endpoint policy or equivalent: only Allow
/// statements for every principal, every action and every resource, with no condition.
pub fn is_full_access(policy: &str) -> bool {
    let Ok(sts) = statements(policy) else {
        return false;
    };
    !sts.is_empty()
        && sts.iter().all(|st| {
            effect(st) == Some(Effect::Allow)
                && st.get("Principal").is_some_and(principal_is_everyone)
                && st.get("Action").is_some_and(|a| strings(a).contains(&"*"))
                && st
                    .get("Resource")
                    .is_some_and(|r| strings(r).contains(&"*"))
                && st.get("Condition").is_none()
                && !["NotPrincipal", "NotAction", "NotResource"]
                    .iter()
                    .any(|k| st.contains_key(*k))
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

pub fn effect(st: &Map<String, Value>) -> Option<Effect> {
    match st.get("Effect").and_then(Value::as_str) {
        Some(e) if e.eq_ignore_ascii_case("Allow") => Some(Effect::Allow),
        Some(e) if e.eq_ignore_ascii_case("Deny") => Some(Effect::Deny),
        _ => None,
    }
}

pub fn sid(st: &Map<String, Value>) -> Option<String> {
    st.get("Sid")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Evaluate `policy` for the request in `e`.
pub fn evaluate(policy: &str, e: &Evaluation) -> Result<Decision, Unreadable> {
    let sts = statements(policy)?;
    let mut allow = None;
    let mut undecided_allows = Vec::new();
    let mut undecided_denies = Vec::new();
    for (i, st) in sts.iter().enumerate() {
        let at = StatementRef {
            index: i + 1,
            sid: sid(st),
        };
        let Some(eff) = effect(st) else {
            return Err(Unreadable(format!("{at} has no Effect Allow or Deny")));
        };
        match applies(st, e) {
            Tri::Yes if eff == Effect::Deny => return Ok(Decision::Denied(at)),
            Tri::Yes => {
                allow.get_or_insert(at);
            }
            Tri::No => {}
            Tri::Unknown(why) if eff == Effect::Deny => undecided_denies.push((at, why)),
            Tri::Unknown(why) => undecided_allows.push((at, why)),
        }
    }
    // A Deny that may apply decides as much as one that does.
    if !undecided_denies.is_empty() {
        return Ok(Decision::Undecided(undecided_denies));
    }
    Ok(match allow {
        Some(at) => Decision::Allowed(at),
        None if undecided_allows.is_empty() => Decision::ImplicitlyDenied,
        None => Decision::Undecided(undecided_allows),
    })
}

/// Whether statement `st` applies to the request.
pub fn applies(st: &Map<String, Value>, e: &Evaluation) -> Tri {
    let r = e.request;
    element(st, "Principal", "NotPrincipal", |v| {
        principal_matches(v, r.principal.as_deref())
    })
    .and(|| {
        element(st, "Action", "NotAction", |v| {
            patterns_match(v, r.action.as_deref(), "--action", true)
        })
    })
    .and(|| {
        element(st, "Resource", "NotResource", |v| {
            patterns_match(v, r.resource.as_deref(), "--resource", false)
        })
    })
    .and(|| match st.get("Condition") {
        None => Tri::Yes,
        Some(Value::Object(ops)) => conditions(ops, e),
        Some(_) => Tri::Unknown("its Condition is not an object".into()),
    })
}

/// `Element` matches, or `NotElement` does not; neither present: it applies to all.
fn element(
    st: &Map<String, Value>,
    positive: &str,
    negative: &str,
    matches: impl Fn(&Value) -> Tri,
) -> Tri {
    match (st.get(positive), st.get(negative)) {
        (Some(v), _) => matches(v),
        (None, Some(v)) => matches(v).not(),
        (None, None) => Tri::Yes,
    }
}

/// A string or a list of strings as a list (anything else: empty).
pub fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// IAM's `*` (any run) and `?` (one character) wildcards, case-insensitive when asked
/// (action names are; resource ARNs and condition values are not).
pub fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn has_variable(s: &str) -> bool {
    s.contains("${")
}

/// Action or resource patterns against the request's value (`flag` names what gives it).
fn patterns_match(v: &Value, value: Option<&str>, flag: &str, ignore_case: bool) -> Tri {
    let patterns = strings(v);
    if patterns.contains(&"*") {
        return Tri::Yes;
    }
    if let Some(p) = patterns.iter().find(|p| has_variable(p)) {
        return Tri::Unknown(format!("it uses the policy variable in {p:?}"));
    }
    match value {
        Some(value) => Tri::from_bool(patterns.iter().any(|p| glob(p, value, ignore_case))),
        None => Tri::Unknown(format!(
            "it names {} and no {flag} was given",
            patterns.join(", ")
        )),
    }
}

/// Whether a statement's `"*"` or `{"AWS": "*"}` covers every principal.
fn principal_is_everyone(v: &Value) -> bool {
    match v {
        Value::String(s) => s == "*",
        Value::Object(m) => m.get("AWS").is_some_and(|a| strings(a).contains(&"*")),
        _ => false,
    }
}

/// The account of an ARN (`arn:aws:iam::<account>:…`, `arn:aws:sts::<account>:…`) or of a
/// bare 12-digit account id.
pub fn arn_account(arn: &str) -> Option<&str> {
    if arn.len() == 12 && arn.bytes().all(|b| b.is_ascii_digit()) {
        return Some(arn);
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (parts.len() == 6 && parts[0] == "arn" && !parts[4].is_empty()).then(|| parts[4])
}

/// The ARN policies name a principal by: an assumed-role session
/// (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`) is its role
/// (`arn:aws:iam::<acct>:role/<role>`, without the path the session ARN omits).
pub fn principal_arn(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 6 && parts[2] == "sts" {
        if let Some(rest) = parts[5].strip_prefix("assumed-role/") {
            let role = rest.split('/').next().unwrap_or(rest);
            return format!("arn:{}:iam::{}:role/{role}", parts[1], parts[4]);
        }
    }
    arn.to_owned()
}

/// Principal element against the request's principal.
fn principal_matches(v: &Value, principal: Option<&str>) -> Tri {
    if principal_is_everyone(v) {
        return Tri::Yes;
    }
    let Value::Object(m) = v else {
        return Tri::Unknown("its Principal is neither \"*\" nor an object".into());
    };
    let named: Vec<(&str, &str)> = m
        .iter()
        .flat_map(|(kind, vals)| strings(vals).into_iter().map(move |x| (kind.as_str(), x)))
        .collect();
    let Some(principal) = principal else {
        return Tri::Unknown(format!(
            "it names principals ({}) and no --principal was given",
            named.iter().map(|(_, p)| *p).collect::<Vec<_>>().join(", ")
        ));
    };
    let arn = principal_arn(principal);
    let account = arn_account(principal);
    let hit = named.iter().any(|(kind, p)| match *kind {
        "AWS" => {
            // An account (its id or root ARN) covers every principal in it, the
            // resource-policy reading; otherwise the ARN itself (glob for `*` parts).
            let root = if p.ends_with(":root") || !p.starts_with("arn:") {
                arn_account(p)
            } else {
                None
            };
            match root {
                Some(acct) => account == Some(acct),
                None => glob(p, &arn, false) || glob(p, principal, false),
            }
        }
        _ => *p == principal,
    });
    Tri::from_bool(hit)
}

/// Every operator block, and every key in each, must match.
fn conditions(ops: &Map<String, Value>, e: &Evaluation) -> Tri {
    let mut acc = Tri::Yes;
    for (op, block) in ops {
        let Value::Object(keys) = block else {
            return Tri::Unknown(format!("condition {op} is not an object"));
        };
        for (key, values) in keys {
            let t = condition(op, key, &strings(values), e);
            acc = acc.and(|| t);
            if acc == Tri::No {
                return Tri::No;
            }
        }
    }
    acc
}

#[derive(Clone, Copy)]
enum Compare {
    Equals { ignore_case: bool },
    Like,
}

/// One `Operator: {key: values}` condition.
fn condition(op: &str, key: &str, values: &[&str], e: &Evaluation) -> Tri {
    let lkey = key.to_ascii_lowercase();
    if !KNOWN_KEYS.contains(&lkey.as_str()) {
        return Tri::Unknown(format!(
            "its condition key {key} is not one pl-doctor evaluates (it knows aws:PrincipalAccount, aws:PrincipalArn, aws:PrincipalOrgID, aws:SourceVpc, aws:SourceVpce)"
        ));
    }
    if let Some(why) = e.unknown.get(&lkey) {
        return Tri::Unknown(format!("its condition on {key} cannot be judged: {why}"));
    }
    if let Some(v) = values.iter().find(|v| has_variable(v)) {
        return Tri::Unknown(format!(
            "its condition on {key} uses the policy variable {v:?}"
        ));
    }
    let present = e.context.get(&lkey);
    // Qualifiers: ForAnyValue:/ForAllValues: prefix, IfExists suffix.
    let (set, base) = match op.split_once(':') {
        Some((q, rest)) if q.eq_ignore_ascii_case("ForAnyValue") => (Some(false), rest),
        Some((q, rest)) if q.eq_ignore_ascii_case("ForAllValues") => (Some(true), rest),
        Some(_) => {
            return Tri::Unknown(format!(
                "its condition operator {op} is not one pl-doctor evaluates"
            ))
        }
        None => (None, op),
    };
    let (base, if_exists) = match base.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (base, false),
    };
    if base.eq_ignore_ascii_case("Null") {
        // {"Null": {"key": "true"}}: true when the key is absent.
        let want_absent = values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return Tri::from_bool(present.is_none() == want_absent);
    }
    let (compare, negated) = match base {
        "StringEquals" | "ArnEquals" => (Compare::Equals { ignore_case: false }, false),
        "StringNotEquals" | "ArnNotEquals" => (Compare::Equals { ignore_case: false }, true),
        "StringEqualsIgnoreCase" => (Compare::Equals { ignore_case: true }, false),
        "StringNotEqualsIgnoreCase" => (Compare::Equals { ignore_case: true }, true),
        "StringLike" | "ArnLike" => (Compare::Like, false),
        "StringNotLike" | "ArnNotLike" => (Compare::Like, true),
        _ => {
            return Tri::Unknown(format!(
                "its condition operator {op} is not one pl-doctor evaluates"
            ))
        }
    };
    let Some(actual) = present else {
        // IAM: a missing key makes a condition false, its negation true; IfExists: true.
        // ForAllValues over an absent key is true (nothing fails the test).
        return Tri::from_bool(if_exists || negated || set == Some(true));
    };
    let one = |a: &str| {
        values.iter().any(|v| match compare {
            Compare::Equals { ignore_case: false } => a == *v,
            Compare::Equals { ignore_case: true } => a.eq_ignore_ascii_case(v),
            Compare::Like => glob(v, a, false),
        })
    };
    let matched = match set {
        Some(true) => actual.iter().all(|a| one(a)),
        _ => actual.iter().any(|a| one(a)),
    };
    Tri::from_bool(matched != negated)
}

/// What a statement restricts, in one line for the report (no request needed).
pub fn describe(st: &Map<String, Value>) -> String {
    let list = |k: &str| st.get(k).map(|v| strings(v).join(", "));
    let mut parts = vec![match effect(st) {
        Some(Effect::Allow) => "Allow".to_owned(),
        Some(Effect::Deny) => "Deny".to_owned(),
        None => "(no Effect)".to_owned(),
    }];
    match (list("Action"), list("NotAction")) {
        (Some(a), _) => parts.push(a),
        (None, Some(n)) => parts.push(format!("every action except {n}")),
        _ => {}
    }
    match (list("Resource"), list("NotResource")) {
        (Some(r), _) => parts.push(format!("on {r}")),
        (None, Some(n)) => parts.push(format!("on every resource except {n}")),
        _ => {}
    }
    let who = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k} {}", strings(v).join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
        _ => "?".into(),
    };
    match (st.get("Principal"), st.get("NotPrincipal")) {
        (Some(p), _) => parts.push(format!("for {}", who(p))),
        (None, Some(n)) => parts.push(format!("for every principal except {}", who(n))),
        _ => {}
    }
    if let Some(Value::Object(ops)) = st.get("Condition") {
        let conds: Vec<String> = ops
            .iter()
            .flat_map(|(op, block)| {
                block
                    .as_object()
                    .map(|keys| {
                        keys.iter()
                            .map(|(k, v)| format!("{op} {k} {}", strings(v).join("|")))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect();
        if !conds.is_empty() {
            parts.push(format!("when {}", conds.join(" and ")));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const VPC: &str = "vpc-0c0a5e1b2d3f4a5b6";
    const VPCE: &str = "vpce-0a1b2c3d4e5f6a7b8";
    const ROLE: &str = "arn:aws:iam::222222222222:role/app";

    fn req(action: Option<&str>, principal: Option<&str>, resource: Option<&str>) -> PolicyRequest {
        PolicyRequest {
            action: action.map(Into::into),
            principal: principal.map(Into::into),
            resource: resource.map(Into::into),
        }
    }

    fn decide(policy: &str, r: &PolicyRequest) -> Decision {
        evaluate(policy, &Evaluation::through_endpoint(r, VPC, VPCE, None)).unwrap()
    }

    fn allowed(d: &Decision) -> bool {
        matches!(d, Decision::Allowed(_))
    }

    const DEFAULT: &str =
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

    #[test]
    fn the_default_policy_is_full_access_and_allows_anything() {
        assert!(is_full_access(DEFAULT));
        assert!(is_full_access(
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["*"],"Resource":"*"}}"#
        ));
        assert!(allowed(&decide(DEFAULT, &req(None, None, None))));
        assert!(allowed(&decide(
            DEFAULT,
            &req(Some("s3:GetObject"), Some(ROLE), Some("arn:aws:s3:::b/k"))
        )));
        assert!(!is_full_access(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#
        ));
        assert!(!is_full_access(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}}}]}"#
        ));
        assert!(!is_full_access("not json"));
    }

    #[test]
    fn explicit_deny_wins_over_allow_and_names_its_statement() {
        let p = r#"{"Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"},
            {"Sid":"NoReads","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;
        assert_eq!(
            decide(p, &req(Some("s3:GetObject"), None, None)),
            Decision::Denied(StatementRef {
                index: 2,
                sid: Some("NoReads".into())
            })
        );
        // Action names compare case-insensitively; other actions stay allowed.
        assert!(matches!(
            decide(p, &req(Some("S3:getobject"), None, None)),
            Decision::Denied(_)
        ));
        assert!(allowed(&decide(p, &req(Some("s3:PutObject"), None, None))));
        assert_eq!(
            decide(p, &req(Some("sqs:SendMessage"), None, None)),
            Decision::ImplicitlyDenied
        );
    }

    #[test]
    fn not_action_and_resource_wildcards() {
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":"*","NotAction":"s3:Delete*",
            "Resource":["arn:aws:s3:::logs-??","arn:aws:s3:::logs-??/*"]}]}"#;
        let ok = req(Some("s3:GetObject"), None, Some("arn:aws:s3:::logs-01/a/b"));
        assert!(allowed(&decide(p, &ok)));
        let del = req(
            Some("s3:DeleteObject"),
            None,
            Some("arn:aws:s3:::logs-01/a"),
        );
        assert_eq!(decide(p, &del), Decision::ImplicitlyDenied);
        let other = req(Some("s3:GetObject"), None, Some("arn:aws:s3:::logs-001/a"));
        assert_eq!(decide(p, &other), Decision::ImplicitlyDenied);
        // Resources are case-sensitive.
        let upper = req(Some("s3:GetObject"), None, Some("arn:aws:s3:::LOGS-01/a"));
        assert_eq!(decide(p, &upper), Decision::ImplicitlyDenied);
        let not_res = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","NotResource":"arn:aws:s3:::mine/*"},
            {"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
        assert!(allowed(&decide(
            not_res,
            &req(Some("s3:GetObject"), None, Some("arn:aws:s3:::mine/x"))
        )));
        assert!(matches!(
            decide(
                not_res,
                &req(Some("s3:GetObject"), None, Some("arn:aws:s3:::theirs/x"))
            ),
            Decision::Denied(_)
        ));
    }

    #[test]
    fn principals_by_arn_account_session_and_wildcard() {
        let p = r#"{"Statement":[{"Sid":"App","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::222222222222:role/app","333333333333"]},"Action":"*","Resource":"*"}]}"#;
        assert!(allowed(&decide(
            p,
            &req(Some("ssm:GetParameter"), Some(ROLE), None)
        )));
        // An assumed-role session is its role.
        let session = "arn:aws:sts::222222222222:assumed-role/app/i-0123";
        assert!(allowed(&decide(
            p,
            &req(Some("ssm:GetParameter"), Some(session), None)
        )));
        // An account id covers its principals.
        assert!(allowed(&decide(
            p,
            &req(
                Some("ssm:GetParameter"),
                Some("arn:aws:iam::333333333333:role/x"),
                None
            )
        )));
        assert_eq!(
            decide(
                p,
                &req(
                    Some("ssm:GetParameter"),
                    Some("arn:aws:iam::222222222222:role/other"),
                    None
                )
            ),
            Decision::ImplicitlyDenied
        );
        // Without --principal, a statement naming principals cannot be judged.
        match decide(p, &req(Some("ssm:GetParameter"), None, None)) {
            Decision::Undecided(v) => assert!(v[0].1.contains("--principal"), "{v:?}"),
            other => panic!("{other:?}"),
        }
        let root = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"*","Resource":"*"}]}"#;
        assert!(allowed(&decide(root, &req(None, Some(ROLE), None))));
        let not_p = r#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::222222222222:role/app"},"Action":"*","Resource":"*"},
            {"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
        assert!(allowed(&decide(not_p, &req(None, Some(ROLE), None))));
        assert!(matches!(
            decide(
                not_p,
                &req(None, Some("arn:aws:iam::222222222222:role/x"), None)
            ),
            Decision::Denied(_)
        ));
    }

    #[test]
    fn conditions_on_account_vpc_and_endpoint() {
        let p = |op: &str, key: &str, val: &str| {
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{{"{op}":{{"{key}":{val}}}}}}}]}}"#
            )
        };
        let r = req(Some("s3:GetObject"), Some(ROLE), None);
        assert!(allowed(&decide(
            &p("StringEquals", "aws:PrincipalAccount", "\"222222222222\""),
            &r
        )));
        assert_eq!(
            decide(
                &p("StringEquals", "aws:PrincipalAccount", "\"999999999999\""),
                &r
            ),
            Decision::ImplicitlyDenied
        );
        assert!(allowed(&decide(
            &p(
                "StringEquals",
                "aws:SourceVpc",
                &format!("[\"vpc-1\",\"{VPC}\"]")
            ),
            &r
        )));
        assert!(allowed(&decide(
            &p("StringLike", "aws:SourceVpce", "\"vpce-0a1b*\""),
            &r
        )));
        assert_eq!(
            decide(
                &p("StringNotEquals", "aws:SourceVpce", &format!("\"{VPCE}\"")),
                &r
            ),
            Decision::ImplicitlyDenied
        );
        assert!(allowed(&decide(
            &p(
                "ArnLike",
                "aws:PrincipalArn",
                "\"arn:aws:iam::222222222222:role/*\""
            ),
            &r
        )));
        assert!(allowed(&decide(
            &p(
                "ForAnyValue:StringEquals",
                "aws:SourceVpc",
                &format!("\"{VPC}\"")
            ),
            &r
        )));
        // Condition keys compare case-insensitively; IfExists on a present key is the plain test.
        assert!(allowed(&decide(
            &p(
                "StringEqualsIfExists",
                "AWS:SOURCEVPC",
                &format!("\"{VPC}\"")
            ),
            &r
        )));
        assert!(allowed(&decide(
            &p("Null", "aws:SourceVpce", "\"false\""),
            &r
        )));
    }

    #[test]
    fn what_cannot_be_evaluated_is_said_not_guessed() {
        let org = r#"{"Statement":[{"Sid":"Org","Effect":"Allow","Principal":"*","Action":"*","Resource":"*",
            "Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}}]}"#;
        let r = req(Some("s3:GetObject"), Some(ROLE), None);
        match decide(org, &r) {
            Decision::Undecided(v) => {
                assert_eq!(v[0].0.sid.as_deref(), Some("Org"));
                assert!(v[0].1.contains("organization"), "{v:?}");
            }
            other => panic!("{other:?}"),
        }
        // Known when the caller supplies the organization.
        let e = Evaluation::through_endpoint(&r, VPC, VPCE, Some("o-abc"));
        assert!(allowed(&evaluate(org, &e).unwrap()));
        let tag = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*",
            "Condition":{"StringEquals":{"aws:PrincipalTag/team":"x"}}},{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
        // An unknown key on a Deny makes the verdict undecided even though an Allow applies.
        match decide(tag, &r) {
            Decision::Undecided(v) => assert!(v[0].1.contains("aws:PrincipalTag/team"), "{v:?}"),
            other => panic!("{other:?}"),
        }
        let ip = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceVpc":"10.0.0.0/8"}}}]}"#;
        assert!(matches!(decide(ip, &r), Decision::Undecided(_)));
        let var = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:s3:::${aws:username}/*"}]}"#;
        assert!(matches!(
            decide(
                var,
                &req(Some("s3:GetObject"), None, Some("arn:aws:s3:::a/b"))
            ),
            Decision::Undecided(_)
        ));
        // A statement that cannot match anyway does not make the verdict undecided.
        let other = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/x":"y"}}},
            {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
        assert!(allowed(&decide(other, &r)));
        assert!(evaluate("[1]", &Evaluation::through_endpoint(&r, VPC, VPCE, None)).is_ok());
        assert!(evaluate("nope", &Evaluation::through_endpoint(&r, VPC, VPCE, None)).is_err());
    }

    #[test]
    fn describes_what_a_statement_restricts() {
        let sts = statements(
            r#"{"Statement":[{"Sid":"x","Effect":"Deny","Principal":"*","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/*",
            "Condition":{"StringNotEquals":{"aws:PrincipalAccount":"222222222222"}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            describe(&sts[0]),
            "Deny s3:GetObject, s3:PutObject on arn:aws:s3:::b/* for * when StringNotEquals aws:PrincipalAccount 222222222222"
        );
    }

    #[test]
    fn globs_match_like_iam() {
        assert!(glob("sns:Publish", "SNS:Publish", true));
        assert!(!glob("sns:Publish", "SNS:Publish", false));
        assert!(glob("s3:*", "s3:GetObject", true));
        assert!(glob("s3:Get?bject", "s3:GetObject", true));
        assert!(!glob("sqs:*", "sns:Publish", true));
        assert_eq!(
            principal_arn("arn:aws:sts::1:assumed-role/r/s"),
            "arn:aws:iam::1:role/r"
        );
        assert_eq!(
            arn_account("arn:aws:iam::222222222222:role/x"),
            Some("222222222222")
        );
        assert_eq!(arn_account("222222222222"), Some("222222222222"));
        assert_eq!(arn_account("nope"), None);
    }
}
