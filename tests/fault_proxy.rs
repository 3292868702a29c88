//! The fault-injecting proxy of the fault tests (tests/support/fault_proxy.rs), checked
//! against a small AWS-like upstream on loopback through a real HTTP client: it passes
//! calls through unchanged, recognises each AWS call, and injects exactly the faults it
//! is told to, in each service's own wire format. Nothing here leaves 127.0.0.1.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::fault_proxy::{hits, Counters, Fault, FaultProxy, OpCounts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Only a guard against a hang; no assertion depends on it.
const HANG_GUARD: Duration = Duration::from_secs(20);

/// What the upstream answers every call with, as EC2 would shape it.
const UPSTREAM_BODY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeVpcEndpointsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n    <requestId>6f1e5a3c-0000-4000-8000-000000000001</requestId>\n    <vpcEndpointSet/>\n</DescribeVpcEndpointsResponse>";

/// A request as the upstream received it.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A tiny AWS-like HTTP/1.1 server on 127.0.0.1 that answers [`UPSTREAM_BODY`] to
/// everything and records what it received.
struct Upstream {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Upstream {
    async fn start() -> Upstream {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await?.to_bytes();
                        log.lock().unwrap().push(Received {
                            method: parts.method.to_string(),
                            uri: parts.uri.to_string(),
                            headers: parts.headers,
                            body,
                        });
                        Ok::<_, hyper::Error>(
                            Response::builder()
                                .header("content-type", "text/xml;charset=UTF-8")
                                .header("x-amzn-requestid", "6f1e5a3c-0000-4000-8000-000000000001")
                                .body(Full::new(Bytes::from_static(UPSTREAM_BODY.as_bytes())))
                                .unwrap(),
                        )
                    }
                });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Upstream {
            addr,
            received,
            task,
        }
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn actions(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| {
                let body = String::from_utf8_lossy(&r.body).into_owned();
                body.split('&')
                    .find_map(|p| p.strip_prefix("Action=").map(str::to_string))
                    .unwrap_or_default()
            })
            .collect()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A keep-alive HTTP/1.1 client, as the AWS SDK's.
fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A client that opens a new connection for every request.
fn client_without_reuse() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http()
}

fn authorization(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/{service}/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
}

/// An awsQuery/ec2Query call, shaped as the SDK sends it.
fn query_call(
    proxy: &FaultProxy,
    service: &str,
    action: &str,
    version: &str,
) -> Request<Full<Bytes>> {
    let body = format!("Action={action}&Version={version}&VpcEndpointId.1=vpce-0a1b2c3d4e5f60718");
    Request::post(format!("{}/", proxy.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-amz-date", "20261124T101500Z")
        .header("authorization", authorization(service))
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn ec2(proxy: &FaultProxy, action: &str) -> Request<Full<Bytes>> {
    query_call(proxy, "ec2", action, "2016-11-15")
}

fn elb(proxy: &FaultProxy, action: &str) -> Request<Full<Bytes>> {
    query_call(proxy, "elasticloadbalancing", action, "2015-12-01")
}

fn sts(proxy: &FaultProxy, action: &str) -> Request<Full<Bytes>> {
    query_call(proxy, "sts", action, "2011-06-15")
}

/// Status, headers and whole body of a response.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("a UTF-8 body")
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }
}

async fn send(client: &HttpClient, req: Request<Full<Bytes>>) -> Result<Answer, String> {
    let call = async {
        let response = client.request(req).await.map_err(|e| error_chain(&e))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| error_chain(&e))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(HANG_GUARD, call)
        .await
        .expect("the call hung")
}

async fn ok(client: &HttpClient, req: Request<Full<Bytes>>) -> Answer {
    send(client, req).await.expect("the call succeeds")
}

/// The error and its sources, and whether an I/O error among them is a reset.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            out.push_str(&format!(" [io: {:?}]", io.kind()));
        }
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

/// Element paths (`Response/Errors/Error/Code`) to their text, from a real XML
/// tokenizer; panics on XML that is not well formed.
fn xml_fields(xml: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut stack: Vec<String> = Vec::new();
    let mut texts = BTreeMap::new();
    let mut attributes = BTreeMap::new();
    for token in xmlparser::Tokenizer::from(xml) {
        match token.expect("well-formed XML") {
            xmlparser::Token::ElementStart { local, .. } => stack.push(local.to_string()),
            xmlparser::Token::Attribute { local, value, .. } => {
                attributes.insert(format!("{}@{}", stack.join("/"), local), value.to_string());
            }
            xmlparser::Token::ElementEnd { end, .. } => match end {
                xmlparser::ElementEnd::Open => {}
                xmlparser::ElementEnd::Empty => {
                    stack.pop();
                }
                xmlparser::ElementEnd::Close(_, local) => {
                    let open = stack.pop().expect("a closing tag closes an open one");
                    assert_eq!(open, local.as_str(), "mismatched tags in {xml}");
                }
            },
            xmlparser::Token::Text { text } if !text.trim().is_empty() => {
                texts.insert(stack.join("/"), text.to_string());
            }
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?} in {xml}");
    (texts, attributes)
}

async fn start() -> (Upstream, FaultProxy) {
    let upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await;
    (upstream, proxy)
}

#[test]
fn a_share_hits_evenly_and_exactly() {
    let hit_at = |pct: u32, calls: u64| (1..=calls).filter(|&k| hits(k, pct)).collect::<Vec<_>>();
    assert_eq!(hit_at(30, 10), vec![4, 7, 10]);
    assert_eq!(hit_at(30, 100).len(), 30);
    assert_eq!(hit_at(50, 4), vec![2, 4]);
    assert_eq!(hit_at(100, 5), vec![1, 2, 3, 4, 5]);
    assert_eq!(hit_at(1, 100), vec![100]);
    assert_eq!(hit_at(25, 1000).len(), 250);
}

#[tokio::test]
async fn passes_calls_through_unchanged_over_one_kept_alive_connection() {
    let (upstream, proxy) = start().await;
    let client = client();

    for action in [
        "DescribeVpcEndpoints",
        "DescribeSubnets",
        "DescribeVpcEndpoints",
    ] {
        let sent = ec2(&proxy, action);
        let sent_headers = sent.headers().clone();
        let sent_body =
            format!("Action={action}&Version=2016-11-15&VpcEndpointId.1=vpce-0a1b2c3d4e5f60718");
        let answer = ok(&client, sent).await;

        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.body,
            UPSTREAM_BODY.as_bytes(),
            "the body comes back byte for byte"
        );
        assert_eq!(answer.header("content-type"), "text/xml;charset=UTF-8");
        assert_eq!(
            answer.header("x-amzn-requestid"),
            "6f1e5a3c-0000-4000-8000-000000000001"
        );

        let got = upstream
            .received()
            .pop()
            .expect("the upstream saw the call");
        assert_eq!(got.method, "POST");
        assert_eq!(got.uri, "/");
        assert_eq!(
            got.body,
            sent_body.as_bytes(),
            "the request body arrives byte for byte"
        );
        for name in ["authorization", "x-amz-date", "content-type"] {
            assert_eq!(got.headers.get(name), sent_headers.get(name), "{name}");
        }
        assert_eq!(
            got.headers.get("host").unwrap(),
            &proxy.addr().to_string(),
            "the signed Host header is left as the client sent it"
        );
    }

    let counters = proxy.counters();
    assert_eq!(
        counters.call("ec2", "DescribeVpcEndpoints"),
        OpCounts {
            seen: 2,
            faulted: 0,
            delayed: 0,
            forwarded: 2
        }
    );
    assert_eq!(counters.operation("DescribeSubnets").forwarded, 1);
    assert_eq!(
        counters.connections, 1,
        "the client's connection is kept alive"
    );
    assert_eq!(upstream.count(), 3);
}

#[tokio::test]
async fn recognises_services_and_operations_of_every_protocol() {
    let (upstream, proxy) = start().await;
    let client = client();

    ok(&client, ec2(&proxy, "DescribeVpcEndpoints")).await;
    ok(&client, elb(&proxy, "DescribeTargetHealth")).await;
    ok(&client, sts(&proxy, "GetCallerIdentity")).await;
    // awsJson: the operation is in X-Amz-Target.
    let logs = Request::post(format!("{}/", proxy.url()))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "Logs_20140328.StartQuery")
        .header("authorization", authorization("logs"))
        .body(Full::new(Bytes::from_static(
            b"{\"logGroupName\":\"flow\"}",
        )))
        .unwrap();
    ok(&client, logs).await;
    // Smithy RPC v2 CBOR: the operation is in the path.
    let cloudwatch = Request::post(format!(
        "{}/service/GraniteServiceVersion20100801/operation/GetMetricData",
        proxy.url()
    ))
    .header("content-type", "application/cbor")
    .header("smithy-protocol", "rpc-v2-cbor")
    .header("authorization", authorization("monitoring"))
    .body(Full::new(Bytes::from_static(&[0xa0])))
    .unwrap();
    ok(&client, cloudwatch).await;
    // Not an AWS call at all.
    ok(
        &client,
        Request::get(format!("{}/health", proxy.url()))
            .body(Full::default())
            .unwrap(),
    )
    .await;

    let calls: Vec<(String, String)> = proxy.counters().calls.keys().cloned().collect();
    let expected: Vec<(String, String)> = [
        ("ec2", "DescribeVpcEndpoints"),
        ("elasticloadbalancing", "DescribeTargetHealth"),
        ("logs", "StartQuery"),
        ("monitoring", "GetMetricData"),
        ("sts", "GetCallerIdentity"),
        ("unknown", "unknown"),
    ]
    .iter()
    .map(|(s, o)| (s.to_string(), o.to_string()))
    .collect();
    assert_eq!(calls, expected);
    assert_eq!(upstream.count(), 6);
}

#[tokio::test]
async fn thirty_percent_throttling_hits_exactly_three_of_ten_calls_of_the_named_operation_only() {
    let (upstream, proxy) = start().await;
    let client = client();
    proxy.set_faults([Fault::throttle()
        .share(30)
        .only_operation("DescribeVpcEndpoints")]);

    let mut throttled_at = Vec::new();
    for k in 1..=10 {
        let answer = ok(&client, ec2(&proxy, "DescribeVpcEndpoints")).await;
        if answer.status != StatusCode::OK {
            assert!(answer.text().contains("<Code>RequestLimitExceeded</Code>"));
            throttled_at.push(k);
        }
        let other = ok(&client, ec2(&proxy, "DescribeSubnets")).await;
        assert_eq!(
            other.status,
            StatusCode::OK,
            "another operation is never throttled"
        );
    }

    assert_eq!(throttled_at, vec![4, 7, 10]);
    let counters = proxy.counters();
    assert_eq!(
        counters.operation("DescribeVpcEndpoints"),
        OpCounts {
            seen: 10,
            faulted: 3,
            delayed: 0,
            forwarded: 7
        }
    );
    assert_eq!(
        counters.operation("DescribeSubnets"),
        OpCounts {
            seen: 10,
            faulted: 0,
            delayed: 0,
            forwarded: 10
        }
    );
    let actions = upstream.actions();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "DescribeVpcEndpoints")
            .count(),
        7
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "DescribeSubnets").count(),
        10
    );

    // Switched off between runs: everything passes again.
    proxy.clear_faults();
    proxy.reset_counters();
    for _ in 0..5 {
        assert_eq!(
            ok(&client, ec2(&proxy, "DescribeVpcEndpoints"))
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(proxy.counters().total().faulted, 0);
}

#[tokio::test]
async fn ec2_is_throttled_with_its_own_error_document_and_503() {
    let (upstream, proxy) = start().await;
    let client = client();
    proxy.set_faults([Fault::throttle()]);

    let answer = ok(&client, ec2(&proxy, "DescribeVpcEndpoints")).await;

    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.header("content-type"), "text/xml;charset=UTF-8");
    let (fields, _) = xml_fields(&answer.text());
    assert_eq!(fields["Response/Errors/Error/Code"], "RequestLimitExceeded");
    assert_eq!(
        fields["Response/Errors/Error/Message"],
        "Request limit exceeded."
    );
    assert_eq!(
        fields["Response/RequestID"],
        answer.header("x-amzn-requestid")
    );
    assert_eq!(
        fields.len(),
        3,
        "nothing but code, message and request id: {fields:?}"
    );
    assert_eq!(
        upstream.count(),
        0,
        "a throttled call never reaches the upstream"
    );
}

#[tokio::test]
async fn query_services_are_throttled_with_a_sender_throttling_error_and_400() {
    let (upstream, proxy) = start().await;
    let client = client();
    proxy.set_faults([
        Fault::throttle().only_service("elasticloadbalancing"),
        Fault::throttle().only_service("sts"),
    ]);

    for (req, xmlns) in [
        (
            elb(&proxy, "DescribeLoadBalancers"),
            "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
        ),
        (
            sts(&proxy, "GetCallerIdentity"),
            "https://sts.amazonaws.com/doc/2011-06-15/",
        ),
    ] {
        let answer = ok(&client, req).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.header("content-type"), "text/xml");
        let (fields, attributes) = xml_fields(&answer.text());
        assert_eq!(attributes["ErrorResponse@xmlns"], xmlns);
        assert_eq!(fields["ErrorResponse/Error/Type"], "Sender");
        assert_eq!(fields["ErrorResponse/Error/Code"], "Throttling");
        assert_eq!(fields["ErrorResponse/Error/Message"], "Rate exceeded");
        assert_eq!(
            fields["ErrorResponse/RequestId"],
            answer.header("x-amzn-requestid")
        );
    }

    // Limited to those services: EC2 passes.
    assert_eq!(
        ok(&client, ec2(&proxy, "DescribeVpcEndpoints"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(upstream.actions(), vec!["DescribeVpcEndpoints"]);
    assert_eq!(proxy.counters().service("elasticloadbalancing").faulted, 1);
    assert_eq!(proxy.counters().service("sts").faulted, 1);
}

/// A CBOR map of text strings to text strings (all an RPC v2 error body is).
fn cbor_text_map(bytes: &[u8]) -> BTreeMap<String, String> {
    fn text(bytes: &[u8], at: &mut usize) -> String {
        let head = bytes[*at];
        assert_eq!(head >> 5, 3, "a text string");
        let (len, skip) = match head & 0x1f {
            n @ 0..=23 => (n as usize, 1),
            24 => (bytes[*at + 1] as usize, 2),
            25 => (
                u16::from_be_bytes([bytes[*at + 1], bytes[*at + 2]]) as usize,
                3,
            ),
            other => panic!("unexpected length encoding {other}"),
        };
        let s = std::str::from_utf8(&bytes[*at + skip..*at + skip + len])
            .unwrap()
            .to_string();
        *at += skip + len;
        s
    }
    assert_eq!(bytes[0] >> 5, 5, "a map");
    let entries = (bytes[0] & 0x1f) as usize;
    let mut at = 1;
    let mut map = BTreeMap::new();
    for _ in 0..entries {
        let k = text(bytes, &mut at);
        let v = text(bytes, &mut at);
        map.insert(k, v);
    }
    assert_eq!(at, bytes.len(), "nothing after the map");
    map
}

#[tokio::test]
async fn json_and_cbor_services_are_throttled_in_their_own_protocol() {
    let (upstream, proxy) = start().await;
    let client = client();
    proxy.set_faults([
        Fault::throttle().only_service("logs"),
        Fault::throttle().only_service("monitoring"),
    ]);

    let logs = Request::post(format!("{}/", proxy.url()))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "Logs_20140328.StartQuery")
        .header("authorization", authorization("logs"))
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let answer = ok(&client, logs).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.header("content-type"), "application/x-amz-json-1.1");
    assert_eq!(
        answer.text(),
        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#
    );

    let cloudwatch = Request::post(format!(
        "{}/service/GraniteServiceVersion20100801/operation/GetMetricData",
        proxy.url()
    ))
    .header("content-type", "application/cbor")
    .header("smithy-protocol", "rpc-v2-cbor")
    .header("authorization", authorization("monitoring"))
    .body(Full::new(Bytes::from_static(&[0xa0])))
    .unwrap();
    let answer = ok(&client, cloudwatch).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.header("content-type"), "application/cbor");
    assert_eq!(answer.header("smithy-protocol"), "rpc-v2-cbor");
    assert_eq!(answer.header("x-amzn-query-error"), "Throttling;Sender");
    let body = cbor_text_map(&answer.body);
    assert_eq!(body["__type"], "ThrottlingException");
    assert_eq!(body["message"], "Rate exceeded");

    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn server_errors_hit_only_the_named_operation() {
    let (upstream, proxy) = start().await;
    let client = client();

    proxy.set_faults([Fault::internal_error().only_operation("DescribeNetworkAcls")]);
    let answer = ok(&client, ec2(&proxy, "DescribeNetworkAcls")).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    let (fields, _) = xml_fields(&answer.text());
    assert_eq!(fields["Response/Errors/Error/Code"], "InternalError");
    assert_eq!(
        ok(&client, ec2(&proxy, "DescribeSubnets")).await.status,
        StatusCode::OK
    );

    proxy.set_faults([Fault::service_unavailable().only_operation("DescribeTargetHealth")]);
    let answer = ok(&client, elb(&proxy, "DescribeTargetHealth")).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let (fields, _) = xml_fields(&answer.text());
    assert_eq!(fields["ErrorResponse/Error/Type"], "Receiver");
    assert_eq!(fields["ErrorResponse/Error/Code"], "ServiceUnavailable");
    let answer = ok(&client, ec2(&proxy, "DescribeVpcEndpoints")).await;
    assert_eq!(answer.status, StatusCode::OK);

    proxy.set_faults([Fault::internal_error().only_service("elasticloadbalancing")]);
    let answer = ok(&client, elb(&proxy, "DescribeListeners")).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    let (fields, _) = xml_fields(&answer.text());
    assert_eq!(fields["ErrorResponse/Error/Code"], "InternalFailure");

    assert_eq!(
        upstream.actions(),
        vec!["DescribeSubnets", "DescribeVpcEndpoints"]
    );
    let counters = proxy.counters();
    assert_eq!(counters.total().faulted, 3);
    assert_eq!(counters.total().forwarded, 2);
}

#[tokio::test]
async fn a_reset_request_ends_in_a_connection_error_at_the_client() {
    let (upstream, proxy) = start().await;
    let client = client();
    // Warm connection first: the reset must also work on a kept-alive connection.
    ok(&client, ec2(&proxy, "DescribeSubnets")).await;
    proxy.set_faults([Fault::reset_request().only_operation("DescribeVpcEndpoints")]);

    let err = send(&client, ec2(&proxy, "DescribeVpcEndpoints"))
        .await
        .err()
        .expect("the call fails");
    assert!(
        err.contains("[io: ConnectionReset]"),
        "a TCP reset, not a clean close: {err}"
    );

    // Other operations go on, over a new connection.
    assert_eq!(
        ok(&client, ec2(&proxy, "DescribeSubnets")).await.status,
        StatusCode::OK
    );
    let counters = proxy.counters();
    assert_eq!(counters.operation("DescribeVpcEndpoints").faulted, 1);
    assert_eq!(counters.operation("DescribeVpcEndpoints").forwarded, 0);
    assert_eq!(counters.connections, 2);
    assert_eq!(
        upstream.actions(),
        vec!["DescribeSubnets", "DescribeSubnets"]
    );
}

#[tokio::test]
async fn a_share_of_connections_is_reset_before_any_request_is_read() {
    let (upstream, proxy) = start().await;
    let client = client_without_reuse();
    proxy.set_faults([Fault::reset_connection().share(50)]);

    let mut outcomes = Vec::new();
    for _ in 0..4 {
        outcomes.push(
            send(&client, ec2(&proxy, "DescribeVpcEndpoints"))
                .await
                .is_ok(),
        );
    }

    assert_eq!(outcomes, vec![true, false, true, false]);
    let counters = proxy.counters();
    assert_eq!(counters.connections, 4);
    assert_eq!(counters.connections_reset, 2);
    assert_eq!(
        counters.total().seen,
        2,
        "a reset connection's request is never read"
    );
    assert_eq!(upstream.count(), 2);
}

#[tokio::test]
async fn a_reset_connection_cannot_be_scoped_to_an_operation() {
    let (_upstream, proxy) = start().await;
    let scoped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        proxy.set_faults([Fault::reset_connection().only_operation("DescribeVpcEndpoints")])
    }));
    assert!(scoped.is_err());
}

#[tokio::test]
async fn a_slow_call_reaches_the_upstream_only_once_released() {
    let (upstream, proxy) = start().await;
    let client = client();
    proxy.set_faults([
        Fault::delay(Duration::from_secs(3600)).only_operation("DescribeVpcEndpoints")
    ]);

    let in_flight = {
        let client = client.clone();
        let req = ec2(&proxy, "DescribeVpcEndpoints");
        tokio::spawn(async move { send(&client, req).await })
    };
    tokio::time::timeout(HANG_GUARD, proxy.wait_for(|c| c.held == 1))
        .await
        .expect("the call is held");
    assert_eq!(upstream.count(), 0, "held back, not forwarded");
    assert_eq!(
        proxy.counters().operation("DescribeVpcEndpoints").forwarded,
        0
    );

    // Other operations are not slowed (a second connection: the first is busy).
    assert_eq!(
        ok(&client, ec2(&proxy, "DescribeSubnets")).await.status,
        StatusCode::OK
    );
    assert_eq!(upstream.actions(), vec!["DescribeSubnets"]);

    proxy.release_held();
    let answer = in_flight.await.unwrap().expect("the held call is answered");
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, UPSTREAM_BODY.as_bytes());
    assert_eq!(
        upstream.actions(),
        vec!["DescribeSubnets", "DescribeVpcEndpoints"]
    );
    let counters = proxy.counters();
    assert_eq!(
        counters.operation("DescribeVpcEndpoints"),
        OpCounts {
            seen: 1,
            faulted: 0,
            delayed: 1,
            forwarded: 1
        }
    );
    assert_eq!(counters.operation("DescribeSubnets").delayed, 0);
    assert_eq!(counters.held, 0);
}

#[tokio::test]
async fn a_client_hanging_up_on_a_held_call_lets_it_go() {
    let (upstream, proxy) = start().await;
    proxy.set_faults([Fault::delay(Duration::from_secs(3600))]);
    let body = "Action=DescribeVpcEndpoints&Version=2016-11-15";
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        proxy.addr(),
        authorization("ec2"),
        body.len()
    );
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::timeout(HANG_GUARD, proxy.wait_for(|c| c.held == 1))
        .await
        .expect("the call is held");

    drop(stream);

    tokio::time::timeout(HANG_GUARD, proxy.wait_for(|c| c.held == 0))
        .await
        .expect("the abandoned call is no longer held");
    assert_eq!(proxy.counters().total().forwarded, 0);
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn a_short_delay_runs_out_by_itself() {
    let (upstream, proxy) = start().await;
    let client = client();
    proxy.set_faults([Fault::delay(Duration::from_millis(50))]);

    for _ in 0..3 {
        assert_eq!(
            ok(&client, ec2(&proxy, "DescribeVpcEndpoints"))
                .await
                .status,
            StatusCode::OK
        );
    }

    let counters = proxy.counters();
    assert_eq!(counters.total().delayed, 3);
    assert_eq!(counters.total().forwarded, 3);
    assert_eq!(counters.held, 0);
    assert_eq!(upstream.count(), 3);
}

#[tokio::test]
async fn whatever_host_a_request_names_it_goes_to_the_upstream() {
    let (upstream, proxy) = start().await;
    // An absolute-form request for another host, written by hand.
    let body = "Action=DescribeVpcEndpoints&Version=2016-11-15";
    let request = format!(
        "POST http://169.254.169.254/latest/api?x=1 HTTP/1.1\r\nHost: 169.254.169.254\r\nAuthorization: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        authorization("ec2"),
        body.len()
    );
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(HANG_GUARD, stream.read_to_end(&mut response))
        .await
        .expect("answered")
        .unwrap();

    assert!(
        response.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    let got = upstream.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].uri, "/latest/api?x=1",
        "only the path and query are forwarded"
    );
    assert_eq!(got[0].headers.get("host").unwrap(), "169.254.169.254");
    assert_eq!(got[0].body, body.as_bytes());
}

#[tokio::test]
#[should_panic(expected = "loopback only")]
async fn the_upstream_must_be_on_loopback() {
    FaultProxy::start("192.0.2.10:4566".parse().unwrap()).await;
}

#[tokio::test]
async fn dropping_the_proxy_stops_it_and_leaves_no_task_behind() {
    let upstream = Upstream::start().await;
    let runtime = tokio::runtime::Handle::current();
    let tasks_before = runtime.metrics().num_alive_tasks();

    let proxy = FaultProxy::start(upstream.addr).await;
    let addr = proxy.addr();
    let client = client();
    ok(&client, ec2(&proxy, "DescribeSubnets")).await;
    proxy.set_faults([
        Fault::delay(Duration::from_secs(3600)).only_operation("DescribeVpcEndpoints")
    ]);
    let in_flight = {
        let client = client.clone();
        let req = ec2(&proxy, "DescribeVpcEndpoints");
        tokio::spawn(async move { send(&client, req).await })
    };
    tokio::time::timeout(HANG_GUARD, proxy.wait_for(|c: &Counters| c.held == 1))
        .await
        .expect("the call is held");

    drop(proxy);

    let held = in_flight.await.unwrap();
    assert!(
        held.is_err(),
        "the held call dies with the proxy: {:?}",
        held.map(|a| a.status)
    );
    assert_eq!(
        upstream.actions(),
        vec!["DescribeSubnets"],
        "and never reaches the upstream"
    );
    drop(client);
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            let listening = TcpStream::connect(addr).await.is_ok();
            if !listening && runtime.metrics().num_alive_tasks() == tasks_before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "the proxy left tasks running ({} alive, {tasks_before} before) or its port open",
            runtime.metrics().num_alive_tasks()
        )
    });
}
