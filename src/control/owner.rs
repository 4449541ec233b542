//! One owner per data directory.
//!
//! Whoever runs the core for a data directory holds an exclusive `flock` on `DATA_DIR/lock` for
//! as long as it lives, and writes `PID ROLE` there so others can say who it is. The kernel
//! drops the lock when the process dies, however it dies, so there is no stale lock to clean
//! up.
//!
//! The lock decides; the file's content is only information. It is written as one
//! fixed-width record in a single write at offset 0 (never truncated first), so a reader sees
//! the previous holder's record or the new one, not an empty file. A holder that has not
//! written its record yet is "unknown", and unknown is treated as a command: waited for.
//!
//! A command-line owner holds the lock for a moment, so another command (or a starting
//! server) waits for it (a script importing ten models in parallel just works); a server holds
//! it for days, so a command refuses at once and names it.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What kind of process owns the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A single command (`modeldeck models import …`): short-lived.
    Command,
    /// `modeldeck serve` or an embedded console: long-lived.
    Server,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Command => "command",
            Role::Server => "server",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error(
        "data directory {dir} is in use by another modeldeck process ({holder}): stop that process, or pass a different --data-dir"
    )]
    Held {
        dir: PathBuf,
        holder: String,
        /// The holder's pid when it is a server, whose control API commands can use instead.
        server: Option<u32>,
    },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for the owner's lifetime; dropping it releases the directory.
#[derive(Debug)]
pub struct OwnerLock {
    _file: File,
}

/// How long a command waits for another command to finish with the directory.
pub const COMMAND_WAIT: Duration = Duration::from_secs(30);

impl OwnerLock {
    /// Takes the lock as `role`. While another command holds it, waits up to `wait`; while a
    /// server holds it, fails at once.
    pub fn acquire(
        data_dir: &Path,
        lock_path: &Path,
        role: Role,
        wait: Duration,
    ) -> Result<OwnerLock, OwnerError> {
        let io = |source| OwnerError::Io {
            path: lock_path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(lock_path)
            .map_err(io)?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let (pid, holder_role) = read_holder(&file);
                    if holder_role != Some(Role::Server) && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(25));
                        continue;
                    }
                    let holder = match (pid, holder_role) {
                        (Some(pid), Some(Role::Command)) => format!(
                            "pid {pid}, a command that did not finish in {}s",
                            wait.as_secs()
                        ),
                        (Some(pid), Some(Role::Server)) => format!("pid {pid}, a server"),
                        (Some(pid), _) => format!("pid {pid}"),
                        (None, _) => "pid unknown".to_string(),
                    };
                    return Err(OwnerError::Held {
                        dir: data_dir.to_path_buf(),
                        holder,
                        server: pid.filter(|_| holder_role == Some(Role::Server)),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        file.write_all_at(record(std::process::id(), role).as_bytes(), 0)
            .map_err(io)?;
        Ok(OwnerLock { _file: file })
    }
}

/// The holder's record: pid and role padded to a fixed width, so every record overwrites the
/// previous one entirely and is written with one `pwrite`.
fn record(pid: u32, role: Role) -> String {
    format!("{pid:>10} {:<7}\n", role.as_str())
}

/// `PID ROLE` as the holder wrote it, read with one `pread` (either may be missing before the
/// first holder has written).
fn read_holder(file: &File) -> (Option<u32>, Option<Role>) {
    let mut buf = [0u8; 64];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    let mut words = text.split_whitespace();
    let pid = words.next().and_then(|w| w.parse().ok());
    let role = match words.next() {
        Some("command") => Some(Role::Command),
        Some("server") => Some(Role::Server),
        _ => None,
    };
    (pid, role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_one_width_and_read_back() {
        assert_eq!(
            record(7, Role::Server).len(),
            record(4_294_967_295, Role::Command).len()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, "4294967295 command\n").unwrap();
        let file = File::options().read(true).write(true).open(&path).unwrap();
        file.write_all_at(record(42, Role::Server).as_bytes(), 0)
            .unwrap();
        assert_eq!(read_holder(&file), (Some(42), Some(Role::Server)));
    }

    #[test]
    fn a_waiter_waits_for_a_holder_that_has_not_written_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        // A holder with an empty record (it has the lock, not yet its pid written).
        let holder = File::create(&path).unwrap();
        holder.lock().unwrap();
        let released = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(holder);
        });
        let got = OwnerLock::acquire(dir.path(), &path, Role::Command, Duration::from_secs(10));
        assert!(got.is_ok(), "{:?}", got.err());
        released.join().unwrap();
    }
}
