//! The binary as a newcomer runs it: it starts on a fresh database, prints a
//! `curl` line that works as printed, keeps its data across restarts, and
//! stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Service {
    child: Child,
    lines: Vec<String>,
    /// What it prints after `lines`.
    rest: Option<std::io::Lines<BufReader<std::process::ChildStdout>>>,
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

/// Starts the binary on `database_url` with the demo (`--demo` unless
/// `extra` names a demo key) and reads its stdout up to the `try:` line.
fn start(database_url: &str, port: u16, extra: &[&str]) -> Service {
    let mut args = vec!["--database-url", database_url];
    if !extra.contains(&"--demo-key") {
        args.push("--demo");
    }
    args.extend_from_slice(extra);
    launch(None, port, &args, "try: ")
}

/// Starts the binary in `dir` (when given) with `args`, and reads its
/// stdout up to the line starting with `last`.
fn launch(dir: Option<&std::path::Path>, port: u16, args: &[&str], last: &str) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audiences-service"));
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
fn printed_until_stopped(mut service: Service) -> String {
    let rest = service.rest.take();
    let mut printed = service.lines.clone();
    assert!(terminate(service).success());
    printed.extend(rest.into_iter().flatten().map_while(Result::ok));
    printed.join("\n")
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
    let url = format!("sqlite://{}", dir.join("audiences.db").display());

    // As the README runs it: no database URL, the embedded default, the demo.
    let service = launch(Some(&dir), free_port(), &[], "try: ");
    assert!(
        dir.join("audiences.db").exists(),
        "the embedded default is sqlite://audiences.db"
    );
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
fn a_deployment_with_a_database_url_seeds_nothing_and_prints_no_key() {
    let dir = std::env::temp_dir().join(format!("audiences-binary-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("deployed.db").display());
    for args in [vec!["--database-url", url.as_str()], vec!["--no-demo"]] {
        let service = launch(Some(&dir), free_port(), &args, "metrics: ");
        let printed = printed_until_stopped(service);
        assert!(printed.contains("listening on"), "{printed}");
        for demo in ["demo", "key", "try:"] {
            assert!(
                !printed.contains(demo),
                "{args:?} prints nothing of a demo: {printed}"
            );
        }
    }
    // Nothing was seeded: no account group to create a key for, until an
    // operator creates one.
    let operator = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_audiences-service"))
            .args(["--database-url", &url])
            .args(args)
            .output()
            .unwrap()
    };
    let refused = operator(&["create-key"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no account group"));
    let group = "0123456789abcdef01234567";
    assert!(
        operator(&["create-account-group", "--id", group])
            .status
            .success()
    );
    let created = operator(&["create-key", "--account-group", group]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("key: "));
    let again = operator(&["create-account-group", "--id", group]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
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

#[test]
fn gzip_is_answered_when_asked_for_unless_turned_off() {
    let dir = std::env::temp_dir().join(format!("audiences-binary-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("gzip.db").display());
    for (extra, expected) in [(&[][..], Some("gzip")), (&["--no-compression"][..], None)] {
        let port = free_port();
        let service = start(&url, port, extra);
        let (status, head, _) = http_request(
            &format!("http://127.0.0.1:{port}/openapi.json"),
            "Accept-Encoding: gzip\r\n",
        );
        assert_eq!(status, 200);
        let encoding = head.lines().find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-encoding:")
                .map(|v| v.trim().to_owned())
        });
        assert_eq!(encoding.as_deref(), expected, "{extra:?}");
        assert!(terminate(service).success());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// GET `url` over a plain socket (the service's own HTTP/1.1), as text.
fn http_get(url: &str, authorization: Option<&str>) -> (u16, String) {
    let auth = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    let (status, _, body) = http_request(url, &auth);
    (status, String::from_utf8(body).unwrap())
}

/// GET `url` over a plain socket with `headers` (each line ending in
/// CRLF): the status, the head and the body as bytes.
fn http_request(url: &str, headers: &str) -> (u16, String, Vec<u8>) {
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
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn metrics_count_each_operation_by_status_on_the_api_or_a_private_address() {
    let dir = std::env::temp_dir().join(format!("audiences-metrics-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("demo.db").display());
    for private in [false, true] {
        let port = free_port();
        let metrics_port = free_port();
        let bind = format!("127.0.0.1:{metrics_port}");
        let extra: Vec<&str> = if private {
            vec!["--metrics-bind", &bind, "--demo-key", "ak_metrics"]
        } else {
            vec!["--demo-key", "ak_metrics"]
        };
        let service = start(&url, port, &extra);
        let base = format!("http://127.0.0.1:{port}");
        let prospects = format!(
            "{base}/v1/accounts/6650a1b2c3d4e5f601234567/audiences/6650a1b2c3d4e5f60123abcd/prospects"
        );
        let metrics_url = if private {
            format!("http://{bind}/metrics")
        } else {
            format!("{base}/metrics")
        };
        for _ in 0..3 {
            assert_eq!(
                http_get(&format!("{prospects}?limit=1"), Some("Bearer ak_metrics")).0,
                200
            );
        }
        assert_eq!(http_get(&prospects, None).0, 401);
        assert_eq!(
            http_get(&format!("{prospects}?limit=0"), Some("Bearer ak_metrics")).0,
            400
        );
        for path in ["/nope", "/wp-admin/setup.php", "/.env"] {
            assert_eq!(http_get(&format!("{base}{path}"), None).0, 404);
        }
        assert_eq!(http_get(&format!("{base}/healthz"), None).0, 200);
        let (status, text) = http_get(&metrics_url, None);
        assert_eq!(status, 200, "{text}");
        let requests = |operation: &str, status: u16| {
            sample(
                &text,
                &format!("http_server_requests_total{{operation=\"{operation}\",status=\"{status}\"}}"),
            )
        };
        assert_eq!(requests("listAudienceProspects", 200), 3.0, "{text}");
        assert_eq!(requests("listAudienceProspects", 401), 1.0);
        assert_eq!(requests("listAudienceProspects", 400), 1.0);
        assert_eq!(
            requests("unmatched", 404),
            3.0,
            "one label for every unknown route"
        );
        assert_eq!(requests("healthz", 200), 1.0);
        assert_eq!(
            sample(
                &text,
                "http_server_request_duration_seconds_count{operation=\"listAudienceProspects\",status=\"200\"}"
            ),
            3.0
        );
        assert!(
            sample(&text, "store_query_duration_seconds_count{query=\"page\"}") >= 3.0,
            "{text}"
        );
        assert_eq!(sample(&text, "db_pool_max_connections"), 16.0);
        // Three authenticated requests (the 400 is refused before the key is
        // read): the first reads the store, the others the key cache.
        let (hits, misses) = (
            sample(&text, "key_cache_lookups_total{result=\"hit\"}"),
            sample(&text, "key_cache_lookups_total{result=\"miss\"}"),
        );
        assert_eq!(hits + misses, 3.0, "{text}");
        assert!(misses >= 1.0, "{text}");
        assert!(
            text.contains("# HELP http_server_requests_total"),
            "described for Prometheus"
        );
        let on_api = http_get(&format!("{base}/metrics"), None).0;
        assert_eq!(
            on_api,
            if private { 404 } else { 200 },
            "--metrics-bind moves it off the API's address"
        );
        assert!(terminate(service).success());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Reads from `stream` until the peer closes it (or `limit` passes):
/// whether it was closed, and the bytes that came first.
fn read_until_closed(stream: &mut std::net::TcpStream, limit: Duration) -> (bool, Vec<u8>) {
    use std::io::Read;
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let deadline = Instant::now() + limit;
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => return (true, received),
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error)
                if error.kind() == std::io::ErrorKind::WouldBlock
                    || error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return (true, received),
        }
    }
    (false, received)
}

#[test]
fn the_http_limits_hold_on_raw_sockets() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("audiences-sockets-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("demo.db").display());
    let port = free_port();
    let service = start(
        &url,
        port,
        &[
            "--header-read-timeout-ms",
            "2000",
            "--keep-alive-timeout-ms",
            "1500",
            "--max-connections",
            "12000",
        ],
    );
    let address = format!("127.0.0.1:{port}");

    // 150 headers: the envelope, with the trace id in body and header.
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    let headers: String = (0..150)
        .map(|index| format!("X-Filler-{index}: value\r\n"))
        .collect();
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let (_, answer) = read_until_closed(&mut stream, Duration::from_secs(5));
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"]["code"], "REQUEST_HEADERS_TOO_LARGE");
    let trace_id = body["traceId"].as_str().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("x-trace-id: {trace_id}")),
        "{head}"
    );

    // What hyper's parser refuses before a request exists: its bare answer,
    // as the README says (no envelope can be written there).
    let bare = |request: Vec<u8>| {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        let _ = stream.write_all(&request);
        let (_, answer) = read_until_closed(&mut stream, Duration::from_secs(5));
        String::from_utf8_lossy(&answer).into_owned()
    };
    let many: String = (0..450).map(|index| format!("X-Filler-{index}: v\r\n")).collect();
    for (request, status) in [
        (b"GET /v1/\xff HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400"),
        (
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)).into_bytes(),
            "414",
        ),
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(1_000_000)
            )
            .into_bytes(),
            "431",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n").into_bytes(),
            "431",
        ),
    ] {
        let answer = bare(request);
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{answer}");
        assert!(
            answer.ends_with("\r\n\r\n") && !answer.contains("x-trace-id"),
            "bare: {answer}"
        );
    }

    // Headers sent one byte a second: closed at the header read timeout.
    let mut slow = std::net::TcpStream::connect(&address).unwrap();
    let started = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed_after = None;
    for byte in request {
        if slow.write_all(&[*byte]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let (closed, _) = read_until_closed(&mut slow, Duration::from_millis(800));
        if closed {
            closed_after = Some(started.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("a slow client is disconnected");
    assert!(
        closed_after >= Duration::from_millis(1500) && closed_after < Duration::from_secs(5),
        "closed after {closed_after:?}"
    );

    // An idle keep-alive connection closes after the keep-alive timeout.
    let mut idle = std::net::TcpStream::connect(&address).unwrap();
    write!(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let started = Instant::now();
    let (closed, first) = read_until_closed(&mut idle, Duration::from_secs(5));
    assert!(
        closed && first.starts_with(b"HTTP/1.1 200"),
        "answered, then closed"
    );
    let idle_for = started.elapsed();
    assert!(
        idle_for >= Duration::from_millis(1200) && idle_for < Duration::from_secs(4),
        "{idle_for:?}"
    );

    // 10,000 idle connections held open: the service keeps answering others.
    let before = rss_kib(service.child.id());
    let held: Vec<std::net::TcpStream> = (0..10_000)
        .map(|_| std::net::TcpStream::connect(&address).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let during = rss_kib(service.child.id());
    let answered = (0..20)
        .filter(|_| http_get(&format!("http://{address}/healthz"), None).0 == 200)
        .count();
    println!(
        "10,000 idle connections: service RSS {} KiB before, {} KiB while held (+{} KiB, {:.1} KiB each)",
        before,
        during,
        during.saturating_sub(before),
        during.saturating_sub(before) as f64 / 10_000.0
    );
    assert_eq!(answered, 20, "others are answered while 10,000 connections idle");
    assert!(
        during < before + 256 * 1024,
        "memory stays bounded: {before} → {during} KiB"
    );
    // They are idle connections, so the keep-alive timeout closes them.
    std::thread::sleep(Duration::from_millis(2500));
    let mut still_open = 0;
    for mut stream in held.into_iter().step_by(500) {
        if !read_until_closed(&mut stream, Duration::from_millis(300)).0 {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open, 0,
        "idle connections are closed after the keep-alive timeout"
    );
    assert!(terminate(service).success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// On SIGTERM with a drain delay, `/readyz` fails at once (a load balancer
/// stops sending traffic) while the API still answers; then it exits cleanly.
#[test]
fn sigterm_fails_readiness_first_then_drains_and_exits() {
    let dir = std::env::temp_dir().join(format!("audiences-drain-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("drain.db").display());
    let port = free_port();
    let key = "ak_drain_0123456789abcdef0123456789abcdef";
    let mut service = start(&url, port, &["--demo-key", key, "--drain-delay-ms", "1500"]);
    let base = format!("http://127.0.0.1:{port}");
    let page = format!(
        "{base}/v1/accounts/6650a1b2c3d4e5f601234567/audiences/6650a1b2c3d4e5f60123abcd/prospects?limit=1"
    );
    let bearer = format!("Bearer {key}");
    assert_eq!(http_get(&format!("{base}/readyz"), None).0, 200);
    let signalled = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &service.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(200));
    let (status, body) = http_get(&format!("{base}/readyz"), None);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("NOT_READY"), "{body}");
    assert_eq!(
        http_get(&page, Some(&bearer)).0,
        200,
        "still serving while draining"
    );
    let exit = loop {
        if let Some(status) = service.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        signalled.elapsed() >= Duration::from_millis(1500),
        "exited before its drain delay"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
