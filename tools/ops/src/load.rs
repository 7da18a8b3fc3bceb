//! `cargo xtask load`: a bounded load run against the release build of the
//! reference service on loopback, then a shutdown under load.
//!
//! The load comes from the bench binary's driver (`bench drive`, the same
//! one `cargo xtask bench` measures with: plain HTTP/1.1 over keep-alive
//! connections, checking every answer's status and trace id, nothing to
//! install). Fails when an answer is neither 200 nor 429, a trace id is
//! missing or repeats, the service's memory grows by more than half between
//! the first quarter of the run and its end, or SIGTERM under load drops an
//! in-flight request.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{KillOnDrop, free_port, wait_for};

const KEY: &str = "ak_load_0123456789abcdef0123456789abcdef";

/// What `cargo xtask load` is asked for.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Concurrent connections.
    pub connections: usize,
    /// Seconds of measured load.
    pub seconds: u64,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

struct Service {
    child: KillOnDrop,
    base: String,
}

fn start_service(root: &Path, work: &Path) -> Result<Service, String> {
    let binary = crate::service::release_binary(root)?;
    let port = free_port()?;
    let database_url = format!("sqlite://{}", work.join("load.db").display());
    let start = crate::service::Start {
        database_url: &database_url,
        port,
        demo_key: KEY,
        limits: (1_000_000, 1_000_000),
        drain_delay_ms: None,
    };
    let child = crate::service::spawn(&binary, &start, Stdio::null(), Stdio::inherit())?;
    let service = Service {
        child: KillOnDrop(child),
        base: format!("http://127.0.0.1:{port}"),
    };
    wait_for(port)?;
    Ok(service)
}

/// Load during shutdown: every request either completes (200) or is
/// refused before a handler saw it (connection refused, or an idle
/// keep-alive connection closed under it); no answer is cut off mid-way.
async fn shutdown_connection(url: String) -> (u64, u64, Vec<String>) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("a client");
    let (mut completed, mut refused, mut dropped) = (0, 0, Vec::new());
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        match http.get(&url).bearer_auth(KEY).send().await {
            Ok(response) if response.status() == 200 => match response.bytes().await {
                Ok(_) => completed += 1,
                Err(error) => dropped.push(format!("body cut: {error}")),
            },
            Ok(response) => dropped.push(format!("status {}", response.status())),
            Err(error) if error.is_connect() => {
                refused += 1;
                break;
            }
            // The server closed an idle keep-alive connection as the request
            // was being written (a reset, or no answer at all): the request
            // never reached a handler; a client retries it (ours does).
            Err(error) if format!("{error:?}").contains("SendRequest") => refused += 1,
            Err(error) => dropped.push(format!("{error:?}")),
        }
    }
    (completed, refused, dropped)
}

/// Runs the load and prints the report; an error names what failed.
pub fn run(root: &Path, options: &LoadOptions) -> Result<(), String> {
    let work = std::env::temp_dir().join(format!("audiences-load-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|error| error.to_string())?;
    let result = run_in(root, &work, options);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run_in(root: &Path, work: &Path, options: &LoadOptions) -> Result<(), String> {
    let bench = crate::bench::build(root)?;
    bench.cleanup();
    let (group, audience) = crate::demo_ids(root)?;
    let mut service = start_service(root, work)?;
    let pid = service.child.0.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let base = service.base.clone();
    let cursor: String = runtime.block_on(async {
        let body: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "{base}/v1/accounts/{group}/audiences/{audience}/prospects?limit=100"
            ))
            .bearer_auth(KEY)
            .send()
            .await
            .map_err(|error| error.to_string())?
            .json()
            .await
            .map_err(|error| error.to_string())?;
        body["data"]["nextCursor"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no cursor in {body}"))
    })?;

    println!(
        "load: {} connections for {} s against the release build on loopback (SQLite)",
        options.connections, options.seconds
    );
    let path = format!("/v1/accounts/{group}/audiences/{audience}/prospects");
    let mut driver = Command::new(&bench.binary)
        .args([
            "drive",
            &format!("{base}{path}?limit=25"),
            &format!("{base}{path}?limit=25&cursor={cursor}"),
            "--connections",
            &options.connections.to_string(),
            "--seconds",
            &options.seconds.to_string(),
            "--key",
            KEY,
            "--allow",
            "429",
            "--trace-ids",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|error| format!("cannot start the load driver: {error}"))?;
    std::thread::sleep(Duration::from_secs(options.seconds.div_ceil(4)));
    let rss_early = rss_kib(pid).unwrap_or(0);
    std::thread::sleep(Duration::from_secs(options.seconds - options.seconds.div_ceil(4)));
    let rss_late = rss_kib(pid).unwrap_or(0);
    let mut report = String::new();
    if let Some(mut stdout) = driver.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut report).map_err(|error| error.to_string())?;
    }
    let driven = driver.wait().map_err(|error| error.to_string())?;
    let result: serde_json::Value = serde_json::from_str(report.trim()).unwrap_or_default();
    let statuses = &result["statuses"];
    println!(
        "load: {} requests, {:.0} requests/s; latency ms p50 {:.2}, p99 {:.2}, max {:.2}",
        result["requests"],
        result["rps"].as_f64().unwrap_or(f64::NAN),
        result["p50_ms"].as_f64().unwrap_or(f64::NAN),
        result["p99_ms"].as_f64().unwrap_or(f64::NAN),
        result["max_ms"].as_f64().unwrap_or(f64::NAN),
    );
    println!(
        "load: statuses {statuses}; {} unique trace ids of {}",
        result["unique_trace_ids"], result["trace_ids"]
    );
    println!(
        "load: service RSS {:.1} MiB after the first quarter, {:.1} MiB at the end",
        rss_early as f64 / 1024.0,
        rss_late as f64 / 1024.0
    );

    // Shutdown under load.
    let shutdown_tasks: Vec<_> = (0..options.connections.min(32))
        .map(|_| {
            let url = format!(
                "{base}/v1/accounts/{group}/audiences/{audience}/prospects?limit=100&cursor={cursor}"
            );
            runtime.spawn(shutdown_connection(url))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .map_err(|error| format!("cannot signal the service: {error}"))?;
    let exit = loop {
        if let Some(status) = service.child.0.try_wait().map_err(|error| error.to_string())? {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(10) {
            return Err("the service did not exit within 10 s of SIGTERM under load".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stopped_in = signalled.elapsed();
    let (mut completed, mut refused, mut dropped) = (0, 0, Vec::new());
    for task in shutdown_tasks {
        let (c, r, d) = runtime.block_on(task).map_err(|error| error.to_string())?;
        completed += c;
        refused += r;
        dropped.extend(d);
    }
    println!(
        "shutdown: SIGTERM under load, exit {exit} after {:.0} ms; {completed} requests completed, {refused} refused before reaching a handler, {} cut off",
        stopped_in.as_secs_f64() * 1000.0,
        dropped.len()
    );

    let mut failures = Vec::new();
    if !driven.success() {
        failures.push("the load driver failed (an answer other than 200 and 429, or a missing or repeated trace id; see above)".to_owned());
    }
    if rss_late > rss_early + rss_early / 2 {
        failures.push(format!("memory grew from {rss_early} KiB to {rss_late} KiB"));
    }
    if !exit.success() {
        failures.push(format!("the service exited with {exit} on SIGTERM"));
    }
    if !dropped.is_empty() {
        failures.push(format!(
            "in-flight requests cut off by shutdown: {:?}",
            &dropped[..dropped.len().min(5)]
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}
