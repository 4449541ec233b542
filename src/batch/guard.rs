//! Where a job may read and write. A job runs with the server's rights, and anyone with an
//! operator token defines jobs, so its paths are held to what a job is for: files outside the
//! data directory (which holds the store and the tokens) and outside the kernel's
//! pseudo-filesystems, named absolutely, never an input as its own output. Checked when a job
//! is saved and again when a run starts (links and folders may have changed in between).

use std::path::{Component, Path, PathBuf};

const SYSTEM: [&str; 3] = ["/proc", "/sys", "/dev"];

/// `path` with `.` and `..` taken out and links followed as far as it exists, so that two
/// spellings of one place compare equal.
pub fn resolved(path: &Path) -> PathBuf {
    let mut lexical = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    // The longest part that exists, resolved; the rest (a file not written yet) appended.
    let mut head = lexical.clone();
    let mut tail = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&head) {
            let mut out = real;
            out.extend(tail.iter().rev());
            return out;
        }
        match (head.file_name().map(|n| n.to_os_string()), head.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name);
                head = parent.to_path_buf();
            }
            _ => return lexical,
        }
    }
}

/// Why a job may not use `path` (`what` is "input", "output" or "rejects file"), if it may not.
pub fn refused(path: &str, what: &str, data_dir: &Path) -> Option<String> {
    if path.contains("://") {
        return None;
    }
    let p = Path::new(path);
    if !p.is_absolute() {
        return Some(format!(
            "the {what} {path} is not an absolute path: the server reads it from its own folder, so name it in full"
        ));
    }
    let real = resolved(p);
    let data = resolved(data_dir);
    if real.starts_with(&data) {
        return Some(format!(
            "the {what} {path} is in the data directory, which holds the store and the tokens: use a folder of your own"
        ));
    }
    if SYSTEM.iter().any(|root| real.starts_with(root)) {
        return Some(format!(
            "the {what} {path} is a system pseudo-file: use a file of your own"
        ));
    }
    if what != "input"
        && let Ok(meta) = std::fs::metadata(&real)
        && !meta.is_file()
    {
        return Some(format!(
            "the {what} {path} exists and is not a regular file: name a file to write"
        ));
    }
    None
}

/// The same file twice (by device and inode), when both exist.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_place_resolve_alike() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        std::fs::create_dir(base.join("a")).unwrap();
        let odd = base.join("a/../a/./x.csv");
        assert_eq!(resolved(&odd), base.join("a/x.csv"));
        std::os::unix::fs::symlink(base.join("a"), base.join("link")).unwrap();
        assert_eq!(resolved(&base.join("link/x.csv")), base.join("a/x.csv"));
        let data = base.join("data");
        std::fs::create_dir(&data).unwrap();
        let inside = format!("{}/link/../data/modeldeck.db", base.display());
        assert!(
            refused(&inside, "output", &data)
                .unwrap()
                .contains("data directory")
        );
        assert!(
            refused("/dev/null", "output", &data)
                .unwrap()
                .contains("system")
        );
        assert!(
            refused("rel/out.csv", "output", &data)
                .unwrap()
                .contains("absolute")
        );
        assert!(refused(&format!("{}/a", base.display()), "output", &data).is_some());
        assert_eq!(
            refused(&format!("{}/a/o.csv", base.display()), "output", &data),
            None
        );
    }
}
