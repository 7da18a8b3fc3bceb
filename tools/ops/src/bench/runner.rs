//! What the sections share: the built binaries and a scratch folder
//! ([`Bench`]), the servers of `audiences-bench serve`, the load driver's
//! runs interleaved across servers, and the small helpers of the figures.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::process::{KillOnDrop, free_port, wait_for};

/// The demo key the bench seeds (the bench binary's own constant).
pub(crate) const KEY: &str = "ak_bench_0123456789abcdef0123456789abcdef";

/// Every key the bench seeds: [`KEY`] and the bench binary's
/// `extra_keys` (the same formula). The driver's connection n uses key n,
/// so a run is as many callers as connections.
pub(crate) fn keys() -> Vec<String> {
    std::iter::once(KEY.to_owned())
        .chain((1..32).map(|n| format!("ak_bench_{n:032x}")))
        .collect()
}

/// How the driver's connections present themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Callers {
    /// One key per connection (32 keys).
    Many,
    /// [`KEY`] on every connection: a shared bucket's row at its busiest.
    OneKey,
}

pub(crate) struct Sizes {
    pub(crate) large: u32,
    pub(crate) medium: u32,
    pub(crate) reps: usize,
    pub(crate) requests: usize,
    pub(crate) connections: usize,
    pub(crate) callgrind_requests: usize,
}

pub(crate) fn sizes(smoke: bool) -> Sizes {
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
    pub(crate) cli: PathBuf,
    pub(crate) work: PathBuf,
    pub(crate) group: String,
    pub(crate) audience: String,
}

/// The three servers of `bench serve`, on their ports.
pub(crate) struct Servers {
    pub(crate) process: KillOnDrop,
    pub(crate) generated: u16,
    pub(crate) handwritten: u16,
    pub(crate) ceiling: u16,
}

impl Bench {
    /// Removes the scratch folder.
    pub(crate) fn cleanup(&self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }

    pub(crate) fn run(&self, args: &[&str]) -> Result<Vec<Value>, String> {
        run_json(Command::new(&self.binary).args(args))
    }

    pub(crate) fn sqlite(&self, name: &str) -> String {
        format!("sqlite://{}", self.work.join(name).display())
    }

    pub(crate) fn page_path(&self, limit: u32) -> String {
        format!(
            "/v1/accounts/{}/audiences/{}/prospects?limit={limit}",
            self.group, self.audience
        )
    }

    /// `bench serve` on `url`; with `core`, pinned to that CPU; the
    /// service's options at their defaults, as deployed.
    pub(crate) fn serve(&self, url: &str, core: Option<usize>) -> Result<Servers, String> {
        self.serve_with(url, core, &[])
    }

    /// [`Bench::serve`] with more of the service's environment (its
    /// options' variables).
    pub(crate) fn serve_with(
        &self,
        url: &str,
        core: Option<usize>,
        environment: &[(&str, &str)],
    ) -> Result<Servers, String> {
        let ports = [free_port()?, free_port()?, free_port()?];
        let ports_text = ports.map(|port| port.to_string());
        let mut command = pinned(core, &self.binary);
        command.envs(environment.iter().copied());
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
            process,
            generated: ports[0],
            handwritten: ports[1],
            ceiling: ports[2],
        })
    }

    /// One run of the load driver, one key per connection; with `core`,
    /// pinned to that CPU.
    pub(crate) fn drive(
        &self,
        port: u16,
        path: &str,
        sizes: &Sizes,
        requests: usize,
        core: Option<usize>,
    ) -> Result<Value, String> {
        self.drive_as(Callers::Many, port, path, sizes, requests, core)
    }

    /// One run of the load driver with the given callers.
    pub(crate) fn drive_as(
        &self,
        callers: Callers,
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
        ]);
        let keys = match callers {
            Callers::Many => keys(),
            Callers::OneKey => vec![KEY.to_owned()],
        };
        for key in &keys {
            command.args(["--key", key]);
        }
        run_json(&mut command)?
            .into_iter()
            .next()
            .ok_or_else(|| "no drive result".to_owned())
    }
}

/// `program` under `taskset -c CORE` when a core is given.
pub(crate) fn pinned(core: Option<usize>, program: &Path) -> Command {
    match core {
        Some(core) => {
            let mut command = Command::new("taskset");
            command.args(["-c", &core.to_string()]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

pub(crate) fn run_json(command: &mut Command) -> Result<Vec<Value>, String> {
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

pub(crate) fn number(value: &Value, key: &str) -> f64 {
    value.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// (min, median, max)
pub(crate) fn spread(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    (samples[0], samples[samples.len() / 2], samples[samples.len() - 1])
}

pub(crate) fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

pub(crate) fn machine() -> String {
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
            "-p",
            "audiences-bench",
            "--bin",
            "audiences-bench",
            "-p",
            "audiences-cli",
            "--bin",
            "audiences",
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
        binary: target.join("release/audiences-bench"),
        cli: target.join("release/audiences"),
        work,
        group,
        audience,
    })
}

/// Requests/s (min, median, max), median p50 and median p99 of one server.
pub(crate) type Measured = ((f64, f64, f64), f64, f64);

/// Requests/s, p50 and p99 of interleaved runs against each port.
pub(crate) fn interleaved(
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
    Ok(runs.iter().map(|runs| measured(runs)).collect())
}

/// A table row of one server's measurements.
/// Runs of the driver as one row: requests/s (min / median / max), and
/// the medians of p50 and p99.
pub(crate) fn measured(runs: &[Value]) -> Measured {
    (
        spread(runs.iter().map(|run| number(run, "rps")).collect()),
        spread(runs.iter().map(|run| number(run, "p50_ms")).collect()).1,
        spread(runs.iter().map(|run| number(run, "p99_ms")).collect()).1,
    )
}

pub(crate) fn row(name: &str, (rps, p50, p99): Measured) -> String {
    format!(
        "| {name} | {:.0} / {:.0} / {:.0} | {p50:.2} | {p99:.2} |",
        rps.0, rps.1, rps.2
    )
}

/// What a ratio reads as when it was not measured.
pub(crate) const NOT_MEASURED: &str = "not measured in this run";

/// Today, as `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// A PostgreSQL database for the bench, fresh, on the server
/// `AUDIENCES_TEST_POSTGRES_URL` names (none in smoke runs).
pub(crate) fn postgres_database(name: &str) -> Result<Option<String>, String> {
    let Ok(admin) = std::env::var("AUDIENCES_TEST_POSTGRES_URL") else {
        return Ok(None);
    };
    crate::process::fresh_database(&admin, name).map(Some)
}
