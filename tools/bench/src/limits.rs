//! `limits`: a shared rate limit's cost and accuracy, the store's
//! PostgreSQL statement against the same GCRA as a Redis script.

use std::sync::Arc;
use std::time::{Duration, Instant};

use audiences_service::limits::RateLimits;
use audiences_service::store::{AnyStore, SharedLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{fail, limits, open};
use crate::drive::percentile;

/// The GCRA of `migrations/postgres/0002_rate_limits.sql` as a Redis script
/// (microseconds by the server's clock): `{admitted, remaining}`.
const REDIS_GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local span = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now <= span then
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(span / 1000) + 1000)
  return {1, math.floor((span - (new_tat - now)) / interval)}
end
return {0, 0}
"#;

/// A Redis connection speaking just enough RESP for the script.
struct Redis {
    stream: tokio::net::TcpStream,
    buffer: Vec<u8>,
}

impl Redis {
    async fn connect(address: &str) -> Self {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .unwrap_or_else(|error| fail(format!("redis at {address}: {error}")));
        stream.set_nodelay(true).unwrap_or_else(|error| fail(error));
        Self {
            stream,
            buffer: Vec::with_capacity(256),
        }
    }

    /// Runs the script on `key`; whether the request was admitted.
    async fn take(&mut self, key: &str, interval_us: u64, burst: u32) -> bool {
        let args = [
            "EVAL",
            REDIS_GCRA,
            "1",
            key,
            &interval_us.to_string(),
            &burst.to_string(),
        ];
        let mut command = format!("*{}\r\n", args.len());
        for arg in args {
            command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.stream
            .write_all(command.as_bytes())
            .await
            .unwrap_or_else(|error| fail(error));
        // The reply: *2 :admitted :remaining, or an error line.
        self.buffer.clear();
        loop {
            let mut chunk = [0_u8; 256];
            let read = self
                .stream
                .read(&mut chunk)
                .await
                .unwrap_or_else(|error| fail(error));
            if read == 0 {
                fail("redis closed the connection");
            }
            self.buffer.extend_from_slice(&chunk[..read]);
            if self.buffer.starts_with(b"-") {
                fail(String::from_utf8_lossy(&self.buffer));
            }
            if self.buffer.iter().filter(|&&byte| byte == b'\n').count() >= 3 {
                return self.buffer.starts_with(b"*2\r\n:1");
            }
        }
    }
}

/// Per call latency (serial, never refused) and accuracy under contention
/// (16 tasks on one key limited to 200/s, burst 50, for 2 s) of a shared
/// limit, on PostgreSQL through the store and on Redis.
pub(crate) async fn shared_limits(postgres: &str, redis: Option<&str>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let store = open(postgres).await;
    let unlimited = limits();
    let limited = RateLimits {
        per_second: std::num::NonZeroU32::new(200).unwrap(),
        burst: std::num::NonZeroU32::new(50).unwrap(),
    };
    let report = |backend: &str, mut latencies: Vec<u32>, admitted: u64, seconds: f64| {
        latencies.sort_unstable();
        let expected = f64::from(limited.burst.get()) + f64::from(limited.per_second.get()) * seconds;
        println!(
            "{{\"backend\":\"{backend}\",\"p50_us\":{:.0},\"p99_us\":{:.0},\"admitted\":{admitted},\"expected\":{expected:.0},\"seconds\":{seconds:.3}}}",
            percentile(&latencies, 0.5) * 1000.0,
            percentile(&latencies, 0.99) * 1000.0
        );
    };
    // PostgreSQL, through the store's own statement.
    let mut latencies = Vec::new();
    for _ in 0..2_000 {
        let started = Instant::now();
        shared(&store)
            .take_rate_token("bench-serial", unlimited)
            .await
            .unwrap_or_else(|error| fail(error));
        latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let admitted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(2);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, admitted) = (store.clone(), Arc::clone(&admitted));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let taken = shared(&store).take_rate_token("bench-contended", limited).await;
                    if taken.is_ok_and(|taken| taken.admitted) {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    report(
        "postgres",
        latencies,
        admitted.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    );
    let Some(redis) = redis else {
        return;
    };
    let interval = |limits: RateLimits| 1_000_000 / u64::from(limits.per_second.get()).max(1);
    let mut connection = Redis::connect(redis).await;
    let mut latencies = Vec::new();
    for _ in 0..2_000 {
        let started = Instant::now();
        connection
            .take("bench-serial", interval(unlimited).max(1), unlimited.burst.get())
            .await;
        latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let admitted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(2);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (address, admitted) = (redis.to_owned(), Arc::clone(&admitted));
            tokio::spawn(async move {
                let mut connection = Redis::connect(&address).await;
                while Instant::now() < deadline {
                    if connection
                        .take("bench-contended", interval(limited), limited.burst.get())
                        .await
                    {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    report(
        "redis",
        latencies,
        admitted.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    );
}

/// The store's shared rate limits (a PostgreSQL store has them).
fn shared(store: &AnyStore) -> &dyn SharedLimits {
    store
        .shared_limits()
        .unwrap_or_else(|| fail("this store keeps no shared rate limits: give a PostgreSQL URL"))
}
