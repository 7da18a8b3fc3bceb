//! `pgbench`: PostgreSQL's own ceiling for the service's request statement
//! (its token and the first page of 25), as the service runs it: the same
//! text (`take_and_page_statement`), prepared, with a generic plan (the
//! service's `plan_cache_mode`), over as many connections as the driver
//! uses, one key each. What the database alone does on this machine, to set
//! the service's requests/s against.

use std::process::Command;

use audiences_service::demo::{ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_service::store::take_and_page_statement;

use crate::common::{fail, limits};

/// `pgbench` from `PATH`, else the newest of Debian's PostgreSQL packages.
fn pgbench() -> String {
    if Command::new("pgbench").arg("--version").output().is_ok() {
        return "pgbench".to_owned();
    }
    let mut found: Vec<String> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/pgbench"))
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| fail("pgbench is not installed (Debian package postgresql)"))
}

/// The statement as a pgbench script: its parameters become pgbench
/// variables (parameters again under `-M prepared`), the key one per
/// client.
fn script() -> String {
    let mut text = take_and_page_statement().to_owned();
    // Highest first: `$1` is a prefix of `$10`.
    for (index, variable) in [
        // Typed as the service binds them (sqlx sends the types; pgbench's
        // parameters are untyped, and `$2 * $3` would be ambiguous).
        (8, "(:page_rows)::int8"),
        (7, "(:after_id)::text"),
        (6, "(:after_created)::int8"),
        (5, "(:account_group)::text"),
        (4, "(:audience)::text"),
        (3, "(:burst)::int4"),
        (2, "(:interval)::float8"),
        (1, "('pgbench-key-' || :client_id)"),
    ] {
        text = text.replace(&format!("${index}"), variable);
    }
    format!("{text};\n")
}

pub(crate) fn run(url: &str, connections: u32, seconds: u32) {
    let limits = limits();
    let path = std::env::temp_dir().join(format!("audiences-pgbench-{}.sql", std::process::id()));
    std::fs::write(&path, script()).unwrap_or_else(|error| fail(error));
    let output = Command::new(pgbench())
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &connections.to_string(), "-T", &seconds.to_string()])
        .args([
            "-D",
            &format!("interval={}", 1.0 / f64::from(limits.per_second.get())),
        ])
        .args([
            "-D",
            &format!("burst={}", i32::try_from(limits.burst.get()).unwrap_or(i32::MAX)),
        ])
        .args(["-D", &format!("audience={READY_AUDIENCE_ID}")])
        .args(["-D", &format!("account_group={ACCOUNT_GROUP_ID}")])
        // The first page: any id after a `createdAt` of 0 (pgbench refuses an empty value).
        .args(["-D", "after_created=0", "-D", "after_id=0", "-D", "page_rows=26"])
        .arg("-f")
        .arg(&path)
        .arg(url)
        .env("PGOPTIONS", "-c plan_cache_mode=force_generic_plan")
        .output()
        .unwrap_or_else(|error| fail(format!("cannot run pgbench: {error}")));
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        fail(format!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let figure = |prefix: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or_else(|| fail(format!("no `{prefix}` in pgbench's output: {text}")))
    };
    println!(
        "{{\"tps\":{:.1},\"latency_ms\":{:.3}}}",
        figure("tps = "),
        figure("latency average = ")
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_parameter_becomes_a_variable() {
        let script = super::script();
        assert!(!script.contains('$'), "{script}");
        assert!(script.contains("('pgbench-key-' || :client_id)"));
        assert!(script.contains("(:page_rows)::int8"));
    }
}
