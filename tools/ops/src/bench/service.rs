//! Sections 1 to 3: the service against the machine's ceiling, the
//! generated layer against the same work by hand, and deep pagination.

use std::process::Command;

use serde_json::Value;

use super::cpu;
use super::runner::{
    Bench, Callers, NOT_MEASURED, Sizes, interleaved, measured, number, postgres_database, row, spread,
    verdict,
};
use super::template::Values;

/// Section 1: the service against the HTTP stack's ceiling, as a user sees
/// it (one key per connection); on PostgreSQL also one key on every
/// connection (its bucket's row at its busiest) and the database's own
/// ceiling for the same statement (`pgbench`); and the CPU a request costs.
pub(super) fn service_section(
    values: &mut Values,
    bench: &Bench,
    sizes: &Sizes,
    sqlite: &str,
    postgres: Option<&str>,
) -> Result<(), String> {
    println!("bench: the service against the ceiling");
    let path = bench.page_path(25);
    let mut rows = Vec::new();
    let mut cpu_rows = Vec::new();
    for (store, key, url, target) in [
        ("SQLite", "sqlite", Some(sqlite), 0.4),
        ("PostgreSQL", "postgres", postgres, 0.2),
    ] {
        let Some(url) = url else {
            rows.push(format!("| {store} | {NOT_MEASURED} | | | |"));
            cpu_rows.push(format!("| {store} | {NOT_MEASURED} | | |"));
            values.set(&format!("{key}_ratio"), "n/a");
            values.set(&format!("{key}_verdict"), NOT_MEASURED);
            if key == "postgres" {
                values.set("postgres_db_ratio", "n/a");
                values.set("postgres_db_verdict", NOT_MEASURED);
                for name in [
                    "postgres_hot_ratio",
                    "postgres_uncached_ratio",
                    "postgres_miss_http_ratio",
                    "postgres_db_http_ratio",
                    "postgres_page_http_ratio",
                    "postgres_floor_http_ratio",
                ] {
                    values.set(name, "n/a");
                }
            }
            continue;
        };
        let servers = bench.serve(url, None)?;
        let results = interleaved(bench, sizes, &path, &[servers.generated, servers.ceiling], None)?;
        rows.push(row(&format!("{store} | service"), results[0]));
        rows.push(row(&format!("{store} | ceiling (from memory)"), results[1]));
        let service = results[0].0.1;
        let ratio = service / results[1].0.1;
        values.number(&format!("{key}_ratio"), ratio, 3);
        values.set(&format!("{key}_verdict"), verdict(ratio >= target));
        // CPU per request over one more run of the service.
        let before = cpu::seconds(servers.process.0.id());
        bench.drive(servers.generated, &path, sizes, sizes.requests, None)?;
        let after = cpu::seconds(servers.process.0.id());
        let per_request = |seconds: f64| seconds * 1e6 / sizes.requests as f64;
        let database = if key == "postgres" {
            format!("{:.0}", per_request(after.1 - before.1))
        } else {
            "(in the service's process)".to_owned()
        };
        cpu_rows.push(format!(
            "| {store} | {:.0} | {database} | {:.0} |",
            per_request(after.0 - before.0),
            service
        ));
        if key == "sqlite" {
            row_check(values, bench, sizes, service)?;
        } else {
            postgres_ceiling(
                values,
                bench,
                sizes,
                (url, &path, servers.generated),
                (service, results[1].0.1),
                &mut rows,
            )?;
        }
    }
    values.set("service_rows", rows.join("\n"));
    values.set("cpu_rows", cpu_rows.join("\n"));
    Ok(())
}

/// PostgreSQL's rows beyond the ceiling: one key on every connection, and
/// the database's own ceiling for the service's statement (`pgbench`, as
/// many connections), which the service's requests/s are held to; with two
/// floors under it, interleaved with it: the page statement alone (no
/// token) and `SELECT 1`, each against the HTTP ceiling (what share of it
/// the database alone could reach on this machine).
fn postgres_ceiling(
    values: &mut Values,
    bench: &Bench,
    sizes: &Sizes,
    (url, path, port): (&str, &str, u16),
    (service, http_ceiling): (f64, f64),
    rows: &mut Vec<String>,
) -> Result<(), String> {
    let mut hot = Vec::new();
    for _ in 0..sizes.reps {
        hot.push(bench.drive_as(Callers::OneKey, port, path, sizes, sizes.requests, None)?);
    }
    let hot = measured(&hot);
    rows.push(row("PostgreSQL | service, one key on every connection", hot));
    // The same service with its page cache off: every request reads its
    // page's rows from the database (what a request for a page the
    // instance has not served, or whose audience changed since, costs).
    let uncached = bench.serve_with(url, None, &[("AUDIENCES_PAGE_CACHE_MIB", "0")])?;
    let cold = interleaved(bench, sizes, path, &[uncached.generated], None)?[0];
    drop(uncached);
    rows.push(row(
        "PostgreSQL | service, page cache off (every page read from the database)",
        cold,
    ));
    values.number("postgres_uncached_ratio", cold.0.1 / http_ceiling, 3);
    let seconds = if sizes.requests < 10_000 { 2 } else { 8 };
    const STATEMENTS: [(&str, &str); 4] = [
        (
            "request",
            "pgbench: the service's statement for a kept page (token, audience's state), no HTTP",
        ),
        (
            "miss",
            "pgbench: its statement for a page not kept (token and page), no HTTP",
        ),
        ("page", "pgbench: its page alone (no token), no HTTP"),
        ("floor", "pgbench: `SELECT 1` (a round trip, nothing read)"),
    ];
    let mut tps = vec![Vec::new(); STATEMENTS.len()];
    let mut latency = vec![Vec::new(); STATEMENTS.len()];
    // Each pgbench run of the statement right after a run of the service,
    // and the ratio taken pair by pair: the machine's speed drifts over a
    // section (apart, the two moved the ratio from 0.70 to 0.56 between two
    // runs of the bench, 2026-12-03).
    let mut pairs = Vec::new();
    for _ in 0..sizes.reps.min(3) {
        let before = bench.drive(port, path, sizes, sizes.requests, None)?;
        for (index, (statement, _)) in STATEMENTS.iter().enumerate() {
            let run = bench.run(&[
                "pgbench",
                url,
                &sizes.connections.to_string(),
                &seconds.to_string(),
                statement,
            ])?;
            let run = run.first().ok_or("no pgbench result")?;
            tps[index].push(number(run, "tps"));
            latency[index].push(number(run, "latency_ms"));
            if index == 0 {
                pairs.push(number(&before, "rps") / number(run, "tps"));
            }
        }
    }
    let mut medians = Vec::new();
    for ((_, label), (tps, latency)) in STATEMENTS.iter().zip(tps.into_iter().zip(latency)) {
        let database = spread(tps);
        rows.push(format!(
            "| PostgreSQL | {label} | {:.0} / {:.0} / {:.0} | {:.2} (mean) | |",
            database.0,
            database.1,
            database.2,
            spread(latency).1
        ));
        medians.push(database.1);
    }
    let ratio = spread(pairs).1;
    values.number("postgres_db_ratio", ratio, 3);
    values.set("postgres_db_verdict", verdict(ratio >= 0.6));
    values.number("postgres_hot_ratio", hot.0.1 / service, 3);
    values.number("postgres_db_http_ratio", medians[0] / http_ceiling, 3);
    values.number("postgres_miss_http_ratio", medians[1] / http_ceiling, 3);
    values.number("postgres_page_http_ratio", medians[2] / http_ceiling, 3);
    values.number("postgres_floor_http_ratio", medians[3] / http_ceiling, 3);
    Ok(())
}

/// The stored-row check against the CPU time of a request: both cores over
/// the service's median requests/s (server and driver share them, so this
/// overstates the server's own time, and understates the check's share).
fn row_check(values: &mut Values, bench: &Bench, sizes: &Sizes, requests_per_s: f64) -> Result<(), String> {
    let pages = if sizes.requests < 10_000 { 2_000 } else { 20_000 };
    let measured = bench.run(&["rows", &pages.to_string()])?;
    let measured = measured.first().ok_or("no row-check result")?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let request_us = cores * 1e6 / requests_per_s;
    let stored = number(measured, "stored_us_per_page");
    let proven = number(measured, "proven_us_per_page");
    let parse = number(measured, "parse_us_per_page");
    values.number("row_bytes", number(measured, "bytes_per_row"), 0);
    values.number("row_stored_us", stored, 2);
    values.number("row_stored_share", stored / request_us * 100.0, 1);
    values.number("row_proven_us", proven, 2);
    values.number("row_parse_us", parse, 2);
    values.number("row_request_us", request_us, 1);
    values.number("row_proven_share", proven / request_us * 100.0, 1);
    values.number("row_parse_share", parse / request_us * 100.0, 1);
    values.set("row_verdict", verdict(stored / request_us <= 0.05));
    Ok(())
}

/// 2. The generated layer against the same work written by hand.
pub(super) fn generated_section(
    values: &mut Values,
    bench: &Bench,
    sizes: &Sizes,
    sqlite: &str,
) -> Result<(), String> {
    println!("bench: generated layer against a hand-written handler (pinned cores)");
    let path = bench.page_path(25);
    let pinned = std::thread::available_parallelism().map_or(1, usize::from) >= 2
        && Command::new("taskset").arg("--version").output().is_ok();
    let (server_core, driver_core) = if pinned { (Some(0), Some(1)) } else { (None, None) };
    let servers = bench.serve(sqlite, server_core)?;
    let results = interleaved(
        bench,
        sizes,
        &path,
        &[servers.generated, servers.handwritten],
        driver_core,
    )?;
    drop(servers);
    values.set(
        "pinning",
        if pinned {
            "server pinned to core 0 and driver to core 1 (`taskset`)"
        } else {
            "unpinned (taskset or a second core missing)"
        },
    );
    values.set(
        "generated_rows",
        [
            row("generated router + trait", results[0]),
            row("hand-written handler", results[1]),
        ]
        .join("\n"),
    );
    let ratio = results[0].0.1 / results[1].0.1;
    values.number("generated_ratio", ratio, 3);
    values.set("generated_verdict", verdict(ratio >= 0.97));
    super::profile::profile(values, bench, sqlite, &path);
    match super::profile::instructions(bench, sqlite, &path, sizes.callgrind_requests) {
        Ok((generated, handwritten)) => {
            let ratio = handwritten / generated;
            values.number("instructions_generated", generated, 0);
            values.number("instructions_handwritten", handwritten, 0);
            values.number("instructions_ratio", ratio, 3);
            values.set("instructions_verdict", verdict(ratio >= 0.99));
        }
        Err(error) => {
            for name in [
                "instructions_generated",
                "instructions_handwritten",
                "instructions_ratio",
            ] {
                values.set(name, "n/a");
            }
            values.set("instructions_verdict", format!("not measured: {error}"));
        }
    }
    Ok(())
}

/// 3. Keyset pagination against OFFSET at depth.
pub(super) fn pagination_section(
    values: &mut Values,
    bench: &Bench,
    sizes: &Sizes,
    smoke: bool,
) -> Result<(), String> {
    println!("bench: deep pagination");
    let large = bench.sqlite("large.db");
    let seeded = bench.run(&["seed", &large, &sizes.large.to_string()])?;
    let page_reps = if smoke { 3 } else { 21 };
    let mut page_rows = bench.run(&["pages", &large, &page_reps.to_string()])?;
    let postgres = match postgres_database("audiences_bench")
        .ok()
        .flatten()
        .filter(|_| !smoke)
    {
        Some(url) => {
            let seeded = bench.run(&["seed", &url, &sizes.large.to_string()])?;
            page_rows.extend(bench.run(&["pages", &url, &page_reps.to_string()])?);
            Some(seeded)
        }
        None => None,
    };
    values.set("page_reps", page_reps);
    let seconds = |rows: Option<&Vec<Value>>| {
        rows.and_then(|rows| rows.first()).map_or_else(
            || NOT_MEASURED.to_owned(),
            |row| format!("{:.0}", number(row, "seconds")),
        )
    };
    values.set("sqlite_seed_seconds", seconds(Some(&seeded)));
    values.set("postgres_seed_seconds", seconds(postgres.as_ref()));
    let rows: Vec<String> = page_rows
        .iter()
        .map(|row| {
            let (keyset, offset) = (number(row, "keyset_ms"), number(row, "offset_ms"));
            format!(
                "| {} | {} | {keyset:.3} | {:.3} | {offset:.3} | {:.1}x |",
                row.get("store").and_then(Value::as_str).unwrap_or("?"),
                row.get("depth").and_then(Value::as_u64).unwrap_or(0),
                number(row, "keyset_min_ms"),
                offset / keyset
            )
        })
        .collect();
    values.set("pagination_rows", rows.join("\n"));
    for store in ["sqlite", "postgres"] {
        let rows: Vec<&Value> = page_rows
            .iter()
            .filter(|row| row.get("store").and_then(Value::as_str) == Some(store))
            .collect();
        match (rows.first(), rows.last()) {
            (Some(first), Some(last)) => {
                let ratio = number(last, "keyset_ms") / number(first, "keyset_ms");
                let min_ratio = number(last, "keyset_min_ms") / number(first, "keyset_min_ms");
                values.number(&format!("{store}_depth_ratio"), ratio, 2);
                values.number(&format!("{store}_depth_min_ratio"), min_ratio, 2);
                values.set(&format!("{store}_depth_verdict"), verdict(ratio <= 1.2));
            }
            _ => {
                values.set(&format!("{store}_depth_ratio"), "n/a");
                values.set(&format!("{store}_depth_min_ratio"), "n/a");
                values.set(&format!("{store}_depth_verdict"), NOT_MEASURED);
            }
        }
    }
    Ok(())
}
