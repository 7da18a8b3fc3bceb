//! The cluster: instances of the release service on one PostgreSQL behind
//! HAProxy, each started, signalled and watched; the balancer's rotation
//! through its admin socket.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{KillOnDrop, free_port, fresh_database, wait_for};

/// The demo key every instance is started with.
pub(crate) const KEY: &str = "ak_cluster_0123456789abcdef0123456789abcdef";

/// How long each instance keeps serving after SIGTERM with `/readyz`
/// failing: several of the balancer's checks (every 200 ms, down after one
/// failure).
const DRAIN_DELAY_MS: u64 = 1_000;

/// Rate limits an instance is started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) per_second: u32,
    pub(crate) burst: u32,
}

/// Limits high enough not to matter (for throughput runs).
pub(crate) const UNLIMITED: Limits = Limits {
    per_second: 1_000_000,
    burst: 1_000_000,
};

/// One running instance.
pub(crate) struct Instance {
    pub(crate) port: u16,
    child: Option<KillOnDrop>,
    log: PathBuf,
}

impl Instance {
    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|child| child.0.id())
    }

    fn child(&mut self) -> Option<&mut Child> {
        self.child.as_mut().map(|child| &mut child.0)
    }
}

/// The cluster: PostgreSQL (not owned), the instances and HAProxy.
pub(crate) struct Cluster {
    pub(crate) binary: PathBuf,
    pub(crate) database_url: String,
    pub(crate) instances: Vec<Instance>,
    pub(crate) balancer_port: u16,
    pub(crate) work: PathBuf,
    socket: PathBuf,
    _haproxy: KillOnDrop,
}

impl Cluster {
    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.balancer_port)
    }

    /// Runs an operator command of the service binary on the cluster's
    /// database; its standard output.
    pub(crate) fn operator(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new(&self.binary)
            .args(["--database-url", &self.database_url, "--log", "warn"])
            .args(args)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|error| format!("cannot run the service binary: {error}"))?;
        if !output.status.success() {
            return Err(format!("audiences-service {} failed", args.join(" ")));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A new key with every permission: (id, key).
    pub(crate) fn create_key(&self) -> Result<(String, String), String> {
        let printed = self.operator(&["create-key"])?;
        let field = |name: &str| {
            printed
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
                .ok_or_else(|| format!("no {name} in {printed}"))
        };
        Ok((field("id:")?, field("key:")?))
    }

    /// Starts (or restarts) instance `index` with `limits`; waits until it
    /// listens.
    pub(crate) fn start(&mut self, index: usize, limits: Limits) -> Result<(), String> {
        let instance = &mut self.instances[index];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&instance.log)
            .map_err(|error| error.to_string())?;
        let start = crate::service::Start {
            database_url: &self.database_url,
            port: instance.port,
            demo_key: KEY,
            limits: (limits.per_second, limits.burst),
            drain_delay_ms: Some(DRAIN_DELAY_MS),
        };
        let stdout = log.try_clone().map_err(|error| error.to_string())?;
        let child = crate::service::spawn(&self.binary, &start, stdout.into(), log.into())?;
        instance.child = Some(KillOnDrop(child));
        Ok(())
    }

    /// Waits until instance `index` answers `/readyz` with 200.
    pub(crate) fn wait_ready(&self, index: usize) -> Result<(), String> {
        let port = self.instances[index].port;
        wait_for(port)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if crate::process::http_status(port, "/readyz") == Some(200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "instance {index} is not ready after 60 s; see {}",
            self.instances[index].log.display()
        ))
    }

    /// Sends `signal` to instance `index`; with SIGTERM, waits for it to exit
    /// (cleanly) and returns how long it took.
    pub(crate) fn signal(&mut self, index: usize, signal: &str) -> Result<Duration, String> {
        let pid = self.instances[index].pid().ok_or("the instance is not running")?;
        let sent = Instant::now();
        Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .map_err(|error| format!("kill: {error}"))?;
        let child = self.instances[index].child().ok_or("no child")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().map_err(|error| error.to_string())? {
                if signal == "TERM" && !status.success() {
                    return Err(format!("instance {index} exited with {status} on SIGTERM"));
                }
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("instance {index} still runs 30 s after SIG{signal}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.instances[index].child = None;
        Ok(sent.elapsed())
    }

    /// Takes server `index` out of (or back into) the balancer's rotation
    /// through its admin socket.
    pub(crate) fn set_in_rotation(&self, index: usize, enabled: bool) -> Result<(), String> {
        let command = format!(
            "{} server instances/i{index}\n",
            if enabled { "enable" } else { "disable" }
        );
        let mut socket = std::os::unix::net::UnixStream::connect(&self.socket)
            .map_err(|error| format!("the HAProxy admin socket: {error}"))?;
        socket
            .write_all(command.as_bytes())
            .map_err(|error| error.to_string())?;
        Ok(())
    }

    /// The servers HAProxy has up, by its admin socket.
    pub(crate) fn servers_up(&self) -> Result<usize, String> {
        let mut socket = std::os::unix::net::UnixStream::connect(&self.socket)
            .map_err(|error| format!("the HAProxy admin socket: {error}"))?;
        socket
            .write_all(b"show stat\n")
            .map_err(|error| error.to_string())?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut socket, &mut text).map_err(|error| error.to_string())?;
        Ok(text
            .lines()
            .filter(|line| line.starts_with("instances,i") && line.split(',').nth(17) == Some("UP"))
            .count())
    }

    /// Waits until HAProxy has `count` servers up.
    pub(crate) fn wait_servers_up(&self, count: usize) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.servers_up()? == count {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("HAProxy does not see {count} servers up within 30 s"))
    }
}

/// The HAProxy configuration: round robin over the instances, each
/// health-checked on `/readyz` every 200 ms (down after one failure, up
/// after two successes), idempotent requests retried on another instance
/// when a connection fails or an instance answers nothing.
fn haproxy_config(port: u16, instances: &[Instance], socket: &Path) -> String {
    let servers: String = instances
        .iter()
        .enumerate()
        .map(|(index, instance)| format!("    server i{index} 127.0.0.1:{} check\n", instance.port))
        .collect();
    format!(
        "global
    maxconn 4096
    stats socket {socket} mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 5s
    option http-keep-alive
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend api
    bind 127.0.0.1:{port}
    default_backend instances

backend instances
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 200ms fastinter 100ms downinter 200ms fall 1 rise 2
{servers}",
        socket = socket.display()
    )
}

/// Builds the service and starts the cluster: `instances` instances started
/// at once on an empty database (one seeds it), then HAProxy.
pub(crate) fn start(root: &Path, admin: &str, instances: usize, limits: Limits) -> Result<Cluster, String> {
    let binary = crate::service::release_binary(root)?;
    if Command::new("haproxy").arg("-v").output().is_err() {
        return Err(
            "HAProxy is not installed (apt-get install haproxy; ./scripts/check install does)".into(),
        );
    }
    let work = std::env::temp_dir().join(format!("audiences-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|error| error.to_string())?;
    let database_url = fresh_database(admin, &format!("audiences_cluster_{}", std::process::id()))?;
    let mut slots = Vec::new();
    for index in 0..instances {
        slots.push(Instance {
            port: free_port()?,
            child: None,
            log: work.join(format!("instance-{index}.log")),
        });
    }
    let balancer_port = free_port()?;
    let socket = work.join("haproxy.sock");
    let config = work.join("haproxy.cfg");
    std::fs::write(&config, haproxy_config(balancer_port, &slots, &socket))
        .map_err(|error| error.to_string())?;
    let haproxy_log = std::fs::File::create(work.join("haproxy.log")).map_err(|error| error.to_string())?;
    let haproxy = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&config)
        .stdout(haproxy_log.try_clone().map_err(|error| error.to_string())?)
        .stderr(haproxy_log)
        .spawn()
        .map_err(|error| format!("cannot start HAProxy: {error}"))?;
    let mut cluster = Cluster {
        binary,
        database_url,
        instances: slots,
        balancer_port,
        work,
        socket,
        _haproxy: KillOnDrop(haproxy),
    };
    // All at once on the empty database: migrations and the demo seed run once.
    for index in 0..instances {
        cluster.start(index, limits)?;
    }
    for index in 0..instances {
        cluster.wait_ready(index)?;
    }
    wait_for(balancer_port)?;
    cluster.wait_servers_up(instances)?;
    Ok(cluster)
}
