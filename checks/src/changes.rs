//! "What changed": the CloudTrail write events behind a failing or warning check.
//!
//! The shell looks up (cloudtrail:LookupEvents, one ResourceName per call) the resources
//! the failing and warning checks name, in the account that owns each, and records the
//! events as they arrived in the snapshot ([`ChangeFacts`]). This module is the pure
//! part: which resources a check names ([`named_resources`]), whose account owns each
//! ([`owner_side`]), what an event did in plain words ([`describe`], from the event's
//! `CloudTrailEvent` JSON), and the `changes` a check carries in the report
//! ([`for_check`]). Time words ("42 min ago") are relative to the snapshot's
//! `collected_at`, never to the clock, so a replay reads the same.

use crate::check::{CheckResult, Status};
use crate::fact::{Fact, Missing};
use crate::model::Snapshot;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The IAM action behind the lookups, on both sides (`pl-doctor iam-policy`).
pub const LOOKUP_ACTION: &str = "cloudtrail:LookupEvents";
/// LookupEvents keeps 90 days of management events: `--changes-since` at most this.
pub const MAX_SINCE_SECONDS: u64 = 90 * 24 * 3600;
/// At most this many resources are looked up for one check (LookupEvents allows 2
/// requests per second per account and Region): the first ones its evidence names.
pub const MAX_RESOURCES_PER_CHECK: usize = 12;

/// What the collector recorded: one lookup per resource, over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeFacts {
    /// StartTime of every lookup (RFC 3339): `collected_at` minus `--changes-since`.
    pub since: String,
    /// `--changes-since` in seconds.
    pub since_seconds: u64,
    /// One entry per resource looked up, in the order the lookups were planned.
    pub lookups: Vec<ResourceLookup>,
}

impl ChangeFacts {
    pub fn lookup(&self, resource: &str) -> Option<&ResourceLookup> {
        self.lookups.iter().find(|l| l.resource == resource)
    }

    /// Whether `resource` needs no further lookup: it was asked for, and not merely
    /// recorded as out of reach by a collection that lacked its side's credentials (a
    /// member account read before its provider side was attached), which a caller that
    /// holds them asks again.
    pub fn settled(&self, resource: &str) -> bool {
        self.lookup(resource)
            .is_some_and(|l| !matches!(l.events, Fact::Absent(Missing::NotVisible { .. })))
    }
}

/// Which credentials a resource is read with: the account that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Consumer,
    Provider,
}

/// One resource's LookupEvents (every page), write events only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceLookup {
    pub resource: String,
    pub side: Side,
    /// The account whose trail was read, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The Region whose trail was read (Route 53 hosted zones: us-east-1, where its
    /// global-service events are recorded).
    pub region: String,
    pub events: Fact<Vec<TrailEvent>>,
}

/// One LookupEvents event as AWS returned it (`CloudTrailEvent` parsed from its string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrailEvent {
    pub event_id: String,
    pub event_name: String,
    /// RFC 3339.
    pub event_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `ReadOnly` as AWS sends it (`"true"`/`"false"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<String>,
    /// The event's `Resources` (ResourceName values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The `CloudTrailEvent` JSON document (Null when AWS sent none or it did not parse).
    #[serde(default)]
    pub cloud_trail_event: Value,
}

/// Whether an event is a write (LookupEvents' ReadOnly, else the record's `readOnly`):
/// read events never explain a change. Unknown counts as a write (it is listed, by name).
pub fn is_write(read_only: Option<&str>, record: &Value) -> bool {
    match read_only {
        Some(r) => !r.eq_ignore_ascii_case("true"),
        None => record.get("readOnly").and_then(Value::as_bool) != Some(true),
    }
}

/// One change as the report shows it (JSON contract: `checks[].changes.events[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// RFC 3339, as CloudTrail recorded it.
    pub time: String,
    /// Seconds before the snapshot was collected (negative: after), when both parse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ago_seconds: Option<i64>,
    pub event_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source: Option<String>,
    pub event_id: String,
    /// The resource it was found under (the one looked up).
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Who: the principal's ARN (userIdentity.arn), else the user name LookupEvents gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// For an assumed role: the role session name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// From where: the source IP address, or the AWS service that made the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// What it did, in plain words.
    pub what: String,
    /// The call failed (errorCode), so it changed nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

impl Change {
    /// `changed 42 min ago (2026-12-02 09:31 UTC): sg-… lost TCP 8443 from 10.0.0.0/16
    /// (RevokeSecurityGroupIngress by arn:… session ci, from 203.0.113.7)`.
    pub fn line(&self) -> String {
        let when = match self.ago_seconds {
            Some(s) => format!("{} ({})", ago_words(s), short_time(&self.time)),
            None => short_time(&self.time),
        };
        let mut by = self.event_name.clone();
        if let Some(p) = &self.principal {
            by.push_str(&format!(" by {p}"));
            if let Some(s) = &self.session {
                if !p.ends_with(&format!("/{s}")) {
                    by.push_str(&format!(" session {s}"));
                }
            }
        }
        if let Some(f) = &self.from {
            by.push_str(&format!(", from {f}"));
        }
        if let Some(e) = &self.error_code {
            by.push_str(&format!("; failed: {e}, nothing changed"));
        }
        let verb = if self.error_code.is_some() {
            "tried"
        } else {
            "changed"
        };
        format!("{verb} {when}: {} ({by})", self.what)
    }
}

/// Why the changes on one resource are missing (denied, throttled, deadline, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingChanges {
    pub resource: String,
    pub reason: String,
}

/// A failing or warning check's changes (JSON contract: `checks[].changes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckChanges {
    /// The lookups' StartTime (RFC 3339).
    pub since: String,
    /// The resources the check names that were looked up.
    pub resources: Vec<String>,
    /// Write events on them, newest first.
    pub events: Vec<Change>,
    /// Resources whose events could not be read, with why (statuses never change for it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<MissingChanges>,
}

// ------------------------------------------------------------ which resources

/// Id prefixes CloudTrail indexes as ResourceName for the changes that matter here
/// (endpoint, security groups, NACLs, DHCP option sets, Resolver rules, the service,
/// target instances). ENIs, subnets and VPCs are left out: their own events do not
/// change the path, and the changes that do name the resources above.
const PREFIXES: &[&str] = &[
    "vpce-svc-",
    "vpce-",
    "sg-",
    "acl-",
    "dopt-",
    "rslvr-rr-",
    "i-",
];

/// Whether CloudTrail is looked up for this identifier (given the snapshot's hosted zones).
fn lookable(s: &str, zones: &[&str]) -> bool {
    if s.starts_with("arn:aws") {
        // The NLB, its listeners and target groups.
        return s.contains(":elasticloadbalancing:")
            && (s.contains(":loadbalancer/")
                || s.contains(":listener/")
                || s.contains(":targetgroup/"));
    }
    if zones.contains(&s) {
        return true;
    }
    crate::fingerprint::is_resource_id(s) && PREFIXES.iter().any(|p| s.starts_with(p))
}

fn hosted_zone_ids(snapshot: &Snapshot) -> Vec<&str> {
    snapshot
        .consumer
        .dns_config
        .known()
        .and_then(|c| c.hosted_zones.known())
        .map(|zs| zs.iter().map(|z| z.id.as_str()).collect())
        .unwrap_or_default()
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// The resources a check names, in the order its evidence names them: the identifiers in
/// its evidence that CloudTrail is looked up for, at most [`MAX_RESOURCES_PER_CHECK`].
pub fn named_resources(result: &CheckResult, snapshot: &Snapshot) -> Vec<String> {
    let zones = hosted_zone_ids(snapshot);
    let mut strings = Vec::new();
    for v in result.evidence.values() {
        collect_strings(v, &mut strings);
    }
    let mut out: Vec<String> = Vec::new();
    for s in strings {
        // Cause-style values (`empty=arn:…`) name a resource after the `=`.
        let s = s.rsplit_once('=').map(|(_, r)| r).unwrap_or(s);
        if lookable(s, &zones) && !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out.truncate(MAX_RESOURCES_PER_CHECK);
    out
}

/// Whose account owns a resource: the service, its NLBs, listeners and target groups are
/// the provider's; anything the consumer side holds is the consumer's; the rest (the
/// provider's target instances and security groups) the provider's.
pub fn owner_side(resource: &str, snapshot: &Snapshot) -> Side {
    if resource.starts_with("vpce-svc-") || resource.starts_with("arn:aws") {
        return Side::Provider;
    }
    let consumer = serde_json::to_string(&snapshot.consumer).unwrap_or_default();
    if consumer.contains(&format!("\"{resource}\"")) {
        return Side::Consumer;
    }
    let provider = serde_json::to_string(&snapshot.provider).unwrap_or_default();
    if provider.contains(&format!("\"{resource}\"")) {
        Side::Provider
    } else {
        Side::Consumer
    }
}

/// Whether a resource is a Route 53 hosted zone (its events are in us-east-1's trail).
pub fn is_hosted_zone(resource: &str, snapshot: &Snapshot) -> bool {
    hosted_zone_ids(snapshot).contains(&resource)
}

/// What to look up for a set of results: every resource the failing and warning checks
/// name, once, with the side that owns it.
pub fn wanted(snapshot: &Snapshot, results: &[CheckResult]) -> Vec<(String, Side)> {
    let mut out: Vec<(String, Side)> = Vec::new();
    for r in results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Warn))
    {
        for res in named_resources(r, snapshot) {
            if !out.iter().any(|(o, _)| *o == res) {
                let side = owner_side(&res, snapshot);
                out.push((res, side));
            }
        }
    }
    out
}

// ------------------------------------------------------------ the report's part

/// The `changes` of one failing or warning check; None for other statuses, when no
/// lookups were made (`--changes off`, an older snapshot) or the check names nothing
/// that was looked up.
pub fn for_check(result: &CheckResult, snapshot: &Snapshot) -> Option<CheckChanges> {
    if !matches!(result.status, Status::Fail | Status::Warn) {
        return None;
    }
    let facts = snapshot.changes.as_ref()?;
    let collected = epoch_seconds(&snapshot.collected_at);
    let mut out = CheckChanges {
        since: facts.since.clone(),
        resources: Vec::new(),
        events: Vec::new(),
        missing: Vec::new(),
    };
    for resource in named_resources(result, snapshot) {
        let Some(lookup) = facts.lookup(&resource) else {
            out.missing.push(MissingChanges {
                resource: resource.clone(),
                reason: "not looked up when the facts were collected".into(),
            });
            continue;
        };
        out.resources.push(resource.clone());
        match &lookup.events {
            Fact::Known(events) => {
                for e in events
                    .iter()
                    .filter(|e| is_write(e.read_only.as_deref(), &e.cloud_trail_event))
                {
                    if !out.events.iter().any(|c| c.event_id == e.event_id) {
                        out.events.push(change(e, lookup, collected));
                    }
                }
            }
            Fact::Absent(m) => out.missing.push(MissingChanges {
                resource: resource.clone(),
                reason: missing_reason(m, lookup.side),
            }),
        }
    }
    if out.resources.is_empty() && out.missing.is_empty() {
        return None;
    }
    sort_newest_first(&mut out.events);
    Some(out)
}

fn missing_reason(m: &Missing, side: Side) -> String {
    let who = match side {
        Side::Consumer => "consumer",
        Side::Provider => "provider",
    };
    format!("{m} ({who} account's CloudTrail)")
}

/// Newest first; ties by event id so the order is stable.
pub fn sort_newest_first(events: &mut [Change]) {
    events.sort_by(newest_first);
}

/// The order of [`sort_newest_first`], for lists that carry a change inside.
pub fn newest_first(a: &Change, b: &Change) -> std::cmp::Ordering {
    let (ta, tb) = (epoch_seconds(&a.time), epoch_seconds(&b.time));
    tb.cmp(&ta)
        .then_with(|| b.time.cmp(&a.time))
        .then_with(|| a.event_id.cmp(&b.event_id))
}

/// Every check's changes, once each, newest first: the report's "Recent changes".
pub fn recent(results: &[CheckResult]) -> Vec<Change> {
    let mut all: Vec<Change> = Vec::new();
    for c in results.iter().filter_map(|r| r.changes.as_ref()) {
        for e in &c.events {
            if !all.iter().any(|a| a.event_id == e.event_id) {
                all.push(e.clone());
            }
        }
    }
    sort_newest_first(&mut all);
    all
}

/// A recorded event as the report shows it.
pub fn change(e: &TrailEvent, lookup: &ResourceLookup, collected: Option<i64>) -> Change {
    let rec = &e.cloud_trail_event;
    let identity = rec.get("userIdentity");
    let arn = identity.and_then(|i| str_at(i, "arn"));
    let principal = arn.map(str::to_owned).or_else(|| e.username.clone());
    let session = arn.and_then(session_of);
    let from = str_at(rec, "sourceIPAddress")
        .or_else(|| identity.and_then(|i| str_at(i, "invokedBy")))
        .map(str::to_owned);
    let time = str_at(rec, "eventTime")
        .map(str::to_owned)
        .unwrap_or_else(|| e.event_time.clone());
    let ago_seconds = match (collected, epoch_seconds(&time)) {
        (Some(c), Some(t)) => Some(c - t),
        _ => None,
    };
    Change {
        ago_seconds,
        time,
        event_name: e.event_name.clone(),
        event_source: e
            .event_source
            .clone()
            .or_else(|| str_at(rec, "eventSource").map(str::to_owned)),
        event_id: e.event_id.clone(),
        resource: lookup.resource.clone(),
        account: lookup
            .account
            .clone()
            .or_else(|| str_at(rec, "recipientAccountId").map(str::to_owned)),
        principal,
        session,
        from,
        what: describe(&e.event_name, rec, &lookup.resource),
        error_code: str_at(rec, "errorCode").map(str::to_owned),
    }
}

/// `arn:aws:sts::222222222222:assumed-role/deploy/ci` → `ci`.
fn session_of(arn: &str) -> Option<String> {
    let rest = arn.split_once(":assumed-role/")?.1;
    let (_, session) = rest.split_once('/')?;
    Some(session.to_owned()).filter(|s| !s.is_empty())
}

// ------------------------------------------------------------ event → words

/// A key of a JSON object, matched ASCII case-insensitively (CloudTrail writes EC2's
/// older actions as `groupId`, its newer ones as `GroupId`, Resolver's as `vPCId`).
fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let m = v.as_object()?;
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    get(v, key).and_then(Value::as_str)
}

/// A scalar as text (numbers and booleans too: EC2 logs ports as numbers, NACL
/// protocols as strings).
fn text_at(v: &Value, key: &str) -> Option<String> {
    match get(v, key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The items of an EC2 list as CloudTrail writes it: `{"items": [...]}`, a bare array,
/// a single `{"content": …, "tag": 1}` element, or one value.
fn items(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => match get(o, "items").or_else(|| get(o, "item")) {
            Some(inner) => items(Some(inner)),
            None => vec![o],
        },
        Some(other) => vec![other],
    }
}

/// A list of scalars (ids, principals): `{"content": "sg-…"}` elements, strings, items.
fn scalars(v: Option<&Value>) -> Vec<String> {
    items(v)
        .into_iter()
        .filter_map(|i| match i {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Object(_) => text_at(i, "content"),
            _ => None,
        })
        .collect()
}

/// The request parameters, unwrapped from the `<Action>Request` object CloudTrail
/// writes for EC2's newer actions (`{"ModifyVpcEndpointRequest": {…}}`).
fn params<'a>(rec: &'a Value, event_name: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    let p = rec.get("requestParameters").unwrap_or(&NULL);
    get(p, &format!("{event_name}Request")).unwrap_or(p)
}

fn protocol_words(proto: &str) -> String {
    match proto.to_ascii_lowercase().as_str() {
        "-1" | "all" => "all traffic".into(),
        "6" | "tcp" => "TCP".into(),
        "17" | "udp" => "UDP".into(),
        "1" | "icmp" => "ICMP".into(),
        "58" | "icmpv6" => "ICMPv6".into(),
        other => format!("protocol {other}"),
    }
}

fn ports_words(from: Option<String>, to: Option<String>) -> String {
    match (from, to) {
        (Some(f), Some(t)) if f == t => format!(" {f}"),
        (Some(f), Some(t)) if f == "-1" || t == "-1" => String::new(),
        (Some(f), Some(t)) => format!(" {f}-{t}"),
        (Some(f), None) | (None, Some(f)) => format!(" {f}"),
        (None, None) => String::new(),
    }
}

/// One IpPermission: `TCP 8443 from 10.0.0.0/16, sg-…`.
fn permission_words(p: &Value, direction: &str) -> String {
    let proto = text_at(p, "ipProtocol").unwrap_or_else(|| "-1".into());
    let mut peers: Vec<String> = Vec::new();
    for r in items(get(p, "ipRanges")) {
        peers.extend(text_at(r, "cidrIp"));
    }
    for r in items(get(p, "ipv6Ranges")) {
        peers.extend(text_at(r, "cidrIpv6"));
    }
    for r in items(get(p, "prefixListIds")) {
        peers.extend(text_at(r, "prefixListId"));
    }
    for g in items(get(p, "groups")) {
        peers.extend(text_at(g, "groupId").or_else(|| text_at(g, "groupName")));
    }
    let mut s = protocol_words(&proto);
    if proto != "-1" {
        s.push_str(&ports_words(text_at(p, "fromPort"), text_at(p, "toPort")));
    }
    if !peers.is_empty() {
        s.push_str(&format!(" {direction} {}", peers.join(", ")));
    }
    s
}

/// The rule a ModifySecurityGroupRules names: `SecurityGroupRule` request shape.
fn rule_request_words(r: &Value, egress: bool) -> String {
    let proto = text_at(r, "IpProtocol").unwrap_or_else(|| "-1".into());
    let mut s = protocol_words(&proto);
    if proto != "-1" {
        s.push_str(&ports_words(text_at(r, "FromPort"), text_at(r, "ToPort")));
    }
    let peer = text_at(r, "CidrIpv4")
        .or_else(|| text_at(r, "CidrIpv6"))
        .or_else(|| text_at(r, "PrefixListId"))
        .or_else(|| text_at(r, "ReferencedGroupId"));
    if let Some(p) = peer {
        s.push_str(&format!(" {} {p}", if egress { "to" } else { "from" }));
    }
    s
}

fn attributes_words(p: &Value) -> String {
    let pairs: Vec<String> = items(get(p, "attributes"))
        .into_iter()
        .filter_map(|a| Some(format!("{}={}", text_at(a, "key")?, text_at(a, "value")?)))
        .collect();
    if pairs.is_empty() {
        "attributes changed".into()
    } else {
        format!("set {}", pairs.join(", "))
    }
}

/// `arn:aws:elasticloadbalancing:…:targetgroup/payments/0123…` → `target group payments`.
fn elb_name(arn: &str) -> String {
    let Some((_, rest)) = arn.rsplit_once(":") else {
        return arn.to_owned();
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["targetgroup", name, ..] => format!("target group {name}"),
        ["loadbalancer", "net", name, ..] => format!("NLB {name}"),
        ["loadbalancer", "app", name, ..] => format!("ALB {name}"),
        ["loadbalancer", _, name, ..] => format!("load balancer {name}"),
        ["listener", _, lb, _, id] => format!("listener {id} of {lb}"),
        _ => arn.to_owned(),
    }
}

fn join_or(v: &[String], none: &str) -> String {
    if v.is_empty() {
        none.to_owned()
    } else {
        v.join(", ")
    }
}

fn on_off(v: &str) -> &'static str {
    if v.eq_ignore_ascii_case("true") {
        "on"
    } else {
        "off"
    }
}

/// What the event did, in plain words, from its `CloudTrailEvent` record; `resource` is
/// the one it was looked up under (the subject when the record does not name one).
/// Events this does not know are still listed: by name, on the resource.
pub fn describe(event_name: &str, rec: &Value, resource: &str) -> String {
    let p = params(rec, event_name);
    let subject = |key: &str| text_at(p, key).unwrap_or_else(|| resource.to_owned());
    match event_name {
        "AuthorizeSecurityGroupIngress"
        | "AuthorizeSecurityGroupEgress"
        | "RevokeSecurityGroupIngress"
        | "RevokeSecurityGroupEgress" => {
            let sg = subject("groupId");
            let gained = event_name.starts_with("Authorize");
            let egress = event_name.ends_with("Egress");
            let verb = if gained { "gained" } else { "lost" };
            let dir = if egress { "to" } else { "from" };
            let kind = if egress { "egress" } else { "ingress" };
            let perms: Vec<String> = items(get(p, "ipPermissions"))
                .into_iter()
                .map(|i| permission_words(i, dir))
                .collect();
            if !perms.is_empty() {
                return format!("{sg} {verb} {}", perms.join("; "));
            }
            let ids = scalars(get(p, "securityGroupRuleIds"))
                .into_iter()
                .chain(
                    items(get(p, "securityGroupRuleIds"))
                        .into_iter()
                        .filter_map(|i| text_at(i, "securityGroupRuleId")),
                )
                .collect::<Vec<_>>();
            if !ids.is_empty() {
                return format!("{sg} {verb} {kind} rule {}", ids.join(", "));
            }
            // The flat (EC2-Classic style) parameters.
            if let Some(proto) = text_at(p, "ipProtocol") {
                let mut s = format!("{sg} {verb} {}", protocol_words(&proto));
                s.push_str(&ports_words(text_at(p, "fromPort"), text_at(p, "toPort")));
                if let Some(c) = text_at(p, "cidrIp") {
                    s.push_str(&format!(" {dir} {c}"));
                }
                return s;
            }
            format!("{sg} {verb} {kind} rules")
        }
        "ModifySecurityGroupRules" => {
            let sg = subject("GroupId");
            let rules: Vec<String> = items(get(p, "SecurityGroupRule"))
                .into_iter()
                .map(|r| {
                    let id = text_at(r, "SecurityGroupRuleId").unwrap_or_default();
                    match get(r, "SecurityGroupRule") {
                        Some(inner) => {
                            let egress = text_at(inner, "IsEgress").as_deref() == Some("true");
                            format!("{id} now {}", rule_request_words(inner, egress))
                        }
                        None => id,
                    }
                })
                .collect();
            format!("{sg} rule {}", join_or(&rules, "(unnamed) modified"))
        }
        "CreateNetworkAclEntry" | "ReplaceNetworkAclEntry" | "DeleteNetworkAclEntry" => {
            let acl = subject("networkAclId");
            let dir = if text_at(p, "egress").as_deref() == Some("true") {
                "outbound"
            } else {
                "inbound"
            };
            let n = text_at(p, "ruleNumber").unwrap_or_else(|| "?".into());
            if event_name == "DeleteNetworkAclEntry" {
                return format!("{acl} lost {dir} rule {n}");
            }
            let action = text_at(p, "ruleAction").unwrap_or_else(|| "?".into());
            let proto = text_at(p, "protocol").unwrap_or_else(|| "-1".into());
            let mut rule = format!("{action} {}", protocol_words(&proto));
            if proto != "-1" {
                if let Some(pr) = get(p, "portRange") {
                    rule.push_str(&ports_words(text_at(pr, "from"), text_at(pr, "to")));
                }
            }
            let peer = text_at(p, "cidrBlock").or_else(|| text_at(p, "ipv6CidrBlock"));
            if let Some(c) = peer {
                rule.push_str(&format!(
                    " {} {c}",
                    if dir == "inbound" { "from" } else { "to" }
                ));
            }
            if event_name == "CreateNetworkAclEntry" {
                format!("{acl} gained {dir} rule {n}: {rule}")
            } else {
                format!("{acl} {dir} rule {n} replaced: now {rule}")
            }
        }
        "ReplaceNetworkAclAssociation" => format!(
            "subnet association {} moved to {}",
            text_at(p, "associationId").unwrap_or_else(|| "?".into()),
            subject("networkAclId")
        ),
        "ModifyVpcEndpoint" => {
            let ep = subject("VpcEndpointId");
            let mut what = Vec::new();
            for (key, words) in [
                ("AddSecurityGroupId", "added security group"),
                ("RemoveSecurityGroupId", "removed security group"),
                ("AddSubnetId", "added subnet"),
                ("RemoveSubnetId", "removed subnet"),
            ] {
                let ids = scalars(get(p, key));
                if !ids.is_empty() {
                    what.push(format!("{words} {}", ids.join(", ")));
                }
            }
            if let Some(v) = text_at(p, "PrivateDnsEnabled") {
                what.push(format!("private DNS {}", on_off(&v)));
            }
            if get(p, "PolicyDocument").is_some() {
                what.push("endpoint policy replaced".into());
            }
            if text_at(p, "ResetPolicy").as_deref() == Some("true") {
                what.push("endpoint policy reset to full access".into());
            }
            if let Some(t) = text_at(p, "IpAddressType") {
                what.push(format!("IP address type {t}"));
            }
            if let Some(d) = get(p, "DnsOptions").and_then(|d| text_at(d, "DnsRecordIpType")) {
                what.push(format!("DNS record type {d}"));
            }
            format!("{ep}: {}", join_or(&what, "modified"))
        }
        "AcceptVpcEndpointConnections" | "RejectVpcEndpointConnections" => {
            let eps = scalars(get(p, "VpcEndpointId"));
            let verb = if event_name.starts_with("Accept") {
                "accepted"
            } else {
                "rejected"
            };
            format!(
                "{} {verb} connection from {}",
                subject("ServiceId"),
                join_or(&eps, "an endpoint")
            )
        }
        "ModifyVpcEndpointServicePermissions" => {
            let svc = subject("ServiceId");
            let added = scalars(get(p, "AddAllowedPrincipals"));
            let removed = scalars(get(p, "RemoveAllowedPrincipals"));
            let mut what = Vec::new();
            if !added.is_empty() {
                what.push(format!("now allows {}", added.join(", ")));
            }
            if !removed.is_empty() {
                what.push(format!("no longer allows {}", removed.join(", ")));
            }
            format!("{svc} {}", join_or(&what, "permissions changed"))
        }
        "ModifyVpcEndpointServiceConfiguration" => {
            let svc = subject("ServiceId");
            let mut what = Vec::new();
            if let Some(v) = text_at(p, "AcceptanceRequired") {
                what.push(format!("acceptance required {}", on_off(&v)));
            }
            if let Some(n) = text_at(p, "PrivateDnsName") {
                what.push(format!("private DNS name set to {n}"));
            }
            if text_at(p, "RemovePrivateDnsName").as_deref() == Some("true") {
                what.push("private DNS name removed".into());
            }
            for (key, words) in [
                ("AddNetworkLoadBalancerArn", "added"),
                ("RemoveNetworkLoadBalancerArn", "removed"),
            ] {
                let arns: Vec<String> = scalars(get(p, key)).iter().map(|a| elb_name(a)).collect();
                if !arns.is_empty() {
                    what.push(format!("{words} {}", arns.join(", ")));
                }
            }
            for (key, words) in [
                ("AddSupportedRegion", "added Region"),
                ("RemoveSupportedRegion", "removed Region"),
                ("AddSupportedIpAddressType", "added IP address type"),
                ("RemoveSupportedIpAddressType", "removed IP address type"),
            ] {
                let v = scalars(get(p, key));
                if !v.is_empty() {
                    what.push(format!("{words} {}", v.join(", ")));
                }
            }
            format!("{svc}: {}", join_or(&what, "configuration changed"))
        }
        "StartVpcEndpointServicePrivateDnsVerification" => format!(
            "{}: private DNS name verification started",
            subject("ServiceId")
        ),
        "RegisterTargets" | "DeregisterTargets" => {
            let tg = text_at(p, "targetGroupArn")
                .map(|a| elb_name(&a))
                .unwrap_or_else(|| resource.to_owned());
            let targets: Vec<String> = items(get(p, "targets"))
                .into_iter()
                .filter_map(|t| {
                    let id = text_at(t, "id")?;
                    Some(match text_at(t, "port") {
                        Some(port) => format!("{id}:{port}"),
                        None => id,
                    })
                })
                .collect();
            let verb = if event_name == "RegisterTargets" {
                "gained"
            } else {
                "lost"
            };
            format!("{tg} {verb} target {}", join_or(&targets, "(unnamed)"))
        }
        "ModifyLoadBalancerAttributes" => format!(
            "{}: {}",
            text_at(p, "loadBalancerArn")
                .map(|a| elb_name(&a))
                .unwrap_or_else(|| resource.to_owned()),
            attributes_words(p)
        ),
        "ModifyTargetGroupAttributes" => format!(
            "{}: {}",
            text_at(p, "targetGroupArn")
                .map(|a| elb_name(&a))
                .unwrap_or_else(|| resource.to_owned()),
            attributes_words(p)
        ),
        "ModifyListenerAttributes" => format!(
            "{}: {}",
            text_at(p, "listenerArn")
                .map(|a| elb_name(&a))
                .unwrap_or_else(|| resource.to_owned()),
            attributes_words(p)
        ),
        "ModifyTargetGroup" => {
            let tg = text_at(p, "targetGroupArn")
                .map(|a| elb_name(&a))
                .unwrap_or_else(|| resource.to_owned());
            let mut what = Vec::new();
            for (key, words) in [
                ("healthCheckProtocol", "health check protocol"),
                ("healthCheckPort", "health check port"),
                ("healthCheckPath", "health check path"),
                ("healthyThresholdCount", "healthy threshold"),
                ("unhealthyThresholdCount", "unhealthy threshold"),
            ] {
                if let Some(v) = text_at(p, key) {
                    what.push(format!("{words} {v}"));
                }
            }
            format!("{tg}: {}", join_or(&what, "health check changed"))
        }
        "ModifyListener" | "CreateListener" | "DeleteListener" => {
            let l = text_at(p, "listenerArn")
                .map(|a| elb_name(&a))
                .or_else(|| {
                    text_at(p, "loadBalancerArn").map(|a| format!("listener on {}", elb_name(&a)))
                })
                .unwrap_or_else(|| resource.to_owned());
            if event_name == "DeleteListener" {
                return format!("{l} deleted");
            }
            let mut what = Vec::new();
            if let Some(proto) = text_at(p, "protocol") {
                what.push(proto);
            }
            if let Some(port) = text_at(p, "port") {
                what.push(format!("port {port}"));
            }
            let forwards: Vec<String> = items(get(p, "defaultActions"))
                .into_iter()
                .filter_map(|a| text_at(a, "targetGroupArn"))
                .map(|a| elb_name(&a))
                .collect();
            if !forwards.is_empty() {
                what.push(format!("forwarding to {}", forwards.join(", ")));
            }
            let verb = if event_name == "CreateListener" {
                "created"
            } else {
                "now"
            };
            format!("{l} {verb} {}", join_or(&what, "modified"))
        }
        "SetSecurityGroups" => {
            let lb = text_at(p, "loadBalancerArn")
                .map(|a| elb_name(&a))
                .unwrap_or_else(|| resource.to_owned());
            let groups = scalars(get(p, "securityGroups"));
            let mut s = format!("{lb} security groups set to {}", join_or(&groups, "none"));
            if let Some(v) = text_at(p, "enforceSecurityGroupInboundRulesOnPrivateLinkTraffic") {
                s.push_str(&format!(
                    "; enforced on PrivateLink traffic: {}",
                    if v.eq_ignore_ascii_case("on") || v == "true" {
                        "on"
                    } else {
                        "off"
                    }
                ));
            }
            s
        }
        "CreateHostedZone" => {
            let name = text_at(p, "name").unwrap_or_else(|| "?".into());
            let vpc = get(p, "vPC").and_then(|v| text_at(v, "vPCId"));
            let private = get(p, "hostedZoneConfig")
                .and_then(|c| text_at(c, "privateZone"))
                .as_deref()
                == Some("true")
                || vpc.is_some();
            let mut s = format!(
                "{} hosted zone {} created",
                if private { "private" } else { "public" },
                name.trim_end_matches('.')
            );
            if let Some(v) = vpc {
                s.push_str(&format!(" for {v}"));
            }
            s
        }
        "DeleteHostedZone" => format!("hosted zone {} deleted", zone_id(p, resource)),
        "AssociateVPCWithHostedZone" | "DisassociateVPCFromHostedZone" => {
            let vpc = get(p, "vPC")
                .and_then(|v| text_at(v, "vPCId"))
                .unwrap_or_else(|| "a VPC".into());
            let verb = if event_name.starts_with("Associate") {
                "associated with"
            } else {
                "disassociated from"
            };
            format!("hosted zone {} {verb} {vpc}", zone_id(p, resource))
        }
        "ChangeResourceRecordSets" => {
            let changes: Vec<String> = items(get(p, "changeBatch").and_then(|b| get(b, "changes")))
                .into_iter()
                .filter_map(|c| {
                    let set = get(c, "resourceRecordSet")?;
                    Some(format!(
                        "{} {} {}",
                        text_at(c, "action")?,
                        text_at(set, "type").unwrap_or_default(),
                        text_at(set, "name")?.trim_end_matches('.')
                    ))
                })
                .collect();
            format!(
                "hosted zone {}: {}",
                zone_id(p, resource),
                join_or(&changes, "records changed")
            )
        }
        "CreateResolverRule" => {
            let mut s = format!(
                "Resolver rule created: {} {}",
                text_at(p, "ruleType").unwrap_or_else(|| "?".into()),
                text_at(p, "domainName")
                    .unwrap_or_else(|| "?".into())
                    .trim_end_matches('.')
            );
            let targets = target_ips(p);
            if !targets.is_empty() {
                s.push_str(&format!(" to {}", targets.join(", ")));
            }
            s
        }
        "UpdateResolverRule" => {
            let rule = subject("resolverRuleId");
            let targets = get(p, "config").map(target_ips).unwrap_or_default();
            if targets.is_empty() {
                format!("{rule} updated")
            } else {
                format!("{rule} now forwards to {}", targets.join(", "))
            }
        }
        "DeleteResolverRule" => format!("{} deleted", subject("resolverRuleId")),
        "AssociateResolverRule" | "DisassociateResolverRule" => {
            let verb = if event_name.starts_with("Associate") {
                "associated with"
            } else {
                "disassociated from"
            };
            format!(
                "{} {verb} {}",
                subject("resolverRuleId"),
                text_at(p, "vPCId").unwrap_or_else(|| "a VPC".into())
            )
        }
        "AssociateDhcpOptions" => format!(
            "{} now uses DHCP option set {}",
            text_at(p, "vpcId").unwrap_or_else(|| "the VPC".into()),
            subject("dhcpOptionsId")
        ),
        "StopInstances" | "TerminateInstances" | "StartInstances" | "RebootInstances" => {
            let ids: Vec<String> = items(get(p, "instancesSet"))
                .into_iter()
                .filter_map(|i| text_at(i, "instanceId"))
                .collect();
            let verb = match event_name {
                "StopInstances" => "stopped",
                "TerminateInstances" => "terminated",
                "StartInstances" => "started",
                _ => "rebooted",
            };
            format!("{} {verb}", join_or(&ids, resource))
        }
        _ => format!("{event_name} on {resource}"),
    }
}

fn zone_id(p: &Value, resource: &str) -> String {
    text_at(p, "hostedZoneId")
        .or_else(|| text_at(p, "id"))
        .map(|z| z.trim_start_matches("/hostedzone/").to_owned())
        .unwrap_or_else(|| resource.to_owned())
}

fn target_ips(p: &Value) -> Vec<String> {
    items(get(p, "targetIps"))
        .into_iter()
        .filter_map(|t| {
            let ip = text_at(t, "ip").or_else(|| text_at(t, "ipv6"))?;
            Some(match text_at(t, "port") {
                Some(port) => format!("{ip}:{port}"),
                None => ip,
            })
        })
        .collect()
}

// ------------------------------------------------------------ time words

/// `42 min ago`, `3 h ago`, `2 d ago`, `just now`; an event after the collection
/// (clock skew) says `in the future`.
pub fn ago_words(seconds: i64) -> String {
    match seconds {
        s if s < 0 => "in the future".into(),
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 48 * 3600 => {
            let (h, m) = (s / 3600, (s % 3600) / 60);
            if m == 0 || h >= 10 {
                format!("{h} h ago")
            } else {
                format!("{h} h {m} min ago")
            }
        }
        s => format!("{} d ago", s / 86400),
    }
}

/// `2026-12-02T09:31:05Z` → `2026-12-02 09:31 UTC` (other offsets kept as given).
fn short_time(t: &str) -> String {
    if t.len() >= 16 && t.ends_with('Z') {
        format!("{} {} UTC", &t[..10], &t[11..16])
    } else {
        t.to_owned()
    }
}

/// Seconds since the Unix epoch of an RFC 3339 time (`Z` or `±hh:mm`, fractions
/// ignored); None when it does not parse.
pub fn epoch_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &t[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let oh: i64 = o[1..3].parse().ok()?;
            let om: i64 = o[4..6].parse().ok()?;
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

// The scenario builders (feature `scenarios`) give the snapshots the tests need.
#[cfg(all(test, feature = "scenarios"))]
mod tests;
