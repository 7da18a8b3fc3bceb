//! Section 4: exporting an audience, by the client's walk, the CLI and a
//! strictly sequential loop; gzip both ways; serde's ceiling.

use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use super::runner::{Bench, KEY, Sizes, number, spread, verdict};
use super::template::Values;

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

/// The medians of one audience's export: (client, CLI, sequential)
/// prospects/s and the client's peak RSS in MiB.
fn export_medians(
    bench: &Bench,
    base: &str,
    size: u32,
    reps: usize,
) -> Result<((f64, f64, f64), f64), String> {
    let (mut client, mut cli, mut sequential, mut rss) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        for turn in 0..3 {
            match (rep + turn) % 3 {
                0 => {
                    let (rate, result) = export_run(bench, base, "client", size)?;
                    client.push(rate);
                    rss.push(number(&result, "peak_rss_kib") / 1024.0);
                }
                1 => sequential.push(export_run(bench, base, "sequential", size)?.0),
                _ => {
                    let (lines, seconds) = cli_export(bench, base)?;
                    if lines != u64::from(size) {
                        return Err(format!("the CLI wrote {lines} lines of {size}"));
                    }
                    cli.push(f64::from(size) / seconds);
                }
            }
        }
    }
    Ok((
        (spread(client).1, spread(cli).1, spread(sequential).1),
        spread(rss).2,
    ))
}

/// 4. Exporting an audience.
pub(super) fn export_section(values: &mut Values, bench: &Bench, sizes: &Sizes) -> Result<(), String> {
    println!("bench: export");
    let medium = bench.sqlite("medium.db");
    bench.run(&["seed", &medium, &sizes.medium.to_string()])?;
    let large = bench.sqlite("large.db");
    // As many runs as the service's rows: with 3, one slow run of a second
    // moved a ratio by 0.3 between two runs of the bench (2026-12-03).
    let reps = sizes.reps;
    values.set("export_reps", reps);
    let mut peaks = Vec::new();
    let mut last = (0.0, 0.0, 0.0);
    let mut rows = Vec::new();
    for (url, size) in [(&medium, sizes.medium), (&large, sizes.large)] {
        let servers = bench.serve(url, None)?;
        let base = format!("http://127.0.0.1:{}", servers.generated);
        if size == sizes.medium {
            gzip_values(values, bench, &base, size, reps)?;
        }
        let ((client, cli, sequential), peak) = export_medians(bench, &base, size, reps)?;
        peaks.push(peak);
        last = (client, cli, sequential);
        rows.push(format!(
            "| {size} | {client:.0} | {cli:.0} | {sequential:.0} | **{:.2}** | **{:.2}** | {peak:.1} |",
            client / sequential,
            cli / sequential
        ));
    }
    values.set("export_rows", rows.join("\n"));
    let serde = bench.run(&["serde", &sizes.medium.to_string()])?;
    let serde = serde.first().ok_or("no serde result")?;
    let parse = number(serde, "parse_per_s");
    let page_parse = number(serde, "page_parse_per_s");
    let (client, cli, sequential) = last;
    values.number("serde_bytes", number(serde, "bytes_per_prospect"), 0);
    values.number("serde_parse", parse, 0);
    values.number("serde_serialize", number(serde, "serialize_per_s"), 0);
    values.number("serde_page_parse", page_parse, 0);
    values.number("serde_page_share", page_parse / parse, 2);
    values.number("client_page_parse", client / page_parse, 2);
    values.number("cli_page_parse", cli / page_parse, 2);
    values.number("client_parse", client / parse, 2);
    values.number("cli_parse", cli / parse, 2);
    values.set(
        "parse_verdict",
        verdict(client / parse >= 0.5 && cli / parse >= 0.5),
    );
    values.number("client_sequential", client / sequential, 2);
    values.number("cli_sequential", cli / sequential, 2);
    values.set(
        "sequential_verdict",
        verdict(client / sequential >= 1.5 && cli / sequential >= 1.5),
    );
    let memory = peaks[1] / peaks[0];
    values.number("memory_ratio", memory, 2);
    values.set("memory_verdict", verdict(memory <= 1.2));
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
fn gzip_values(values: &mut Values, bench: &Bench, base: &str, size: u32, reps: usize) -> Result<(), String> {
    let wire = bench.run(&["wire", base, KEY])?;
    let wire = wire.first().ok_or("no wire result")?;
    let (identity_bytes, gzip_bytes) = (number(wire, "identity_bytes"), number(wire, "gzip_bytes"));
    let (mut plain, mut gzip) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        let order = if rep % 2 == 0 {
            ["client", "client-gzip"]
        } else {
            ["client-gzip", "client"]
        };
        for mode in order {
            let (rate, _) = export_run(bench, base, mode, size)?;
            if mode == "client" {
                plain.push(rate);
            } else {
                gzip.push(rate);
            }
        }
    }
    let (plain, gzip) = (spread(plain).1, spread(gzip).1);
    // Seconds gzip adds to a page here, and the bits it saves on the wire.
    let cost = 100.0 / gzip - 100.0 / plain;
    let saved_bits = (identity_bytes - gzip_bytes) * 8.0;
    values.number("gzip_identity_bytes", identity_bytes, 0);
    values.number("gzip_bytes", gzip_bytes, 0);
    values.number("gzip_factor", identity_bytes / gzip_bytes, 1);
    values.number("gzip_plain", plain, 0);
    values.number("gzip_with", gzip, 0);
    values.number("gzip_ratio", gzip / plain, 2);
    values.number("gzip_cost_ms", cost * 1e3, 3);
    values.number("gzip_saved_bytes", identity_bytes - gzip_bytes, 0);
    values.set(
        "gzip_crossover",
        if cost > 0.0 {
            format!("{:.0} Mbit/s", saved_bits / cost / 1e6)
        } else {
            "any link, loopback included".to_owned()
        },
    );
    Ok(())
}
