//! `export`, `wire`, `walk` and `serde`: the client side, the wire, and
//! serde_json alone.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use audiences_service::demo::{self, ACCOUNT_GROUP_ID, READY_AUDIENCE_ID};
use audiences_types::AudienceProspectListSuccessResponse;
use axum::http::header;

use crate::common::{fail, peak_rss_kib};

/// A plain reqwest client that never asks for gzip (reqwest does by default
/// where the workspace enables its `gzip` feature, as the client crate does).
fn identity_http() -> reqwest::Client {
    reqwest::Client::builder()
        .gzip(false)
        .build()
        .unwrap_or_else(|error| fail(error))
}

pub(crate) async fn wire(base: &str, key: &str) {
    let http = identity_http();
    let url =
        format!("{base}/v1/accounts/{ACCOUNT_GROUP_ID}/audiences/{READY_AUDIENCE_ID}/prospects?limit=100");
    let mut sizes = Vec::new();
    for encoding in ["identity", "gzip"] {
        let response = http
            .get(&url)
            .bearer_auth(key)
            .header(header::ACCEPT_ENCODING, encoding)
            .send()
            .await
            .unwrap_or_else(|error| fail(error));
        let coded = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|value| value == "gzip");
        if coded != (encoding == "gzip") {
            fail(format!("asked for {encoding}, the answer is gzipped: {coded}"));
        }
        sizes.push(response.bytes().await.unwrap_or_else(|error| fail(error)).len());
    }
    println!("{{\"identity_bytes\":{},\"gzip_bytes\":{}}}", sizes[0], sizes[1]);
}

pub(crate) async fn export(base: &str, key: &str, mode: &str) {
    use futures_util::TryStreamExt;
    let started = Instant::now();
    let count: u64 = match mode {
        "client" | "client-gzip" => {
            let client = audiences_client::AudiencesClient::builder(base)
                .api_key(key)
                .compression(mode == "client-gzip")
                .build()
                .unwrap_or_else(|error| fail(error));
            let mut items = std::pin::pin!(
                client
                    .prospects(ACCOUNT_GROUP_ID, READY_AUDIENCE_ID)
                    .page_size(100)
                    .items()
            );
            let mut count = 0;
            while let Some(prospect) = items.try_next().await.unwrap_or_else(|error| fail(error)) {
                std::hint::black_box(&prospect);
                count += 1;
            }
            count
        }
        "sequential" => {
            // Strictly one request at a time: the next cursor is known only
            // once the whole page is parsed.
            let http = identity_http();
            let mut cursor: Option<String> = None;
            let mut count = 0;
            loop {
                let mut url = format!(
                    "{base}/v1/accounts/{ACCOUNT_GROUP_ID}/audiences/{READY_AUDIENCE_ID}/prospects?limit=100"
                );
                if let Some(cursor) = &cursor {
                    url.push_str("&cursor=");
                    url.push_str(cursor);
                }
                let bytes = http
                    .get(&url)
                    .bearer_auth(key)
                    .send()
                    .await
                    .unwrap_or_else(|error| fail(error))
                    .bytes()
                    .await
                    .unwrap_or_else(|error| fail(error));
                let page: AudienceProspectListSuccessResponse = decode(&bytes);
                count += page.data.items.len() as u64;
                std::hint::black_box(&page);
                match page.data.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            count
        }
        other => fail(format!("unknown mode {other}")),
    };
    println!(
        "{{\"mode\":\"{mode}\",\"prospects\":{count},\"seconds\":{:.3},\"peak_rss_kib\":{}}}",
        started.elapsed().as_secs_f64(),
        peak_rss_kib()
    );
}

/// The client's walk, for the cluster check: it runs here rather than in
/// xtask so that the generator never depends on the code it generates.
pub(crate) async fn walk(base: &str, key: &str, group: &str, audience: &str, page_size: u32, pause_ms: u32) {
    use futures_util::TryStreamExt;
    let client = audiences_client::AudiencesClient::builder(base)
        .api_key(key)
        .build()
        .unwrap_or_else(|error| fail(error));
    let mut pages = std::pin::pin!(client.prospects(group, audience).page_size(page_size).pages());
    let (mut total, mut unique, mut count) = (0_usize, HashSet::new(), 0_usize);
    loop {
        match pages.try_next().await {
            Ok(Some(page)) => {
                count += 1;
                total += page.items.len();
                unique.extend(page.items.into_iter().map(|prospect| prospect.id));
                tokio::time::sleep(Duration::from_millis(u64::from(pause_ms))).await;
            }
            Ok(None) => break,
            Err(error) => {
                println!(
                    "{}",
                    serde_json::json!({
                        "error": error.to_string(),
                        "status": error.status(),
                        "total": total,
                    })
                );
                return;
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({ "total": total, "unique": unique.len(), "pages": count })
    );
}

/// A JSON body decoded as the generated client decodes it: its UTF-8
/// checked once, then parsed from the `str`.
fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> T {
    let text = std::str::from_utf8(body).unwrap_or_else(|error| fail(error));
    serde_json::from_str(text).unwrap_or_else(|error| fail(error))
}

pub(crate) fn serde_speed(count: u32) {
    let prospects: Vec<_> = (0..count).map(demo::prospect).collect();
    let started = Instant::now();
    let texts: Vec<String> = prospects
        .iter()
        .map(|prospect| serde_json::to_string(prospect).unwrap_or_default())
        .collect();
    let serialize = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for text in &texts {
        let prospect: audiences_types::AudienceProspect =
            serde_json::from_str(text).unwrap_or_else(|error| fail(error));
        std::hint::black_box(prospect);
    }
    let parse = started.elapsed().as_secs_f64();
    // The same prospects as the client receives them: pages of 100 in the
    // envelope, parsed from bytes as the generated client does (UTF-8
    // checked once, then parsed from the `str`).
    let pages: Vec<Vec<u8>> = texts
        .chunks(100)
        .map(|chunk| {
            format!(
                "{{\"success\":true,\"data\":{{\"items\":[{}],\"nextCursor\":\"c\",\"hasMore\":true}},\"error\":null,\"traceId\":\"0123456789abcdef01234567\"}}",
                chunk.join(",")
            )
            .into_bytes()
        })
        .collect();
    let started = Instant::now();
    for page in &pages {
        let page: AudienceProspectListSuccessResponse = decode(page);
        std::hint::black_box(page);
    }
    let pages_parse = started.elapsed().as_secs_f64();
    println!(
        "{{\"prospects\":{count},\"serialize_per_s\":{:.0},\"parse_per_s\":{:.0},\"page_parse_per_s\":{:.0},\"bytes_per_prospect\":{}}}",
        f64::from(count) / serialize,
        f64::from(count) / parse,
        f64::from(count) / pages_parse,
        texts.iter().map(String::len).sum::<usize>() / texts.len().max(1)
    );
}

/// The check every stored row passes before it is served, on the demo's
/// first 25 prospects as a page, `pages` times: rows with the proof the
/// store writes beside them (a hash each), rows proven before (the
/// fingerprint found in memory), and a real parse of every row.
pub(crate) fn row_check(pages: u32) {
    use audiences_service::store::{Proven, proof_of, row_is_exactly, row_is_served};
    let rows: Vec<(String, String)> = (0..25)
        .map(|index| {
            let prospect = demo::prospect(index);
            let text = serde_json::to_string(&prospect).unwrap_or_else(|error| fail(error));
            (prospect.id, text)
        })
        .collect();
    let proofs: std::collections::HashMap<&str, [u8; 16]> = rows
        .iter()
        .map(|(id, text)| {
            let proof =
                proof_of(id, text.as_bytes()).unwrap_or_else(|| fail(format!("row {id} does not pass")));
            (id.as_str(), proof)
        })
        .collect();
    let proven = Proven::default();
    let time = |check: &dyn Fn(&str, &[u8]) -> bool| {
        let started = Instant::now();
        for _ in 0..pages {
            for (id, text) in &rows {
                if !check(std::hint::black_box(id), std::hint::black_box(text.as_bytes())) {
                    fail(format!("row {id} does not pass"));
                }
            }
        }
        started.elapsed().as_secs_f64() * 1e6 / f64::from(pages)
    };
    let parse_us = time(&|id, data| row_is_exactly(id, data));
    let proven_us = time(&|id, data| proven.check(id, data));
    let stored_us = time(&|id, data| row_is_served(id, data, proofs.get(id).map(|proof| &proof[..])));
    println!(
        "{{\"stored_us_per_page\":{stored_us:.3},\"proven_us_per_page\":{proven_us:.3},\"parse_us_per_page\":{parse_us:.3},\"bytes_per_row\":{}}}",
        rows.iter().map(|(_, text)| text.len()).sum::<usize>() / rows.len()
    );
}
