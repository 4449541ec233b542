//! Real client libraries against the gateway: TF Serving REST as its users write it
//! (`requests`), and NVIDIA's `tritonclient` for the Open Inference Protocol, JSON and binary.
//! See tests/clients/README.md for the Python they need.

use std::process::Command;

use crate::common::{DataDir, repo_path};
use crate::server::serving;

/// The Python with the client libraries, or `None` (a skip, unless CI requires them).
pub fn python() -> Option<String> {
    match std::env::var("MODELDECK_CLIENTS_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var_os("MODELDECK_REQUIRE_CLIENTS").is_none(),
                "MODELDECK_REQUIRE_CLIENTS is set but MODELDECK_CLIENTS_PYTHON is not"
            );
            eprintln!(
                "skipping a test that needs Python: set MODELDECK_CLIENTS_PYTHON to a Python with requests, tritonclient[http] and prometheus_client (see tests/clients/README.md)"
            );
            None
        }
    }
}

#[tokio::test]
async fn tf_serving_and_triton_clients_work_unchanged() {
    let Some(python) = python() else { return };
    let dir = DataDir::new();
    let (s, key) = serving(&dir, "assets/iris-lr/iris-lr.pmml", "iris").await;
    let runs: [(&str, &[&str]); 6] = [
        ("tfserving_rest.py", &[]),
        ("tfserving_rest.py", &["--columnar"]),
        ("tfserving_rest.py", &["--version", "1"]),
        ("triton_http_v2.py", &[]),
        ("triton_http_v2.py", &["--binary-input"]),
        ("triton_http_v2.py", &["--json-output", "probability(1)"]),
    ];
    for (script, extra) in runs {
        let (python, gateway, key) = (python.clone(), s.gateway.clone(), key.clone());
        let out = tokio::task::spawn_blocking(move || {
            Command::new(python)
                .arg(repo_path(&format!("tests/clients/{script}")))
                .args(["--url", &gateway, "--model", "iris"])
                .args(["--host", "iris.modeldeck.local", "--auth", &key])
                .args(extra)
                .output()
                .expect("run the client")
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{script} {extra:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Both ask about [6.8, 2.8, 4.8, 1.4]: class 1 with p ≈ 0.8015 (sklearn's answer).
        assert!(
            stdout.contains("0.80154845"),
            "{script} {extra:?}: {stdout}"
        );
    }
    assert!(s.stop().await.success());
}
