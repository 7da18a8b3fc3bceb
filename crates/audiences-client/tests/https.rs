//! The client over HTTPS, as the API's real users reach it: with no feature
//! flag, trusting a private CA through the builder or through
//! `SSL_CERT_FILE`, and refusing an untrusted certificate with a message
//! that says why.

use std::sync::Arc;

use audiences_client::{AudiencesClient, Certificate, Error, RetryPolicy};
use audiences_server::ListAudienceProspectsResponse;
use audiences_server::mock::MockApi;
use audiences_tests::tls::{TestCa, serve_tls};
use audiences_types::AudienceProspectPage;

const GROUP: &str = "6650a1b2c3d4e5f601234567";
const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";

fn empty_page_mock() -> Arc<MockApi> {
    let mock = Arc::new(MockApi::new());
    mock.on_list_audience_prospects(|_| ListAudienceProspectsResponse::Ok {
        data: AudienceProspectPage {
            items: Vec::new(),
            next_cursor: None,
            has_more: false,
        }
        .into(),
        x_next_cursor: None,
    });
    mock
}

#[tokio::test]
async fn a_private_ca_added_to_the_builder_is_trusted() {
    let ca = TestCa::new();
    let base = serve_tls(audiences_server::router(empty_page_mock()), &ca).await;
    let client = AudiencesClient::builder(&base)
        .api_key("any")
        .add_root_certificate(Certificate::from_pem(ca.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let page = client.list_prospects(GROUP, AUDIENCE, None, None).await.unwrap();
    assert!(page.items.is_empty() && !page.has_more);
    assert_eq!(page.trace_id.len(), 24);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_naming_the_cause() {
    let ca = TestCa::new();
    let base = serve_tls(audiences_server::router(empty_page_mock()), &ca).await;
    let client = AudiencesClient::builder(&base)
        .api_key("any")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let error = client
        .list_prospects(GROUP, AUDIENCE, None, None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("certificate"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(
        message.contains("add_root_certificate") && message.contains("SSL_CERT_FILE"),
        "{message}"
    );
}

/// A consumer crate with nothing but `audiences-client` (by path, default
/// features) and tokio, built and run against the loopback HTTPS server,
/// trusting its CA through `SSL_CERT_FILE` as curl and OpenSSL do.
#[tokio::test]
async fn a_fresh_consumer_crate_lists_a_page_over_https_with_no_feature_flags() {
    let ca = TestCa::new();
    let base = serve_tls(audiences_server::router(empty_page_mock()), &ca).await;
    let ca_file = ca.write_ca("consumer-ca");
    let root = audiences_tests::workspace_root();
    let dir = root.join("target/consumer-https");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"consumer-https\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [workspace]\n\n[dependencies]\naudiences-client = {{ path = {:?} }}\n\
             tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n",
            root.join("crates/audiences-client").display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        format!(
            "#[tokio::main]\nasync fn main() {{\n    let client = audiences_client::AudiencesClient::from_env().unwrap();\n    \
             match client.list_prospects({GROUP:?}, {AUDIENCE:?}, Some(2), None).await {{\n        \
             Ok(page) => println!(\"page of {{}} (has more: {{}})\", page.items.len(), page.has_more),\n        \
             Err(error) => {{ eprintln!(\"{{error}}\"); std::process::exit(1) }}\n    }}\n}}\n"
        ),
    )
    .unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (manifest, target, trusted) = (dir.join("Cargo.toml"), root.join("target"), ca_file.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(cargo)
            .args(["run", "--quiet", "--manifest-path"])
            .arg(manifest)
            .env("CARGO_TARGET_DIR", target)
            .env("AUDIENCES_BASE_URL", base)
            .env("AUDIENCES_API_KEY", "any")
            .env("SSL_CERT_FILE", trusted)
            .output()
    });
    let output = output.await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    std::fs::remove_file(&ca_file).ok();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "page of 0 (has more: false)");
}
