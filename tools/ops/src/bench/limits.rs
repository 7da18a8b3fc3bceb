//! Sections 5 and 6: where the shared rate limit lives, and generation
//! with the edit loop (a one-field document edit, regenerated and rebuilt).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use super::runner::{Bench, NOT_MEASURED, Sizes, number, spread, verdict};
use super::template::Values;
use crate::process::{KillOnDrop, free_port, wait_for};

/// Section 5, where the shared rate limit lives: PostgreSQL (the store's
/// statement) against Redis (the same GCRA as a script), by latency and
/// accuracy.
pub(super) fn limits_section(
    values: &mut Values,
    bench: &Bench,
    postgres: Option<&str>,
) -> Result<(), String> {
    let Some(postgres) = postgres else {
        values.set("limits_rows", format!("| {NOT_MEASURED} | | | | | |"));
        return Ok(());
    };
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
    let mut rows: Vec<String> = bench
        .run(&args)?
        .iter()
        .map(|row| {
            format!(
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.3} |",
                row.get("backend").and_then(Value::as_str).unwrap_or("?"),
                number(row, "p50_us"),
                number(row, "p99_us"),
                number(row, "admitted"),
                number(row, "expected"),
                number(row, "admitted") / number(row, "expected")
            )
        })
        .collect();
    if redis.is_none() {
        rows.push("| redis | not installed | | | | |".to_owned());
    }
    values.set("limits_rows", rows.join("\n"));
    Ok(())
}

/// 6. Generation and the edit loop.
pub(super) fn generation_section(values: &mut Values, root: &Path, sizes: &Sizes) -> Result<(), String> {
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
    values.number("generate_min", generate.0, 2);
    values.number("generate_median", generate.1, 2);
    values.number("generate_max", generate.2, 2);
    values.number("edit_loop", incremental, 1);
    values.set("edit_loop_verdict", verdict(incremental <= 10.0));
    Ok(())
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
    // A target folder of its own: cargo names a path crate's artifacts by
    // its path inside the workspace, so the copy's crates would overwrite
    // the workspace's own in a shared folder, and a later build there
    // could take the edited copy's artifacts for fresh ones (a stale
    // `audiences-types` once failed the snapshot tests after a bench).
    let target = crate::target_dir(root).join("edit-loop");
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
