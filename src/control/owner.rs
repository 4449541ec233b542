//! One owner per data directory.
//!
//! Whoever runs the core for a data directory holds an exclusive `flock` on `DATA_DIR/lock` for
//! as long as it lives, and writes `PID ROLE` there so others can say who it is. The kernel
//! drops the lock when the process dies, however it dies, so there is no stale lock to clean
//! up.
//!
//! A command-line owner holds the lock for a moment, so another command waits for it (a script
//! importing ten models in parallel just works); a server holds it for days, so a command
//! refuses at once and names it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
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
        let mut file = OpenOptions::new()
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
                    let (pid, holder_role) = read_holder(&mut file);
                    if holder_role == Some(Role::Command) && Instant::now() < deadline {
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
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{} {}", std::process::id(), role.as_str()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(OwnerLock { _file: file })
    }
}

/// `PID ROLE` as the holder wrote it (either may be missing while it is being written).
fn read_holder(file: &mut File) -> (Option<u32>, Option<Role>) {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    let mut words = text.split_whitespace();
    let pid = words.next().and_then(|w| w.parse().ok());
    let role = match words.next() {
        Some("command") => Some(Role::Command),
        Some("server") => Some(Role::Server),
        _ => None,
    };
    (pid, role)
}
