//! The binary as a newcomer runs it: it starts on a fresh database, prints a
//! `curl` line that works as printed, keeps its data across restarts, and
//! stops cleanly on SIGTERM.

mod process;

use process::*;
use std::process::Command;
use std::time::{Duration, Instant};

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
