//! The HTTP limits on raw sockets: what a slow, huge or malformed request
//! gets from the running binary, and that its memory stays bounded.

mod process;

use process::*;
use std::time::{Duration, Instant};

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
