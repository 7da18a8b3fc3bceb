//! The fault suite: the running binary while its SQLite file is moved away
//! and restored, made unreadable, replaced by something that is not a
//! database and then by a backup. For each: what clients hear during the
//! fault (documented statuses in the envelope, `/readyz` failing), how long
//! it takes to heal once the file is back (the pool's bound is 1 s), and
//! that nothing written is lost. Corrupt rows and a database slower than
//! the query timeout are in `end_to_end.rs` and `reliability.rs`;
//! PostgreSQL restarted mid-walk is in `postgres_restart.rs`.
//!
//! Root reads any file whatever its mode, so when the tests run as root the
//! service runs as `nobody` (through `setpriv`).

mod process;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use process::*;

/// The service's bound for picking up a changed file, plus the time a
/// request and a poll take on a loaded machine.
const HEAL_WITHIN: Duration = Duration::from_secs(6);

/// A running service on its own SQLite file, and what a client needs.
struct Faulty {
    _service: Service,
    dir: PathBuf,
    db: PathBuf,
    base: String,
    key: String,
    page: String,
}

impl Drop for Faulty {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unprivileged() -> Option<u32> {
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    root.then_some(65_534)
}

fn start_faulty(name: &str) -> Faulty {
    let dir = std::env::temp_dir().join(format!("audiences-fault-{name}-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let user = unprivileged();
    if let Some(uid) = user {
        std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).unwrap();
    }
    let db = dir.join("audiences.db");
    let url = format!("sqlite://{}", db.display());
    let port = free_port();
    let service = launch_as(user, None, port, &["--database-url", &url, "--demo"], "try: ");
    let line = service
        .lines
        .iter()
        .find_map(|line| line.strip_prefix("try: "))
        .unwrap_or_else(|| panic!("no try line in {:?}", service.lines))
        .to_owned();
    let key = line
        .split("Bearer ")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_owned();
    let page = line
        .rsplit(" '")
        .next()
        .unwrap()
        .trim_end_matches('\'')
        .to_owned();
    Faulty {
        _service: service,
        dir,
        db,
        base: format!("http://127.0.0.1:{port}"),
        key,
        page,
    }
}

impl Faulty {
    /// One page request: its status and envelope (every answer must be one).
    fn get_page(&self) -> (u16, serde_json::Value) {
        let (status, text) = http_get(&self.page, Some(&format!("Bearer {}", self.key)));
        let body: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|error| panic!("{status} {error}: {text:?}"));
        assert_eq!(body["success"], status == 200, "{status} {body}");
        (status, body)
    }

    fn ready(&self) -> u16 {
        http_get(&format!("{}/readyz", self.base), None).0
    }

    /// The number of prospects of the demo audience, walked page by page.
    fn walk(&self) -> usize {
        let (mut seen, mut cursor) = (0, None::<String>);
        for _ in 0..1_000 {
            let url = match &cursor {
                None => self.page.replace("limit=2", "limit=100"),
                Some(cursor) => format!("{}&cursor={cursor}", self.page.replace("limit=2", "limit=100")),
            };
            let (status, text) = http_get(&url, Some(&format!("Bearer {}", self.key)));
            assert_eq!(status, 200, "{text}");
            let body: serde_json::Value = serde_json::from_str(&text).unwrap();
            seen += body["data"]["items"].as_array().unwrap().len();
            match body["data"]["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return seen,
            }
        }
        panic!("the walk did not end");
    }

    /// While the fault lasts: every page answer is a 200 or the documented
    /// 502, in the envelope; once the pool has looked again, `/readyz` fails.
    fn during_fault(&self, expect_failures: bool) {
        let answers: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..60).map(|_| scope.spawn(|| self.get_page().0)).collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        });
        assert!(
            answers.iter().all(|status| [200, 502].contains(status)),
            "{answers:?}"
        );
        let deadline = Instant::now() + HEAL_WITHIN;
        while self.ready() != 503 {
            assert!(Instant::now() < deadline, "/readyz still passes during the fault");
            std::thread::sleep(Duration::from_millis(100));
        }
        if expect_failures {
            // Pooled connections may serve from the moved file until the
            // pool looks at the path again (at most every second).
            std::thread::sleep(Duration::from_millis(1_200));
            let (status, body) = self.get_page();
            assert_eq!(status, 502, "{body}");
            assert_eq!(body["error"]["code"], "UPSTREAM_ERROR", "{body}");
        }
    }

    /// After the fault: the time until `/readyz` and a page pass again,
    /// then 20 of 20 pages are 200.
    fn heals(&self, what: &str) -> Duration {
        let started = Instant::now();
        while self.ready() != 200 || self.get_page().0 != 200 {
            assert!(started.elapsed() < HEAL_WITHIN, "{what}: not healed");
            std::thread::sleep(Duration::from_millis(50));
        }
        let healed = started.elapsed();
        for _ in 0..20 {
            assert_eq!(self.get_page().0, 200, "{what}");
        }
        // Straight to stderr: the figure for the notes.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("FAULT {what}: healed in {} ms\n", healed.as_millis()).as_bytes(),
        );
        healed
    }
}

fn aside(files: &[PathBuf], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for file in files {
        if file.exists() {
            std::fs::rename(file, dir.join(file.file_name().unwrap())).unwrap();
        }
    }
}

fn back(files: &[PathBuf], dir: &Path) {
    for file in files {
        let from = dir.join(file.file_name().unwrap());
        if from.exists() {
            std::fs::rename(from, file).unwrap();
        }
    }
}

fn database_files(db: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", db.display())))
        .collect()
}

#[test]
fn a_database_file_moved_away_and_back_is_picked_up_and_nothing_is_lost() {
    let faulty = start_faulty("moved");
    let before = faulty.walk();
    assert!(before > 0);
    let files = database_files(&faulty.db);
    let stash = faulty.dir.join("aside");
    aside(&files, &stash);
    faulty.during_fault(true);
    assert!(
        !faulty.db.exists(),
        "the service created a database file at its path"
    );
    back(&files, &stash);
    faulty.heals("moved away and back");
    assert_eq!(faulty.walk(), before);
}

#[test]
fn an_unreadable_database_file_fails_readiness_until_readable() {
    let faulty = start_faulty("unreadable");
    let before = faulty.walk();
    let mode = std::fs::metadata(&faulty.db).unwrap().mode();
    set_mode(&faulty.db, 0o000);
    // Pooled connections hold the file open and may keep answering; a new
    // connection cannot, so the instance is not ready.
    faulty.during_fault(false);
    set_mode(&faulty.db, mode);
    faulty.heals("unreadable, then readable");
    assert_eq!(faulty.walk(), before);
}

#[test]
fn a_file_replaced_by_garbage_then_by_a_backup_is_served_from_the_backup() {
    let faulty = start_faulty("replaced");
    let before = faulty.walk();
    // A consistent backup, as an operator takes one.
    let backup = faulty.dir.join("backup.db");
    rusqlite::Connection::open(&faulty.db)
        .unwrap()
        .execute_batch(&format!("VACUUM INTO '{}'", backup.display()))
        .unwrap();
    if let Some(uid) = unprivileged() {
        std::os::unix::fs::chown(&backup, Some(uid), Some(uid)).unwrap();
    }
    let files = database_files(&faulty.db);
    aside(&files, &faulty.dir.join("old"));
    std::fs::write(
        &faulty.db,
        b"this is not an SQLite database, but it has a name like one\n".repeat(100),
    )
    .unwrap();
    if let Some(uid) = unprivileged() {
        std::os::unix::fs::chown(&faulty.db, Some(uid), Some(uid)).unwrap();
    }
    faulty.during_fault(true);
    std::fs::rename(&backup, &faulty.db).unwrap();
    faulty.heals("replaced by garbage, then by a backup");
    assert_eq!(faulty.walk(), before);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
