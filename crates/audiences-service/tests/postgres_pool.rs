//! The PostgreSQL store's request-path connections: a request costs the
//! database one round trip (no ping after a statement, none before one on a
//! connection busy a moment ago), and a statement cut off mid-way leaves its
//! connection answering the next statement with that statement's answer.
//!
//! Round trips are counted on the wire: the store talks to PostgreSQL
//! through a proxy in this test that counts the `Sync` messages the store
//! sends, each of which the server answers with `ReadyForQuery`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use audiences_service::demo::{self, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_service::limits::RateLimits;
use audiences_service::store::{AnyStore, PageOutcome, PageRequest, StoreLimits};
use support::{Database, Kind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The frontend's messages, split as they cross the proxy: the untyped
/// start-up packets (an `SSLRequest` or `GSSENCRequest`, then the
/// `StartupMessage`), then typed messages, of which `Sync` is counted.
#[derive(Default)]
struct Frontend {
    buffer: Vec<u8>,
    started: bool,
}

const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

impl Frontend {
    /// Takes `bytes`, returns how many `Sync` messages they completed.
    fn feed(&mut self, bytes: &[u8]) -> usize {
        self.buffer.extend_from_slice(bytes);
        let mut syncs = 0;
        loop {
            let header = usize::from(self.started);
            let Some(length) = self.buffer.get(header..header + 4) else {
                return syncs;
            };
            let length = u32::from_be_bytes(length.try_into().unwrap()) as usize;
            let whole = header + length;
            if self.buffer.len() < whole {
                return syncs;
            }
            if self.started {
                syncs += usize::from(self.buffer[0] == b'S');
            } else {
                let code = u32::from_be_bytes(self.buffer[4..8].try_into().unwrap());
                self.started = code != SSL_REQUEST && code != GSSENC_REQUEST;
            }
            self.buffer.drain(..whole);
        }
    }
}

/// A proxy to `upstream` counting the `Sync` messages sent through it;
/// returns its address.
async fn counting_proxy(upstream: String, syncs: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&upstream).await else {
                continue;
            };
            let syncs = Arc::clone(&syncs);
            tokio::spawn(async move {
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let answers = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let mut frontend = Frontend::default();
                let mut chunk = vec![0; 64 * 1024];
                while let Ok(read) = client_read.read(&mut chunk).await {
                    if read == 0 {
                        break;
                    }
                    syncs.fetch_add(frontend.feed(&chunk[..read]), Ordering::SeqCst);
                    if server_write.write_all(&chunk[..read]).await.is_err() {
                        break;
                    }
                }
                let _ = server_write.shutdown().await;
                answers.abort();
            });
        }
    });
    address
}

/// The store on a fresh, seeded database, reached through a counting
/// proxy; `None` when PostgreSQL is not configured.
async fn store_behind_proxy(limits: StoreLimits) -> Option<(AnyStore, Database, Arc<AtomicUsize>)> {
    let database = Database::fresh(Kind::Postgres).await?;
    let seeded = AnyStore::open(&database.url, StoreLimits::default())
        .await
        .unwrap();
    demo::seed(&seeded, None).await.unwrap();
    let (scheme_and_user, rest) = database.url.split_once('@').unwrap();
    let (host_and_port, name) = rest.split_once('/').unwrap();
    let syncs = Arc::new(AtomicUsize::new(0));
    let proxy = counting_proxy(host_and_port.to_owned(), Arc::clone(&syncs)).await;
    // In clear, so that the proxy can read the messages.
    let url = format!("{scheme_and_user}@{proxy}/{name}?sslmode=disable");
    let store = AnyStore::open(&url, limits).await.unwrap();
    Some((store, database, syncs))
}

fn page_size(outcome: &PageOutcome) -> usize {
    match outcome {
        PageOutcome::Page(page) => page.items.len(),
        other => panic!("expected a page, got {other:?}"),
    }
}

/// 40 pages one after the other, each with and each without the shared
/// rate limit's token: after the first two of each (the first reads the
/// page and keeps it, the second is served from the instance; the
/// connection prepared its statements as it opened), one `Sync` per page,
/// none more once the store is idle.
#[tokio::test]
async fn a_request_costs_the_database_one_round_trip() {
    let Some((store, _database, syncs)) = store_behind_proxy(StoreLimits::default()).await else {
        return;
    };
    let limits = RateLimits::default();
    let shared = store.shared_limits().expect("PostgreSQL keeps the shared limits");
    let request = PageRequest {
        account_group: ACCOUNT_GROUP_ID,
        audience: READY_AUDIENCE_ID,
        after: None,
        limit: 25,
    };
    // Each statement prepared once: the first page is read and kept, the
    // second served from the instance.
    for _ in 0..2 {
        store
            .page(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, 25)
            .await
            .unwrap();
        shared.take_and_page("key", limits, request).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let before = syncs.load(Ordering::SeqCst);
    for _ in 0..20 {
        let outcome = store
            .page(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, 25)
            .await
            .unwrap();
        assert_eq!(page_size(&outcome), 25);
        let (taken, outcome) = shared.take_and_page("key", limits, request).await.unwrap();
        assert!(taken.admitted);
        assert_eq!(page_size(&outcome.unwrap()), 25);
    }
    // Whatever the pool would do once a request is answered has had time.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        syncs.load(Ordering::SeqCst) - before,
        40,
        "round trips for 40 statements"
    );
}

/// A statement cut off (its request dropped while the tables are locked by
/// another session) leaves its connection as it was: the connection stays
/// open, and the next request, once the lock is gone, gets its own answer,
/// not the one the cut-off statement was sent.
#[tokio::test]
async fn a_statement_cut_off_leaves_its_connection_answering_the_next() {
    let Some((store, database, _)) = store_behind_proxy(StoreLimits::default()).await else {
        return;
    };
    store
        .page(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, 25)
        .await
        .unwrap();
    assert_eq!(
        store.pool_stats().size,
        1,
        "the first page's connection stays open"
    );

    let stall = support::stall(&store, &database).await;
    let cut_off = tokio::time::timeout(
        Duration::from_millis(200),
        store.page(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, 100),
    )
    .await;
    assert!(cut_off.is_err(), "the page waits for the lock: {cut_off:?}");
    let stats = store.pool_stats();
    assert_eq!(
        (stats.size, stats.idle),
        (1, 1),
        "the cut-off connection stays, idle"
    );
    stall.release().await;

    // The cut-off statement asked for 100 rows; these ask for 3, then 7.
    for size in [3, 7] {
        let outcome = store
            .page(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID, None, size)
            .await
            .unwrap();
        assert_eq!(page_size(&outcome), size as usize);
    }
    assert_eq!(store.pool_stats().size, 1, "no other connection was needed");
}
