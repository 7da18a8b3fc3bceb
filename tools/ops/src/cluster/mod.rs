//! `cargo xtask cluster [--instances N] [--check]`: several instances of the
//! release service on one PostgreSQL, behind HAProxy (Debian's `haproxy`)
//! health-checking `/readyz`, all on loopback.
//!
//! Without `--check` it prints the balancer's URL and a key and runs until
//! Ctrl-C. With `--check` it drives the cluster through the scenarios of
//! [`check`] and exits. PostgreSQL is the server named by
//! `AUDIENCES_TEST_POSTGRES_URL`, or a throw-away one started through
//! `scripts/with-postgres`.

mod check;
mod instances;

use std::path::Path;
use std::process::Command;

/// What `cargo xtask cluster` is asked for.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Service instances behind the balancer.
    pub instances: usize,
    /// Run the scenarios and exit, instead of serving until Ctrl-C.
    pub check: bool,
}

/// Runs `cargo xtask cluster`.
pub fn run(root: &Path, options: &ClusterOptions) -> Result<(), String> {
    let Ok(admin) = std::env::var("AUDIENCES_TEST_POSTGRES_URL") else {
        // Run again with a throw-away PostgreSQL.
        let mut command = Command::new(root.join("scripts/with-postgres"));
        command
            .arg(std::env::current_exe().map_err(|error| error.to_string())?)
            .args(["cluster", "--instances", &options.instances.to_string()]);
        if options.check {
            command.arg("--check");
        }
        let status = command
            .current_dir(root)
            .status()
            .map_err(|error| format!("cannot run scripts/with-postgres: {error}"))?;
        return if status.success() {
            Ok(())
        } else {
            Err("the cluster run failed".into())
        };
    };
    if options.check {
        return check::run(root, &admin, options.instances);
    }
    let cluster = instances::start(
        root,
        &admin,
        options.instances,
        instances::Limits {
            per_second: 50,
            burst: 100,
        },
    )?;
    let (group, audience) = crate::demo_ids(root)?;
    println!(
        "cluster: {} instances of the release service on one PostgreSQL, behind HAProxy\n\
         url:  {}   (HAProxy, health-checking /readyz on each instance)\n\
         key:  {key}\n\
         instances: {}\n\
         logs: {}\n\
         try:  curl -s -H 'Authorization: Bearer {key}' '{}/v1/accounts/{group}/audiences/{audience}/prospects?limit=2'\n\
         Ctrl-C stops everything.",
        options.instances,
        cluster.base(),
        cluster
            .instances
            .iter()
            .map(instances::Instance::base)
            .collect::<Vec<_>>()
            .join(" "),
        cluster.work.display(),
        cluster.base(),
        key = instances::KEY,
    );
    wait_for_interrupt();
    drop(cluster);
    Ok(())
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_interrupt() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) =
            (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        else {
            return;
        };
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    });
}
