//! "What changed": cloudtrail:LookupEvents on the resources the failing and warning
//! checks name (`pl_checks::changes` decides which, and whose account owns each).
//!
//! LookupEvents takes one lookup attribute per call, so each resource is one lookup
//! (`ResourceName`), paged with NextToken, in the account that owns it (consumer or
//! provider credentials) and the snapshot's Region (Route 53 hosted zones: us-east-1,
//! where CloudTrail records its global-service events). AWS allows 2 requests per second
//! per account and Region: a client-side limiter spaces the calls. Read events are
//! dropped (ReadOnly cannot be combined with ResourceName, so the filter is ours). Every
//! call runs under the overall `--timeout`; a denied, throttled or late lookup is a
//! missing fact on that resource, never a changed status.

use super::progress::Tracker;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::date_time::Format;
use pl_checks::changes::{ResourceLookup, Side, TrailEvent};
use pl_checks::fact::{Fact, Missing};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// `pl_checks::changes::LOOKUP_ACTION`, spelled out for the operations table's scan.
pub const ACTION: &str = "cloudtrail:LookupEvents";
/// LookupEvents' documented maximum page size.
const PAGE_SIZE: i32 = 50;
/// Pages read per resource at most (1,000 events): beyond that the newest are kept.
const MAX_PAGES: usize = 20;
/// AWS: "2 transactions per second (TPS) per account, per Region" for LookupEvents.
pub const MIN_SPACING: Duration = Duration::from_millis(500);
/// Resources looked up per collection at most (both passes together): at 2 calls per
/// second that is 30 s of lookups; the rest are recorded as not looked up, with why, so a
/// fleet of failing endpoints does not turn every run into a wait for `--timeout`.
pub const MAX_LOOKUPS: usize = 60;
/// Where Route 53 (a global service) records its events.
const GLOBAL_SERVICE_REGION: &str = "us-east-1";

/// Spaces calls per (account, Region) key at [`MIN_SPACING`].
#[derive(Default)]
pub struct Limiter {
    next: Mutex<BTreeMap<String, Instant>>,
}

impl Limiter {
    /// The instant the next call for `key` may start (reserved for the caller).
    pub fn reserve(&self, key: &str) -> Instant {
        let now = Instant::now();
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let slot = next.get(key).copied().unwrap_or(now).max(now);
        next.insert(key.to_owned(), slot + MIN_SPACING);
        slot
    }
}

/// The one limiter of the process: its keys are account/Region, so every collection of a
/// many-account run (and the follow-up lookups after it) shares each account's budget.
fn limiter() -> &'static Limiter {
    static LIMITER: std::sync::OnceLock<Limiter> = std::sync::OnceLock::new();
    LIMITER.get_or_init(Limiter::default)
}

/// The CloudTrail clients of one collection: per side, for the snapshot's Region and for
/// us-east-1 (hosted zones).
pub struct Clients {
    /// None in the provider view without `--consumer-role-name`: the consumer's trail is
    /// not visible.
    consumer: Option<SideClients>,
    provider: Option<SideClients>,
    limiter: &'static Limiter,
    /// Resources asked for so far in this collection (against [`MAX_LOOKUPS`]).
    spent: std::sync::atomic::AtomicUsize,
}

/// One account's trail clients: its configuration's Region and us-east-1.
struct SideClients {
    regional: aws_sdk_cloudtrail::Client,
    global: aws_sdk_cloudtrail::Client,
    /// The configuration's Region: where the regional lookups go, whatever the row's
    /// Region (a cross-region endpoint's service is read in the service's Region).
    region: Option<String>,
}

fn clients_for(config: &aws_config::SdkConfig) -> SideClients {
    let regional = aws_sdk_cloudtrail::Client::new(config);
    let global = aws_sdk_cloudtrail::Client::from_conf(
        aws_sdk_cloudtrail::config::Builder::from(config)
            .region(aws_sdk_cloudtrail::config::Region::new(
                GLOBAL_SERVICE_REGION,
            ))
            .build(),
    );
    SideClients {
        regional,
        global,
        region: config.region().map(|r| r.to_string()),
    }
}

impl Clients {
    pub fn new(consumer: &aws_config::SdkConfig, provider: Option<&aws_config::SdkConfig>) -> Self {
        Self::sides(Some(consumer), provider)
    }

    /// Either side may be out of reach (the provider view reads the consumer's trail only
    /// through `--consumer-role-name`).
    pub fn sides(
        consumer: Option<&aws_config::SdkConfig>,
        provider: Option<&aws_config::SdkConfig>,
    ) -> Self {
        Clients {
            consumer: consumer.map(clients_for),
            provider: provider.map(clients_for),
            limiter: limiter(),
            spent: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

/// One resource to look up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wanted {
    pub resource: String,
    pub side: Side,
    /// Route 53 hosted zone: read in us-east-1.
    pub global: bool,
}

/// The accounts behind each side, for the limiter key and the record.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    pub consumer: Option<String>,
    pub provider: Option<String>,
}

/// Look up every wanted resource, paced per account and Region, all under `deadline`
/// (calls not started by then are recorded as DeadlinePassed).
pub async fn lookup_all(
    tracker: &Tracker,
    clients: &Clients,
    wanted: &[Wanted],
    accounts: &Accounts,
    region: &str,
    window: (aws_smithy_types::DateTime, aws_smithy_types::DateTime),
    deadline: Instant,
) -> Vec<ResourceLookup> {
    if wanted.is_empty() {
        return Vec::new();
    }
    let stage = tracker.stage("changes: CloudTrail");
    let budget = MAX_LOOKUPS.saturating_sub(
        clients
            .spent
            .fetch_add(wanted.len(), std::sync::atomic::Ordering::Relaxed),
    );
    futures_util::future::join_all(wanted.iter().enumerate().map(|(i, w)| async move {
        let account = match w.side {
            Side::Consumer => accounts.consumer.clone(),
            Side::Provider => accounts.provider.clone(),
        };
        if i >= budget {
            return ResourceLookup {
                resource: w.resource.clone(),
                side: w.side,
                account,
                region: region.to_owned(),
                events: Fact::not_requested(format!(
                    "more than {MAX_LOOKUPS} resources named by failing checks in one run (LookupEvents allows 2 calls per second per account and Region); diagnose this endpoint alone with --endpoint"
                )),
            };
        }
        let side = match w.side {
            Side::Consumer => clients.consumer.as_ref(),
            Side::Provider => clients.provider.as_ref(),
        };
        let lookup_region = match (w.global, side) {
            (true, _) => GLOBAL_SERVICE_REGION.to_owned(),
            (false, Some(SideClients { region: Some(r), .. })) => r.clone(),
            (false, _) => region.to_owned(),
        };
        let lookup_region = lookup_region.as_str();
        let events = match side {
            None => Fact::Absent(Missing::NotVisible {
                account: account.clone(),
                hint: match w.side {
                    Side::Provider => "the provider's CloudTrail needs provider access: --provider-profile or --provider-role-arn",
                    Side::Consumer => "the consumer's CloudTrail needs the consumer account's credentials: in the provider view, --consumer-role-name",
                }
                .into(),
            }),
            Some(sc) => {
                let client = if w.global { &sc.global } else { &sc.regional };
                let key = format!(
                    "{}/{lookup_region}",
                    account.clone().unwrap_or_else(|| format!("{:?}", w.side))
                );
                lookup_one(stage, client, clients.limiter, &key, &w.resource, window, deadline)
                    .await
            }
        };
        ResourceLookup {
            resource: w.resource.clone(),
            side: w.side,
            account,
            region: lookup_region.to_owned(),
            events,
        }
    }))
    .await
}

async fn lookup_one(
    stage: super::progress::Stage<'_>,
    trail: &aws_sdk_cloudtrail::Client,
    limiter: &Limiter,
    key: &str,
    resource: &str,
    (start, end): (aws_smithy_types::DateTime, aws_smithy_types::DateTime),
    deadline: Instant,
) -> Fact<Vec<TrailEvent>> {
    let attribute = match LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::ResourceName)
        .attribute_value(resource)
        .build()
    {
        Ok(a) => a,
        Err(e) => {
            return Fact::Absent(Missing::ApiError {
                operation: ACTION.into(),
                message: e.to_string(),
            })
        }
    };
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let slot = limiter.reserve(key);
        // Waiting past the deadline is pointless: the call then fails as DeadlinePassed.
        tokio::time::sleep_until(slot.min(deadline)).await;
        let reply = stage
            .call(
                ACTION,
                trail
                    .lookup_events()
                    .lookup_attributes(attribute.clone())
                    .start_time(start)
                    .end_time(end)
                    .max_results(PAGE_SIZE)
                    .set_next_token(token.take())
                    .send(),
            )
            .await;
        let out = match reply {
            Ok(out) => out,
            Err(f) => return Fact::Absent(f.to_missing()),
        };
        for e in out.events() {
            let mut record: serde_json::Value = e
                .cloud_trail_event()
                .map(|s| serde_json::from_str(s).unwrap_or_else(|_| s.into()))
                .unwrap_or_default();
            without_access_keys(&mut record);
            if !pl_checks::changes::is_write(e.read_only(), &record) {
                continue;
            }
            events.push(TrailEvent {
                event_id: e.event_id().unwrap_or_default().to_owned(),
                event_name: e.event_name().unwrap_or_default().to_owned(),
                event_time: e
                    .event_time()
                    .and_then(|t| t.fmt(Format::DateTime).ok())
                    .unwrap_or_default(),
                event_source: e.event_source().map(str::to_owned),
                username: e.username().map(str::to_owned),
                read_only: e.read_only().map(str::to_owned),
                resources: e
                    .resources()
                    .iter()
                    .filter_map(|r| r.resource_name().map(str::to_owned))
                    .collect(),
                cloud_trail_event: record,
            });
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Fact::Known(events)
}

/// Looks up what the snapshots' failing and warning checks name and their lookups lack,
/// once per account and resource however many rows name it, with each row's account's
/// configuration (`consumer[i]`, None where the consumer side is out of reach) and the
/// service owner's (`provider[i]`), over the window already recorded: for snapshots whose
/// provider side is attached after their collection (many accounts, the provider view).
/// `only`: the checks whose resources count (the provider view's service snapshot shows
/// its service-wide checks only); None for every check.
/// `known`: lookups this run already made (the provider view's service lookups, which its
/// connections name again), used instead of asking again.
/// No-op with `--changes off` (no change facts) or nothing left to look up.
#[allow(clippy::too_many_arguments)]
pub async fn complete_all(
    tracker: &Tracker,
    snapshots: &mut [pl_checks::Snapshot],
    consumer: &[Option<aws_config::SdkConfig>],
    provider: &[Option<aws_config::SdkConfig>],
    options: &pl_checks::EvalOptions,
    only: Option<&[&str]>,
    known: &[ResourceLookup],
    deadline: Instant,
) {
    // (side, account, resource) → the first row naming it; each row's keys.
    type Key = (Side, Option<String>, String);
    let key_of = |l: &ResourceLookup| -> Key { (l.side, l.account.clone(), l.resource.clone()) };
    let mut first: Vec<(Key, usize, Wanted)> = Vec::new();
    let mut per_row: Vec<Vec<Key>> = vec![Vec::new(); snapshots.len()];
    for (i, snapshot) in snapshots.iter().enumerate() {
        let Some(facts) = &snapshot.changes else {
            continue;
        };
        let mut results = pl_checks::report::evaluate(snapshot, options);
        if let Some(only) = only {
            results.retain(|r| only.contains(&r.id.as_str()));
        }
        for (resource, side) in pl_checks::changes::wanted(snapshot, &results) {
            if facts.settled(&resource) {
                continue;
            }
            let account = match side {
                Side::Consumer => snapshot
                    .consumer_identity
                    .known()
                    .map(|i| i.account.clone()),
                Side::Provider => snapshot
                    .provider
                    .identity
                    .known()
                    .map(|i| i.account.clone()),
            };
            let key: Key = (side, account, resource.clone());
            if !first.iter().any(|(k, _, _)| *k == key) && !known.iter().any(|l| key_of(l) == key) {
                first.push((
                    key.clone(),
                    i,
                    Wanted {
                        global: pl_checks::changes::is_hosted_zone(&resource, snapshot),
                        resource,
                        side,
                    },
                ));
            }
            per_row[i].push(key);
        }
    }
    if per_row.iter().all(Vec::is_empty) {
        return;
    }
    let mut found: Vec<(Key, ResourceLookup)> =
        futures_util::future::join_all(first.iter().enumerate().map(|(n, (key, i, w))| {
            let snapshot = &snapshots[*i];
            let window = (
                pl_checks::changes::epoch_seconds(
                    &snapshot.changes.as_ref().map(|f| f.since.clone()).unwrap_or_default(),
                ),
                pl_checks::changes::epoch_seconds(&snapshot.collected_at),
            );
            let accounts = Accounts {
                consumer: snapshot.consumer_identity.known().map(|i| i.account.clone()),
                provider: snapshot.provider.identity.known().map(|i| i.account.clone()),
            };
            let region = snapshot.region.clone();
            let clients = Clients::sides(consumer[*i].as_ref(), provider[*i].as_ref());
            async move {
                let lookup = match window {
                    _ if n >= MAX_LOOKUPS => ResourceLookup {
                        resource: w.resource.clone(),
                        side: w.side,
                        account: key.1.clone(),
                        region: region.clone(),
                        events: Fact::not_requested(format!(
                            "more than {MAX_LOOKUPS} resources named by failing checks in one run (LookupEvents allows 2 calls per second per account and Region); diagnose this endpoint alone with --endpoint"
                        )),
                    },
                    (Some(start), Some(end)) => lookup_all(
                        tracker,
                        &clients,
                        std::slice::from_ref(w),
                        &accounts,
                        &region,
                        (
                            aws_smithy_types::DateTime::from_secs(start),
                            aws_smithy_types::DateTime::from_secs(end + 1),
                        ),
                        deadline,
                    )
                    .await
                    .remove(0),
                    _ => ResourceLookup {
                        resource: w.resource.clone(),
                        side: w.side,
                        account: key.1.clone(),
                        region: region.clone(),
                        events: Fact::not_requested("the snapshot's change window does not parse"),
                    },
                };
                (key.clone(), lookup)
            }
        }))
        .await;
    found.extend(known.iter().map(|l| (key_of(l), l.clone())));
    for (snapshot, keys) in snapshots.iter_mut().zip(per_row) {
        if let Some(facts) = &mut snapshot.changes {
            for key in keys {
                if let Some((_, l)) = found.iter().find(|(k, _)| *k == key) {
                    facts.lookups.retain(|old| old.resource != l.resource);
                    facts.lookups.push(l.clone());
                }
            }
        }
    }
}

/// Snapshots travel with tickets: the access key ids in a record (the caller's and, for an
/// assumed role, its session's) are not kept; who acted stays in the principal's ARN.
fn without_access_keys(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|k, _| !k.eq_ignore_ascii_case("accessKeyId"));
            m.values_mut().for_each(without_access_keys);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_access_keys),
        _ => {}
    }
}

/// The lookup window: `--changes-since` (at most 90 days) before the collection started.
pub fn window(
    collected: time::OffsetDateTime,
    since: Duration,
) -> (
    time::OffsetDateTime,
    aws_smithy_types::DateTime,
    aws_smithy_types::DateTime,
) {
    let since = since.min(Duration::from_secs(pl_checks::changes::MAX_SINCE_SECONDS));
    let start = collected - since;
    (
        start,
        aws_smithy_types::DateTime::from_secs(start.unix_timestamp()),
        aws_smithy_types::DateTime::from_secs(collected.unix_timestamp() + 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_limiter_spaces_calls_per_account_and_region() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let a = l.reserve("111111111111/us-east-1");
        let b = l.reserve("111111111111/us-east-1");
        let c = l.reserve("111111111111/us-east-1");
        let other = l.reserve("222222222222/us-east-1");
        assert_eq!(a - t0, Duration::ZERO);
        assert_eq!(b - t0, MIN_SPACING);
        assert_eq!(c - t0, MIN_SPACING * 2);
        assert_eq!(
            other - t0,
            Duration::ZERO,
            "another account has its own budget"
        );
        // Idle time is not banked: after a pause the next call goes at once, then spaced.
        tokio::time::advance(Duration::from_secs(10)).await;
        let now = Instant::now();
        assert_eq!(l.reserve("111111111111/us-east-1"), now);
        assert_eq!(l.reserve("111111111111/us-east-1") - now, MIN_SPACING);
    }

    #[test]
    fn records_keep_no_access_key_ids() {
        let mut rec = serde_json::json!({
            "userIdentity": {"arn": "arn:aws:sts::1:assumed-role/r/s", "accessKeyId": "ASIAEXAMPLE",
                             "sessionContext": {"x": [{"AccessKeyId": "AKIAEXAMPLE"}]}},
            "requestParameters": {"groupId": "sg-1"}
        });
        without_access_keys(&mut rec);
        let text = rec.to_string();
        assert!(!text.contains("EXAMPLE"), "{text}");
        assert!(
            text.contains("assumed-role") && text.contains("sg-1"),
            "{text}"
        );
    }

    #[test]
    fn the_window_is_capped_at_ninety_days() {
        let now = time::OffsetDateTime::from_unix_timestamp(2_000_000_000).unwrap();
        let (start, s, e) = window(now, Duration::from_secs(3600));
        assert_eq!(start.unix_timestamp(), 2_000_000_000 - 3600);
        assert_eq!(s.secs(), 2_000_000_000 - 3600);
        assert_eq!(e.secs(), 2_000_000_001);
        let (_, s, _) = window(now, Duration::from_secs(400 * 86400));
        assert_eq!(s.secs(), 2_000_000_000 - 90 * 86400);
    }
}
