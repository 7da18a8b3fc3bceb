//! The binary as a newcomer runs it: it starts on a fresh database, prints a
//! `curl` line that works as printed, keeps its data across restarts, and
//! stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Service {
    child: Child,
    lines: Vec<String>,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary and reads its stdout up to the `try:` line.
fn start(database_url: &str, port: u16, extra: &[&str]) -> Service {
    let mut child = Command::new(env!("CARGO_BIN_EXE_audiences-service"))
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
        ])
        .args(extra)
        .env_remove("DATABASE_URL")
        .env_remove("AUDIENCES_DEMO_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        let done = line.starts_with("try: ");
        lines.push(line);
        if done {
            break;
        }
    }
    Service { child, lines }
}

/// Runs the printed `try: curl …` line through a shell, as a person would paste it.
fn run_printed_curl(service: &Service) -> serde_json::Value {
    let line = service
        .lines
        .iter()
        .find_map(|line| line.strip_prefix("try: "))
        .unwrap_or_else(|| panic!("no curl line in {:?}", service.lines));
    let output = Command::new("sh").args(["-c", line]).output().unwrap();
    assert!(output.status.success(), "{line}: {output:?}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{line}: {error}: {output:?}"))
}

fn terminate(mut service: Service) -> std::process::ExitStatus {
    let pid = service.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = service.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_newcomer_pastes_the_printed_curl_line_and_pages_the_demo_audience() {
    let dir = std::env::temp_dir().join(format!("audiences-binary-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("demo.db").display());

    let service = start(&url, free_port(), &[]);
    let printed = service.lines.join("\n");
    assert!(printed.contains("seeded demo data"), "{printed}");
    assert!(printed.contains("6650a1b2c3d4e5f601234567"), "{printed}");
    let page = run_printed_curl(&service);
    assert_eq!(page["success"], true, "{page}");
    assert_eq!(page["data"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["data"]["hasMore"], true);
    let status = terminate(service);
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}");

    // A restart keeps the data and does not seed again; a given demo key
    // only applies to a fresh database, so the old key still works.
    let service = start(&url, free_port(), &["--demo-key", "ak_ignored_on_restart"]);
    let printed = service.lines.join("\n");
    assert!(!printed.contains("seeded demo data"), "{printed}");
    assert!(terminate(service).success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_database_url_it_cannot_use_is_one_clear_line_and_a_failure() {
    let output = Command::new(env!("CARGO_BIN_EXE_audiences-service"))
        .args(["--database-url", "mysql://nope/db"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unsupported database URL: use sqlite://FILE or postgres://"),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_audiences-service"))
        .args([
            "--database-url",
            "postgres://user:hunter2@127.0.0.1:1/db",
            "--query-timeout-ms",
            "500",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot open postgres://user:***@127.0.0.1:1/db"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password is not printed: {stderr}"
    );
}
