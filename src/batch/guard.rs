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

/// A folder held open, so that the files a run writes in it are created and renamed relative
/// to the folder that was checked: swapping a folder on the path for a link after the check
/// changes nothing (`openat`/`renameat`, never a path walked again).
pub struct Folder {
    fd: std::os::fd::OwnedFd,
    path: PathBuf,
}

impl Folder {
    /// Opens the folder `file` is in and checks where it really is against `data_dir` and the
    /// system pseudo-filesystems.
    pub fn of(file: &Path, data_dir: Option<&Path>) -> std::io::Result<Folder> {
        use std::os::fd::{AsRawFd, FromRawFd};
        use std::os::unix::ffi::OsStrExt;
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: a NUL-terminated path; the descriptor is owned from here on.
        let raw = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor this call just opened and nothing else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        // Where the opened folder really is, whatever the path said on the way.
        let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap_or_else(|_| resolved(dir));
        let data = data_dir.map(resolved);
        if data.is_some_and(|d| real.starts_with(d))
            || SYSTEM.iter().any(|root| real.starts_with(root))
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} leads to {}, where a job may not write",
                    dir.display(),
                    real.display()
                ),
            ));
        }
        Ok(Folder {
            fd,
            path: dir.to_path_buf(),
        })
    }

    fn name(file: &Path) -> std::io::Result<std::ffi::CString> {
        use std::os::unix::ffi::OsStrExt;
        let name = file
            .file_name()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
        std::ffi::CString::new(name.as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    }

    /// A new file named as `file`'s last part, in this folder; never one already there, and
    /// never through a link.
    pub fn create_new(&self, file: &Path) -> std::io::Result<std::fs::File> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let name = Folder::name(file)?;
        // SAFETY: a NUL-terminated name relative to a directory descriptor we hold.
        let raw = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o644 as libc::c_uint,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` was just opened and is owned by the File from here on.
        Ok(unsafe { std::fs::File::from_raw_fd(raw) })
    }

    /// Renames `from` to `to` (both by their last part) within this folder.
    pub fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let (a, b) = (Folder::name(from)?, Folder::name(to)?);
        let fd = self.fd.as_raw_fd();
        // SAFETY: NUL-terminated names relative to a directory descriptor we hold.
        if unsafe { libc::renameat(fd, a.as_ptr(), fd, b.as_ptr()) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Removes `file` (by its last part) from this folder, if it is there.
    pub fn remove(&self, file: &Path) {
        use std::os::fd::AsRawFd;
        if let Ok(name) = Folder::name(file) {
            // SAFETY: a NUL-terminated name relative to a directory descriptor we hold.
            unsafe { libc::unlinkat(self.fd.as_raw_fd(), name.as_ptr(), 0) };
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
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

    #[test]
    fn a_folder_swapped_for_a_link_after_the_check_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let (out, elsewhere, data) = (base.join("out"), base.join("elsewhere"), base.join("data"));
        for d in [&out, &elsewhere, &data] {
            std::fs::create_dir(d).unwrap();
        }
        let folder = Folder::of(&out.join("x.csv"), Some(&data)).unwrap();
        std::io::Write::write_all(&mut folder.create_new(&out.join(".x.tmp")).unwrap(), b"1\n")
            .unwrap();
        // The checked folder moves away and a link to another takes its name.
        std::fs::rename(&out, base.join("moved")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &out).unwrap();
        folder
            .rename(&out.join(".x.tmp"), &out.join("x.csv"))
            .unwrap();
        assert!(
            base.join("moved/x.csv").exists(),
            "written where it was checked"
        );
        assert!(!elsewhere.join("x.csv").exists());
        // Nor may a link lead a new writer into the data directory.
        std::fs::remove_file(&out).unwrap();
        std::os::unix::fs::symlink(&data, &out).unwrap();
        assert!(Folder::of(&out.join("x.csv"), Some(&data)).is_err());
        assert!(Folder::of(Path::new("/dev/x"), None).is_err());
        // A planted link at the temporary's name is refused, not followed.
        let ok = Folder::of(&elsewhere.join("y.csv"), Some(&data)).unwrap();
        std::os::unix::fs::symlink(base.join("victim"), elsewhere.join(".y.tmp")).unwrap();
        assert!(ok.create_new(&elsewhere.join(".y.tmp")).is_err());
        assert!(!base.join("victim").exists());
    }
}
