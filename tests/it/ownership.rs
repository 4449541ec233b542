//! One owner per data directory: while another process holds the lock, commands do not touch
//! the store and say who holds it (with a real server they use its control API instead: see
//! `control.rs`).

use std::time::Duration;

use modeldeck::control::{OwnerLock, Role};

use crate::common::{DataDir, repo_path};

#[tokio::test]
async fn commands_refuse_a_data_directory_owned_by_another_process() {
    let dd = DataDir::new();
    dd.ok(&["models", "list"]).await;
    let lock = OwnerLock::acquire(
        &dd.path,
        &dd.path.join("lock"),
        Role::Server,
        Duration::ZERO,
    )
    .unwrap();
    let iris = repo_path("assets/iris/iris.pmml").display().to_string();
    let out = dd.run(&["models", "import", &iris, "--name", "iris"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    // A server owns it but has published no control API (this test process is no server):
    // the command says so instead of hanging or touching the store.
    assert!(err.contains("has not published its control API"), "{err}");
    drop(lock);
    // Released: the same command now works and nothing from the refused attempt lingers.
    let list = dd.json(&["models", "list", "--json"]).await;
    assert_eq!(list, serde_json::json!([]));
    dd.ok(&["models", "import", &iris, "--name", "iris"]).await;
}

/// Two commands at once (a script importing in parallel): the second waits for the first.
#[tokio::test]
async fn a_command_waits_for_another_command() {
    let dd = DataDir::new();
    dd.ok(&["models", "list"]).await;
    let lock = OwnerLock::acquire(
        &dd.path,
        &dd.path.join("lock"),
        Role::Command,
        Duration::ZERO,
    )
    .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        drop(lock);
    });
    let iris = repo_path("assets/iris/iris.pmml").display().to_string();
    let v = dd.import(&iris, "iris").await;
    assert_eq!(v["version"], 1);
    release.join().unwrap();
}

#[tokio::test]
async fn data_dir_comes_from_the_environment_when_no_flag_is_given() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("from-env");
    let out = tokio::process::Command::new(crate::common::BIN)
        .args(["models", "list", "--json"])
        .env("MODELDECK_DATA_DIR", &dir)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("modeldeck.db").exists());
}

#[tokio::test]
async fn a_bad_config_file_is_named() {
    let dd = DataDir::new();
    dd.configure("gatway = \"127.0.0.1:9000\"\n");
    let out = dd.run(&["models", "list"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("config.toml") && err.contains("gatway"),
        "{err}"
    );
}

/// Twenty imports and twenty listings at once, with no server: each waits its turn for the
/// lock, none fails reading who holds it.
#[tokio::test]
async fn parallel_commands_without_a_server_all_succeed() {
    let dd = DataDir::new();
    dd.ok(&["models", "list"]).await;
    let iris = repo_path("assets/iris/iris.pmml").display().to_string();
    let runs: Vec<_> = (0..40)
        .map(|i| {
            let args: Vec<String> = if i % 2 == 0 {
                ["models", "import", &iris, "--name", "iris"]
                    .map(String::from)
                    .to_vec()
            } else {
                ["models", "list"].map(String::from).to_vec()
            };
            let mut cmd = tokio::process::Command::new(crate::common::BIN);
            cmd.arg("--data-dir").arg(&dd.path).args(&args);
            tokio::spawn(async move { (args, cmd.output().await.expect("run")) })
        })
        .collect();
    for run in runs {
        let (args, out) = run.await.unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list = dd.json(&["models", "list", "--json"]).await;
    assert_eq!(list[0]["versions"], 20, "{list}");
}
