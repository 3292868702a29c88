//! Real TCP listeners on 127.0.0.x for the connect-probe tests: one that accepts
//! (optionally speaking TLS), an address where nothing listens (refused), and a
//! blackhole whose SYNs are dropped (timeout). Everything stays inside 127.0.0.0/8,
//! which Linux routes to the loopback interface whole, so each "ENI" gets its own
//! address while sharing one port.

#![allow(dead_code)] // each test binary uses a different part

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{RootCertStore, ServerConfig};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// `127.0.0.<last>`.
pub fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A port reserved for one test: held on 127.0.0.10 so no other test in this
/// process picks the same port, then used on other 127.0.0.x addresses.
pub struct PortGroup {
    port: u16,
    _reservation: TcpListener,
}

impl PortGroup {
    pub async fn reserve() -> PortGroup {
        let l = TcpListener::bind((loopback(10), 0))
            .await
            .expect("bind 127.0.0.10 (is 127.0.0.0/8 routed to lo?)");
        PortGroup {
            port: l.local_addr().unwrap().port(),
            _reservation: l,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn at(&self, ip: IpAddr) -> SocketAddr {
        SocketAddr::new(ip, self.port)
    }
}

/// Accepts every connection on `addr` (and, with TLS, completes the handshake).
pub struct Accepting {
    task: JoinHandle<()>,
    accepted: Arc<AtomicUsize>,
}

impl Accepting {
    pub async fn start(addr: SocketAddr, tls: Option<Arc<ServerConfig>>) -> Accepting {
        let listener = TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                if let Some(cfg) = &tls {
                    let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
                    tokio::spawn(async move {
                        // A failed handshake is the client's finding, not ours.
                        if let Ok(mut s) = acceptor.accept(stream).await {
                            let _ = tokio::io::AsyncWriteExt::shutdown(&mut s).await;
                        }
                    });
                }
            }
        });
        Accepting { task, accepted }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Accepting {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A listener that completes no handshakes: its accept queue (backlog 0) is filled by
/// connections it never accepts, after which Linux drops further SYNs, so a connect
/// neither succeeds nor is refused until the caller's timeout.
pub struct Blackhole {
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl Blackhole {
    pub async fn start(addr: SocketAddr) -> Blackhole {
        let socket = TcpSocket::new_v4().expect("a TCP socket");
        socket
            .bind(addr)
            .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let listener = socket.listen(0).expect("listen");
        let mut fillers = Vec::new();
        for _ in 0..16 {
            match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
                Ok(Ok(s)) => fillers.push(s),
                Ok(Err(e)) => panic!("filling the blackhole's accept queue: {e}"),
                // The queue is full: SYNs to `addr` are now dropped.
                Err(_) => {
                    return Blackhole {
                        _listener: listener,
                        _fillers: fillers,
                    }
                }
            }
        }
        panic!("the accept queue of {addr} never filled: this kernel does not drop SYNs on overflow, no loopback blackhole possible");
    }
}

/// A private CA and a server certificate for `names`, for the TLS listener.
pub struct TestPki {
    pub roots: RootCertStore,
    pub server: Arc<ServerConfig>,
}

impl TestPki {
    pub fn new(names: &[&str]) -> TestPki {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "pl-doctor test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf_params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let leaf = leaf_params
            .signed_by(&leaf_key, &issuer)
            .expect("leaf cert");

        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca_cert.der().to_vec()))
            .expect("add CA");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let server =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![CertificateDer::from(leaf.der().to_vec())], key)
                .expect("server config");
        TestPki {
            roots,
            server: Arc::new(server),
        }
    }
}
