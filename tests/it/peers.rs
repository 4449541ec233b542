//! Real model servers for the upstream tests (tests/peers/README.md): KServe's Python model
//! server and MLServer, each started on free loopback ports for one test and killed with it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::repo_path;

/// A peer server, killed (with its process group) on drop.
pub struct Peer {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SAFETY: signalling the process group this test started.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// The environment variable's value, or `None` (a skip, unless CI requires peers).
fn required(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var_os("MODELDECK_REQUIRE_PEERS").is_none(),
                "MODELDECK_REQUIRE_PEERS is set but {var} is not (see tests/peers/README.md)"
            );
            eprintln!(
                "skipping a test that needs a peer server: set {var} (tests/peers/README.md)"
            );
            None
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Trains the iris model into `dir` with the KServe environment's Python.
fn train(python: &str, dir: &Path) {
    let out = Command::new(python)
        .arg(repo_path("tests/peers/train_iris.py"))
        .arg(dir)
        .output()
        .expect("run train_iris.py");
    assert!(
        out.status.success(),
        "train_iris.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn spawn(mut cmd: Command, log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("peer log");
    cmd.stdout(file.try_clone().expect("log"))
        .stderr(file)
        .stdin(Stdio::null());
    // Its own process group, so a drop kills the workers it forks too.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().expect("start the peer server")
}

/// Waits until `ready` answers 200, failing with the server's log if it never does.
async fn wait(peer: &mut Peer, ready: &str) {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = client.get(ready).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = peer.child.try_wait() {
            panic!(
                "the peer exited ({status}) before it was ready: {}",
                std::fs::read_to_string(&peer.log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the peer never answered {ready}: {}",
        std::fs::read_to_string(&peer.log).unwrap_or_default()
    );
}

/// KServe serving the iris model as `iris` (V1 `:predict` and V2 `/infer`).
pub async fn kserve(scratch: &Path) -> Option<Peer> {
    let python = required("MODELDECK_PEER_KSERVE_PYTHON")?;
    let model = scratch.join("kserve-model");
    train(&python, &model);
    let (http, grpc) = (free_port(), free_port());
    let mut cmd = Command::new(&python);
    cmd.arg(repo_path("tests/peers/kserve_sklearn.py"))
        .args(["--model_name", "iris", "--model_dir"])
        .arg(&model)
        .args([
            "--http_port",
            &http.to_string(),
            "--grpc_port",
            &grpc.to_string(),
        ]);
    let log = scratch.join("kserve.log");
    let mut peer = Peer {
        child: spawn(cmd, &log),
        url: format!("http://127.0.0.1:{http}"),
        log,
    };
    let ready = format!("{}/v1/models/iris", peer.url);
    wait(&mut peer, &ready).await;
    Some(peer)
}

/// MLServer serving the iris model as `iris` (V2 only), inference in its HTTP process.
pub async fn mlserver(scratch: &Path) -> Option<Peer> {
    let mlserver = required("MODELDECK_PEER_MLSERVER")?;
    let python = required("MODELDECK_PEER_KSERVE_PYTHON")?;
    let model = scratch.join("mlserver-model");
    train(&python, &model);
    let root = scratch.join("mlserver");
    std::fs::create_dir_all(root.join("iris")).expect("mlserver dir");
    let (http, grpc, metrics) = (free_port(), free_port(), free_port());
    std::fs::write(
        root.join("settings.json"),
        format!(
            r#"{{"host":"127.0.0.1","http_port":{http},"grpc_port":{grpc},"metrics_port":{metrics},"parallel_workers":0,"debug":false}}"#
        ),
    )
    .expect("settings");
    std::fs::write(
        root.join("iris/model-settings.json"),
        format!(
            r#"{{"name":"iris","implementation":"mlserver_sklearn.SKLearnModel","parameters":{{"uri":"{}","version":"v1"}}}}"#,
            model.join("model.joblib").display()
        ),
    )
    .expect("model settings");
    let mut cmd = Command::new(&mlserver);
    cmd.arg("start").arg(&root);
    let log = scratch.join("mlserver.log");
    let mut peer = Peer {
        child: spawn(cmd, &log),
        url: format!("http://127.0.0.1:{http}"),
        log,
    };
    let ready = format!("{}/v2/models/iris/ready", peer.url);
    wait(&mut peer, &ready).await;
    Some(peer)
}
