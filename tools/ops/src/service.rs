//! The reference service as the tools run it: built in release once, then
//! started with the flags a run needs (one helper for `load`, `cluster` and
//! the bench's operator steps).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Builds the release service binary; its path.
pub(crate) fn release_binary(root: &Path) -> Result<PathBuf, String> {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "audiences-service",
            "--bin",
            "audiences-service",
        ])
        .current_dir(root)
        .status()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if !status.success() {
        return Err("cargo build --release -p audiences-service failed".into());
    }
    Ok(crate::target_dir(root).join("release/audiences-service"))
}

/// How to start one service process.
pub(crate) struct Start<'a> {
    /// `--database-url`.
    pub(crate) database_url: &'a str,
    /// The loopback port to bind.
    pub(crate) port: u16,
    /// `--demo-key`: seed the demo data with this key.
    pub(crate) demo_key: &'a str,
    /// `--rate-limit-per-second` and `--rate-limit-burst`.
    pub(crate) limits: (u32, u32),
    /// `--drain-delay-ms`, when not the default.
    pub(crate) drain_delay_ms: Option<u64>,
}

/// Starts the service `binary` as `start` says, its output to `stdout` and `stderr`.
pub(crate) fn spawn(binary: &Path, start: &Start<'_>, stdout: Stdio, stderr: Stdio) -> Result<Child, String> {
    let mut command = Command::new(binary);
    command.args([
        "--database-url",
        start.database_url,
        "--bind",
        &format!("127.0.0.1:{}", start.port),
        "--demo-key",
        start.demo_key,
        "--rate-limit-per-second",
        &start.limits.0.to_string(),
        "--rate-limit-burst",
        &start.limits.1.to_string(),
        "--log",
        "warn",
    ]);
    if let Some(delay) = start.drain_delay_ms {
        command.args(["--drain-delay-ms", &delay.to_string()]);
    }
    command
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|error| format!("cannot start the service: {error}"))
}
