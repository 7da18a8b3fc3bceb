//! `cargo xtask bench [--smoke]`: builds the measuring binary
//! (`crates/audiences-service/examples/bench.rs`) in release, runs every
//! benchmark on loopback with interleaved repetitions, and writes
//! `BENCHMARKS.md` (or, with `--smoke`, a tiny run to `target/BENCHMARKS.smoke.md`
//! that only keeps the benchmarks working).
//!
//! Every figure that carries a target is a ratio against a baseline measured
//! in the same run: these machines are shared and noisy.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::{KillOnDrop, free_port, wait_for};

const KEY: &str = "ak_bench_0123456789abcdef0123456789abcdef";
const GROUP: &str = "6650a1b2c3d4e5f601234567";
const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";

struct Sizes {
    large: u32,
    medium: u32,
    reps: usize,
    requests: usize,
    connections: usize,
}

fn sizes(smoke: bool) -> Sizes {
    if smoke {
        Sizes {
            large: 3_000,
            medium: 1_500,
            reps: 1,
            requests: 400,
            connections: 8,
        }
    } else {
        Sizes {
            large: 1_000_000,
            medium: 100_000,
            reps: 5,
            requests: 20_000,
            connections: 32,
        }
    }
}

struct Bench {
    binary: PathBuf,
    work: PathBuf,
}

impl Bench {
    fn run(&self, args: &[&str]) -> Result<Vec<Value>, String> {
        let output = Command::new(&self.binary)
            .args(args)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|error| format!("cannot run the bench binary: {error}"))?;
        if !output.status.success() {
            return Err(format!("bench {} failed", args.join(" ")));
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).map_err(|error| format!("{line}: {error}")))
            .collect()
    }

    fn sqlite(&self, name: &str) -> String {
        format!("sqlite://{}", self.work.join(name).display())
    }

    fn serve_pair(&self, url: &str) -> Result<(KillOnDrop, u16, u16), String> {
        let (generated, handwritten) = (free_port()?, free_port()?);
        let child = Command::new(&self.binary)
            .args([
                "serve-pair",
                url,
                &generated.to_string(),
                &handwritten.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| error.to_string())?;
        let server = KillOnDrop(child);
        wait_for(generated)?;
        wait_for(handwritten)?;
        Ok((server, generated, handwritten))
    }
}

fn number(value: &Value, key: &str) -> f64 {
    value.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// (min, median, max)
fn spread(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    (samples[0], samples[samples.len() / 2], samples[samples.len() - 1])
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

/// Runs the benchmarks and writes the report; returns its path.
pub fn run(root: &Path, smoke: bool) -> Result<PathBuf, String> {
    if !smoke && std::env::var_os("AUDIENCES_TEST_POSTGRES_URL").is_none() {
        // The PostgreSQL table needs a server: run again under with-postgres.
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
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-q",
            "--example",
            "bench",
            "-p",
            "audiences-service",
        ])
        .current_dir(root)
        .status()
        .map_err(|error| error.to_string())?;
    if !status.success() {
        return Err("cannot build the bench binary".into());
    }
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    let work = std::env::temp_dir().join(format!("audiences-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|error| error.to_string())?;
    let bench = Bench {
        binary: target.join("release/examples/bench"),
        work: work.clone(),
    };
    let result = report(root, &bench, &sizes(smoke), smoke);
    let _ = std::fs::remove_dir_all(&work);
    let text = result?;
    let path = if smoke {
        target.join("BENCHMARKS.smoke.md")
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
        "Written by `{command}` on {}. Machine: {}.\n\nEvery target is a ratio against a baseline measured in the same run, with repetitions interleaved (min / median / max over {} runs where shown).\n",
        chrono_free_date(),
        machine(),
        sizes.reps
    );

    // 1. Generated-layer overhead.
    println!("bench: generated layer against a hand-written handler");
    let small = bench.sqlite("small.db");
    bench.run(&["seed", &small, "1000"])?;
    let (_server, generated, handwritten) = bench.serve_pair(&small)?;
    let path = format!("/v1/accounts/{GROUP}/audiences/{AUDIENCE}/prospects?limit=25");
    let (mut generated_runs, mut handwritten_runs) = (Vec::new(), Vec::new());
    let requests = sizes.requests.to_string();
    let connections = sizes.connections.to_string();
    // Warm both up, then alternate which goes first.
    for port in [generated, handwritten] {
        bench.run(&[
            "drive",
            &format!("http://127.0.0.1:{port}{path}"),
            &connections,
            "200",
        ])?;
    }
    for rep in 0..sizes.reps {
        let order = if rep % 2 == 0 {
            [generated, handwritten]
        } else {
            [handwritten, generated]
        };
        for port in order {
            let result = bench.run(&[
                "drive",
                &format!("http://127.0.0.1:{port}{path}"),
                &connections,
                &requests,
            ])?;
            let result = result.into_iter().next().ok_or("no drive result")?;
            if port == generated {
                generated_runs.push(result);
            } else {
                handwritten_runs.push(result);
            }
        }
    }
    drop(_server);
    let summarize = |runs: &[Value]| {
        (
            spread(runs.iter().map(|run| number(run, "rps")).collect()),
            spread(runs.iter().map(|run| number(run, "p50_ms")).collect()).1,
            spread(runs.iter().map(|run| number(run, "p99_ms")).collect()).1,
        )
    };
    let (generated_rps, generated_p50, generated_p99) = summarize(&generated_runs);
    let (handwritten_rps, handwritten_p50, handwritten_p99) = summarize(&handwritten_runs);
    let _ = writeln!(
        out,
        "## 1. Generated-layer overhead\n\nA page of 25 from a 1,000-prospect audience (SQLite), {} requests over {} keep-alive connections per run, driven by the bench binary's own tokio driver (release build; it checks every status). Baseline: a hand-written axum handler (`Path`/`Query` extractors) doing the same work on the same store, limiter and cursor codec, served by the same process.\n",
        sizes.requests, sizes.connections
    );
    let _ = writeln!(
        out,
        "| Server | requests/s (min / median / max) | p50 ms | p99 ms |\n|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| generated router + trait | {:.0} / {:.0} / {:.0} | {generated_p50:.2} | {generated_p99:.2} |",
        generated_rps.0, generated_rps.1, generated_rps.2
    );
    let _ = writeln!(
        out,
        "| hand-written handler | {:.0} / {:.0} / {:.0} | {handwritten_p50:.2} | {handwritten_p99:.2} |",
        handwritten_rps.0, handwritten_rps.1, handwritten_rps.2
    );
    let ratio = generated_rps.1 / handwritten_rps.1;
    let _ = writeln!(
        out,
        "\nRatio generated / hand-written (median requests/s): **{ratio:.3}** (target at least 0.97: {}).\n",
        if ratio >= 0.97 { "met" } else { "missed" }
    );
    let instructions_requests = if smoke { 20 } else { 400 };
    match instructions(bench, &small, &path, instructions_requests) {
        Ok((generated, handwritten)) => {
            let _ = writeln!(
                out,
                "Instructions per request under `valgrind --tool=callgrind` ({instructions_requests} requests over 4 connections, start-up subtracted; repeatable whatever the machine is doing): generated {generated:.0}, hand-written {handwritten:.0}; hand-written / generated = **{:.3}**.\n",
                handwritten / generated
            );
        }
        Err(error) => {
            let _ = writeln!(out, "Instruction counts not measured: {error}.\n");
        }
    }

    // 2. Deep pagination.
    println!("bench: deep pagination");
    let large = bench.sqlite("large.db");
    let seeded = bench.run(&["seed", &large, &sizes.large.to_string()])?;
    let page_reps = if smoke { 3 } else { 21 };
    let mut page_rows = bench.run(&["pages", &large, &page_reps.to_string()])?;
    let postgres = match std::env::var("AUDIENCES_TEST_POSTGRES_URL") {
        Ok(admin) if !smoke => {
            let url = format!(
                "{}/audiences_bench",
                admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base)
            );
            let created = Command::new("psql")
                .args([
                    admin.as_str(),
                    "-q",
                    "-c",
                    "DROP DATABASE IF EXISTS audiences_bench",
                    "-c",
                    "CREATE DATABASE audiences_bench",
                ])
                .status()
                .map_err(|error| error.to_string())?;
            if !created.success() {
                return Err("cannot create the PostgreSQL bench database".into());
            }
            let seeded = bench.run(&["seed", &url, &sizes.large.to_string()])?;
            page_rows.extend(bench.run(&["pages", &url, &page_reps.to_string()])?);
            Some(seeded)
        }
        _ => None,
    };
    let _ = writeln!(
        out,
        "## 2. Deep pagination\n\nOne page of 100 from a {}-prospect audience at each depth, store call plus row decoding; {} rounds, each visiting every depth (median, and minimum for keyset). Keyset is the service's query (row-value comparison on the index `(audience_id, created_at, id)`); OFFSET is the naive baseline on the same index. Seeding took {:.0} s (SQLite){}.\n",
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
                if ratio <= 1.2 { "met" } else { "missed" }
            );
        }
    }
    if postgres.is_none() {
        let _ = writeln!(out, "\nPostgreSQL: not measured in this run.");
    }
    let _ = writeln!(out);

    // 3. Export.
    println!("bench: export");
    let medium = bench.sqlite("medium.db");
    bench.run(&["seed", &medium, &sizes.medium.to_string()])?;
    let _ = writeln!(
        out,
        "## 3. Export\n\nEvery prospect of the audience in pages of 100 through the release service (generated router, SQLite) on loopback, by `AudiencesClient::prospects(..).items()` against a raw reqwest + serde_json loop over the same server; each run is its own process, whose peak RSS (VmHWM) is the client's memory. {} runs per row, interleaved.\n",
        sizes.reps.min(3)
    );
    let _ = writeln!(
        out,
        "| Audience | client prospects/s (median) | raw prospects/s (median) | client / raw | client peak RSS MiB | raw peak RSS MiB |\n|---|---|---|---|---|---|"
    );
    let mut peaks = Vec::new();
    for (url, size) in [(&medium, sizes.medium), (&large, sizes.large)] {
        let (_server, generated, _) = bench.serve_pair(url)?;
        let base = format!("http://127.0.0.1:{generated}");
        let (mut client_runs, mut raw_runs) = (Vec::new(), Vec::new());
        for rep in 0..sizes.reps.min(3) {
            let order = if rep % 2 == 0 {
                ["client", "raw"]
            } else {
                ["raw", "client"]
            };
            for mode in order {
                let result = bench
                    .run(&["export", &base, KEY, mode])?
                    .into_iter()
                    .next()
                    .ok_or("no export result")?;
                if number(&result, "prospects") as u32 != size {
                    return Err(format!("the {mode} export saw {result} prospects of {size}"));
                }
                if mode == "client" {
                    client_runs.push(result);
                } else {
                    raw_runs.push(result);
                }
            }
        }
        let rate = |runs: &[Value]| {
            spread(
                runs.iter()
                    .map(|run| f64::from(size) / number(run, "seconds"))
                    .collect(),
            )
            .1
        };
        let peak = |runs: &[Value]| {
            spread(
                runs.iter()
                    .map(|run| number(run, "peak_rss_kib") / 1024.0)
                    .collect(),
            )
            .2
        };
        let (client_rate, raw_rate) = (rate(&client_runs), rate(&raw_runs));
        peaks.push(peak(&client_runs));
        let _ = writeln!(
            out,
            "| {size} | {client_rate:.0} | {raw_rate:.0} | **{:.3}** | {:.1} | {:.1} |",
            client_rate / raw_rate,
            peak(&client_runs),
            peak(&raw_runs)
        );
    }
    let serde = bench.run(&["serde", &sizes.medium.to_string()])?;
    let serde = serde.first().ok_or("no serde result")?;
    let _ = writeln!(
        out,
        "\nTargets: client / raw at least 0.95; client memory flat in the audience size (peak at {} / peak at {} = **{:.2}x**).\n\nCeiling, serde_json alone on the same prospects ({} bytes each): serialize {:.0}/s, parse {:.0}/s.\n",
        sizes.large,
        sizes.medium,
        peaks[1] / peaks[0],
        number(serde, "bytes_per_prospect"),
        number(serde, "serialize_per_s"),
        number(serde, "parse_per_s")
    );

    // 4. Generation.
    println!("bench: generation");
    let xtask = std::env::current_exe().map_err(|error| error.to_string())?;
    let mut generate_runs = Vec::new();
    for _ in 0..sizes.reps {
        let started = Instant::now();
        let status = Command::new(&xtask)
            .arg("generate")
            .current_dir(root)
            .stdout(Stdio::null())
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
        "## 4. Generation\n\n| Step | wall time |\n|---|---|\n| `cargo xtask generate`, built (min / median / max) | {:.2} / {:.2} / {:.2} s |\n| one-field edit of the document, then `cargo xtask generate` and `cargo build -p audiences-service` (debug, dependencies built) | {incremental:.1} s |\n",
        generate.0, generate.1, generate.2
    );
    let _ = writeln!(
        out,
        "Reproduce with `{command}` (it starts its own PostgreSQL through `scripts/with-postgres`). The measuring code is `crates/audiences-service/examples/bench.rs`; the orchestration `xtask/src/bench.rs`."
    );
    Ok(out)
}

/// Instructions per request of the generated and the hand-written server,
/// counted by callgrind, start-up subtracted.
fn instructions(bench: &Bench, url: &str, path: &str, requests: usize) -> Result<(f64, f64), String> {
    let mut totals = Vec::new();
    for target in [None, Some(0), Some(1)] {
        let folder = bench.work.join(format!("callgrind-{}", totals.len()));
        std::fs::create_dir_all(&folder).map_err(|error| error.to_string())?;
        let ports = [free_port()?, free_port()?];
        let mut child = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!(
                "--callgrind-out-file={}",
                folder.join("cg.out").display()
            ))
            .arg(&bench.binary)
            .args(["serve-pair", url, &ports[0].to_string(), &ports[1].to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("valgrind: {error}"))?;
        let waited = wait_for(ports[0]).and_then(|()| wait_for(ports[1]));
        let driven = waited.and_then(|()| match target {
            None => Ok(()),
            Some(index) => bench
                .run(&[
                    "drive",
                    &format!("http://127.0.0.1:{}{path}", ports[index]),
                    "4",
                    &requests.to_string(),
                ])
                .map(drop),
        });
        let dumped = Command::new("callgrind_control")
            .args(["-d", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_secs(2));
        let _ = child.kill();
        let _ = child.wait();
        driven?;
        dumped.map_err(|error| format!("callgrind_control: {error}"))?;
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
        totals.push(total as f64);
    }
    let per_request = |total: f64| (total - totals[0]) / requests as f64;
    Ok((per_request(totals[1]), per_request(totals[2])))
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
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
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
    let text = std::fs::read_to_string(&document).map_err(|error| error.to_string())?;
    let edited = text.replacen(
        "        tagline:\n          type: string\n",
        "        tagline:\n          description: The company's tagline.\n          type: string\n",
        1,
    );
    if edited == text {
        return Err("the field to edit is not in the document any more".into());
    }
    std::fs::write(&document, edited).map_err(|error| error.to_string())?;
    let started = Instant::now();
    let generated = Command::new(env!("CARGO"))
        .args(["run", "-q", "-p", "xtask", "--", "generate"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&copy)
        .stdout(Stdio::null())
        .status()
        .map_err(|error| error.to_string())?;
    let built = build().map_err(|error| error.to_string())?;
    let elapsed = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&copy);
    if !generated.success() || !built.success() {
        return Err("the edited copy did not regenerate and build".into());
    }
    Ok(elapsed)
}

fn chrono_free_date() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default()
}
