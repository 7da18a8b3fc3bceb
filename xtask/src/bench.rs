//! `cargo xtask bench [--smoke]`: builds the measuring binary
//! (`crates/audiences-service/examples/bench.rs`) and the CLI in release,
//! runs every benchmark on loopback with interleaved repetitions, and writes
//! `BENCHMARKS.md` (or, with `--smoke`, a tiny run to
//! `target/BENCHMARKS.smoke.md` that only keeps the benchmarks working).
//!
//! Every figure that carries a target is a ratio against a baseline measured
//! in the same run: these machines are shared and noisy.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::{KillOnDrop, free_port, wait_for};

/// The demo key the bench seeds (the bench binary's own constant).
const KEY: &str = "ak_bench_0123456789abcdef0123456789abcdef";

struct Sizes {
    large: u32,
    medium: u32,
    reps: usize,
    requests: usize,
    connections: usize,
    callgrind_requests: usize,
}

fn sizes(smoke: bool) -> Sizes {
    if smoke {
        Sizes {
            large: 3_000,
            medium: 1_500,
            reps: 1,
            requests: 400,
            connections: 8,
            callgrind_requests: 20,
        }
    } else {
        Sizes {
            large: 1_000_000,
            medium: 100_000,
            reps: 5,
            requests: 30_000,
            connections: 32,
            callgrind_requests: 400,
        }
    }
}

/// The built binaries and a scratch folder.
pub(crate) struct Bench {
    pub(crate) binary: PathBuf,
    cli: PathBuf,
    work: PathBuf,
    group: String,
    audience: String,
}

/// The three servers of `bench serve`, on their ports.
struct Servers {
    _process: KillOnDrop,
    generated: u16,
    handwritten: u16,
    ceiling: u16,
}

impl Bench {
    /// Removes the scratch folder.
    pub(crate) fn cleanup(&self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }

    pub(crate) fn run(&self, args: &[&str]) -> Result<Vec<Value>, String> {
        run_json(Command::new(&self.binary).args(args))
    }

    fn sqlite(&self, name: &str) -> String {
        format!("sqlite://{}", self.work.join(name).display())
    }

    fn page_path(&self, limit: u32) -> String {
        format!(
            "/v1/accounts/{}/audiences/{}/prospects?limit={limit}",
            self.group, self.audience
        )
    }

    /// `bench serve` on `url`; with `core`, pinned to that CPU.
    fn serve(&self, url: &str, core: Option<usize>) -> Result<Servers, String> {
        let ports = [free_port()?, free_port()?, free_port()?];
        let ports_text = ports.map(|port| port.to_string());
        let mut command = pinned(core, &self.binary);
        command
            .arg("serve")
            .arg(url)
            .args(&ports_text)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let process = KillOnDrop(command.spawn().map_err(|error| error.to_string())?);
        for port in ports {
            wait_for(port)?;
        }
        Ok(Servers {
            _process: process,
            generated: ports[0],
            handwritten: ports[1],
            ceiling: ports[2],
        })
    }

    /// One run of the load driver; with `core`, pinned to that CPU.
    fn drive(
        &self,
        port: u16,
        path: &str,
        sizes: &Sizes,
        requests: usize,
        core: Option<usize>,
    ) -> Result<Value, String> {
        let mut command = pinned(core, &self.binary);
        command.args([
            "drive",
            &format!("http://127.0.0.1:{port}{path}"),
            "--connections",
            &sizes.connections.to_string(),
            "--requests",
            &requests.to_string(),
            "--key",
            KEY,
        ]);
        run_json(&mut command)?
            .into_iter()
            .next()
            .ok_or_else(|| "no drive result".to_owned())
    }
}

/// `program` under `taskset -c CORE` when a core is given.
fn pinned(core: Option<usize>, program: &Path) -> Command {
    match core {
        Some(core) => {
            let mut command = Command::new("taskset");
            command.args(["-c", &core.to_string()]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

fn run_json(command: &mut Command) -> Result<Vec<Value>, String> {
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    if !output.status.success() {
        return Err(format!("{command:?} failed"));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).map_err(|error| format!("{line}: {error}")))
        .collect()
}

fn number(value: &Value, key: &str) -> f64 {
    value.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// (min, median, max)
fn spread(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    (samples[0], samples[samples.len() / 2], samples[samples.len() - 1])
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                line.strip_prefix("model name")
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .next()
                .map(|line| line.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or_else(String::new, |kib| {
            format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0)
        });
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {memory}, {rustc}; shared machine, loopback only")
}

/// Builds the bench binary and the CLI in release; the bench.
pub(crate) fn build(root: &Path) -> Result<Bench, String> {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-q",
            "--example",
            "bench",
            "-p",
            "audiences-service",
            "--bin",
            "audiences",
            "-p",
            "audiences-cli",
        ])
        .current_dir(root)
        .status()
        .map_err(|error| error.to_string())?;
    if !status.success() {
        return Err("cannot build the bench binary and the CLI".into());
    }
    let target = crate::target_dir(root);
    let work = std::env::temp_dir().join(format!("audiences-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|error| error.to_string())?;
    let (group, audience) = crate::demo_ids(root)?;
    Ok(Bench {
        binary: target.join("release/examples/bench"),
        cli: target.join("release/audiences"),
        work,
        group,
        audience,
    })
}

/// Runs the benchmarks and writes the report; returns its path.
pub fn run(root: &Path, smoke: bool) -> Result<PathBuf, String> {
    if !smoke && std::env::var_os("AUDIENCES_TEST_POSTGRES_URL").is_none() {
        // The PostgreSQL rows need a server: run again under with-postgres.
        let status = Command::new(root.join("scripts/with-postgres"))
            .arg(std::env::current_exe().map_err(|error| error.to_string())?)
            .arg("bench")
            .current_dir(root)
            .status()
            .map_err(|error| format!("cannot run scripts/with-postgres: {error}"))?;
        return if status.success() {
            Ok(root.join("BENCHMARKS.md"))
        } else {
            Err("the benchmarks failed".into())
        };
    }
    let started = Instant::now();
    let bench = build(root)?;
    let result = report(root, &bench, &sizes(smoke), smoke);
    bench.cleanup();
    let text = result?;
    let path = if smoke {
        crate::target_dir(root).join("BENCHMARKS.smoke.md")
    } else {
        root.join("BENCHMARKS.md")
    };
    std::fs::write(&path, text).map_err(|error| error.to_string())?;
    println!(
        "wrote {} in {:.0} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

/// A PostgreSQL database for the bench, fresh, on the server
/// `AUDIENCES_TEST_POSTGRES_URL` names (none in smoke runs).
fn postgres_database(name: &str) -> Result<Option<String>, String> {
    let Ok(admin) = std::env::var("AUDIENCES_TEST_POSTGRES_URL") else {
        return Ok(None);
    };
    crate::process::fresh_database(&admin, name).map(Some)
}

fn report(root: &Path, bench: &Bench, sizes: &Sizes, smoke: bool) -> Result<String, String> {
    let mut out = String::new();
    let command = if smoke {
        "cargo xtask bench --smoke"
    } else {
        "cargo xtask bench"
    };
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `{command}` on {}. Machine: {}.\n\nEvery target is a ratio against a baseline measured in the same run, with repetitions interleaved (min / median / max over {} runs where shown). Load comes from the bench binary's driver (`bench drive`: plain HTTP/1.1 over keep-alive connections, as lean as wrk, checking every status), {} connections.\n",
        chrono_free_date(),
        machine(),
        sizes.reps,
        sizes.connections
    );
    let small = bench.sqlite("small.db");
    bench.run(&["seed", &small, "1000"])?;
    let postgres_small = if smoke {
        None
    } else {
        postgres_database("audiences_bench_small")?
    };
    if let Some(url) = &postgres_small {
        bench.run(&["seed", url, "1000"])?;
    }
    service_section(&mut out, bench, sizes, &small, postgres_small.as_deref())?;
    generated_section(&mut out, bench, sizes, &small)?;
    pagination_section(&mut out, bench, sizes, smoke)?;
    export_section(&mut out, bench, sizes)?;
    if let Some(url) = &postgres_small {
        limits_section(&mut out, bench, url)?;
    }
    generation_section(&mut out, root, sizes)?;
    let _ = writeln!(
        out,
        "Reproduce with `{command}` (it starts its own PostgreSQL through `scripts/with-postgres`). The measuring code is `crates/audiences-service/examples/bench.rs`; the orchestration `xtask/src/bench.rs`."
    );
    Ok(out)
}

/// Requests/s (min, median, max), median p50 and median p99 of one server.
type Measured = ((f64, f64, f64), f64, f64);

/// Requests/s, p50 and p99 of interleaved runs against each port.
fn interleaved(
    bench: &Bench,
    sizes: &Sizes,
    path: &str,
    ports: &[u16],
    core: Option<usize>,
) -> Result<Vec<Measured>, String> {
    for &port in ports {
        bench.drive(port, path, sizes, 500, core)?;
    }
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); ports.len()];
    for rep in 0..sizes.reps {
        for offset in 0..ports.len() {
            let index = (rep + offset) % ports.len();
            runs[index].push(bench.drive(ports[index], path, sizes, sizes.requests, core)?);
        }
    }
    Ok(runs
        .iter()
        .map(|runs| {
            (
                spread(runs.iter().map(|run| number(run, "rps")).collect()),
                spread(runs.iter().map(|run| number(run, "p50_ms")).collect()).1,
                spread(runs.iter().map(|run| number(run, "p99_ms")).collect()).1,
            )
        })
        .collect())
}

fn row(out: &mut String, name: &str, (rps, p50, p99): Measured) {
    let _ = writeln!(
        out,
        "| {name} | {:.0} / {:.0} / {:.0} | {p50:.2} | {p99:.2} |",
        rps.0, rps.1, rps.2
    );
}

/// 1. The service against the HTTP stack's ceiling, as a user sees it.
fn service_section(
    out: &mut String,
    bench: &Bench,
    sizes: &Sizes,
    sqlite: &str,
    postgres: Option<&str>,
) -> Result<(), String> {
    println!("bench: the service against the ceiling");
    let path = bench.page_path(25);
    let _ = writeln!(
        out,
        "## 1. The service against the machine's ceiling\n\nA page of 25 from a 1,000-prospect audience, {} requests per run, server and driver sharing both cores as a user's would. The ceiling is a hand-written axum handler in the same process answering the same page (the same bytes) from memory: what the HTTP stack alone does on this machine. The service is the release build's generated router, trait and store (one statement per page, stored rows passed through). Every process of the bench binary (server, driver, client, the serde baselines) runs on mimalloc, the service binary's allocator.\n",
        sizes.requests
    );
    let _ = writeln!(
        out,
        "| Store | server | requests/s (min / median / max) | p50 ms | p99 ms |\n|---|---|---|---|---|"
    );
    let mut ratios = Vec::new();
    for (store, url, target) in [("SQLite", Some(sqlite), 0.5), ("PostgreSQL", postgres, 0.3)] {
        let Some(url) = url else {
            let _ = writeln!(out, "| {store} | not measured in this run | | | |");
            continue;
        };
        let servers = bench.serve(url, None)?;
        let results = interleaved(bench, sizes, &path, &[servers.generated, servers.ceiling], None)?;
        row(out, &format!("{store} | service"), results[0]);
        row(out, &format!("{store} | ceiling (from memory)"), results[1]);
        ratios.push((store, results[0].0.1 / results[1].0.1, target));
    }
    let _ = writeln!(out);
    for (store, ratio, target) in ratios {
        let _ = writeln!(
            out,
            "{store}: service / ceiling (median requests/s) = **{ratio:.3}** (target at least {target}: {}).\n",
            verdict(ratio >= target)
        );
    }
    Ok(())
}

/// 2. The generated layer against the same work written by hand.
fn generated_section(out: &mut String, bench: &Bench, sizes: &Sizes, sqlite: &str) -> Result<(), String> {
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
    let _ = writeln!(
        out,
        "## 2. Generated-layer overhead\n\nThe same page, {}: the generated router and trait against a hand-written axum handler (`Path`/`Query` extractors) doing the same work (key cache, rate limit, the same store call, rows passed through, the same headers), served by the same process.\n",
        if pinned {
            "server pinned to core 0 and driver to core 1 (`taskset`)"
        } else {
            "unpinned (taskset or a second core missing)"
        }
    );
    let _ = writeln!(
        out,
        "| Server | requests/s (min / median / max) | p50 ms | p99 ms |\n|---|---|---|---|"
    );
    row(out, "generated router + trait", results[0]);
    row(out, "hand-written handler", results[1]);
    let ratio = results[0].0.1 / results[1].0.1;
    let _ = writeln!(
        out,
        "\nRatio generated / hand-written (median requests/s): **{ratio:.3}** (target at least 0.97: {}).\n",
        verdict(ratio >= 0.97)
    );
    match profile(bench, sqlite, &path) {
        Ok(table) => out.push_str(&table),
        Err(error) => {
            let _ = writeln!(out, "Per-request profile not taken: {error}.\n");
        }
    }
    match instructions(bench, sqlite, &path, sizes.callgrind_requests) {
        Ok((generated, handwritten)) => {
            let ratio = handwritten / generated;
            let _ = writeln!(
                out,
                "Instructions per request under `valgrind --tool=callgrind` ({} requests over 4 connections, counted after a warm-up; repeatable whatever the machine is doing; memcpy's `rep movsb` counts one per byte, and SHA-256 runs without SHA-NI under valgrind): generated {generated:.0}, hand-written {handwritten:.0}; hand-written / generated = **{ratio:.3}** (target at least 0.99: {}).\n",
                sizes.callgrind_requests,
                verdict(ratio >= 0.99)
            );
        }
        Err(error) => {
            let _ = writeln!(out, "Instruction counts not measured: {error}.\n");
        }
    }
    Ok(())
}

/// 3. Keyset pagination against OFFSET at depth.
fn pagination_section(out: &mut String, bench: &Bench, sizes: &Sizes, smoke: bool) -> Result<(), String> {
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
    let _ = writeln!(
        out,
        "## 3. Deep pagination\n\nOne page of 100 from a {}-prospect audience at each depth: the store's page statement with the audience's state (rows handed over as stored JSON); {} rounds, each visiting every depth (median, and minimum for keyset). OFFSET is the naive baseline on the same index. Seeding took {:.0} s (SQLite){}.\n",
        sizes.large,
        page_reps,
        seeded.first().map_or(f64::NAN, |row| number(row, "seconds")),
        postgres
            .as_ref()
            .and_then(|rows| rows.first())
            .map_or(String::new(), |row| format!(
                ", {:.0} s (PostgreSQL)",
                number(row, "seconds")
            ))
    );
    let _ = writeln!(
        out,
        "| Store | depth | keyset ms (median) | keyset ms (min) | OFFSET ms (median) | OFFSET / keyset |\n|---|---|---|---|---|---|"
    );
    for row in &page_rows {
        let (keyset, offset) = (number(row, "keyset_ms"), number(row, "offset_ms"));
        let _ = writeln!(
            out,
            "| {} | {} | {keyset:.3} | {:.3} | {offset:.3} | {:.1}x |",
            row.get("store").and_then(Value::as_str).unwrap_or("?"),
            row.get("depth").and_then(Value::as_u64).unwrap_or(0),
            number(row, "keyset_min_ms"),
            offset / keyset
        );
    }
    for store in ["sqlite", "postgres"] {
        let rows: Vec<&Value> = page_rows
            .iter()
            .filter(|row| row.get("store").and_then(Value::as_str) == Some(store))
            .collect();
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            let ratio = number(last, "keyset_ms") / number(first, "keyset_ms");
            let min_ratio = number(last, "keyset_min_ms") / number(first, "keyset_min_ms");
            let _ = writeln!(
                out,
                "\n{store}: keyset last page / first page = **{ratio:.2}x** by medians, {min_ratio:.2}x by minimums (target at most 1.2x: {}).",
                verdict(ratio <= 1.2)
            );
        }
    }
    if postgres.is_none() {
        let _ = writeln!(out, "\nPostgreSQL: not measured in this run.");
    }
    let _ = writeln!(out);
    Ok(())
}

/// The CLI's export of the whole audience as JSON lines into a pipe to
/// `wc -l`: (prospects, seconds). Counted by another program, as a pipe
/// would take it: not here, where xtask is a debug build (counting a
/// gigabyte byte by byte in it timed the counter, not the CLI).
fn cli_export(bench: &Bench, base: &str) -> Result<(u64, f64), String> {
    let started = Instant::now();
    let mut child = Command::new(&bench.cli)
        .args([
            "--base-url",
            base,
            "prospects",
            "list",
            "--account-group",
            &bench.group,
            "--audience",
            &bench.audience,
            "--all",
            "--format",
            "jsonl",
        ])
        .env("AUDIENCES_API_KEY", KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|error| format!("cannot run the CLI: {error}"))?;
    let stdout = child.stdout.take().ok_or("no pipe from the CLI")?;
    let counted = Command::new("wc")
        .arg("-l")
        .stdin(Stdio::from(stdout))
        .output()
        .map_err(|error| format!("cannot run wc: {error}"))?;
    let status = child.wait().map_err(|error| error.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() || !counted.status.success() {
        return Err("the CLI export failed".into());
    }
    let lines = String::from_utf8_lossy(&counted.stdout)
        .trim()
        .parse()
        .map_err(|error| format!("wc -l printed no count: {error}"))?;
    Ok((lines, seconds))
}

/// 4. Exporting an audience.
fn export_section(out: &mut String, bench: &Bench, sizes: &Sizes) -> Result<(), String> {
    println!("bench: export");
    let medium = bench.sqlite("medium.db");
    bench.run(&["seed", &medium, &sizes.medium.to_string()])?;
    let large = bench.sqlite("large.db");
    let reps = sizes.reps.min(3);
    let _ = writeln!(
        out,
        "## 4. Export\n\nEvery prospect of the audience in pages of 100 from the release service (generated router, SQLite) on loopback: by `AudiencesClient::prospects(..).items()` (which sends the request for the next page when a page's `X-Next-Cursor` header arrives and reads its body on another task while this page is parsed: one page ahead at most), by the CLI (`audiences prospects list --all --format jsonl` into a pipe to `wc -l`, on mimalloc too), and by a strictly sequential loop (reqwest + serde_json, decoding as the generated client does, the next request only once the page is parsed). Each run is its own process; the client's peak RSS (VmHWM) is its memory (on mimalloc, which keeps about 20 MiB more than glibc's malloc here: 11 MiB there for 300,000 prospects). {reps} runs per row, interleaved; prospects/s by medians.\n"
    );
    let _ = writeln!(
        out,
        "| Audience | client items()/s | CLI/s | sequential/s | client / sequential | CLI / sequential | client peak RSS MiB |\n|---|---|---|---|---|---|---|"
    );
    let mut peaks = Vec::new();
    let mut last = (0.0, 0.0, 0.0);
    let mut gzip = String::new();
    for (url, size) in [(&medium, sizes.medium), (&large, sizes.large)] {
        let servers = bench.serve(url, None)?;
        let base = format!("http://127.0.0.1:{}", servers.generated);
        if size == sizes.medium {
            gzip = gzip_paragraph(bench, &base, size, reps)?;
        }
        let (mut client, mut cli, mut sequential, mut rss) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for rep in 0..reps {
            for turn in 0..3 {
                match (rep + turn) % 3 {
                    0 | 1 => {
                        let mode = if (rep + turn) % 3 == 0 {
                            "client"
                        } else {
                            "sequential"
                        };
                        let (rate, result) = export_run(bench, &base, mode, size)?;
                        if mode == "client" {
                            client.push(rate);
                            rss.push(number(&result, "peak_rss_kib") / 1024.0);
                        } else {
                            sequential.push(rate);
                        }
                    }
                    _ => {
                        let (lines, seconds) = cli_export(bench, &base)?;
                        if lines != u64::from(size) {
                            return Err(format!("the CLI wrote {lines} lines of {size}"));
                        }
                        cli.push(f64::from(size) / seconds);
                    }
                }
            }
        }
        let (client, cli, sequential) = (spread(client).1, spread(cli).1, spread(sequential).1);
        let peak = spread(rss).2;
        peaks.push(peak);
        last = (client, cli, sequential);
        let _ = writeln!(
            out,
            "| {size} | {client:.0} | {cli:.0} | {sequential:.0} | **{:.2}** | **{:.2}** | {peak:.1} |",
            client / sequential,
            cli / sequential
        );
    }
    out.push_str(&gzip);
    let serde = bench.run(&["serde", &sizes.medium.to_string()])?;
    let serde = serde.first().ok_or("no serde result")?;
    let parse = number(serde, "parse_per_s");
    let page_parse = number(serde, "page_parse_per_s");
    let (client, cli, sequential) = last;
    let _ = writeln!(
        out,
        "\nCeiling, serde_json alone on one core on the same prospects ({:.0} bytes each): typed parse {parse:.0}/s (each prospect from its own `&str`), serialize {:.0}/s. The same prospects in pages of 100 in the envelope, parsed from bytes as the generated client does (UTF-8 checked once for the whole body, a page's allocations freed together): {page_parse:.0}/s, {:.2} of the first; client / page parse = {:.2}, CLI / page parse = {:.2} (for reading the gap; the target is against the first).\n",
        number(serde, "bytes_per_prospect"),
        number(serde, "serialize_per_s"),
        page_parse / parse,
        last.0 / page_parse,
        last.1 / page_parse,
    );
    let _ = writeln!(
        out,
        "At {}: client / serde parse = **{:.2}**, CLI / serde parse = **{:.2}** (target at least 0.5: {}); client / sequential = **{:.2}**, CLI / sequential = **{:.2}** (target at least 1.5: {}); client memory at {} / at {} = **{:.2}x** (flat: {}).\n",
        sizes.large,
        client / parse,
        cli / parse,
        verdict(client / parse >= 0.5 && cli / parse >= 0.5),
        client / sequential,
        cli / sequential,
        verdict(client / sequential >= 1.5 && cli / sequential >= 1.5),
        sizes.large,
        sizes.medium,
        peaks[1] / peaks[0],
        verdict(peaks[1] / peaks[0] <= 1.2)
    );
    Ok(())
}

/// One `bench export` run in `mode` of an audience of `size`: prospects/s,
/// and what it printed; an export that saw another count fails.
fn export_run(bench: &Bench, base: &str, mode: &str, size: u32) -> Result<(f64, Value), String> {
    let result = bench
        .run(&["export", base, KEY, mode])?
        .into_iter()
        .next()
        .ok_or("no export result")?;
    if number(&result, "prospects") as u32 != size {
        return Err(format!("the {mode} export saw {result} prospects of {size}"));
    }
    Ok((f64::from(size) / number(&result, "seconds"), result))
}

/// gzip measured both ways: the client's walk asking for it and not, on
/// loopback, and what a page weighs on the wire; from which the link speed
/// below which gzip wins.
fn gzip_paragraph(bench: &Bench, base: &str, size: u32, reps: usize) -> Result<String, String> {
    let wire = bench.run(&["wire", base, KEY])?;
    let wire = wire.first().ok_or("no wire result")?;
    let (identity_bytes, gzip_bytes) = (number(wire, "identity_bytes"), number(wire, "gzip_bytes"));
    let (mut plain, mut gzip) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        for mode in if rep % 2 == 0 {
            ["client", "client-gzip"]
        } else {
            ["client-gzip", "client"]
        } {
            let (rate, _) = export_run(bench, base, mode, size)?;
            if mode == "client" {
                plain.push(rate)
            } else {
                gzip.push(rate)
            }
        }
    }
    let (plain, gzip) = (spread(plain).1, spread(gzip).1);
    // Seconds gzip adds to a page here, and the bits it saves on the wire.
    let cost = 100.0 / gzip - 100.0 / plain;
    let saved_bits = (identity_bytes - gzip_bytes) * 8.0;
    let crossover = if cost > 0.0 {
        format!(
            "it costs {:.3} ms a page here and saves {:.0} bytes, so it wins on any link slower than **{:.0} Mbit/s** (bits saved / time it costs)",
            cost * 1e3,
            identity_bytes - gzip_bytes,
            saved_bits / cost / 1e6
        )
    } else {
        "it is faster even on loopback".to_owned()
    };
    Ok(format!(
        "\ngzip, negotiated (`Accept-Encoding`; the service compresses bodies of at least 1 KiB at the fastest level): a page of 100 is {identity_bytes:.0} bytes as is and {gzip_bytes:.0} gzipped ({:.1}x smaller). The client's walk of {size} prospects on loopback, {reps} runs each, interleaved: {plain:.0}/s without, {gzip:.0}/s with ({:.2}x); {crossover}. Hence the client's default: gzip asked for, except for a loopback base URL (`ClientBuilder::compression` decides otherwise).\n",
        identity_bytes / gzip_bytes,
        gzip / plain,
    ))
}

/// Section 5, where the shared rate limit lives: PostgreSQL (the store's
/// statement) against Redis (the same GCRA as a script), by latency and
/// accuracy.
fn limits_section(out: &mut String, bench: &Bench, postgres: &str) -> Result<(), String> {
    println!("bench: shared rate limits");
    let redis = match Command::new("redis-server").arg("--version").output() {
        Ok(_) => {
            let port = free_port()?;
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|error| format!("redis-server: {error}"))?;
            wait_for(port)?;
            Some((KillOnDrop(child), format!("127.0.0.1:{port}")))
        }
        Err(_) => None,
    };
    let mut args = vec!["limits", postgres];
    if let Some((_, address)) = &redis {
        args.push(address);
    }
    let rows = bench.run(&args)?;
    let _ = writeln!(
        out,
        "## 5. Shared rate limits

The same GCRA where every instance sees it: PostgreSQL through the store (`rate_limit_take`, one statement, a row lock per key) and Redis (Debian's `redis-server`, the algorithm as a Lua script, one connection per task). Latency: 2,000 serial calls on a key never refused. Accuracy: 16 concurrent tasks on one key limited to 200/s with a burst of 50 for 2 s; expected = burst + 200/s × elapsed.
"
    );
    let _ = writeln!(
        out,
        "| Backend | p50 µs | p99 µs | admitted under contention | expected | admitted / expected |
|---|---|---|---|---|---|"
    );
    for row in &rows {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.3} |",
            row.get("backend").and_then(Value::as_str).unwrap_or("?"),
            number(row, "p50_us"),
            number(row, "p99_us"),
            number(row, "admitted"),
            number(row, "expected"),
            number(row, "admitted") / number(row, "expected")
        );
    }
    if redis.is_none() {
        let _ = writeln!(out, "| redis | not installed | | | | |");
    }
    let _ = writeln!(
        out,
        "
The service keeps the shared limit in PostgreSQL (see DEPLOYING.md for the choice): it is exact under contention, as Redis is, and needs no other component to deploy, secure and watch; its cost is the latency above, once per request, on a database the page needs anyway (an unreachable bucket is a 502, as an unreachable page would be).
"
    );
    Ok(())
}

/// 6. Generation and the edit loop.
fn generation_section(out: &mut String, root: &Path, sizes: &Sizes) -> Result<(), String> {
    println!("bench: generation");
    let xtask = std::env::current_exe().map_err(|error| error.to_string())?;
    let mut generate_runs = Vec::new();
    for _ in 0..sizes.reps {
        let started = Instant::now();
        let status = Command::new(&xtask)
            .arg("generate")
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|error| error.to_string())?;
        if !status.success() {
            return Err("cargo xtask generate failed".into());
        }
        generate_runs.push(started.elapsed().as_secs_f64());
    }
    let generate = spread(generate_runs);
    let incremental = incremental_build(root)?;
    let _ = writeln!(
        out,
        "## 6. Generation\n\n| Step | wall time |\n|---|---|\n| `cargo xtask generate`, built (min / median / max) | {:.2} / {:.2} / {:.2} s |\n| one-field edit of the document, then `cargo xtask generate` and `cargo build -p audiences-service` (debug, dependencies built, after one earlier edit) | {incremental:.1} s (target at most 10 s: {}) |\n",
        generate.0,
        generate.1,
        generate.2,
        verdict(incremental <= 10.0)
    );
    Ok(())
}

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
fn profile(bench: &Bench, sqlite: &str, path: &str) -> Result<String, String> {
    if Command::new("perf").arg("--version").output().is_err() {
        return Err("perf is not installed".into());
    }
    let servers = bench.serve(sqlite, None)?;
    let pid = servers._process.0.id().to_string();
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
    let mut table = format!(
        "Where the generated server's CPU goes, by `perf record -e cpu-clock` of its process under the driver (32 connections, page of 25), before this design (sqlx's SQLite driver, rows parsed and serialized again, three statements a page: {BEFORE_RPS:.0} requests/s) and now ({rps:.0} requests/s in this profiled run):\n\n| Where | before % | now % |\n|---|---|---|\n"
    );
    for (name, before) in BEFORE {
        let _ = writeln!(
            table,
            "| {name} | {before:.1} | {:.1} |",
            shares.get(name).copied().unwrap_or(0.0)
        );
    }
    table.push('\n');
    Ok(table)
}

/// Instructions per request of the generated and the hand-written server,
/// counted by callgrind after a warm-up (one-time work such as lazily built
/// patterns and statement caches is not counted).
fn instructions(bench: &Bench, url: &str, path: &str, requests: usize) -> Result<(f64, f64), String> {
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

/// Documents one field (adds a description) in a copy of the workspace, regenerates and
/// rebuilds the service; the wall time of both.
fn incremental_build(root: &Path) -> Result<f64, String> {
    let copy = std::env::temp_dir().join(format!("audiences-incremental-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).map_err(|error| error.to_string())?;
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C '{}'",
            copy.display()
        ))
        .current_dir(root)
        .status()
        .map_err(|error| error.to_string())?;
    if !status.success() {
        return Err("cannot copy the workspace".into());
    }
    let target = crate::target_dir(root);
    let build = || {
        Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "audiences-service"])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(&copy)
            .status()
    };
    // A first build of the copy, so that only the edit is timed.
    if !build().map_err(|error| error.to_string())?.success() {
        return Err("cannot build the copy".into());
    }
    let document = copy.join("openapi/audiences.yaml");
    let original = std::fs::read_to_string(&document).map_err(|error| error.to_string())?;
    let generate = || {
        Command::new(env!("CARGO"))
            .args(["run", "-q", "-p", "xtask", "--", "generate"])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(&copy)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    // Two edits: the first (untimed) warms the incremental caches as a
    // developer's earlier edits have; the second is the loop's figure.
    let mut elapsed = 0.0;
    let mut outcome = Ok(());
    for (round, description) in ["The company's tagline.", "The company's tagline, as shown."]
        .into_iter()
        .enumerate()
    {
        let edited = original.replacen(
            "        tagline:\n          type: string\n",
            &format!("        tagline:\n          description: {description}\n          type: string\n"),
            1,
        );
        if edited == original {
            return Err("the field to edit is not in the document any more".into());
        }
        std::fs::write(&document, edited).map_err(|error| error.to_string())?;
        let started = Instant::now();
        let generated = generate().map_err(|error| error.to_string())?;
        let built = build().map_err(|error| error.to_string())?;
        if round == 1 {
            elapsed = started.elapsed().as_secs_f64();
        }
        if !generated.success() || !built.success() {
            outcome = Err("the edited copy did not regenerate and build".to_owned());
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&copy);
    outcome.map(|()| elapsed)
}

fn chrono_free_date() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default()
}
