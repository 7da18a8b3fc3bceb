//! `cargo xtask cluster --check`: the scenarios that show several instances
//! behind HAProxy behave as one API (run by `scripts/check cluster`):
//!
//! 1. instances started at once on an empty database seed it once;
//! 2. throughput through the balancer with 1, 2 and 3 instances in rotation;
//! 3. the client walks a 10,000-prospect audience through the balancer and
//!    sees every prospect exactly once;
//! 4. a key revoked during a walk is refused by every instance within the
//!    key cache's bound;
//! 5. an instance killed (SIGKILL) mid-walk: the walk completes through the
//!    others, nothing lost or duplicated;
//! 6. an instance drained (SIGTERM) under load: zero failed requests;
//! 7. every instance restarted one by one during a walk (a rolling deploy,
//!    which here also lowers the rate limit): the walk completes;
//! 8. a key limited to R/s is admitted R/s (±10%) in total across the
//!    instances, and gets 429 with `Retry-After` beyond.
//!
//! Every wait is bounded; the figures are printed for the notes and
//! DEPLOYING.md.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::process::{Child, Command, Stdio};

use super::instances::{self as cluster, Cluster, KEY, Limits, UNLIMITED};

/// The key cache's bound (the service's `KEY_CACHE_TTL`) and the margin a
/// refusal may take beyond it here (a request in flight, a loaded machine).
const REVOCATION_BOUND: Duration = Duration::from_millis(1_000 + 500);

/// The rate limit of the last scenario.
const LIMITED: Limits = Limits {
    per_second: 100,
    burst: 100,
};

struct Ids {
    group: String,
    audience: String,
}

/// What a walk saw.
struct Walk {
    total: usize,
    unique: usize,
    pages: usize,
}

/// A walk failed: the client's message and the status, if the API answered.
type WalkError = (String, Option<u16>);

/// The client's walk of the audience through `base` in pages of
/// `page_size`, pausing `pause` after each page (to span an event), running
/// in the bench binary: xtask does not link the client it generates.
struct Walking(Child);

impl Walking {
    fn start(
        bench: &crate::bench::Bench,
        base: &str,
        key: &str,
        ids: &Ids,
        page_size: u32,
        pause: Duration,
    ) -> Result<Self, String> {
        let child = Command::new(&bench.binary)
            .args([
                "walk",
                base,
                key,
                &ids.group,
                &ids.audience,
                &page_size.to_string(),
                &pause.as_millis().to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("cannot start a walk: {error}"))?;
        Ok(Self(child))
    }

    /// Waits for the walk's end.
    fn finish(self) -> Result<Result<Walk, WalkError>, String> {
        let output = self
            .0
            .wait_with_output()
            .map_err(|error| format!("the walk's process: {error}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text.lines().last().unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|error| format!("the walk printed {line:?} ({error}, {})", output.status))?;
        let count = |key: &str| value[key].as_u64().unwrap_or(0) as usize;
        Ok(match value.get("error").and_then(serde_json::Value::as_str) {
            Some(error) => Err((
                error.to_owned(),
                value["status"]
                    .as_u64()
                    .and_then(|status| u16::try_from(status).ok()),
            )),
            None => Ok(Walk {
                total: count("total"),
                unique: count("unique"),
                pages: count("pages"),
            }),
        })
    }
}

fn exactly_once(seen: &Walk, size: usize, what: &str) -> Result<(), String> {
    if seen.total == size && seen.unique == size {
        println!(
            "cluster: {what}: {size} prospects in {} pages, each exactly once",
            seen.pages
        );
        Ok(())
    } else {
        Err(format!(
            "{what}: {} prospects seen, {} distinct, of {size}",
            seen.total, seen.unique
        ))
    }
}

/// Runs the scenarios on a fresh cluster of `instances`.
pub(crate) fn run(root: &Path, admin: &str, instances: usize) -> Result<(), String> {
    if instances < 2 {
        return Err("the scenarios need at least 2 instances".into());
    }
    let started = Instant::now();
    let bench = crate::bench::build(root)?;
    bench.cleanup();
    let mut cluster = cluster::start(root, admin, instances, UNLIMITED)?;
    let (group, audience) = crate::demo_ids(root)?;
    let ids = Ids { group, audience };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let result = scenarios(&mut cluster, &bench, &ids, &runtime);
    match &result {
        Ok(()) => println!(
            "cluster: every scenario passed in {:.0} s",
            started.elapsed().as_secs_f64()
        ),
        Err(_) => eprintln!(
            "cluster: logs of the instances and HAProxy in {}",
            cluster.work.display()
        ),
    }
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&cluster.work);
    }
    result
}

fn scenarios(
    cluster: &mut Cluster,
    bench: &crate::bench::Bench,
    ids: &Ids,
    runtime: &tokio::runtime::Runtime,
) -> Result<(), String> {
    let instances = cluster.instances.len();

    // 1. Seeded once, though every instance started at once on an empty database.
    let seeders = (0..instances)
        .filter(|index| {
            std::fs::read_to_string(cluster.work.join(format!("instance-{index}.log")))
                .is_ok_and(|log| log.contains("seeded demo data"))
        })
        .count();
    if seeders != 1 {
        return Err(format!("{seeders} instances seeded the demo data; one should"));
    }
    println!("cluster: {instances} instances started at once on an empty database; one seeded it");
    cluster.operator(&["seed", "--audience", &ids.audience, "--count", "9000"])?;
    let size = 10_000;

    // 2. Throughput with 1, 2, 3 instances in rotation: 32 connections, as
    // many keys (one key's bucket is one row every instance updates).
    let path = format!(
        "/v1/accounts/{}/audiences/{}/prospects?limit=25",
        ids.group, ids.audience
    );
    let mut key_args = Vec::new();
    for _ in 0..32 {
        key_args.push("--key".to_owned());
        key_args.push(cluster.create_key()?.1);
    }
    let drive = |port: u16| -> Result<serde_json::Value, String> {
        let url = format!("http://127.0.0.1:{port}{path}");
        let mut args = vec!["drive", url.as_str(), "--connections", "32", "--seconds", "4"];
        args.extend(key_args.iter().map(String::as_str));
        bench
            .run(&args)?
            .into_iter()
            .next()
            .ok_or_else(|| "no drive result".to_owned())
    };
    let direct = drive(cluster.instances[0].port)?;
    println!(
        "cluster: one instance directly: {:.0} requests/s, p99 {:.2} ms (page of 25)",
        direct["rps"].as_f64().unwrap_or(f64::NAN),
        direct["p99_ms"].as_f64().unwrap_or(f64::NAN)
    );
    for in_rotation in 1..=instances {
        for index in 0..instances {
            cluster.set_in_rotation(index, index < in_rotation)?;
        }
        std::thread::sleep(Duration::from_millis(300));
        let result = drive(cluster.balancer_port)?;
        println!(
            "cluster: through HAProxy with {in_rotation} instance(s): {:.0} requests/s, p99 {:.2} ms",
            result["rps"].as_f64().unwrap_or(f64::NAN),
            result["p99_ms"].as_f64().unwrap_or(f64::NAN)
        );
    }

    // 3. A walk through the balancer.
    let base = cluster.base();
    let seen = Walking::start(bench, &base, KEY, ids, 100, Duration::ZERO)?
        .finish()?
        .map_err(|(error, _)| format!("the walk failed: {error}"))?;
    exactly_once(&seen, size, "a walk through the balancer")?;

    // 4. A key revoked during a walk.
    let (id, key) = cluster.create_key()?;
    let walking = Walking::start(bench, &base, &key, ids, 10, Duration::from_millis(5))?;
    std::thread::sleep(Duration::from_millis(700));
    cluster.operator(&["revoke-key", &id])?;
    let revoked = Instant::now();
    let outcome = walking.finish()?;
    let refused_after = revoked.elapsed();
    match outcome {
        Err((_, Some(401))) => {}
        Err((error, _)) => return Err(format!("the revoked key's walk failed otherwise: {error}")),
        Ok(seen) => {
            return Err(format!(
                "the revoked key walked {} prospects to the end",
                seen.total
            ));
        }
    }
    if refused_after > REVOCATION_BOUND {
        return Err(format!("the walk went on {refused_after:?} after the revocation"));
    }
    std::thread::sleep(REVOCATION_BOUND.saturating_sub(revoked.elapsed()));
    for instance in &cluster.instances {
        let status = runtime.block_on(async {
            reqwest::Client::new()
                .get(format!("{}{path}", instance.base()))
                .bearer_auth(&key)
                .send()
                .await
                .map(|response| response.status().as_u16())
        });
        if status.as_ref().ok() != Some(&401) {
            return Err(format!(
                "{} answers {status:?} to the revoked key",
                instance.base()
            ));
        }
    }
    println!(
        "cluster: a key revoked during a walk: the walk was refused {:.0} ms after, and every instance refuses it (bound {} ms)",
        refused_after.as_secs_f64() * 1000.0,
        REVOCATION_BOUND.as_millis()
    );

    // 5. SIGKILL mid-walk.
    let walking = Walking::start(bench, &base, KEY, ids, 10, Duration::from_millis(2))?;
    std::thread::sleep(Duration::from_millis(800));
    cluster.signal(1, "KILL")?;
    let seen = walking
        .finish()?
        .map_err(|(error, _)| format!("the walk failed after a SIGKILL: {error}"))?;
    exactly_once(&seen, size, "a walk while an instance was killed (SIGKILL)")?;
    cluster.start(1, UNLIMITED)?;
    cluster.wait_ready(1)?;
    cluster.wait_servers_up(instances)?;

    // 6. SIGTERM under load: zero failed requests.
    let failures = Arc::new(AtomicU64::new(0));
    let completed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(4);
    let load: Vec<_> = (0..8)
        .map(|_| {
            let (failures, completed) = (Arc::clone(&failures), Arc::clone(&completed));
            let url = format!("{base}{path}");
            runtime.spawn(async move {
                let http = reqwest::Client::new();
                while Instant::now() < deadline {
                    let ok = match http.get(&url).bearer_auth(KEY).send().await {
                        Ok(response) => response.status() == 200 && response.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    let counter = if ok { &completed } else { &failures };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    let drained_in = cluster.signal(2 % instances, "TERM")?;
    for task in load {
        runtime.block_on(task).map_err(|error| error.to_string())?;
    }
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} requests failed while an instance drained"));
    }
    println!(
        "cluster: an instance drained with SIGTERM under load (exited after {:.1} s): {} requests, 0 failed",
        drained_in.as_secs_f64(),
        completed.load(Ordering::Relaxed)
    );
    cluster.start(2 % instances, UNLIMITED)?;
    cluster.wait_ready(2 % instances)?;
    cluster.wait_servers_up(instances)?;

    // 7. A rolling restart during a walk (lowering the rate limit).
    let (_, walker) = cluster.create_key()?;
    let walking = Walking::start(bench, &base, &walker, ids, 20, Duration::from_millis(15))?;
    let rolling = Instant::now();
    for index in 0..instances {
        cluster.signal(index, "TERM")?;
        cluster.start(index, LIMITED)?;
        cluster.wait_ready(index)?;
        cluster.wait_servers_up(instances)?;
    }
    let rolled_in = rolling.elapsed();
    let seen = walking
        .finish()?
        .map_err(|(error, _)| format!("the walk failed during the rolling restart: {error}"))?;
    exactly_once(
        &seen,
        size,
        &format!(
            "a walk during a rolling restart ({:.1} s)",
            rolled_in.as_secs_f64()
        ),
    )?;

    // 8. A key's limit across the instances.
    let (_, limited) = cluster.create_key()?;
    let (admitted, refused, seconds, bad_retry_after) = runtime.block_on(rate(&base, &path, &limited));
    let expected = f64::from(LIMITED.per_second) * seconds;
    let sustained = admitted as f64 - f64::from(LIMITED.burst);
    println!(
        "cluster: a key limited to {}/s (burst {}), driven for {seconds:.1} s across {instances} instances: {admitted} admitted ({sustained:.0} beyond the burst, {:.2}x of {}/s), {refused} refused with 429",
        LIMITED.per_second,
        LIMITED.burst,
        sustained / expected,
        LIMITED.per_second
    );
    if (sustained - expected).abs() > 0.1 * expected {
        return Err(format!(
            "{sustained:.0} admitted beyond the burst in {seconds:.1} s; {expected:.0} ±10% expected"
        ));
    }
    if refused == 0 || bad_retry_after > 0 {
        return Err(format!(
            "{refused} refusals, {bad_retry_after} without a Retry-After of at least 1 s"
        ));
    }
    Ok(())
}

/// Drives one key as fast as 16 connections go for 4 s: (admitted,
/// refused, seconds, refusals without a valid `Retry-After`).
async fn rate(base: &str, path: &str, key: &str) -> (u64, u64, f64, u64) {
    let admitted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    // One client, built (and its connections opened) before the clock starts.
    let client = reqwest::Client::new();
    let _ = client.get(format!("{base}/healthz")).send().await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(4);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (admitted, refused, bad) = (Arc::clone(&admitted), Arc::clone(&refused), Arc::clone(&bad));
            let (url, key) = (format!("{base}{path}"), key.to_owned());
            let http = client.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let Ok(response) = http.get(&url).bearer_auth(&key).send().await else {
                        bad.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    match response.status().as_u16() {
                        200 => admitted.fetch_add(1, Ordering::Relaxed),
                        429 => {
                            let retry_after = response
                                .headers()
                                .get("retry-after")
                                .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
                            if retry_after.is_none_or(|seconds| seconds < 1) {
                                bad.fetch_add(1, Ordering::Relaxed);
                            }
                            refused.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => bad.fetch_add(1, Ordering::Relaxed),
                    };
                    let _ = response.bytes().await;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    (
        admitted.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        seconds,
        bad.load(Ordering::Relaxed),
    )
}
