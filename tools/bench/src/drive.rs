//! `drive`: the load driver, plain HTTP/1.1 over keep-alive connections.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{KEY, fail, parse};

/// What `bench drive` is asked for.
pub(crate) struct DriveOptions {
    urls: Vec<String>,
    connections: usize,
    requests: Option<usize>,
    seconds: Option<f64>,
    keys: Vec<String>,
    allow: Vec<u16>,
    trace_ids: bool,
}

impl DriveOptions {
    pub(crate) fn parse(args: &[&str]) -> Self {
        let mut options = DriveOptions {
            urls: Vec::new(),
            connections: 32,
            requests: None,
            seconds: None,
            keys: Vec::new(),
            allow: Vec::new(),
            trace_ids: false,
        };
        let mut args = args.iter();
        while let Some(&arg) = args.next() {
            let mut value = || {
                *args
                    .next()
                    .unwrap_or_else(|| fail(format!("{arg} needs a value")))
            };
            match arg {
                "--connections" => options.connections = parse(value()),
                "--requests" => options.requests = Some(parse(value())),
                "--seconds" => options.seconds = Some(parse(value())),
                "--key" => options.keys.push(value().to_owned()),
                "--allow" => options.allow.push(parse(value())),
                "--trace-ids" => options.trace_ids = true,
                url if !url.starts_with("--") => options.urls.push(url.to_owned()),
                other => fail(format!("unknown option {other}")),
            }
        }
        if options.keys.is_empty() {
            options.keys.push(KEY.to_owned());
        }
        if options.urls.is_empty() || options.requests.is_some() == options.seconds.is_some() {
            fail("drive needs URLs and one of --requests and --seconds");
        }
        options
    }
}

/// `q` of the sorted latencies (in microseconds), in milliseconds: the
/// nearest rank. The one percentile function of the bench and the load run.
pub(crate) fn percentile(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    trace_ids: Vec<String>,
    missing_trace_ids: u64,
}

/// One response read off a keep-alive connection: status, the trace id
/// header, and whether the server asked to close.
struct Answer {
    status: u16,
    trace_id: Option<String>,
    close: bool,
}

/// Reads one HTTP/1.1 response (with a Content-Length body) from `stream`
/// into `buffer`, consuming it.
async fn read_answer(stream: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> Result<Answer, String> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = response.parse(buffer).map_err(|error| error.to_string())? {
            let mut length = None;
            let (mut trace_id, mut close) = (None, false);
            for header in response.headers.iter() {
                if header.name.eq_ignore_ascii_case("content-length") {
                    length = std::str::from_utf8(header.value)
                        .ok()
                        .and_then(|v| v.parse::<usize>().ok());
                } else if header.name.eq_ignore_ascii_case("x-trace-id") {
                    trace_id = Some(String::from_utf8_lossy(header.value).into_owned());
                } else if header.name.eq_ignore_ascii_case("connection") {
                    close = header.value.eq_ignore_ascii_case(b"close");
                }
            }
            let status = response.code.unwrap_or(0);
            let length = length.ok_or("a response without Content-Length")?;
            while buffer.len() < head + length {
                read_more(stream, buffer).await?;
            }
            buffer.drain(..head + length);
            return Ok(Answer {
                status,
                trace_id,
                close,
            });
        }
        read_more(stream, buffer).await?;
    }
}

async fn read_more(stream: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> Result<(), String> {
    buffer.reserve(64 * 1024);
    let read = stream.read_buf(buffer).await.map_err(|error| error.to_string())?;
    if read == 0 {
        return Err("the server closed the connection".into());
    }
    Ok(())
}

/// One keep-alive connection sending `requests` in turn until `quota` or
/// `deadline`.
async fn drive_connection(
    address: String,
    requests: Arc<Vec<Vec<u8>>>,
    quota: Option<usize>,
    deadline: Option<Instant>,
    trace_ids: bool,
) -> Result<Tally, String> {
    let connect = || async {
        let stream = tokio::net::TcpStream::connect(&address)
            .await
            .map_err(|error| format!("cannot connect to {address}: {error}"))?;
        stream.set_nodelay(true).map_err(|error| error.to_string())?;
        Ok::<_, String>(stream)
    };
    let mut stream = connect().await?;
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut tally = Tally::default();
    let mut sent = 0_usize;
    loop {
        if quota.is_some_and(|quota| sent >= quota)
            || deadline.is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Ok(tally);
        }
        let started = Instant::now();
        stream
            .write_all(&requests[sent % requests.len()])
            .await
            .map_err(|error| error.to_string())?;
        let answer = read_answer(&mut stream, &mut buffer).await?;
        tally
            .latencies_us
            .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        *tally.statuses.entry(answer.status).or_default() += 1;
        if trace_ids {
            match answer.trace_id {
                Some(trace_id) => tally.trace_ids.push(trace_id),
                None => tally.missing_trace_ids += 1,
            }
        }
        sent += 1;
        if answer.close {
            stream = connect().await?;
            buffer.clear();
        }
    }
}

/// The load driver: see the module docs.
pub(crate) async fn drive(options: DriveOptions) {
    let mut address = None;
    // One list of requests per key; connection n uses key n modulo their number.
    let requests: Vec<Arc<Vec<Vec<u8>>>> = options
        .keys
        .iter()
        .map(|key| {
            Arc::new(
                options
                    .urls
                    .iter()
                    .map(|url| {
                        let rest = url
                            .strip_prefix("http://")
                            .unwrap_or_else(|| fail(format!("{url}: plain http:// URLs only")));
                        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                        address.get_or_insert_with(|| authority.to_owned());
                        let path = if path.is_empty() { "/" } else { path };
                        format!(
                            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {key}\r\nAccept: application/json\r\n\r\n"
                        )
                        .into_bytes()
                    })
                    .collect(),
            )
        })
        .collect();
    let address = address.unwrap_or_else(|| fail("no URL"));
    let deadline = options
        .seconds
        .map(|seconds| Instant::now() + Duration::from_secs_f64(seconds));
    let quota = options
        .requests
        .map(|requests| requests.div_ceil(options.connections));
    let started = Instant::now();
    let tasks: Vec<_> = (0..options.connections)
        .map(|connection| {
            tokio::spawn(drive_connection(
                address.clone(),
                Arc::clone(&requests[connection % requests.len()]),
                quota,
                deadline,
                options.trace_ids,
            ))
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        let tally = task
            .await
            .unwrap_or_else(|error| fail(error))
            .unwrap_or_else(|error| fail(error));
        total.latencies_us.extend(tally.latencies_us);
        for (status, count) in tally.statuses {
            *total.statuses.entry(status).or_default() += count;
        }
        total.trace_ids.extend(tally.trace_ids);
        total.missing_trace_ids += tally.missing_trace_ids;
    }
    let seconds = started.elapsed().as_secs_f64();
    total.latencies_us.sort_unstable();
    let unique: HashSet<&String> = total.trace_ids.iter().collect();
    let statuses: Vec<String> = total
        .statuses
        .iter()
        .map(|(status, count)| format!("\"{status}\":{count}"))
        .collect();
    println!(
        "{{\"requests\":{},\"seconds\":{seconds:.3},\"rps\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"statuses\":{{{}}},\"trace_ids\":{},\"unique_trace_ids\":{},\"missing_trace_ids\":{}}}",
        total.latencies_us.len(),
        total.latencies_us.len() as f64 / seconds,
        percentile(&total.latencies_us, 0.5),
        percentile(&total.latencies_us, 0.99),
        percentile(&total.latencies_us, 1.0),
        statuses.join(","),
        total.trace_ids.len(),
        unique.len(),
        total.missing_trace_ids
    );
    if let Some((status, _)) = total
        .statuses
        .iter()
        .find(|(status, _)| **status != 200 && !options.allow.contains(status))
    {
        fail(format!("status {status} from {}", options.urls.join(" ")));
    }
    if options.trace_ids && (unique.len() != total.trace_ids.len() || total.missing_trace_ids > 0) {
        fail("trace ids missing or repeated");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles_are_nearest_ranks() {
        let sorted: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(super::percentile(&sorted, 0.5), 50.0);
        assert_eq!(super::percentile(&sorted, 0.99), 99.0);
        assert_eq!(super::percentile(&sorted, 1.0), 100.0);
        assert_eq!(super::percentile(&[7000], 0.99), 7.0);
        assert!(super::percentile(&[], 0.5).is_nan());
    }
}
