//! `audiences-service`: the reference service of the audiences API.

use std::net::SocketAddr;
use std::sync::Arc;

use audiences_service::cursor::CursorCodec;
use audiences_service::service::Service;
use audiences_service::store::SqliteStore;
use audiences_service::{demo, keys};
use clap::{Parser, Subcommand};

/// The reference service of the audiences API, on an embedded SQLite database.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Database URL (`sqlite://FILE`); created, migrated and seeded with demo data on first start.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://audiences.db",
        global = true
    )]
    database_url: String,
    /// Log filter (`error`, `warn`, `info`, `debug`, or a tracing directive).
    #[arg(long, env = "AUDIENCES_LOG", default_value = "info", global = true)]
    log: String,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AUDIENCES_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Use this value as the seeded demo API key instead of a random one.
    #[arg(long, env = "AUDIENCES_DEMO_KEY")]
    demo_key: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
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
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_default())
        .init();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let store = SqliteStore::open(&cli.database_url)
        .await
        .map_err(|error| format!("cannot open {}: {error}", cli.database_url))?;
    let pool = store.pool().clone();
    let sql = |error: sqlx::Error| error.to_string();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(store, cli.serve).await,
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
            let (id, key) = demo::create_key(&pool, &account_group, &permissions, None)
                .await
                .map_err(sql)?;
            println!("id:  {id}\nkey: {key}   (shown once; only its hash is stored)");
            Ok(())
        }
        Command::RevokeKey { id } => {
            let done = sqlx::query(
                "UPDATE api_keys SET revoked_at = strftime('%s','now') WHERE id = ? AND revoked_at IS NULL",
            )
            .bind(&id)
            .execute(&pool)
            .await
            .map_err(sql)?;
            if done.rows_affected() == 0 {
                return Err(format!("no active key with id {id}"));
            }
            println!("revoked {id}");
            Ok(())
        }
        Command::Seed { audience, count } => {
            let first: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prospects WHERE audience_id = ?")
                .bind(&audience)
                .fetch_one(&pool)
                .await
                .map_err(sql)?;
            demo::insert_prospects(
                &pool,
                &audience,
                u32::try_from(first).unwrap_or(0) + 1_000_000,
                count,
            )
            .await
            .map_err(sql)?;
            println!("added {count} prospects to {audience}");
            Ok(())
        }
        Command::CreatePopulatingAudience { account_group, name } => {
            let id = keys::new_id();
            sqlx::query(
                "INSERT INTO audiences (id, account_group_id, name, status) VALUES (?, ?, ?, 'populating')",
            )
            .bind(&id)
            .bind(&account_group)
            .bind(&name)
            .execute(&pool)
            .await
            .map_err(sql)?;
            println!("audience {id} (populating)");
            Ok(())
        }
    }
}

async fn serve(store: SqliteStore, args: ServeArgs) -> Result<(), String> {
    let pool = store.pool().clone();
    let seeded = demo::seed(&pool, args.demo_key.clone())
        .await
        .map_err(|e| e.to_string())?;
    let secret = demo::cursor_secret(&pool).await.map_err(|e| e.to_string())?;
    let service = Arc::new(Service::new(store, CursorCodec::new(secret)));
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.bind))?;
    let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
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
    println!("audiences-service listening on {url}");
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
    axum::serve(listener, audiences_service::app(service))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|error| error.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
