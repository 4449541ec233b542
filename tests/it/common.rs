//! Helpers shared by the integration tests: a throw-away data directory, running the real
//! binary against it, and a snapshot of "what is registered" to prove a failed import changed
//! nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_modeldeck");

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A fresh data directory inside a temporary folder (the data directory itself does not exist
/// yet, so modeldeck creates it).
pub struct DataDir {
    _tmp: tempfile::TempDir,
    pub path: PathBuf,
    pub scratch: PathBuf,
}

impl DataDir {
    pub fn new() -> DataDir {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("data");
        let scratch = tmp.path().join("scratch");
        std::fs::create_dir(&scratch).expect("scratch dir");
        DataDir {
            _tmp: tmp,
            path,
            scratch,
        }
    }

    /// Writes `DATA_DIR/config.toml`.
    pub fn configure(&self, toml: &str) {
        std::fs::create_dir_all(&self.path).expect("data dir");
        std::fs::write(self.path.join("config.toml"), toml).expect("config");
    }

    /// Runs `modeldeck --data-dir DIR ARGS…` with a clean AWS environment plus `env`.
    pub async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--data-dir").arg(&self.path).args(args);
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "MODELDECK_DATA_DIR",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        cmd.output().await.expect("run modeldeck")
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[]).await
    }

    /// Runs a command that must succeed and returns its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
        stdout(&out)
    }

    /// Runs a `--json` command that must succeed and parses its output.
    pub async fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(args).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// `models import SOURCE --name NAME --json`, which must succeed.
    pub async fn import(&self, source: &str, name: &str) -> Value {
        self.json(&["models", "import", source, "--name", name, "--json"])
            .await
    }

    /// What is registered: the model listing, every version, and the artifact files on disk.
    pub async fn snapshot(&self) -> (Value, BTreeSet<String>) {
        let list = self.json(&["models", "list", "--json"]).await;
        let mut files = BTreeSet::new();
        collect(&self.path.join("artifacts"), &self.path, &mut files);
        collect(&self.path.join("tmp"), &self.path, &mut files);
        (list, files)
    }
}

fn collect(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        out.insert(p.strip_prefix(root).unwrap_or(&p).display().to_string());
        if p.is_dir() {
            collect(&p, root, out);
        }
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs an import that must fail, and checks the error mentions every `expect` fragment, is
/// one line (unless `multi_line`), and that the repository is exactly as it was.
pub async fn assert_refused(
    dd: &DataDir,
    args: &[&str],
    env: &[(&str, &str)],
    expect: &[&str],
) -> String {
    let before = dd.snapshot().await;
    let out = dd.run_env(args, env).await;
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "{args:?} succeeded: {}",
        stdout(&out)
    );
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    for fragment in expect {
        assert!(
            err.contains(fragment),
            "{args:?}: expected {fragment:?} in: {err}"
        );
    }
    assert_eq!(
        dd.snapshot().await,
        before,
        "{args:?} changed the repository"
    );
    err
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Copies a folder tree (fixtures are read-only in some checkouts; the copy is writable).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}
