//! A loopback EC2 instance metadata service speaking IMDSv2: `PUT /latest/api/token`
//! (with `X-aws-ec2-metadata-token-ttl-seconds`) hands out a token, and every GET must
//! carry it in `X-aws-ec2-metadata-token` (401 otherwise), as the real service does.
//! It serves one instance with one network interface in the given VPC and subnet.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "AQAEAPl-doctor-test-token==";
pub const MAC: &str = "0e:49:61:0f:c3:11";

pub struct Imds {
    addr: SocketAddr,
    /// Paths asked, in order (PUT as `PUT <path>`), to show the token dance happened.
    pub asked: Arc<Mutex<Vec<String>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Imds {
    /// Serves an instance in `vpc_id`/`subnet_id`, on a runtime of its own so it keeps
    /// answering while the test thread waits for the binary.
    pub fn start(instance_id: &str, vpc_id: &str, subnet_id: &str) -> Imds {
        let base = format!("/latest/meta-data/network/interfaces/macs/{MAC}");
        let paths: BTreeMap<String, String> = [
            ("/latest/meta-data/mac".to_owned(), MAC.to_owned()),
            (format!("{base}/vpc-id"), vpc_id.to_owned()),
            (format!("{base}/subnet-id"), subnet_id.to_owned()),
            (
                "/latest/meta-data/instance-id".to_owned(),
                instance_id.to_owned(),
            ),
            (
                "/latest/meta-data/placement/region".to_owned(),
                "us-east-1".to_owned(),
            ),
        ]
        .into_iter()
        .collect();
        let paths = Arc::new(paths);
        let asked = Arc::new(Mutex::new(Vec::new()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime for the metadata server");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the metadata server");
        let addr = listener.local_addr().expect("local addr");
        let log = asked.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let paths = paths.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(req, paths.clone(), log.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Imds {
            addr,
            asked,
            runtime: Some(runtime),
        }
    }

    /// What AWS_EC2_METADATA_SERVICE_ENDPOINT is set to.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Imds {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn answer(
    req: Request<Incoming>,
    paths: Arc<BTreeMap<String, String>>,
    log: Arc<Mutex<Vec<String>>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_owned();
    let reply = |status: StatusCode, body: &str| {
        Ok(Response::builder()
            .status(status)
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("response"))
    };
    if req.method() == Method::PUT {
        log.lock().unwrap().push(format!("PUT {path}"));
        if path != "/latest/api/token"
            || req
                .headers()
                .get("x-aws-ec2-metadata-token-ttl-seconds")
                .is_none()
        {
            return reply(StatusCode::BAD_REQUEST, "");
        }
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
            .body(Full::new(Bytes::from(TOKEN)))
            .expect("response"));
    }
    log.lock().unwrap().push(path.clone());
    let token_ok = req
        .headers()
        .get("x-aws-ec2-metadata-token")
        .is_some_and(|t| t == TOKEN);
    if !token_ok {
        return reply(StatusCode::UNAUTHORIZED, "");
    }
    match paths.get(&path) {
        Some(v) => reply(StatusCode::OK, v),
        None => reply(StatusCode::NOT_FOUND, "Not Found"),
    }
}
