//! Real DNS servers on loopback for the tests: a hickory-server answering from a
//! small table over UDP and TCP, and a server that never answers.
//!
//! The table answers like a recursive resolver would: a CNAME is followed within
//! the table and the whole chain comes back in one answer; a name not in the table is
//! NXDOMAIN; a name with no addresses of the asked type is NOERROR with no data.

#![allow(dead_code)] // each test binary uses a different part

use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, SOA};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
enum Entry {
    Addresses(Vec<IpAddr>),
    Cname(String),
    ServFail,
}

/// What the test server knows. Names are compared case-insensitively, without the final dot.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    entries: HashMap<String, Entry>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Zone {
    pub fn new() -> Self {
        Zone::default()
    }

    /// A and AAAA records (by address family) for `name`.
    pub fn addresses(mut self, name: &str, ips: &[&str]) -> Self {
        let ips = ips.iter().map(|s| s.parse().expect("an IP")).collect();
        self.entries.insert(key(name), Entry::Addresses(ips));
        self
    }

    /// `name` exists but has no address records (NOERROR, no data).
    pub fn no_data(mut self, name: &str) -> Self {
        self.entries.insert(key(name), Entry::Addresses(vec![]));
        self
    }

    pub fn cname(mut self, name: &str, target: &str) -> Self {
        self.entries.insert(key(name), Entry::Cname(key(target)));
        self
    }

    /// Every question about `name` is answered SERVFAIL.
    pub fn servfail(mut self, name: &str) -> Self {
        self.entries.insert(key(name), Entry::ServFail);
        self
    }

    /// The answer section and response code for one question.
    fn answer(&self, qname: &str, qtype: RecordType) -> (ResponseCode, Vec<Record>) {
        let mut records = Vec::new();
        let mut current = key(qname);
        for _ in 0..8 {
            let owner = Name::from_ascii(format!("{current}.")).expect("a valid name");
            match self.entries.get(&current) {
                None => return (ResponseCode::NXDomain, records),
                Some(Entry::ServFail) => return (ResponseCode::ServFail, vec![]),
                Some(Entry::Cname(target)) => {
                    let t = Name::from_ascii(format!("{target}.")).expect("a valid name");
                    records.push(Record::from_rdata(owner, 60, RData::CNAME(CNAME(t))));
                    current = target.clone();
                }
                Some(Entry::Addresses(ips)) => {
                    for ip in ips {
                        let rdata = match (ip, qtype) {
                            (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
                            (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
                            _ => continue,
                        };
                        records.push(Record::from_rdata(owner.clone(), 60, rdata));
                    }
                    return (ResponseCode::NoError, records);
                }
            }
        }
        (ResponseCode::ServFail, vec![])
    }
}

struct TableHandler {
    zone: Zone,
    soa: Record,
}

#[async_trait::async_trait]
impl RequestHandler for TableHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        metadata.recursion_available = true;
        let (code, answers) = match request.request_info() {
            Ok(info) => self
                .zone
                .answer(&info.query.name().to_string(), info.query.query_type()),
            Err(_) => (ResponseCode::FormErr, vec![]),
        };
        metadata.response_code = code;
        // Negative answers carry the zone's SOA, as real servers send them.
        let soa: Vec<&Record> = if answers.is_empty() && code != ResponseCode::ServFail {
            vec![&self.soa]
        } else {
            vec![]
        };
        let response = MessageResponseBuilder::from_message_request(request).build(
            metadata,
            answers.iter(),
            std::iter::empty(),
            soa,
            std::iter::empty(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            }),
        }
    }
}

/// UDP and TCP bound to the same free port on 127.0.0.1.
async fn bind_udp_and_tcp() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind UDP on 127.0.0.1");
        let port = udp.local_addr().expect("local addr").port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
            return (udp, tcp);
        }
    }
    panic!("could not bind UDP and TCP to one free port on 127.0.0.1");
}

/// A running test DNS server; stops when dropped.
pub struct TestDns {
    addr: SocketAddr,
    _server: Server<TableHandler>,
}

impl TestDns {
    pub async fn start(zone: Zone) -> TestDns {
        let (udp, tcp) = bind_udp_and_tcp().await;
        let addr = udp.local_addr().expect("local addr");
        let soa = Record::from_rdata(
            Name::root(),
            60,
            RData::SOA(SOA::new(
                Name::from_ascii("ns.test.").unwrap(),
                Name::from_ascii("hostmaster.test.").unwrap(),
                1,
                3600,
                600,
                86400,
                60,
            )),
        );
        let mut server = Server::new(TableHandler { zone, soa });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 4096);
        TestDns {
            addr,
            _server: server,
        }
    }

    /// Where to send queries (`--resolver`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A resolver that never answers: UDP datagrams are read and dropped, TCP
/// connections are accepted and left silent. Stops when dropped.
pub struct SilentDns {
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl SilentDns {
    pub async fn start() -> SilentDns {
        let (udp, tcp) = bind_udp_and_tcp().await;
        let addr = udp.local_addr().expect("local addr");
        let drop_udp = tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while udp.recv_from(&mut buf).await.is_ok() {}
        });
        let hold_tcp = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = tcp.accept().await {
                held.push(stream);
            }
        });
        SilentDns {
            addr,
            tasks: vec![drop_udp, hold_tcp],
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for SilentDns {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A DNS server on loopback answering from `zone`, served by a runtime of its own so it
/// keeps answering while the test thread waits for the binary.
pub struct LoopbackDns {
    server: Option<TestDns>,
    runtime: tokio::runtime::Runtime,
}

impl LoopbackDns {
    pub fn start(zone: Zone) -> LoopbackDns {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime for the DNS server");
        let server = runtime.block_on(TestDns::start(zone));
        LoopbackDns {
            server: Some(server),
            runtime,
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().expect("running").addr()
    }
}

impl Drop for LoopbackDns {
    fn drop(&mut self) {
        // The server's sockets belong to its runtime: release them inside it.
        let _inside = self.runtime.enter();
        self.server.take();
    }
}
