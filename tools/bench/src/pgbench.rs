//! `pgbench`: PostgreSQL's own ceiling for the service's request statement
//! (its token and the state of the audience whose first page of 25 the
//! instance keeps), as the service runs it: the same text
//! (`take_and_state_statement`), prepared, with a generic plan (the
//! service's `plan_cache_mode`), over as many connections as the driver
//! uses, one key each. What the database alone does on this machine, to set
//! the service's requests/s against; the statement for a page the instance
//! does not keep (`miss`: the token and the page's rows); and two floors
//! under it: the page statement alone (no token: what a request costs the database when
//! nothing is written), and `SELECT 1` (a round trip, nothing read).

use std::process::Command;

use audiences_service::demo::{ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_service::store::{page_statement, take_and_page_statement, take_and_state_statement};

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

/// Which statement pgbench runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Statement {
    /// The token and the audience's state and version
    /// (`take_and_state_statement`): a request, as the service runs it for
    /// a page its instance keeps.
    Request,
    /// The token and the page (`take_and_page_statement`): a request for a
    /// page the instance does not keep.
    Miss,
    /// The page alone (`page_statement`): a request without the token.
    Page,
    /// `SELECT 1`: the round trip alone.
    Floor,
}

impl Statement {
    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "request" => Self::Request,
            "miss" => Self::Miss,
            "page" => Self::Page,
            "floor" => Self::Floor,
            _ => fail(format!(
                "unknown pgbench statement `{text}`: request, miss, page or floor"
            )),
        }
    }
}

/// The statement as a pgbench script: its parameters become pgbench
/// variables (parameters again under `-M prepared`), the key one per
/// client.
fn script(statement: Statement) -> String {
    // Typed as the service binds them (sqlx sends the types; pgbench's
    // parameters are untyped, and `$2 * $3` would be ambiguous).
    let (mut text, variables): (String, &[(usize, &str)]) = match statement {
        Statement::Request => (
            take_and_state_statement().to_owned(),
            &[
                (5, "(:account_group)::text"),
                (4, "(:audience)::text"),
                (3, "(:burst)::int4"),
                (2, "(:interval)::float8"),
                (1, "('pgbench-key-' || :client_id)"),
            ],
        ),
        Statement::Miss => (
            take_and_page_statement().to_owned(),
            &[
                (8, "(:page_rows)::int8"),
                (7, "(:after_id)::text"),
                (6, "(:after_created)::int8"),
                (5, "(:account_group)::text"),
                (4, "(:audience)::text"),
                (3, "(:burst)::int4"),
                (2, "(:interval)::float8"),
                (1, "('pgbench-key-' || :client_id)"),
            ],
        ),
        Statement::Page => (
            page_statement().to_owned(),
            &[
                (5, "(:page_rows)::int8"),
                (4, "(:after_id)::text"),
                (3, "(:after_created)::int8"),
                (2, "(:account_group)::text"),
                (1, "(:audience)::text"),
            ],
        ),
        Statement::Floor => ("SELECT 1".to_owned(), &[]),
    };
    // Highest first: `$1` is a prefix of `$10`.
    for (index, variable) in variables {
        text = text.replace(&format!("${index}"), variable);
    }
    format!("{text};\n")
}

pub(crate) fn run(url: &str, connections: u32, seconds: u32, statement: Statement) {
    let limits = limits();
    let path = std::env::temp_dir().join(format!("audiences-pgbench-{}.sql", std::process::id()));
    std::fs::write(&path, script(statement)).unwrap_or_else(|error| fail(error));
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
    use super::{Statement, script};

    #[test]
    fn every_parameter_becomes_a_variable() {
        for statement in [
            Statement::Request,
            Statement::Miss,
            Statement::Page,
            Statement::Floor,
        ] {
            let script = script(statement);
            assert!(!script.contains('$'), "{statement:?}: {script}");
        }
        let request = script(Statement::Request);
        assert!(request.contains("('pgbench-key-' || :client_id)"));
        assert!(request.contains("(:audience)::text") && !request.contains("page_rows"));
        let miss = script(Statement::Miss);
        assert!(miss.contains("('pgbench-key-' || :client_id)") && miss.contains("(:page_rows)::int8"));
        let page = script(Statement::Page);
        assert!(page.contains("(:audience)::text") && page.contains("(:page_rows)::int8"));
        assert!(!page.contains("pgbench-key-"), "the page alone takes no token");
    }
}
