//! CPU time from `/proc`: of one process (all its threads), and of every
//! PostgreSQL process (its backends and background workers), to turn a run
//! of a known number of requests into CPU per request.

use std::process::Command;

/// Clock ticks per second of `/proc/*/stat`'s times.
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// User plus system time of a `/proc/PID/stat` line, in ticks, and the
/// command's name.
fn stat(pid: &str) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name is in parentheses and may hold spaces: split after the last one.
    let (head, rest) = text.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime) are 12 and 13 after the name.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((name, ticks))
}

/// Seconds of CPU used so far by `pid`, and by every process named
/// `postgres`.
pub(crate) fn seconds(pid: u32) -> (f64, f64) {
    let per_second = ticks_per_second();
    let own = stat(&pid.to_string()).map_or(0, |(_, ticks)| ticks);
    let database: u64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let name = name.to_str()?;
            name.bytes()
                .all(|byte| byte.is_ascii_digit())
                .then(|| stat(name))?
        })
        .filter(|(name, _)| name == "postgres")
        .map(|(_, ticks)| ticks)
        .sum();
    (own as f64 / per_second, database as f64 / per_second)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_used_some_cpu() {
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_add(1);
        }
        assert!(x > 0);
        let (own, _) = super::seconds(std::process::id());
        assert!(own > 0.0, "{own}");
    }
}
