//! Serving a router on a free loopback port, for tests, or on an address
//! of its own until the process stops, for mocks.

use axum::Router;

/// A router served on a free loopback port in the background (see
/// [`serve_loopback`]); stops when dropped.
pub struct LoopbackServer {
    /// `http://127.0.0.1:PORT`, for a client's base URL.
    pub base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on a free port of 127.0.0.1 in the background, with
/// [`serve`](super::serve) and its default options: for tests (of the
/// [`mock`](crate::mock) API, or of an implementation).
pub async fn serve_loopback(router: Router) -> std::io::Result<LoopbackServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let forever = std::future::pending::<()>();
        if let Err(error) =
            super::serve::serve(listener, router, super::serve::ServeOptions::default(), forever).await
        {
            tracing::error!(%error, "loopback server stopped");
        }
    });
    Ok(LoopbackServer { base_url, task })
}

/// Serves `router` on `address` (`127.0.0.1:0` picks a free port) until
/// the process is stopped, on a runtime of its own, after printing
/// `listening on http://ADDRESS` to standard output: a mock or a small
/// server in a `main` of two lines, with no async code of its own.
pub fn serve_blocking(address: &str, router: Router) -> std::io::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(address).await?;
            println!("listening on http://{}", listener.local_addr()?);
            super::serve::serve(
                listener,
                router,
                super::serve::ServeOptions::default(),
                std::future::pending::<()>(),
            )
            .await
        })
}
