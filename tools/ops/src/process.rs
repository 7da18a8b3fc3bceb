//! Helpers shared by `cargo xtask load`, `bench` and `cluster`: a free
//! loopback port, waiting for a listener, a child process that dies with
//! its handle, and a fresh PostgreSQL database.

use std::process::{Child, Command};
use std::time::Duration;

/// A port nothing listens on right now.
pub(crate) fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("no free port: {error}"))
}

/// Waits up to 30 s for something to listen on `port` of 127.0.0.1.
pub(crate) fn wait_for(port: u16) -> Result<(), String> {
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing listens on 127.0.0.1:{port}"))
}

/// A child process killed (and reaped) when dropped.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Creates the database `name`, empty, on the PostgreSQL server `admin`
/// names (dropping one left by an earlier run); its URL.
pub(crate) fn fresh_database(admin: &str, name: &str) -> Result<String, String> {
    let created = Command::new("psql")
        .args([
            admin,
            "-q",
            "-c",
            &format!("DROP DATABASE IF EXISTS {name}"),
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .status()
        .map_err(|error| format!("psql: {error}"))?;
    if !created.success() {
        return Err(format!("cannot create the PostgreSQL database {name}"));
    }
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// The status of `GET path` on 127.0.0.1:`port` (plain HTTP/1.1), if any.
pub(crate) fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
