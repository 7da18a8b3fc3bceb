//! PostgreSQL stopped and restarted in the middle of a walk, on a server of
//! this test's own (Debian's PostgreSQL, a fresh data directory on a free
//! loopback port): while it is down every answer is the documented 502 in
//! the envelope and `/readyz` is 503; once it is back the service heals
//! without a restart, and the walk, resumed from its cursor, covers the
//! audience exactly once.
//!
//! Without PostgreSQL's binaries the test says so on stderr and passes,
//! unless `AUDIENCES_REQUIRE_POSTGRES` is set (as CI's test command sets it).

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use audiences_service::demo::READY_AUDIENCE_SIZE;
use support::{get_ready_page, identity_http};

/// A PostgreSQL server in a temporary directory; stopped and removed when dropped.
struct Server {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

fn as_postgres(bin: &Path, program: &str) -> Command {
    let root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if root.unwrap_or(false) {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin.join(program));
        command
    } else {
        Command::new(bin.join(program))
    }
}

impl Server {
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .max();
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("AUDIENCES_REQUIRE_POSTGRES").is_none(),
                "AUDIENCES_REQUIRE_POSTGRES is set but PostgreSQL is not installed"
            );
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"SKIPPED: PostgreSQL restarted mid-walk (no /usr/lib/postgresql/*/bin/initdb)\n",
            );
            return None;
        };
        let dir = std::env::temp_dir().join(format!("audiences-pg-restart-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("chown").arg("postgres:").arg(&dir).status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = Self { bin, dir, port };
        let initdb = as_postgres(&server.bin, "initdb")
            .arg("-D")
            .arg(server.dir.join("db"))
            .args(["-U", "postgres", "-A", "trust", "--no-sync"])
            .output()
            .unwrap();
        assert!(initdb.status.success(), "{initdb:?}");
        server.pg_ctl("start");
        Some(server)
    }

    fn pg_ctl(&self, action: &str) {
        let mut command = as_postgres(&self.bin, "pg_ctl");
        command
            .arg("-D")
            .arg(self.dir.join("db"))
            .args(["-w", "-t", "60"]);
        match action {
            "stop" => command.args(["-m", "fast", "stop"]),
            _ => command
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .arg("-o")
                .arg(format!(
                    "-h 127.0.0.1 -p {} -k {} -c fsync=off",
                    self.port,
                    self.dir.display()
                ))
                .arg("start"),
        };
        let output = command.output().unwrap();
        assert!(output.status.success(), "pg_ctl {action}: {output:?}");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.dir.join("db"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One page after `cursor`: the status, and the body (always the envelope).
async fn page(base: &str, key: &str, cursor: Option<&str>) -> (u16, serde_json::Value) {
    let query = cursor.map_or("?limit=50".to_owned(), |cursor| {
        format!("?limit=50&cursor={cursor}")
    });
    let response = get_ready_page(base, key, &query).await;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["success"], status == 200, "{status} {body}");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_walk_is_a_502_then_the_walk_resumes_exactly_once() {
    let Some(server) = tokio::task::spawn_blocking(Server::start).await.unwrap() else {
        return;
    };
    let running = audiences_service::DemoServer::start(&server.url(), support::options())
        .await
        .unwrap();
    let (base, key) = (running.base_url.clone(), running.keys.full.clone());
    let ready = || async {
        identity_http()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..3 {
        let (status, body) = page(&base, &key, cursor.as_deref()).await;
        assert_eq!(status, 200, "{body}");
        for item in body["data"]["items"].as_array().unwrap() {
            assert!(seen.insert(item["id"].as_str().unwrap().to_owned()));
        }
        cursor = body["data"]["nextCursor"].as_str().map(str::to_owned);
    }

    let stopping = &server;
    tokio::task::block_in_place(|| stopping.pg_ctl("stop"));
    // Down: the documented 502, and not ready.
    let (status, body) = page(&base, &key, cursor.as_deref()).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "UPSTREAM_ERROR", "{body}");
    assert_eq!(ready().await, 503);

    tokio::task::block_in_place(|| stopping.pg_ctl("start"));
    let back = Instant::now();
    loop {
        if ready().await == 200 && page(&base, &key, cursor.as_deref()).await.0 == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "not healed 10 s after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "FAULT PostgreSQL restarted mid-walk: healed {} ms after it was back\n",
            back.elapsed().as_millis()
        )
        .as_bytes(),
    );
    // The walk resumes from its cursor and covers the audience exactly once.
    while let Some(after) = cursor.take() {
        let (status, body) = page(&base, &key, Some(&after)).await;
        assert_eq!(status, 200, "{body}");
        for item in body["data"]["items"].as_array().unwrap() {
            assert!(seen.insert(item["id"].as_str().unwrap().to_owned()), "{item}");
        }
        cursor = body["data"]["nextCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), READY_AUDIENCE_SIZE as usize);

    // Connections pooled before a restart are not pinged at each use (a
    // round trip a request would pay under load), only after a second
    // idle: once the database is back and they have sat that long, none of
    // them fails a request.
    let concurrent = || async {
        let pages = (0..8).map(|_| page(&base, &key, None));
        futures_util::future::join_all(pages)
            .await
            .into_iter()
            .map(|(status, _)| status)
            .collect::<Vec<_>>()
    };
    assert_eq!(concurrent().await, vec![200; 8], "several connections are pooled");
    tokio::task::block_in_place(|| {
        stopping.pg_ctl("stop");
        stopping.pg_ctl("start");
    });
    // Back when a connection of the test's own opens: `/readyz` would use
    // (and so weed out) the service's stale connections one by one.
    let back = Instant::now();
    while <sqlx::PgConnection as sqlx::Connection>::connect(&server.url())
        .await
        .is_err()
    {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "not back 10 s after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        concurrent().await,
        vec![200; 8],
        "a connection left over from before the restart is replaced before a request uses it"
    );
}
