//! `cargo xtask bench [--smoke]`: builds the measuring binary
//! (`audiences-bench`, `tools/bench/`) and the CLI in release, runs every
//! benchmark on loopback with interleaved repetitions, and writes
//! `BENCHMARKS.md` from its template (or, with `--smoke`, a tiny run to
//! `target/BENCHMARKS.smoke.md` that only keeps the benchmarks working).
//!
//! The sections: [`service`] (the service against the ceiling, the
//! generated layer, deep pagination), [`export`], [`limits`] (shared rate
//! limits, generation and the edit loop), [`profile`] (perf and callgrind).
//!
//! Every figure that carries a target is a ratio against a baseline measured
//! in the same run: these machines are shared and noisy.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod cpu;
mod export;
mod limits;
mod profile;
mod runner;
mod service;
mod template;

pub(crate) use runner::{Bench, build};
use runner::{Sizes, machine, postgres_database, sizes, today};
use template::Values;

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
    let result = report(root, &bench, &sizes(smoke), smoke)
        .and_then(|values| template::render(template::TEMPLATE, &values));
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

/// Every section's values.
fn report(root: &Path, bench: &Bench, sizes: &Sizes, smoke: bool) -> Result<Values, String> {
    let mut values = Values::default();
    values.set(
        "command",
        if smoke {
            "cargo xtask bench --smoke"
        } else {
            "cargo xtask bench"
        },
    );
    values.set("date", today());
    values.set("machine", machine());
    values.set("reps", sizes.reps);
    values.set("connections", sizes.connections);
    values.set("requests", sizes.requests);
    values.set("large", sizes.large);
    values.set("medium", sizes.medium);
    values.set("callgrind_requests", sizes.callgrind_requests);
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
    service::service_section(&mut values, bench, sizes, &small, postgres_small.as_deref())?;
    service::generated_section(&mut values, bench, sizes, &small)?;
    service::pagination_section(&mut values, bench, sizes, smoke)?;
    export::export_section(&mut values, bench, sizes)?;
    limits::limits_section(&mut values, bench, postgres_small.as_deref())?;
    limits::generation_section(&mut values, root, sizes)?;
    Ok(values)
}
