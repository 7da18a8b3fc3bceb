//! Serving a router on a free loopback port, for tests.

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
