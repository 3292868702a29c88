//! A fault-injecting reverse proxy on 127.0.0.1 in front of an AWS-compatible API on
//! loopback (the emulator in the fault tests): pl-doctor is pointed at it with
//! `--endpoint-url` and the tests switch faults on and off between runs.
//!
//! Every request is recognised as one AWS call (service from the SigV4 credential
//! scope, operation from the awsQuery `Action`, the `X-Amz-Target` header or the Smithy
//! RPC v2 CBOR path), counted, and then either answered with a fault in that service's
//! own wire format, held back (slow mode), dropped with a TCP reset, or forwarded
//! unchanged to the upstream with the response streamed back.
//!
//! Which calls are faulted is deterministic: a rule with share `p`% faults the k-th call
//! in its scope exactly when `k*p/100` crosses a whole number, so 30% faults calls 4, 7
//! and 10 of every 10, never a random pick.

#![allow(dead_code)] // each test binary uses a different part

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::http::request::Parts;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// What the proxy answers with: the upstream's streamed body or an injected one.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// One kind of fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The service's own throttling error: EC2 `RequestLimitExceeded` (HTTP 503),
    /// `Throttling` (HTTP 400) for the other awsQuery services (ELBv2, STS, CloudWatch),
    /// `ThrottlingException` (HTTP 400) for JSON and CBOR services (CloudWatch Logs).
    Throttle,
    /// HTTP 500 with the service's internal-error body (`InternalError` for EC2,
    /// `InternalFailure` elsewhere).
    InternalError,
    /// HTTP 503 with a `ServiceUnavailable` body.
    ServiceUnavailable,
    /// The request is read, then its TCP connection is closed with a reset (SO_LINGER 0)
    /// and no response.
    ResetRequest,
    /// A newly accepted connection is reset before the proxy reads a byte. It sees no
    /// request, so its scope must be [`Scope::Any`].
    ResetConnection,
    /// The call waits this long (or until [`FaultProxy::release_held`]) before it is
    /// forwarded.
    Delay(Duration),
    /// HTTP 403 `AccessDenied` (STS's answer to an AssumeRole the role's trust policy
    /// does not allow; `UnauthorizedOperation` for EC2).
    AccessDenied,
}

/// Which calls a fault applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Any,
    /// Every operation of one service, by its SigV4 signing name (`ec2`,
    /// `elasticloadbalancing`, `sts`, `monitoring`, `logs`).
    Service(String),
    /// One operation (`DescribeVpcEndpoints`) of whichever service.
    Operation(String),
    /// One operation whose query/form parameter `param` contains `needle` (e.g.
    /// AssumeRole whose `RoleArn` names one account).
    OperationParam {
        operation: String,
        param: String,
        needle: String,
    },
}

/// A fault rule: a kind, the calls it may hit, and the share of those it hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub scope: Scope,
    /// 1..=100.
    pub share_pct: u32,
}

impl Fault {
    fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            scope: Scope::Any,
            share_pct: 100,
        }
    }

    pub fn throttle() -> Fault {
        Fault::new(FaultKind::Throttle)
    }

    pub fn internal_error() -> Fault {
        Fault::new(FaultKind::InternalError)
    }

    pub fn service_unavailable() -> Fault {
        Fault::new(FaultKind::ServiceUnavailable)
    }

    pub fn reset_request() -> Fault {
        Fault::new(FaultKind::ResetRequest)
    }

    pub fn reset_connection() -> Fault {
        Fault::new(FaultKind::ResetConnection)
    }

    pub fn delay(by: Duration) -> Fault {
        Fault::new(FaultKind::Delay(by))
    }

    pub fn access_denied() -> Fault {
        Fault::new(FaultKind::AccessDenied)
    }

    /// Only `operation` calls whose parameter `param` contains `needle`.
    pub fn only_param(mut self, operation: &str, param: &str, needle: &str) -> Fault {
        self.scope = Scope::OperationParam {
            operation: operation.to_string(),
            param: param.to_string(),
            needle: needle.to_string(),
        };
        self
    }

    /// Hit `pct`% of the calls in scope (deterministically; see the module docs).
    pub fn share(mut self, pct: u32) -> Fault {
        assert!((1..=100).contains(&pct), "a share is 1..=100 %, not {pct}");
        self.share_pct = pct;
        self
    }

    pub fn only_service(mut self, service: &str) -> Fault {
        self.scope = Scope::Service(service.to_string());
        self
    }

    pub fn only_operation(mut self, operation: &str) -> Fault {
        self.scope = Scope::Operation(operation.to_string());
        self
    }

    fn covers(&self, call: &Call) -> bool {
        match &self.scope {
            Scope::Any => true,
            Scope::Service(s) => *s == call.service,
            Scope::Operation(o) => *o == call.operation,
            Scope::OperationParam {
                operation,
                param,
                needle,
            } => {
                *operation == call.operation
                    && call.params.get(param).is_some_and(|v| v.contains(needle))
            }
        }
    }
}

/// Whether the k-th call (from 1) in a rule's scope is hit at `pct`%: exactly when
/// `k*pct/100` reaches a new whole number, which spreads the hits evenly.
pub fn hits(k: u64, pct: u32) -> bool {
    let pct = u64::from(pct);
    k >= 1 && (k * pct) / 100 > ((k - 1) * pct) / 100
}

/// Counts for one operation (or a sum of them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Requests that arrived and were read whole.
    pub seen: u64,
    /// Answered with an injected error or reset instead of being forwarded.
    pub faulted: u64,
    /// Held back by a delay rule before being forwarded.
    pub delayed: u64,
    /// Sent to the upstream.
    pub forwarded: u64,
}

impl OpCounts {
    fn add(&mut self, other: &OpCounts) {
        self.seen += other.seen;
        self.faulted += other.faulted;
        self.delayed += other.delayed;
        self.forwarded += other.forwarded;
    }
}

/// A copy of the proxy's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Per `(service, operation)`; unrecognised parts are `"unknown"`.
    pub calls: BTreeMap<(String, String), OpCounts>,
    /// Calls inside a delay right now.
    pub held: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Connections reset by a [`FaultKind::ResetConnection`] rule.
    pub connections_reset: u64,
    /// Calls the upstream failed to answer (answered 502 by the proxy).
    pub upstream_failures: u64,
}

impl Counters {
    /// One operation, summed over the services that have an operation of that name.
    pub fn operation(&self, operation: &str) -> OpCounts {
        self.sum(|(_, op)| op == operation)
    }

    pub fn call(&self, service: &str, operation: &str) -> OpCounts {
        self.sum(|(s, op)| s == service && op == operation)
    }

    pub fn service(&self, service: &str) -> OpCounts {
        self.sum(|(s, _)| s == service)
    }

    pub fn total(&self) -> OpCounts {
        self.sum(|_| true)
    }

    fn sum(&self, mut pick: impl FnMut(&(String, String)) -> bool) -> OpCounts {
        let mut total = OpCounts::default();
        for (key, counts) in &self.calls {
            if pick(key) {
                total.add(counts);
            }
        }
        total
    }
}

/// One call's passage through the proxy, for the latency benchmark
/// (benches/runbook_latency.rs), which derives how many round trips deep a run is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallTiming {
    pub service: String,
    pub operation: String,
    /// The access key id that signed it (one per account session), when signed.
    pub access_key: Option<String>,
    /// When the request had been read whole (before any delay).
    pub arrived: Instant,
    /// When the answer's head was ready to go back (upstream's or injected); `None`
    /// while in flight, or for a call reset without an answer.
    pub answered: Option<Instant>,
}

/// The AWS call a request makes, and the wire protocol its errors must use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub protocol: Protocol,
    /// The query/form parameters (awsQuery and ec2Query calls; empty for the others).
    pub params: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// EC2's dialect of the query protocol (its own error document).
    Ec2Query,
    /// awsQuery (`ErrorResponse` XML); the namespace the service's responses use.
    AwsQuery { xmlns: String },
    /// awsJson1_0 / awsJson1_1, with the request's content type.
    AwsJson { content_type: String },
    /// Smithy RPC v2 CBOR.
    RpcV2Cbor,
}

const UNKNOWN: &str = "unknown";

/// Recognises the AWS call in a request (head and whole body).
pub fn recognise(parts: &Parts, body: &[u8]) -> Call {
    let service = signing_service(parts).unwrap_or_else(|| UNKNOWN.to_string());
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());

    // JSON protocols name the operation in X-Amz-Target: `Logs_20140328.StartQuery`.
    if let Some(target) = header("x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        let content_type = header("content-type")
            .unwrap_or("application/x-amz-json-1.1")
            .to_string();
        return Call {
            service,
            operation,
            protocol: Protocol::AwsJson { content_type },
            params: BTreeMap::new(),
        };
    }

    // Smithy RPC v2 CBOR: `POST /service/<ServiceName>/operation/<Operation>`.
    let segments: Vec<&str> = parts.uri.path().split('/').collect();
    if let ["", "service", _, "operation", op] = segments.as_slice() {
        return Call {
            service,
            operation: (*op).to_string(),
            protocol: Protocol::RpcV2Cbor,
            params: BTreeMap::new(),
        };
    }

    // awsQuery / ec2Query: a form body (or, for GET, the query string).
    let form = if body.is_empty() {
        parts.uri.query().unwrap_or("").as_bytes().to_vec()
    } else {
        body.to_vec()
    };
    let params = form_params(&form);
    let operation = params
        .get("Action")
        .cloned()
        .unwrap_or_else(|| UNKNOWN.to_string());
    let protocol = if service == "ec2" {
        Protocol::Ec2Query
    } else {
        Protocol::AwsQuery {
            xmlns: query_namespace(&service, params.get("Version").map(String::as_str)),
        }
    };
    Call {
        service,
        operation,
        protocol,
        params,
    }
}

/// The service of the SigV4 credential scope:
/// `Credential=AKID/20261124/us-east-1/ec2/aws4_request` → `ec2`.
/// The SigV4 credential scope of a request: `AKID/date/region/service/aws4_request`.
fn credential_scope(parts: &Parts) -> Option<Vec<&str>> {
    let auth = parts.headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let credential = credential
        .split(|c: char| c == ',' || c.is_whitespace())
        .next()?;
    Some(credential.split('/').collect())
}

fn access_key_id(parts: &Parts) -> Option<String> {
    credential_scope(parts)?
        .first()
        .filter(|k| !k.is_empty())
        .map(|k| (*k).to_owned())
}

fn signing_service(parts: &Parts) -> Option<String> {
    let scope = credential_scope(parts)?;
    // AKID / date / region / service / aws4_request
    match scope.as_slice() {
        [.., service, "aws4_request"] if scope.len() >= 5 => Some((*service).to_string()),
        _ => None,
    }
}

fn form_params(form: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(form)
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((percent_decode(k), percent_decode(v)))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The XML namespace of a query service's responses (its error documents use it too).
fn query_namespace(service: &str, version: Option<&str>) -> String {
    match service {
        "elasticloadbalancing" => {
            "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/".to_string()
        }
        "sts" => "https://sts.amazonaws.com/doc/2011-06-15/".to_string(),
        "monitoring" => "http://monitoring.amazonaws.com/doc/2010-08-01/".to_string(),
        other => format!(
            "http://{other}.amazonaws.com/doc/{}/",
            version.unwrap_or("unknown")
        ),
    }
}

/// An injected error: status, code, message, and who is at fault (awsQuery `Type`).
struct ErrorShape {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    sender: bool,
}

const RATE_EXCEEDED: &str = "Rate exceeded";
const INTERNAL_FAILURE: &str =
    "The request processing has failed because of an unknown error, exception or failure.";
const TEMPORARY_FAILURE: &str = "The request has failed due to a temporary failure of the server.";

fn error_shape(kind: &FaultKind, protocol: &Protocol) -> ErrorShape {
    let ec2 = matches!(protocol, Protocol::Ec2Query);
    let query = matches!(protocol, Protocol::AwsQuery { .. });
    match kind {
        // botocore's retry table pairs these codes with these statuses
        // (botocore/data/_retry.json: `RequestLimitExceeded`/503 for ec2,
        // `Throttling`/400 and `ThrottlingException`/400 for the rest).
        FaultKind::Throttle if ec2 => ErrorShape {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "RequestLimitExceeded",
            message: "Request limit exceeded.",
            sender: true,
        },
        FaultKind::Throttle if query => ErrorShape {
            status: StatusCode::BAD_REQUEST,
            code: "Throttling",
            message: RATE_EXCEEDED,
            sender: true,
        },
        FaultKind::Throttle => ErrorShape {
            status: StatusCode::BAD_REQUEST,
            code: "ThrottlingException",
            message: RATE_EXCEEDED,
            sender: true,
        },
        FaultKind::InternalError if ec2 => ErrorShape {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError",
            message: "An internal error has occurred.",
            sender: false,
        },
        FaultKind::InternalError => ErrorShape {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalFailure",
            message: INTERNAL_FAILURE,
            sender: false,
        },
        FaultKind::AccessDenied if ec2 => ErrorShape {
            status: StatusCode::FORBIDDEN,
            code: "UnauthorizedOperation",
            message: "You are not authorized to perform this operation.",
            sender: true,
        },
        // STS's wording for a trust policy that does not allow the caller.
        FaultKind::AccessDenied => ErrorShape {
            status: StatusCode::FORBIDDEN,
            code: "AccessDenied",
            message: "User is not authorized to perform: sts:AssumeRole on resource",
            sender: true,
        },
        _ => ErrorShape {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "ServiceUnavailable",
            message: TEMPORARY_FAILURE,
            sender: false,
        },
    }
}

/// The error response AWS would send for `kind` to `call`.
pub fn error_response(kind: &FaultKind, call: &Call, request_id: &str) -> Response<Full<Bytes>> {
    let shape = error_shape(kind, &call.protocol);
    let fault_type = if shape.sender { "Sender" } else { "Receiver" };
    let mut builder = Response::builder()
        .status(shape.status)
        .header("x-amzn-RequestId", request_id);
    let body: Vec<u8> = match &call.protocol {
        Protocol::Ec2Query => {
            builder = builder.header(CONTENT_TYPE, "text/xml;charset=UTF-8");
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
                shape.code, shape.message, request_id
            )
            .into_bytes()
        }
        Protocol::AwsQuery { xmlns } => {
            builder = builder.header(CONTENT_TYPE, "text/xml");
            format!(
                "<ErrorResponse xmlns=\"{xmlns}\">\n  <Error>\n    <Type>{fault_type}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
                shape.code, shape.message
            )
            .into_bytes()
        }
        Protocol::AwsJson { content_type } => {
            builder = builder.header(CONTENT_TYPE, content_type.as_str());
            builder = query_compatible(builder, call, &shape, fault_type);
            format!(
                "{{\"__type\":\"{}\",\"message\":\"{}\"}}",
                shape.code, shape.message
            )
            .into_bytes()
        }
        Protocol::RpcV2Cbor => {
            builder = builder
                .header(CONTENT_TYPE, "application/cbor")
                .header("smithy-protocol", "rpc-v2-cbor");
            builder = query_compatible(builder, call, &shape, fault_type);
            let mut body = vec![0xa2]; // a map of two entries
            cbor_text(&mut body, "__type");
            cbor_text(&mut body, shape.code);
            cbor_text(&mut body, "message");
            cbor_text(&mut body, shape.message);
            body
        }
    };
    builder
        .body(Full::new(Bytes::from(body)))
        .expect("a valid error response")
}

/// CloudWatch moved from awsQuery to JSON/CBOR keeping its query error codes
/// (`awsQueryCompatible`): clients read them from `x-amzn-query-error: Code;Fault`.
fn query_compatible(
    builder: hyper::http::response::Builder,
    call: &Call,
    shape: &ErrorShape,
    fault_type: &str,
) -> hyper::http::response::Builder {
    if call.service != "monitoring" {
        return builder;
    }
    let code = match shape.code {
        "ThrottlingException" => "Throttling",
        other => other,
    };
    builder.header("x-amzn-query-error", format!("{code};{fault_type}"))
}

/// A CBOR text string (major type 3).
fn cbor_text(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    match len {
        0..=23 => out.push(0x60 | len as u8),
        24..=0xff => out.extend([0x78, len as u8]),
        _ => {
            let len = u16::try_from(len).expect("a short CBOR string");
            out.push(0x79);
            out.extend(len.to_be_bytes());
        }
    }
    out.extend(s.as_bytes());
}

struct Rule {
    fault: Fault,
    /// Calls (or connections) in scope so far: the k of [`hits`].
    in_scope: u64,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    counters: Counters,
    requests: u64,
    /// Per request number (never reset, so a call in flight across a reset is dropped).
    timings: BTreeMap<u64, CallTiming>,
}

struct Shared {
    upstream: SocketAddr,
    state: Mutex<State>,
    /// Woken on every counter change, for [`FaultProxy::wait_for`].
    changed: Notify,
    /// Ends every delay in progress.
    release: Notify,
}

/// What to do with one call.
enum Decision {
    Forward,
    Answer(FaultKind),
    Reset,
    Delay(Duration),
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the counters from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.notify_waiters();
        out
    }

    fn count(&self, call: &Call, f: impl FnOnce(&mut OpCounts)) {
        self.update(|s| f(s.counters.calls.entry(key(call)).or_default()));
    }

    /// Counts the call as seen and lets every rule in scope count it; the first rule
    /// (in the order given) whose share hits it decides.
    fn decide(&self, call: &Call, access_key: Option<String>) -> (Decision, String, u64) {
        self.update(|s| {
            s.requests += 1;
            let number = s.requests;
            s.timings.insert(
                number,
                CallTiming {
                    service: call.service.clone(),
                    operation: call.operation.clone(),
                    access_key,
                    arrived: Instant::now(),
                    answered: None,
                },
            );
            let request_id = format!("fa017000-0000-4000-8000-{:012x}", s.requests);
            s.counters.calls.entry(key(call)).or_default().seen += 1;
            let mut decision = Decision::Forward;
            for rule in s.rules.iter_mut() {
                if rule.fault.kind == FaultKind::ResetConnection || !rule.fault.covers(call) {
                    continue;
                }
                rule.in_scope += 1;
                if matches!(decision, Decision::Forward)
                    && hits(rule.in_scope, rule.fault.share_pct)
                {
                    decision = match &rule.fault.kind {
                        FaultKind::ResetRequest => Decision::Reset,
                        FaultKind::Delay(d) => Decision::Delay(*d),
                        kind => Decision::Answer(kind.clone()),
                    };
                }
            }
            (decision, request_id, number)
        })
    }

    fn answered(&self, number: u64) {
        let mut s = self.lock();
        if let Some(t) = s.timings.get_mut(&number) {
            t.answered = Some(Instant::now());
        }
    }

    /// Whether a newly accepted connection is reset at once.
    fn reset_on_accept(&self) -> bool {
        self.update(|s| {
            s.counters.connections += 1;
            let mut reset = false;
            for rule in s.rules.iter_mut() {
                if rule.fault.kind == FaultKind::ResetConnection {
                    rule.in_scope += 1;
                    reset |= hits(rule.in_scope, rule.fault.share_pct);
                }
            }
            if reset {
                s.counters.connections_reset += 1;
            }
            reset
        })
    }
}

fn key(call: &Call) -> (String, String) {
    (call.service.clone(), call.operation.clone())
}

/// Aborts a task when dropped, so nothing the proxy started outlives it.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The proxy. Dropping it stops the listener and every connection and upstream task.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _accept: AbortOnDrop,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 (a port the kernel picks) and forwards to `upstream`, which
    /// must be a loopback address: the fault tests never send anything off the machine.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        assert!(
            upstream.ip().is_loopback(),
            "the fault proxy forwards to loopback only, not {upstream}"
        );
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the fault proxy on 127.0.0.1");
        let addr = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            release: Notify::new(),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        FaultProxy {
            addr,
            shared,
            _accept: AbortOnDrop(accept),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, for `--endpoint-url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// Replaces the fault rules; each starts counting its calls from zero.
    pub fn set_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        let rules: Vec<Rule> = faults
            .into_iter()
            .map(|fault| {
                assert!(
                    fault.kind != FaultKind::ResetConnection || fault.scope == Scope::Any,
                    "a connection is reset before any request is read, so it has no service or operation to scope by"
                );
                Rule { fault, in_scope: 0 }
            })
            .collect();
        self.shared.update(|s| s.rules = rules);
    }

    /// Plain pass-through from now on.
    pub fn clear_faults(&self) {
        self.set_faults([]);
    }

    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// Zeroes the counters (not the rules' positions in their share pattern).
    pub fn reset_counters(&self) {
        self.shared.update(|s| {
            let held = s.counters.held;
            s.counters = Counters {
                held,
                ..Counters::default()
            };
            s.timings.clear();
        });
    }

    /// Every call since the last [`FaultProxy::reset_counters`], in arrival order.
    pub fn timings(&self) -> Vec<CallTiming> {
        self.shared.lock().timings.values().cloned().collect()
    }

    /// Ends every delay now in progress: those calls are forwarded at once.
    pub fn release_held(&self) {
        self.shared.release.notify_waiters();
    }

    /// Returns once `condition` holds for the counters. No timeout of its own: wrap it
    /// in `tokio::time::timeout` as a guard against a hang.
    pub async fn wait_for(&self, condition: impl Fn(&Counters) -> bool) {
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so no change between check and wait is lost.
            changed.as_mut().enable();
            if condition(&self.counters()) {
                return;
            }
            changed.await;
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Owned here: when the proxy aborts this task, dropping the set aborts every
    // connection task, and with them their upstream connections and held calls.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if shared.reset_on_accept() {
                    reset(&stream);
                    drop(stream);
                    continue;
                }
                connections.spawn(serve_connection(stream, shared.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// SO_LINGER 0: the close that follows sends RST instead of FIN.
fn reset(socket: &impl AsFd) {
    let _ = socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO));
}

/// One downstream connection, and (lazily) its own upstream connection.
struct Connection {
    shared: Arc<Shared>,
    upstream: tokio::sync::Mutex<Option<UpstreamConn>>,
    /// Told by a request that its connection must be reset.
    reset: Notify,
}

struct UpstreamConn {
    sender: SendRequest<Full<Bytes>>,
    _driver: AbortOnDrop,
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    // A second descriptor of the same socket, so the socket can be switched to reset on
    // close while hyper owns the stream.
    let Ok(socket) = stream.as_fd().try_clone_to_owned() else {
        return;
    };
    let conn = Arc::new(Connection {
        shared,
        upstream: tokio::sync::Mutex::new(None),
        reset: Notify::new(),
    });
    let service = {
        let conn = conn.clone();
        service_fn(move |req| handle(req, conn.clone()))
    };
    let serving = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = serving => {}
        _ = conn.reset.notified() => reset(&socket),
    }
    // Both descriptors are closed here; the last close sends the RST if asked to.
    drop::<OwnedFd>(socket);
}

async fn handle(
    req: Request<Incoming>,
    conn: Arc<Connection>,
) -> Result<Response<ProxyBody>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let call = recognise(&parts, &body);
    let shared = &conn.shared;
    let (decision, request_id, number) = shared.decide(&call, access_key_id(&parts));
    match decision {
        Decision::Answer(kind) => {
            shared.count(&call, |c| c.faulted += 1);
            shared.answered(number);
            return Ok(error_response(&kind, &call, &request_id).map(boxed_full));
        }
        Decision::Reset => {
            shared.count(&call, |c| c.faulted += 1);
            conn.reset.notify_one();
            // The connection task closes the socket; this request never gets an answer.
            return std::future::pending().await;
        }
        Decision::Delay(by) => {
            let released = shared.release.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            shared.update(|s| {
                s.counters.calls.entry(key(&call)).or_default().delayed += 1;
                s.counters.held += 1;
            });
            // Counted out on drop too: the client may hang up while its call is held.
            let _held = Held(shared);
            tokio::select! {
                _ = tokio::time::sleep(by) => {}
                _ = released => {}
            }
        }
        Decision::Forward => {}
    }
    shared.count(&call, |c| c.forwarded += 1);
    let forwarded = forward(&conn, &parts, body).await;
    shared.answered(number);
    match forwarded {
        Ok(response) => Ok(response.map(BodyExt::boxed)),
        Err(e) => {
            shared.update(|s| s.counters.upstream_failures += 1);
            let mut response = Response::new(boxed_full(Full::new(Bytes::from(format!(
                "fault proxy: upstream {} failed: {e}",
                shared.upstream
            )))));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            Ok(response)
        }
    }
}

/// A call inside a delay, for the `held` gauge.
struct Held<'a>(&'a Shared);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.update(|s| s.counters.held -= 1);
    }
}

fn boxed_full(body: Full<Bytes>) -> ProxyBody {
    body.map_err(|never| match never {}).boxed()
}

/// Sends the request, unchanged, to the upstream over this connection's upstream
/// connection; a fresh one is opened when there is none or the upstream closed it.
async fn forward(
    conn: &Connection,
    parts: &Parts,
    body: Bytes,
) -> Result<Response<Incoming>, Box<dyn std::error::Error + Send + Sync>> {
    let build = || {
        let mut req = Request::new(Full::new(body.clone()));
        *req.method_mut() = parts.method.clone();
        // Origin form only: whatever host or absolute URI the client named, the request
        // goes to the configured upstream and nowhere else.
        *req.uri_mut() = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/")
            .parse()
            .expect("a path and query is a valid URI");
        *req.version_mut() = hyper::Version::HTTP_11;
        *req.headers_mut() = parts.headers.clone();
        req
    };
    let mut upstream = conn.upstream.lock().await;
    let mut req = build();
    // One retry on a fresh connection, only for a request the upstream never received
    // (it closed an idle keep-alive connection just as this request came).
    for attempt in 0..2 {
        let usable = match upstream.as_mut() {
            Some(u) => !u.sender.is_closed() && u.sender.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            *upstream = Some(connect(conn.shared.upstream).await?);
        }
        let fresh = !usable;
        let u = upstream.as_mut().expect("connected above");
        match u.sender.try_send_request(req).await {
            Ok(response) => return Ok(response),
            Err(mut e) => match e.take_message() {
                Some(unsent) if attempt == 0 && !fresh => {
                    *upstream = None;
                    req = unsent;
                }
                _ => return Err(e.into_error().into()),
            },
        }
    }
    unreachable!("the second attempt returns")
}

async fn connect(
    upstream: SocketAddr,
) -> Result<UpstreamConn, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(upstream).await?;
    stream.set_nodelay(true)?;
    let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(async move {
        let _ = driver.await;
    });
    Ok(UpstreamConn {
        sender,
        _driver: AbortOnDrop(driver),
    })
}
