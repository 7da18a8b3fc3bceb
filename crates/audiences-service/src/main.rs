//! `audiences-service`: the reference service of the audiences API.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;

use std::num::NonZeroU32;
use std::time::Duration;

use audiences_server::runtime::{RouterLimits, ServeOptions};
use audiences_service::attempts::AttemptLimits;
use audiences_service::cursor::CursorCodec;
use audiences_service::limits::RateLimits;
use audiences_service::service::Service;
use audiences_service::store::{AnyStore, AudienceState, StoreError, StoreLimits};
use audiences_service::{demo, keys};
use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's malloc: the service allocates per request
/// (headers, the page's buffer, the envelope) from several threads, where
/// it answers 1.2-1.3x the requests/s (BENCHMARKS.md §1).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The reference service of the audiences API: SQLite embedded by default,
/// PostgreSQL for scale.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://USER@HOST:PORT/DB`;
    /// `sqlite://audiences.db` when not given. Migrations are applied at start. Without a
    /// URL (the embedded default), demo data is seeded on first start and its key printed;
    /// with one, only when asked (--demo).
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Log filter (`error`, `warn`, `info`, `debug`, or a tracing directive).
    #[arg(long, env = "AUDIENCES_LOG", default_value = "info,sqlx=warn", global = true)]
    log: String,
    /// Log format: `text` for people, `json` for log collectors (one object a line, with the trace id).
    #[arg(long, env = "AUDIENCES_LOG_FORMAT", default_value = "text", global = true)]
    log_format: LogFormat,
    /// Longest wait for the database, per query, in milliseconds; past it the client gets a 502.
    #[arg(
        long,
        env = "AUDIENCES_QUERY_TIMEOUT_MS",
        default_value_t = 3_000,
        global = true
    )]
    query_timeout_ms: u64,
    /// Database connections this instance opens at most. With PostgreSQL, N instances open
    /// up to N times this: keep it under the server's `max_connections` (see DEPLOYING.md).
    #[arg(long, env = "AUDIENCES_DB_MAX_CONNECTIONS", default_value_t = StoreLimits::default().max_connections, global = true)]
    db_max_connections: u32,
    /// PostgreSQL: MiB of pages this instance keeps to serve again while their audience has not
    /// changed (the database still takes the token and says the audience's version at every
    /// request; see DEPLOYING.md). 0 turns the cache off.
    #[arg(long, env = "AUDIENCES_PAGE_CACHE_MIB", default_value_t = StoreLimits::default().page_cache_bytes >> 20, global = true)]
    page_cache_mib: usize,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AUDIENCES_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Seed the demo data (an account group, two audiences, two keys) into an empty
    /// database and print its key. The default only without --database-url.
    #[arg(long, env = "AUDIENCES_DEMO", conflicts_with = "no_demo")]
    demo: bool,
    /// Use this value as the seeded demo API key instead of a random one (implies --demo).
    #[arg(long, env = "AUDIENCES_DEMO_KEY", conflicts_with = "no_demo")]
    demo_key: Option<String>,
    /// Seed no demo data, print no key, even on the embedded default database.
    #[arg(long, env = "AUDIENCES_NO_DEMO")]
    no_demo: bool,
    /// Never gzip responses, even for a client that asks (for a proxy in
    /// front that compresses itself).
    #[arg(long, env = "AUDIENCES_NO_COMPRESSION")]
    no_compression: bool,
    /// Requests per second each API key may make, sustained.
    #[arg(long, env = "AUDIENCES_RATE_LIMIT_PER_SECOND", default_value_t = NonZeroU32::new(50).expect("non-zero"))]
    rate_limit_per_second: NonZeroU32,
    /// Requests each API key may make at once after being idle.
    #[arg(long, env = "AUDIENCES_RATE_LIMIT_BURST", default_value_t = NonZeroU32::new(100).expect("non-zero"))]
    rate_limit_burst: NonZeroU32,
    /// Requests per second without valid credentials (none, several, or an
    /// unknown or revoked key) one client address may send before it is
    /// answered 429 (0: no bound per address).
    #[arg(long, env = "AUDIENCES_UNAUTHENTICATED_PER_SECOND", default_value_t = 20)]
    unauthenticated_per_second: u32,
    /// How many of those one address may send at once.
    #[arg(long, env = "AUDIENCES_UNAUTHENTICATED_BURST", default_value_t = 200)]
    unauthenticated_burst: u32,
    /// Requests per second without valid credentials from all clients
    /// together (0: no global bound); bounds the key lookups unknown keys cost.
    #[arg(
        long,
        env = "AUDIENCES_UNAUTHENTICATED_GLOBAL_PER_SECOND",
        default_value_t = 2_000
    )]
    unauthenticated_global_per_second: u32,
    /// Longest time a request may take, in milliseconds (a 500 past it).
    #[arg(long, env = "AUDIENCES_REQUEST_TIMEOUT_MS", default_value_t = millis(RouterLimits::default().request_timeout))]
    request_timeout_ms: u64,
    /// Largest total size of a request's headers, in bytes (a 431 past it).
    #[arg(long, env = "AUDIENCES_MAX_HEADER_BYTES", default_value_t = RouterLimits::default().max_header_bytes)]
    max_header_bytes: usize,
    /// Most headers of a request (a 431 past it).
    #[arg(long, env = "AUDIENCES_MAX_HEADERS", default_value_t = RouterLimits::default().max_headers)]
    max_headers: usize,
    /// Connections served at once; more wait in the kernel's queue.
    #[arg(long, env = "AUDIENCES_MAX_CONNECTIONS", default_value_t = ServeOptions::default().max_connections)]
    max_connections: usize,
    /// Time a connection has to send a request's headers once it is ready for one, in
    /// milliseconds (bounds slow clients; the connection is closed past it).
    #[arg(long, env = "AUDIENCES_HEADER_READ_TIMEOUT_MS", default_value_t = millis(ServeOptions::default().header_read_timeout))]
    header_read_timeout_ms: u64,
    /// Time an idle keep-alive connection stays open, in milliseconds (at most the header
    /// read timeout).
    #[arg(long, env = "AUDIENCES_KEEP_ALIVE_TIMEOUT_MS", default_value_t = millis(ServeOptions::default().keep_alive_timeout))]
    keep_alive_timeout_ms: u64,
    /// After SIGTERM, keep serving this long with `/readyz` failing, in milliseconds, so that
    /// a load balancer health-checking it stops sending requests before the listener closes
    /// (set it above the balancer's check interval times its fall count).
    #[arg(long, env = "AUDIENCES_DRAIN_DELAY_MS", default_value_t = 0)]
    drain_delay_ms: u64,
    /// Time in-flight requests have to finish after SIGTERM (and the drain delay), in milliseconds.
    #[arg(long, env = "AUDIENCES_DRAIN_TIMEOUT_MS", default_value_t = millis(ServeOptions::default().drain_timeout))]
    drain_timeout_ms: u64,
    /// Keep each key's rate limit in this process even on PostgreSQL (one instance only:
    /// N instances would then admit N times the limit). By default the limit lives in
    /// PostgreSQL, shared by every instance (one statement per request); SQLite always
    /// keeps it in process.
    #[arg(long, env = "AUDIENCES_RATE_LIMITS_IN_PROCESS")]
    rate_limits_in_process: bool,
    /// How long an instance trusts what it read of an API key, in milliseconds: a revoked
    /// key is refused by every instance within this bound (0: read the key on every request).
    #[arg(long, env = "AUDIENCES_KEY_CACHE_TTL_MS", default_value_t = millis(audiences_service::keys::KEY_CACHE_TTL))]
    key_cache_ttl_ms: u64,
    /// Serve `/metrics` (Prometheus) on this address instead of the API's own, to keep it private.
    #[arg(long, env = "AUDIENCES_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "AUDIENCES_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "AUDIENCES_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

/// Milliseconds of a default duration, for a flag's default.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Create an account group and print its id (keys and audiences belong to one).
    CreateAccountGroup {
        /// Its id, 24 hexadecimal digits (a new one when not given).
        #[arg(long)]
        id: Option<String>,
        /// Its name.
        #[arg(long, default_value = "Account group")]
        name: String,
    },
    /// Create an API key and print it (shown once).
    CreateKey {
        /// The account group the key belongs to.
        #[arg(long, default_value = demo::ACCOUNT_GROUP_ID)]
        account_group: String,
        /// Comma-separated permissions.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "prospects:read,audiences:read,audiences:write"
        )]
        permissions: Vec<String>,
    },
    /// Revoke an API key by id.
    RevokeKey {
        /// The key id printed by create-key.
        id: String,
    },
    /// Add prospects to an audience.
    Seed {
        /// The audience.
        #[arg(long, default_value = demo::READY_AUDIENCE_ID)]
        audience: String,
        /// How many prospects to add.
        #[arg(long, default_value_t = 1000)]
        count: u32,
    },
    /// Create an audience in the populating state (answers 409).
    CreatePopulatingAudience {
        /// The account group.
        #[arg(long, default_value = demo::ACCOUNT_GROUP_ID)]
        account_group: String,
        /// The audience name.
        #[arg(long, default_value = "Being populated")]
        name: String,
    },
    /// Mark an audience ready (its prospects can be listed) or populating (409); every
    /// instance sees it on its next page (the state is read with the page).
    SetAudienceState {
        /// The audience.
        #[arg(long)]
        audience: String,
        /// `ready` or `populating`.
        state: StateArg,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StateArg {
    Ready,
    Populating,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_default();
    match cli.log_format {
        // Colour only for a person at a terminal, never into a file.
        LogFormat::Text => tracing_subscriber::fmt()
            .with_ansi(std::io::stdout().is_terminal())
            .with_env_filter(filter)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init(),
    }
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn require_group(store: &AnyStore, group: &str) -> Result<(), String> {
    if store
        .account_group_exists(group)
        .await
        .map_err(|e| e.to_string())?
    {
        Ok(())
    } else {
        Err(format!(
            "no account group {group}: create it (create-account-group --id {group}), start the service once with --demo to seed the demo group, or pass --account-group"
        ))
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let limits = StoreLimits {
        query_timeout: Duration::from_millis(cli.query_timeout_ms.max(1)),
        max_connections: cli.db_max_connections.max(1),
        page_cache_bytes: cli.page_cache_mib.saturating_mul(1 << 20),
    };
    let embedded = cli.database_url.is_none();
    let database_url = cli.database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL);
    let store = AnyStore::open(database_url, limits)
        .await
        .map_err(|error| format!("cannot open {}: {error}", redact(database_url)))?;
    let failed = |error: StoreError| error.to_string();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let serve_args = cli.serve;
            let demo = !serve_args.no_demo && (serve_args.demo || serve_args.demo_key.is_some() || embedded);
            serve(store, serve_args, demo).await
        }
        Command::CreateAccountGroup { id, name } => {
            let id = id.unwrap_or_else(keys::new_id).to_ascii_lowercase();
            if id.len() != 24 || !id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                return Err(format!("--id `{id}` is not 24 hexadecimal digits"));
            }
            if store.account_group_exists(&id).await.map_err(failed)? {
                return Err(format!("account group {id} exists already"));
            }
            store.create_account_group(&id, &name).await.map_err(failed)?;
            println!("account group {id}");
            Ok(())
        }
        Command::CreateKey {
            account_group,
            permissions,
        } => {
            let permissions: Vec<&str> = permissions.iter().map(String::as_str).collect();
            if let Some(unknown) = permissions.iter().find(|p| !keys::ALL_PERMISSIONS.contains(p)) {
                return Err(format!(
                    "unknown permission `{unknown}`: use {}",
                    keys::ALL_PERMISSIONS.join(", ")
                ));
            }
            require_group(&store, &account_group).await?;
            let (id, key) = demo::create_key(&store, &account_group, &permissions, None)
                .await
                .map_err(failed)?;
            println!("id:  {id}\nkey: {key}   (shown once; only its hash is stored)");
            Ok(())
        }
        Command::RevokeKey { id } => {
            if !store.revoke_key(&id).await.map_err(failed)? {
                return Err(format!("no active key with id {id}"));
            }
            println!("revoked {id}");
            Ok(())
        }
        Command::Seed { audience, count } => {
            let existing = store.prospect_count(&audience).await.map_err(failed)?;
            let first = u32::try_from(existing).unwrap_or(u32::MAX / 2) + 1_000_000;
            demo::insert_prospects(&store, &audience, first, count)
                .await
                .map_err(|error| format!("cannot add prospects to {audience}: {error}"))?;
            println!("added {count} prospects to {audience}");
            Ok(())
        }
        Command::SetAudienceState { audience, state } => {
            let state = match state {
                StateArg::Ready => AudienceState::Ready,
                StateArg::Populating => AudienceState::Populating,
            };
            if !store.set_audience_state(&audience, state).await.map_err(failed)? {
                return Err(format!("no audience {audience}"));
            }
            println!("audience {audience} is {}", state.as_str());
            Ok(())
        }
        Command::CreatePopulatingAudience { account_group, name } => {
            require_group(&store, &account_group).await?;
            let id = keys::new_id();
            store
                .create_audience(&id, &account_group, &name, AudienceState::Populating)
                .await
                .map_err(failed)?;
            println!("audience {id} (populating)");
            Ok(())
        }
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!("{}:***{}", &url[..scheme + 3 + colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The database without `--database-url`.
const DEFAULT_DATABASE_URL: &str = "sqlite://audiences.db";

async fn serve(store: AnyStore, args: ServeArgs, demo: bool) -> Result<(), String> {
    let seeded = if !demo {
        None
    } else {
        demo::seed(&store, args.demo_key.clone())
            .await
            .map_err(|e| format!("cannot seed the demo data: {e}"))?
    };
    let secret = demo::cursor_secret(&store).await.map_err(|e| e.to_string())?;
    let kind = store.kind();
    let service = Arc::new(
        Service::new(
            store,
            CursorCodec::new(secret),
            RateLimits {
                per_second: args.rate_limit_per_second,
                burst: args.rate_limit_burst,
            },
        )
        .with_key_cache_ttl(Duration::from_millis(args.key_cache_ttl_ms))
        .with_attempt_limits(AttemptLimits {
            per_address: NonZeroU32::new(args.unauthenticated_per_second).map(|per_second| {
                (
                    per_second,
                    NonZeroU32::new(args.unauthenticated_burst).unwrap_or(per_second),
                )
            }),
            global: NonZeroU32::new(args.unauthenticated_global_per_second),
        })
        .with_shared_rate_limits(!args.rate_limits_in_process),
    );
    let cleanup = Arc::clone(&service);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            cleanup.limiter().forget_idle();
        }
    });
    let signalled = shutdown_signal()?;
    let draining = Arc::clone(&service);
    let drain_delay = Duration::from_millis(args.drain_delay_ms);
    let shutdown = async move {
        signalled.await;
        draining.begin_draining();
        if !drain_delay.is_zero() {
            tracing::info!(
                delay_ms = drain_delay.as_millis() as u64,
                "draining: /readyz fails; still serving"
            );
            tokio::time::sleep(drain_delay).await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    };
    let header_read_timeout = Duration::from_millis(args.header_read_timeout_ms.max(1));
    let keep_alive_timeout = Duration::from_millis(args.keep_alive_timeout_ms.max(1));
    if keep_alive_timeout > header_read_timeout {
        return Err(format!(
            "--keep-alive-timeout-ms ({}) must not exceed --header-read-timeout-ms ({}): an idle connection is also waiting for headers",
            args.keep_alive_timeout_ms, args.header_read_timeout_ms
        ));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(audiences_server::runtime::tls_config(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let options = ServeOptions {
        max_connections: args.max_connections,
        header_read_timeout,
        keep_alive_timeout,
        max_parsed_headers: args
            .max_headers
            .saturating_mul(4)
            .max(ServeOptions::default().max_parsed_headers),
        drain_timeout: Duration::from_millis(args.drain_timeout_ms),
        tls,
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.bind))?;
    let limits = RouterLimits {
        request_timeout: Duration::from_millis(args.request_timeout_ms.max(1)),
        max_header_bytes: args.max_header_bytes,
        max_headers: args.max_headers,
    };
    let metrics = audiences_service::metrics::recorder()?;
    let app = if args.no_compression {
        audiences_service::app_uncompressed
    } else {
        audiences_service::app
    };
    let app = match args.metrics_bind {
        None => app(service, limits, Some(metrics)),
        Some(address) => {
            let metrics_listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|error| format!("cannot listen on {address} for metrics: {error}"))?;
            let router = audiences_server::runtime::finish_router(
                audiences_service::metrics::routes(metrics, service.store().clone()),
                &audiences_server::CONVENTIONS,
            );
            tokio::spawn(async move {
                let forever = std::future::pending::<()>();
                let served = audiences_server::runtime::serve(
                    metrics_listener,
                    router,
                    ServeOptions::default(),
                    forever,
                )
                .await;
                if let Err(error) = served {
                    tracing::error!(%error, "the metrics listener stopped");
                }
            });
            app(service, limits, None)
        }
    };
    let url = format!("{scheme}://{}", listener.local_addr().map_err(|e| e.to_string())?);
    println!("audiences-service listening on {url} ({kind} store)");
    println!("docs: {url}/docs   document: {url}/openapi.yaml");
    match args.metrics_bind {
        None => println!("metrics: {url}/metrics"),
        Some(address) => println!("metrics: http://{address}/metrics"),
    }
    // The demo's lines only when the demo was asked for: a deployment
    // prints no key.
    if demo {
        let key = match (&seeded, &args.demo_key) {
            (Some(keys), _) => {
                println!(
                    "seeded demo data; key without prospects:read (403): {}",
                    keys.without_prospects
                );
                keys.full.clone()
            }
            (None, Some(key)) => key.clone(),
            (None, None) => "<the demo key printed on first start, or AUDIENCES_DEMO_KEY>".to_owned(),
        };
        println!(
            "demo account group {}, ready audience {}, populating audience {}",
            demo::ACCOUNT_GROUP_ID,
            demo::READY_AUDIENCE_ID,
            demo::POPULATING_AUDIENCE_ID
        );
        println!("demo API key: {key}");
        println!(
            "try: curl -s -H 'Authorization: Bearer {key}' '{url}/v1/accounts/{}/audiences/{}/prospects?limit=2'",
            demo::ACCOUNT_GROUP_ID,
            demo::READY_AUDIENCE_ID
        );
    }
    audiences_server::runtime::serve(listener, app, options, shutdown)
        .await
        .map_err(|error| error.to_string())
}
/// Resolves on SIGTERM or Ctrl-C (SIGINT). The handlers are installed here,
/// before the service announces itself, so that a signal sent as soon as the
/// `try:` line appears is a clean shutdown rather than the default kill.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|error| format!("cannot handle SIGTERM: {error}"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|error| format!("cannot handle SIGINT: {error}"))?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}
