//! The gateway's limits and error paths, driven by the test runtimes (cargo feature
//! `test-runtimes`): a model that sleeps fills the concurrency limit and overruns the
//! timeout, one that panics shows a failing model costs one request, not the service.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{DataDir, repo_path};
use crate::server::{Server, post, wait_ready};

pub const ROW: &str = r#"{"instances":[{"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#;

/// Imports the iris model with a test behaviour under `name` and deploys it with `flags`.
pub async fn deploy_test_model(
    dir: &DataDir,
    name: &str,
    behaviour: &str,
    flags: &[&str],
) -> String {
    let text = std::fs::read_to_string(repo_path("assets/iris/iris.pmml")).unwrap();
    let text = text.replacen(
        "<Header>",
        &format!("<Header><Extension name=\"modeldeck-test-runtime\" value=\"{behaviour}\"/>"),
        1,
    );
    let file = dir.scratch.join(format!("{name}.pmml"));
    std::fs::write(&file, text).unwrap();
    dir.import(file.to_str().unwrap(), name).await;
    let mut args = vec!["services", "deploy", name, "--model", name, "--json"];
    args.extend_from_slice(flags);
    dir.json(&args).await["key"].as_str().unwrap().to_string()
}

async fn call(s: &Server, name: &str, key: &str) -> (u16, Value) {
    let (status, body, _) = post(
        &format!("{}/v1/models/{name}:predict", s.gateway),
        None,
        Some(key),
        ROW,
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn concurrency_limit_answers_429_and_frees_its_slots() {
    let dir = DataDir::new();
    let key = deploy_test_model(&dir, "slow", "sleep 2000", &["--concurrency", "2"]).await;
    let s = Server::start(&dir).await;
    wait_ready(&s.gateway, "slow", &key).await;
    // Six at once against a limit of two, each holding its slot for 2 s: whichever two
    // arrive first are served, the other four are refused, whatever the order.
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (g, k) = (s.gateway.clone(), key.clone());
            tokio::spawn(async move {
                post(&format!("{g}/v1/models/slow:predict"), None, Some(&k), ROW).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for c in calls {
        let (status, body, _) = c.await.unwrap();
        if status == 429 {
            assert!(
                body["error"]
                    .as_str()
                    .unwrap()
                    .contains("2 requests in flight"),
                "{body}"
            );
        }
        statuses.push(status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 429, 429, 429, 429]);
    assert_eq!(call(&s, "slow", &key).await.0, 200, "slots come back");
    assert!(s.stop().await.success());
}

#[tokio::test]
async fn timeout_answers_504_and_the_slot_stays_taken_until_the_work_ends() {
    let dir = DataDir::new();
    let key = deploy_test_model(
        &dir,
        "stuck",
        "sleep 3000",
        &["--concurrency", "1", "--timeout-ms", "200"],
    )
    .await;
    let s = Server::start(&dir).await;
    wait_ready(&s.gateway, "stuck", &key).await;
    let (status, body) = call(&s, "stuck", &key).await;
    assert_eq!(status, 504, "{body}");
    assert!(body["error"].as_str().unwrap().contains("200 ms"), "{body}");
    // The prediction cannot be cancelled, so its slot is still taken.
    assert_eq!(call(&s, "stuck", &key).await.0, 429);
    tokio::time::sleep(Duration::from_millis(3300)).await;
    assert_eq!(call(&s, "stuck", &key).await.0, 504, "slot free again");
    assert!(s.stop().await.success());
}

#[tokio::test]
async fn a_panicking_model_fails_one_request_and_echo_mirrors_inputs() {
    let dir = DataDir::new();
    let flaky = deploy_test_model(&dir, "flaky", "fail-every 2", &[]).await;
    let echo = deploy_test_model(&dir, "echo", "echo", &[]).await;
    let s = Server::start(&dir).await;
    wait_ready(&s.gateway, "flaky", &flaky).await;
    assert_eq!(call(&s, "flaky", &flaky).await.0, 200);
    let (status, body) = call(&s, "flaky", &flaky).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(
        call(&s, "flaky", &flaky).await.0,
        200,
        "the service survives"
    );
    let status = reqwest::get(format!("{}/v1/models/flaky", s.gateway))
        .await
        .unwrap();
    assert_eq!(status.status().as_u16(), 401, "status still needs the key");

    wait_ready(&s.gateway, "echo", &echo).await;
    let (status, body) = call(&s, "echo", &echo).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["predictions"][0],
        json!({"sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2})
    );
    assert!(s.stop().await.success());
}
