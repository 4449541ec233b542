//! Copying a local file or folder into staging.
//!
//! The top-level path may be a symbolic link (people link `current.pmml` to a release), but
//! links inside a folder are refused: a model folder is copied as a whole, and a link could
//! pull in files from anywhere on the machine. So are sockets, devices and FIFOs.

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

use super::artifacts::CappedFile;
use super::{Fetched, ImportError, Staging};

/// Copies `path` into `staging.incoming()`, enforcing `limit` on the total size.
pub fn fetch(
    path: &Path,
    staging: &Staging,
    limit: u64,
    config_file: &str,
) -> Result<Fetched, ImportError> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ImportError::NotFound(path.to_path_buf()),
        _ => ImportError::Read {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    let too_large = || ImportError::TooLarge {
        source_name: path.display().to_string(),
        limit,
        config: config_file.to_string(),
    };
    let incoming = staging.incoming();
    if meta.is_dir() {
        let mut total = 0;
        copy_dir(path, &incoming, path, limit, &mut total).map_err(|e| match e {
            ImportError::TooLarge { .. } => too_large(),
            other => other,
        })?;
        return Ok(Fetched {
            bytes: total,
            is_dir: true,
        });
    }
    if !meta.is_file() {
        return Err(ImportError::BadSource(format!(
            "{} is not a regular file or folder",
            path.display()
        )));
    }
    if meta.len() > limit {
        return Err(too_large());
    }
    let bytes = copy_file(path, &incoming, limit).map_err(|e| match e {
        ImportError::TooLarge { .. } => too_large(),
        other => other,
    })?;
    Ok(Fetched {
        bytes,
        is_dir: false,
    })
}

fn copy_dir(
    from: &Path,
    to: &Path,
    root: &Path,
    limit: u64,
    total: &mut u64,
) -> Result<(), ImportError> {
    let read_err = |source| ImportError::Read {
        path: from.to_path_buf(),
        source,
    };
    fs::create_dir_all(to).map_err(|source| ImportError::Io {
        path: to.to_path_buf(),
        source,
    })?;
    for entry in fs::read_dir(from).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let src = entry.path();
        let kind = entry.file_type().map_err(read_err)?;
        let shown = src.strip_prefix(root).unwrap_or(&src).display().to_string();
        if kind.is_symlink() {
            return Err(ImportError::UnsafePath(format!(
                "{} contains a symbolic link ({shown}), which could reach outside the model folder; copy the real file in instead",
                root.display()
            )));
        }
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&src, &dest, root, limit, total)?;
        } else if kind.is_file() {
            *total += copy_file(&src, &dest, limit - *total)?;
        } else {
            return Err(ImportError::UnsafePath(format!(
                "{} contains {shown}, which is not a regular file or folder",
                root.display()
            )));
        }
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path, limit: u64) -> Result<u64, ImportError> {
    let read_err = |source| ImportError::Read {
        path: from.to_path_buf(),
        source,
    };
    let mut src = File::open(from).map_err(read_err)?;
    let mut dest = CappedFile::create(to, limit)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = src.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        if !dest.write(&buf[..n])? {
            return Err(ImportError::TooLarge {
                source_name: from.display().to_string(),
                limit,
                config: String::new(),
            });
        }
    }
    dest.finish()
}

/// A path no one imports from: the data directory (it holds the tokens and secrets, and a
/// folder import of a folder above it would copy it into itself, level after level) and the
/// kernel's pseudo-filesystems. Symbolic links are followed first, so a link cannot lead there
/// either. A path that does not resolve passes: the import says what is wrong with it.
///
/// The staging folder is made first, as the import will make it before reading the path: a
/// path through it (`DATA/tmp/..`) must resolve now as it will then.
pub fn off_limits(path: &Path, data_dir: &Path, staging: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    let _ = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(staging);
    let Ok(real) = fs::canonicalize(path) else {
        return Ok(());
    };
    let data = fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let system = ["/proc", "/sys", "/dev"]
        .iter()
        .any(|root| real.starts_with(root));
    if real.starts_with(&data) || data.starts_with(&real) || system {
        return Err(format!(
            "{} is {}, which is never imported: import model files from elsewhere",
            path.display(),
            if system {
                "a system pseudo-file"
            } else {
                "in or above the data directory"
            }
        ));
    }
    Ok(())
}
