//! The `audiences` binary on the networks its users have: HTTPS with a
//! private CA (by flag or by `SSL_CERT_FILE`), an HTTP proxy from the
//! environment, and a rate limit that makes an export wait (and say so).

use std::process::Command;
use std::sync::{Arc, Mutex};

use audiences_server::ListAudienceProspectsResponse;
use audiences_server::mock::MockApi;
use audiences_server::runtime::serve_loopback;
use audiences_tests::tls::{TestCa, serve_tls};
use audiences_types::{AudienceProspectPage, ErrorDetail};

const GROUP: &str = "6650a1b2c3d4e5f601234567";
const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";

fn one_page_mock() -> Arc<MockApi> {
    let mock = Arc::new(MockApi::new());
    mock.on_list_audience_prospects(|_| ListAudienceProspectsResponse::Ok {
        data: AudienceProspectPage {
            items: vec![audiences_service::demo::prospect(7)],
            next_cursor: None,
            has_more: false,
        }
        .into(),
        x_next_cursor: None,
    });
    mock
}

/// Runs the CLI with `env` (and nothing of the caller's AUDIENCES_* or proxy variables).
async fn audiences(env: Vec<(&'static str, String)>, extra: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audiences"));
    command
        .args([
            "prospects",
            "list",
            "--account-group",
            GROUP,
            "--audience",
            AUDIENCE,
            "--format",
            "jsonl",
        ])
        .args(extra)
        .env("AUDIENCES_API_KEY", "any");
    for name in [
        "AUDIENCES_BASE_URL",
        "AUDIENCES_CA_CERT",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ] {
        command.env_remove(name).env_remove(name.to_lowercase());
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_over_https_trusting_a_private_ca_by_flag_or_by_ssl_cert_file() {
    let ca = TestCa::new();
    let base = serve_tls(audiences_server::router(one_page_mock()), &ca).await;
    let ca_file = ca.write_ca("cli-ca");
    let by_flag = audiences(
        vec![("AUDIENCES_BASE_URL", base.clone())],
        &["--ca-cert", ca_file.to_str().unwrap()],
    )
    .await;
    let by_env = audiences(
        vec![
            ("AUDIENCES_BASE_URL", base.clone()),
            ("SSL_CERT_FILE", ca_file.display().to_string()),
        ],
        &[],
    )
    .await;
    let untrusted = audiences(vec![("AUDIENCES_BASE_URL", base)], &["--retries", "0"]).await;
    std::fs::remove_file(&ca_file).ok();
    for (code, stdout, stderr) in [&by_flag, &by_env] {
        assert_eq!(*code, 0, "{stderr}");
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(
            stdout.contains(&audiences_service::demo::prospect(7).id),
            "{stdout}"
        );
    }
    let (code, _, stderr) = untrusted;
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("certificate") && stderr.contains("SSL_CERT_FILE"),
        "{stderr}"
    );
}

/// A loopback HTTP proxy: records each request line, then forwards the
/// connection to the origin the absolute-form request names.
async fn proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0_u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let line = text.lines().next().unwrap_or_default().to_owned();
                record.lock().unwrap().push(line.clone());
                let target = line.split_whitespace().nth(1).unwrap_or_default();
                let authority = target
                    .trim_start_matches("http://")
                    .split('/')
                    .next()
                    .unwrap_or_default();
                let mut origin = tokio::net::TcpStream::connect(authority).await.unwrap();
                origin.write_all(&head).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut origin).await;
            });
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_proxy_from_the_environment_is_used() {
    let server = serve_loopback(audiences_server::router(one_page_mock()))
        .await
        .unwrap();
    let (proxy_url, seen) = proxy().await;
    let (code, stdout, stderr) = audiences(
        vec![
            ("AUDIENCES_BASE_URL", server.base_url.clone()),
            ("HTTP_PROXY", proxy_url),
        ],
        &[],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with(&format!(
            "GET {}/v1/accounts/{GROUP}/audiences/{AUDIENCE}/prospects",
            server.base_url
        )),
        "the proxy got the absolute-form request: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_asks_for_the_largest_page_and_says_when_it_waits_for_the_rate_limit() {
    let mock = Arc::new(MockApi::new());
    let mut answered = 0;
    mock.on_list_audience_prospects(move |_| {
        answered += 1;
        if answered == 1 {
            return ListAudienceProspectsResponse::TooManyRequests {
                error: ErrorDetail::new(audiences_server::error_codes::RATE_LIMITED, "slow down"),
                retry_after: 1,
            };
        }
        ListAudienceProspectsResponse::Ok {
            data: AudienceProspectPage {
                items: (0..3).map(audiences_service::demo::prospect).collect(),
                next_cursor: None,
                has_more: false,
            }
            .into(),
            x_next_cursor: None,
        }
    });
    let server = serve_loopback(audiences_server::router(mock.clone()))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (code, stdout, stderr) =
        audiences(vec![("AUDIENCES_BASE_URL", server.base_url.clone())], &["--all"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 3);
    assert!(
        stderr.contains("waiting 1 s (rate limited), then retrying"),
        "{stderr}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(950));
    let limits: Vec<u8> = mock
        .list_audience_prospects_calls()
        .iter()
        .map(|call| call.query.limit)
        .collect();
    assert_eq!(
        limits,
        [100, 100],
        "the largest page the document allows, each time"
    );
}
