//! Serving a router over HTTP/1 (and TLS) with hyper-util's connection
//! builder, so that the limits that hold before any of the router runs are
//! ours: how many connections at once, how long a client may take to send
//! its headers, how long an idle keep-alive connection stays open, how many
//! headers the parser accepts, and how shutdown drains.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// How connections are served; see [`serve`].
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connections served at once; more wait, unaccepted, in the kernel's queue.
    pub max_connections: usize,
    /// The time a connection has to send a request's complete headers, from
    /// when it is ready for one (accepted, or its previous response sent):
    /// bounds clients that send their headers slowly (slowloris).
    pub header_read_timeout: Duration,
    /// The time an idle connection (accepted, or its previous response
    /// sent, and no byte of the next request yet) stays open. At most
    /// `header_read_timeout`, which counts from the same moment.
    pub keep_alive_timeout: Duration,
    /// Headers the HTTP parser reads before it closes the connection with
    /// its own bare 431; the router answers fewer (past
    /// [`RouterLimits::max_headers`](crate::RouterLimits::max_headers)) with
    /// the documented failure.
    pub max_parsed_headers: usize,
    /// How long in-flight requests may take to finish once shutdown starts.
    pub drain_timeout: Duration,
    /// Serve TLS with this configuration (see [`tls_config`]).
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_connections: 16_384,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(5),
            max_parsed_headers: 400,
            drain_timeout: Duration::from_secs(30),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// A TLS configuration from PEM files: the certificate chain and its
/// private key; HTTP/1.1 by ALPN.
#[cfg(feature = "tls")]
pub fn tls_config(
    certificate: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, String> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
    };
    tls_config_pem(&read(certificate)?, &read(key)?)
}

/// A TLS configuration from PEM text: the certificate chain and its
/// private key; HTTP/1.1 by ALPN.
#[cfg(feature = "tls")]
pub fn tls_config_pem(
    certificate: &[u8],
    key: &[u8],
) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, String> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(certificate)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("the certificate is not PEM: {error}"))?;
    if chain.is_empty() {
        return Err("the certificate file holds no PEM certificate".to_owned());
    }
    let private =
        PrivateKeyDer::from_pem_slice(key).map_err(|error| format!("the private key is not PEM: {error}"))?;
    let mut config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|error| format!("the certificate and key do not make a TLS configuration: {error}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting, lets in-flight requests finish (at most
/// `options.drain_timeout`) and returns. Idle connections close at once on
/// shutdown; a response in flight is sent with `Connection: close`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_headers(options.max_parsed_headers)
        .keep_alive(true);
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    #[cfg(feature = "tls")]
    let acceptor = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let stream = IdleTimeout::new(stream, options.keep_alive_timeout);
        let http = http.clone();
        // Each request carries its peer's address (`ConnectInfo`), which
        // the security hooks see as `Credentials::client`.
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            router.clone(),
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                request
            },
        ));
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &acceptor {
            let acceptor = acceptor.clone();
            let watcher = graceful.watcher();
            let handshake_limit = options.header_read_timeout;
            tokio::spawn(async move {
                let _permit = permit;
                match tokio::time::timeout(handshake_limit, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let connection = http.serve_connection(TokioIo::new(tls), service);
                        if let Err(error) = watcher.watch(connection).await {
                            tracing::debug!(%error, "connection ended with an error");
                        }
                    }
                    Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            });
            continue;
        }
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(options.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = options.drain_timeout.as_secs(),
            "requests still in flight after the drain timeout: closing them"
        );
    }
    Ok(())
}

/// A connection that closes when it stays idle (nothing read since it was
/// accepted or since its last response was flushed) for longer than its
/// keep-alive timeout.
struct IdleTimeout<S> {
    inner: S,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
    idle: bool,
    wrote: bool,
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
            idle: true,
            wrote: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.idle && this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "idle keep-alive connection timed out",
            )));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.idle = false;
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.wrote = true;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let flushed = Pin::new(&mut this.inner).poll_flush(cx);
        if matches!(flushed, Poll::Ready(Ok(()))) && this.wrote {
            // A response went out: idle until the next request's first byte.
            this.wrote = false;
            this.idle = true;
            let next = Instant::now() + this.timeout;
            this.deadline.as_mut().reset(next);
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.wrote = true;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
