//! Starting the service binary and talking to it over plain sockets, shared
//! by the tests that run it as a process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Service {
    pub(crate) child: Child,
    pub(crate) lines: Vec<String>,
    /// What it prints after `lines`.
    pub(crate) rest: Option<std::io::Lines<BufReader<std::process::ChildStdout>>>,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary on `database_url` with the demo (`--demo` unless
/// `extra` names a demo key) and reads its stdout up to the `try:` line.
pub(crate) fn start(database_url: &str, port: u16, extra: &[&str]) -> Service {
    let mut args = vec!["--database-url", database_url];
    if !extra.contains(&"--demo-key") {
        args.push("--demo");
    }
    args.extend_from_slice(extra);
    launch(None, port, &args, "try: ")
}

/// Starts the binary in `dir` (when given) with `args`, and reads its
/// stdout up to the line starting with `last`.
pub(crate) fn launch(dir: Option<&std::path::Path>, port: u16, args: &[&str], last: &str) -> Service {
    launch_as(None, dir, port, args, last)
}

/// As [`launch`], as the user `uid` (and its group) when given: through
/// `setpriv`, which runs the binary in its own process (for tests whose
/// faults root would not feel, such as an unreadable file).
pub(crate) fn launch_as(
    uid: Option<u32>,
    dir: Option<&std::path::Path>,
    port: u16,
    args: &[&str],
    last: &str,
) -> Service {
    let binary = env!("CARGO_BIN_EXE_audiences-service");
    let mut command = match uid {
        None => Command::new(binary),
        Some(uid) => {
            let mut command = Command::new("setpriv");
            command.args([
                format!("--reuid={uid}"),
                format!("--regid={uid}"),
                "--clear-groups".to_owned(),
                binary.to_owned(),
            ]);
            command
        }
    };
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("AUDIENCES_DEMO")
        .env_remove("AUDIENCES_DEMO_KEY")
        .env_remove("AUDIENCES_NO_DEMO")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    for line in stdout.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with(last);
        lines.push(line);
        if done {
            break;
        }
    }
    Service {
        child,
        lines,
        rest: Some(stdout),
    }
}

/// Stops the service with SIGTERM; everything it printed.
pub(crate) fn printed_until_stopped(mut service: Service) -> String {
    let rest = service.rest.take();
    let mut printed = service.lines.clone();
    assert!(terminate(service).success());
    printed.extend(rest.into_iter().flatten().map_while(Result::ok));
    printed.join("\n")
}

/// Runs the printed `try: curl …` line through a shell, as a person would paste it.
pub(crate) fn run_printed_curl(service: &Service) -> serde_json::Value {
    let line = service
        .lines
        .iter()
        .find_map(|line| line.strip_prefix("try: "))
        .unwrap_or_else(|| panic!("no curl line in {:?}", service.lines));
    let output = Command::new("sh").args(["-c", line]).output().unwrap();
    assert!(output.status.success(), "{line}: {output:?}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{line}: {error}: {output:?}"))
}

pub(crate) fn terminate(mut service: Service) -> std::process::ExitStatus {
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

/// GET `url` over a plain socket (the service's own HTTP/1.1), as text.
pub(crate) fn http_get(url: &str, authorization: Option<&str>) -> (u16, String) {
    let auth = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    let (status, _, body) = http_request(url, &auth);
    (status, String::from_utf8(body).unwrap())
}

/// GET `url` over a plain socket with `headers` (each line ending in
/// CRLF): the status, the head and the body as bytes.
pub(crate) fn http_request(url: &str, headers: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or(response.len());
    let head = String::from_utf8(response[..end].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    let body = response.get(end + 4..).unwrap_or_default().to_vec();
    (status, head, body)
}

/// The value of the sample `name{labels}` in Prometheus text, 0 when absent.
pub(crate) fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}
