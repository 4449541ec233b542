//! Staging folders and the content-addressed artifact store.
//!
//! `artifacts/<sha256>/<entry>` holds exactly one entry: `model.pmml`, `model.onnx`,
//! `upstream.toml` / `upstream.json`, or a `model/` folder. A file's digest is the SHA-256 of its
//! bytes; a folder's is the SHA-256 of a manifest listing each file's relative path and digest,
//! so identical content is stored once whichever way it arrived. A staging folder is published
//! by renaming it to its final name, which is atomic on the one file system both live on.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::ImportError;

/// A private folder under `DATA_DIR/tmp/` for one import; removed on drop unless published.
pub struct Staging {
    dir: PathBuf,
    /// Set once the folder has been renamed into the artifact store.
    published: bool,
}

static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Staging {
    pub fn new(tmp_root: &Path) -> Result<Staging, ImportError> {
        mkdir_private(tmp_root)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let n = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = tmp_root.join(format!("import-{}-{nanos}-{n}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|source| ImportError::Io {
                path: dir.clone(),
                source,
            })?;
        Ok(Staging {
            dir,
            published: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Where a fetcher writes what it downloads, before the type is known.
    pub fn incoming(&self) -> PathBuf {
        self.path().join("incoming")
    }

    /// Keeps `keep` (a path inside the staging folder) as the artifact's single entry `name`,
    /// deletes everything else, and returns the entry's digest and size.
    pub fn finalize(&self, keep: &Path, name: &str) -> Result<(String, u64), ImportError> {
        let target = self.path().join(name);
        rename(keep, &target)?;
        let incoming = self.incoming();
        if incoming.exists() {
            remove_all(&incoming)?;
        }
        digest(&target)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The artifact store under `DATA_DIR/artifacts/`.
#[derive(Debug, Clone)]
pub struct Artifacts {
    root: PathBuf,
}

/// Where a published artifact lives, and whether this publish created it.
#[derive(Debug)]
pub struct Published {
    /// Relative to the data directory: `artifacts/<sha256>/<entry>`.
    pub relative_path: String,
    pub created: bool,
}

impl Artifacts {
    pub fn new(root: PathBuf) -> Artifacts {
        Artifacts { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Moves a finalized staging folder into place. If the same content is already stored,
    /// the staging copy is dropped instead.
    pub fn publish(
        &self,
        mut staging: Staging,
        sha256: &str,
        entry: &str,
    ) -> Result<Published, ImportError> {
        mkdir_private(&self.root)?;
        let target = self.root.join(sha256);
        let relative_path = format!("artifacts/{sha256}/{entry}");
        if target.join(entry).exists() {
            return Ok(Published {
                relative_path,
                created: false,
            });
        }
        rename(staging.path(), &target)?;
        staging.published = true;
        sync_dir(&self.root);
        Ok(Published {
            relative_path,
            created: true,
        })
    }

    /// Deletes the artifact with this digest (when no version references it any more).
    pub fn remove(&self, sha256: &str) -> io::Result<()> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(io::Error::other(format!(
                "not an artifact digest: {sha256}"
            )));
        }
        match fs::remove_dir_all(self.root.join(sha256)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Digests of the artifacts on disk.
    pub fn stored(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        match fs::read_dir(&self.root) {
            Ok(entries) => {
                for e in entries {
                    let name = e?.file_name().to_string_lossy().into_owned();
                    if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                        out.push(name);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(out)
    }
}

fn mkdir_private(path: &Path) -> Result<(), ImportError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn rename(from: &Path, to: &Path) -> Result<(), ImportError> {
    fs::rename(from, to).map_err(|source| ImportError::Io {
        path: to.to_path_buf(),
        source,
    })
}

fn remove_all(path: &Path) -> Result<(), ImportError> {
    let result = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    result.map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// SHA-256 and size of a file, or of a folder's manifest and total size.
pub fn digest(path: &Path) -> Result<(String, u64), ImportError> {
    let io_err = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !path.is_dir() {
        return file_digest(path).map_err(io_err);
    }
    let mut files = Vec::new();
    collect_files(path, Path::new(""), &mut files).map_err(io_err)?;
    files.sort();
    let mut manifest = Sha256::new();
    let mut total = 0;
    for rel in files {
        let (sha, size) = file_digest(&path.join(&rel)).map_err(io_err)?;
        // The name's bytes, not a lossy rendering: two names must never hash alike.
        manifest.update(std::os::unix::ffi::OsStrExt::as_bytes(rel.as_os_str()));
        manifest.update(b"\0");
        manifest.update(sha.as_bytes());
        manifest.update(b"\n");
        total += size;
    }
    Ok((hex::encode(manifest.finalize()), total))
}

fn collect_files(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let rel = rel.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            collect_files(root, &rel, out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

fn file_digest(path: &Path) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// A file being written into staging: enforces the size limit and is synced on finish.
pub struct CappedFile {
    file: File,
    path: PathBuf,
    written: u64,
    limit: u64,
}

impl CappedFile {
    pub fn create(path: &Path, limit: u64) -> Result<CappedFile, ImportError> {
        if let Some(parent) = path.parent() {
            mkdir_private(parent)?;
        }
        let file = File::create(path).map_err(|source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(CappedFile {
            file,
            path: path.to_path_buf(),
            written: 0,
            limit,
        })
    }

    /// Appends `chunk`; `Ok(false)` means the limit would be exceeded (nothing is written).
    pub fn write(&mut self, chunk: &[u8]) -> Result<bool, ImportError> {
        if self.written + chunk.len() as u64 > self.limit {
            return Ok(false);
        }
        self.file
            .write_all(chunk)
            .map_err(|source| ImportError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.written += chunk.len() as u64;
        Ok(true)
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn finish(self) -> Result<u64, ImportError> {
        self.file.sync_all().map_err(|source| ImportError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(self.written)
    }
}
