//! MQTT over TLS: a terminator in front of the gate. Each client's TLS session is decrypted
//! here and relayed to the gate on loopback, so the gate's packet checks are the same with and
//! without TLS.

use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accept TLS on `listen` and relay each session to `backend`, on a thread of its own; returns
/// the bound address.
pub(crate) fn start_front(listen: SocketAddr, backend: SocketAddr, config: Arc<rustls::ServerConfig>) -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("mqtt-tls").enable_all().build()?;
    std::thread::Builder::new().name("mqtt-tls".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = match TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => return tracing::error!("MQTT TLS listener: {e}"),
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            loop {
                let Ok((tcp, peer)) = listener.accept().await else { continue };
                tokio::spawn(relay(acceptor.clone(), tcp, peer, backend));
            }
        })
    })?;
    Ok(addr)
}

async fn relay(acceptor: tokio_rustls::TlsAcceptor, tcp: TcpStream, peer: SocketAddr, backend: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let mut tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return tracing::warn!("MQTT TLS handshake with {peer} failed: {e}"),
        Err(_) => return tracing::warn!("MQTT TLS handshake with {peer} timed out"),
    };
    let Ok(mut gate) = TcpStream::connect(backend).await else { return };
    let _ = gate.set_nodelay(true);
    // Either side closing ends both: the gate then sees the client vanish, as without TLS.
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut gate).await;
}
