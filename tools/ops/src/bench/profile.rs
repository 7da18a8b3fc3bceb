//! Where the generated server's CPU goes (`perf record` of its process
//! under load, against the measured split of the design before), and its
//! instructions per request against the hand-written server's (callgrind).

use std::process::{Command, Stdio};
use std::time::Duration;

use super::runner::{Bench, KEY, number, run_json};
use super::template::Values;
use crate::process::{free_port, wait_for};

/// Where a request's CPU goes before (measured on 2026-12-01 at commit
/// 2f73c55: sqlx's SQLite driver, rows parsed and serialized again, three
/// statements a page) and now: shares of `perf` samples (cpu-clock) of the
/// whole server process under the driver.
const BEFORE: &[(&str, f64)] = &[
    ("allocator (malloc, free)", 24.6),
    ("kernel (network, scheduling)", 22.4),
    ("serde_json", 14.4),
    ("SQLite and its driver", 10.7),
    ("tokio", 4.2),
    ("memcpy, memcmp", 3.9),
    ("hyper, http, axum, tower", 2.0),
    ("audiences (runtime, service)", 2.1),
    ("other", 15.7),
];
const BEFORE_RPS: f64 = 2_697.0;

fn bucket(dso: &str, symbol: &str) -> &'static str {
    let symbol = symbol.to_ascii_lowercase();
    let has = |parts: &[&str]| parts.iter().any(|part| symbol.contains(part));
    if dso.contains("kernel") {
        "kernel (network, scheduling)"
    } else if has(&[
        "malloc",
        "free",
        "realloc",
        "_int_",
        "unlink_chunk",
        "__rdl_alloc",
        "__rust_alloc",
    ]) {
        "allocator (malloc, free)"
    } else if has(&["memcpy", "memmove", "memset", "memcmp"]) {
        "memcpy, memcmp"
    } else if has(&[
        "sqlite", "btree", "pcache", "vdbe", "getcell", "getpage", "sqlx", "pager",
    ]) {
        "SQLite and its driver"
    } else if has(&["serde_json"]) {
        "serde_json"
    } else if has(&["tokio"]) {
        "tokio"
    } else if has(&["hyper", "http::", "httparse", "axum", "tower", "matchit"]) {
        "hyper, http, axum, tower"
    } else if has(&["audiences", "bench::"]) {
        "audiences (runtime, service)"
    } else {
        "other"
    }
}

/// `perf record` of the service process while the driver loads the
/// generated server for 5 s; the table of shares against [`BEFORE`].
pub(super) fn profile(values: &mut Values, bench: &Bench, sqlite: &str, path: &str) {
    values.number("profile_before_rps", BEFORE_RPS, 0);
    let (rps, rows) = match profile_shares(bench, sqlite, path) {
        Ok((rps, shares)) => (
            format!("{rps:.0}"),
            BEFORE
                .iter()
                .map(|(name, before)| {
                    format!(
                        "| {name} | {before:.1} | {:.1} |",
                        shares.get(name).copied().unwrap_or(0.0)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Err(error) => ("n/a".to_owned(), format!("| not taken: {error} | | |")),
    };
    values.set("profile_rps", rps);
    values.set("profile_rows", rows);
}

/// The requests/s of the profiled run and the share of each bucket.
fn profile_shares(
    bench: &Bench,
    sqlite: &str,
    path: &str,
) -> Result<(f64, std::collections::BTreeMap<&'static str, f64>), String> {
    if Command::new("perf").arg("--version").output().is_err() {
        return Err("perf is not installed".into());
    }
    let servers = bench.serve(sqlite, None)?;
    let pid = servers.process.0.id().to_string();
    let data = bench.work.join("perf.data");
    let mut recorder = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "999", "-g", "-p", &pid, "-o"])
        .arg(&data)
        .args(["--", "sleep", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("perf: {error}"))?;
    let driven = run_json(Command::new(&bench.binary).args([
        "drive",
        &format!("http://127.0.0.1:{}{path}", servers.generated),
        "--connections",
        "32",
        "--seconds",
        "4.5",
        "--key",
        KEY,
    ]))?;
    let _ = recorder.wait();
    let rps = driven.first().map_or(f64::NAN, |run| number(run, "rps"));
    let report = Command::new("perf")
        .args([
            "report",
            "--no-children",
            "--sort",
            "dso,sym",
            "-q",
            "-g",
            "none",
            "--percent-limit",
            "0",
            "-i",
        ])
        .arg(&data)
        .stderr(Stdio::null())
        .output()
        .map_err(|error| format!("perf report: {error}"))?;
    let mut shares: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&report.stdout).lines() {
        let mut fields = line.split_whitespace();
        let (Some(percent), Some(dso)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(percent) = percent.trim_end_matches('%').parse::<f64>() else {
            continue;
        };
        let symbol = fields.skip(1).collect::<Vec<_>>().join(" ");
        *shares.entry(bucket(dso, &symbol)).or_default() += percent;
    }
    if shares.is_empty() {
        return Err("perf recorded no samples (is perf_event_paranoid too strict?)".into());
    }
    Ok((rps, shares))
}

/// Instructions per request of the generated and the hand-written server,
/// counted by callgrind after a warm-up (one-time work such as lazily built
/// patterns and statement caches is not counted).
pub(super) fn instructions(
    bench: &Bench,
    url: &str,
    path: &str,
    requests: usize,
) -> Result<(f64, f64), String> {
    let mut per_request = Vec::new();
    for target in [0, 1] {
        let folder = bench.work.join(format!("callgrind-{target}"));
        std::fs::create_dir_all(&folder).map_err(|error| error.to_string())?;
        let ports = [free_port()?, free_port()?, free_port()?];
        let mut child = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!(
                "--callgrind-out-file={}",
                folder.join("cg.out").display()
            ))
            .arg(&bench.binary)
            .args(["serve", url])
            .args(ports.map(|port| port.to_string()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("valgrind: {error}"))?;
        let pid = child.id().to_string();
        let drive = |count: usize| {
            run_json(Command::new(&bench.binary).args([
                "drive",
                &format!("http://127.0.0.1:{}{path}", ports[target]),
                "--connections",
                "4",
                "--requests",
                &count.to_string(),
                "--key",
                KEY,
            ]))
            .map(drop)
        };
        let control = |flag: &str| {
            Command::new("callgrind_control")
                .args([flag, &pid])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|error| format!("callgrind_control: {error}"))
                .map(drop)
        };
        let measured = ports
            .iter()
            .try_for_each(|&port| wait_for(port))
            .and_then(|()| drive(requests.div_ceil(4).max(8)))
            .and_then(|()| control("-z"))
            .and_then(|()| drive(requests))
            .and_then(|()| control("-d"));
        std::thread::sleep(Duration::from_secs(2));
        let _ = child.kill();
        let _ = child.wait();
        measured?;
        let mut total = 0_u64;
        for entry in std::fs::read_dir(&folder).map_err(|error| error.to_string())? {
            let text =
                std::fs::read_to_string(entry.map_err(|error| error.to_string())?.path()).unwrap_or_default();
            total += text
                .lines()
                .filter_map(|line| line.strip_prefix("totals: "))
                .filter_map(|value| value.trim().parse::<u64>().ok())
                .sum::<u64>();
        }
        per_request.push(total as f64 / requests as f64);
    }
    Ok((per_request[0], per_request[1]))
}
