//! JSON and JSON-lines exports write each prospect exactly as the server
//! sent it, after it parsed as the documented type: fields a newer server
//! adds pass through, and a prospect that does not match the document stops
//! the export without writing the file.

use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const GROUP: &str = "6650a1b2c3d4e5f601234567";
const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";

fn prospect(id: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}",{extra}"firstName":"Avery","lastName":"Stone","name":"Avery Stone","headline":null,"about":null,"photoUrl":null,"linkedinUrl":null,"publicIdentifier":"avery","company":null,"title":"CTO","location":{{"text":"Lyon","countryCode":"FR"}},"emails":[],"premium":false,"isOpenProfile":true,"connectionStatus":null,"chatStatus":null}}"#
    )
}

fn page(items: &[String], next: Option<&str>) -> String {
    format!(
        r#"{{"success":true,"data":{{"items":[{}],"nextCursor":{},"hasMore":{}}},"error":null,"traceId":"t"}}"#,
        items.join(", "),
        next.map_or("null".to_owned(), |cursor| format!("\"{cursor}\"")),
        next.is_some()
    )
}

/// Serves `first` for a request without a cursor and `second` for one with
/// `cursor=c2`, each on its own connection.
async fn server(first: String, second: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (first, second) = (first.clone(), second.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                    }
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let body = if line.contains("cursor=c2") { second } else { first };
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

async fn export(base_url: String, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audiences"));
    command
        .args([
            "prospects",
            "list",
            "--account-group",
            GROUP,
            "--audience",
            AUDIENCE,
        ])
        .args(args)
        .env("AUDIENCES_API_KEY", "any")
        .env("AUDIENCES_BASE_URL", base_url);
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(name);
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
async fn exports_write_each_prospect_as_sent_new_fields_included() {
    let one = prospect("507f1f77bcf86cd799439011", r#""newField":{"nested":[1, 2.50]},"#);
    let two = prospect("507f1f77bcf86cd799439012", r#""score" : 1e2 ,"#);
    let three = prospect("507f1f77bcf86cd799439013", "");
    let base = server(
        page(&[one.clone(), two.clone()], Some("c2")),
        page(std::slice::from_ref(&three), None),
    )
    .await;
    let (code, stdout, stderr) = export(base.clone(), &["--all", "--format", "jsonl"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("{one}\n{two}\n{three}\n"));
    let (code, stdout, stderr) = export(base.clone(), &["--all", "--format", "json"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("[\n{one},\n{two},\n{three}\n]\n"));
    let parsed: serde_json::Value = serde_json::from_str(&stdout).expect("the JSON export is one array");
    assert_eq!(parsed[0]["newField"]["nested"][1], 2.5);
    // One page, without --all: the same bytes, and the cursor of the next.
    let (code, stdout, stderr) = export(base, &["--format", "jsonl"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("{one}\n{two}\n"));
    assert!(stderr.contains("--cursor c2"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prospect_that_does_not_match_the_document_stops_the_export() {
    let good = prospect("507f1f77bcf86cd799439011", "");
    let bad = prospect("507f1f77bcf86cd799439012", "").replace(r#""premium":false"#, r#""premium":"yes""#);
    let base = server(page(std::slice::from_ref(&good), Some("c2")), page(&[bad], None)).await;
    let folder = std::env::temp_dir().join(format!("audiences-passthrough-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("out.jsonl");
    let (code, _, stderr) = export(
        base,
        &["--all", "--format", "jsonl", "--output", file.to_str().unwrap()],
    )
    .await;
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("does not match the document: prospect 0 of the page"),
        "{stderr}"
    );
    assert!(!file.exists(), "a failed export leaves no file");
    assert!(
        std::fs::read_dir(&folder).unwrap().next().is_none(),
        "nor a partial one"
    );
    std::fs::remove_dir_all(&folder).unwrap();
}
