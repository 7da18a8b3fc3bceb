//! The measuring side of `cargo xtask bench` and `cargo xtask load` (which
//! build this in release and drive it); not a tool of its own.
//!
//! ```text
//! bench seed DATABASE_URL COUNT          demo data plus COUNT prospects in the ready audience
//! bench serve DATABASE_URL PORT PORT PORT
//!                                        on three ports of one process: the generated router
//!                                        and the service; a hand-written axum handler doing
//!                                        the same work over the same store; and the ceiling,
//!                                        a handler answering the same first page from memory
//! bench pages DATABASE_URL REPS          one page of 100 at depths 0, 10k, 100k, 500k and the
//!                                        last, keyset against OFFSET (JSON lines)
//! bench export BASE_URL KEY client|client-gzip|sequential
//!                                        every prospect of the ready audience in pages of 100:
//!                                        the client's walk (gzip off, or asked for), or a
//!                                        strictly sequential loop
//! bench wire BASE_URL KEY               the first page of 100 on the wire, as is and gzipped
//!                                        (bytes, JSON)
//! bench serde COUNT                      serde_json serialize and typed parse of COUNT prospects
//! bench walk BASE_URL KEY GROUP AUDIENCE PAGE_SIZE PAUSE_MS
//!                                        the client's walk of an audience, pausing after each
//!                                        page (for `cargo xtask cluster --check`): prints the
//!                                        prospects seen, the distinct ones and the pages, or
//!                                        the error and its status (JSON)
//! bench limits POSTGRES_URL [REDIS_ADDRESS]
//!                                        a shared rate limit's cost and accuracy: the store's
//!                                        PostgreSQL statement, and the same GCRA as a Redis
//!                                        script (JSON lines)
//! bench pgbench POSTGRES_URL CONNECTIONS SECONDS [request|miss|page|floor]
//!                                        PostgreSQL's own ceiling for the service's request
//!                                        statement (the token and the audience's state, as
//!                                        the service runs it for the first page of 25 it
//!                                        keeps), through `pgbench` with as many connections,
//!                                        one key each (JSON); `miss`: the token and the page
//!                                        (a page not kept), `page`: the page statement
//!                                        alone, `floor`: `SELECT 1`
//! bench drive URL... [--connections N] [--requests N | --seconds S] [--key KEY]...
//!             [--allow STATUS]... [--trace-ids]
//!                                        the load driver: GET the URLs in turn over N keep-alive
//!                                        connections (plain HTTP/1.1, as lean as wrk; with
//!                                        several keys, connection n uses the n-th); prints
//!                                        requests/s and latency percentiles (JSON); fails on a
//!                                        status other than 200 and the allowed ones, and with
//!                                        --trace-ids on a missing or repeated X-Trace-Id
//! ```

use std::time::Instant;

use audiences_service::demo::{self, READY_AUDIENCE_ID};

/// The service binary's allocator (src/main.rs), so that `serve` is the
/// service as it runs; the client side of the bench (`export`, `serde`,
/// `drive`) runs on it too, baselines included.
mod client;
mod common;
mod drive;
mod limits;
mod pages;
mod pgbench;
mod serve;

use common::{KEY, fail, open, parse};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["seed", url, count] => seed(url, parse(count)).await,
        ["serve", url, generated, handwritten, ceiling] => {
            serve::serve(url, generated, handwritten, ceiling).await
        }
        ["pages", url, reps] => pages::pages(url, parse(reps)).await,
        ["export", base, key, mode] => client::export(base, key, mode).await,
        ["wire", base, key] => client::wire(base, key).await,
        ["serde", count] => client::serde_speed(parse(count)),
        ["rows", pages] => client::row_check(parse(pages)),
        ["walk", base, key, group, audience, page_size, pause_ms] => {
            client::walk(base, key, group, audience, parse(page_size), parse(pause_ms)).await;
        }
        ["limits", postgres] => limits::shared_limits(postgres, None).await,
        ["limits", postgres, redis] => limits::shared_limits(postgres, Some(redis)).await,
        ["drive", rest @ ..] => drive::drive(drive::DriveOptions::parse(rest)).await,
        ["pgbench", url, connections, seconds] => pgbench::run(
            url,
            parse(connections),
            parse(seconds),
            pgbench::Statement::Request,
        ),
        ["pgbench", url, connections, seconds, statement] => pgbench::run(
            url,
            parse(connections),
            parse(seconds),
            pgbench::Statement::parse(statement),
        ),
        _ => fail("see the module docs for the commands"),
    }
}

async fn seed(url: &str, count: u32) {
    let store = open(url).await;
    let started = Instant::now();
    if demo::seed(&store, Some(KEY.to_owned()))
        .await
        .unwrap_or_else(|error| fail(error))
        .is_none()
    {
        fail("the database is not empty");
    }
    for key in common::extra_keys() {
        demo::create_key(
            &store,
            demo::ACCOUNT_GROUP_ID,
            audiences_service::keys::ALL_PERMISSIONS,
            Some(key),
        )
        .await
        .unwrap_or_else(|error| fail(error));
    }
    let extra = count.saturating_sub(demo::READY_AUDIENCE_SIZE);
    demo::insert_prospects(&store, READY_AUDIENCE_ID, demo::READY_AUDIENCE_SIZE, extra)
        .await
        .unwrap_or_else(|error| fail(error));
    println!(
        "{{\"seeded\":{count},\"seconds\":{:.1}}}",
        started.elapsed().as_secs_f64()
    );
}
