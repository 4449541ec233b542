//! Angel models served natively: imported as folders, deployed, and called through the gateway
//! in Angel Serving's request forms, answering as `expected.json` says.

use serde_json::Value;

use crate::common::{DataDir, repo_path};
use crate::server::{Server, post, serving};

fn expected(fixture: &str) -> Value {
    let text = std::fs::read_to_string(repo_path(&format!(
        "tests/fixtures/angel/{fixture}/expected.json"
    )))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every case of `expected.json` through the gateway: pred within 1e-5, proba within 1e-6.
async fn check(server: &Server, name: &str, key: &str, fixture: &str) {
    for case in expected(fixture)["cases"].as_array().unwrap() {
        let body = case["request"].to_string();
        let url = format!("{}/v1/models/{name}:predict", server.gateway);
        let (status, answer, _) = post(&url, None, Some(key), &body).await;
        assert_eq!(status, 200, "{}: {answer}", case["name"]);
        let got = &answer["predictions"][0];
        let want = &case["expected_response"]["predictions"][0];
        let num = |v: &Value| v.as_f64().or_else(|| v.as_str()?.parse().ok()).unwrap();
        assert!(
            (num(&got["pred"]) - num(&want["pred"])).abs() < 1e-5,
            "{}: {got}",
            case["name"]
        );
        assert!(
            (num(&got["proba"]) - num(&want["proba"])).abs() < 1e-6,
            "{}: {got}",
            case["name"]
        );
        assert_eq!(
            num(&got["predLabel"]),
            num(&want["predLabel"]),
            "{}",
            case["name"]
        );
    }
}

#[tokio::test]
async fn deepfm_answers_sparse_requests_as_angel_does() {
    let dir = DataDir::new();
    let (server, key) = serving(&dir, "tests/fixtures/angel/deepFM/deepFM-model", "fm").await;
    let body = r#"{"instances":[{"sparseIndices":[3],"sparseValues":[1]}]}"#;
    // A request with too few fields is refused as the wrong shape, clearly.
    check(&server, "fm", &key, "deepFM").await;
    let url = format!("{}/v1/models/fm:predict", server.gateway);
    let (status, answer, _) = post(&url, None, Some(&key), body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("takes 104 values"), "{answer}");
    let out_of_range = r#"{"instances":[{"sparseIndices":[148],"sparseValues":[1]}]}"#;
    let (status, answer, _) = post(&url, None, Some(&key), out_of_range).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("0 to 147"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn lr_answers_dense_and_sparse_requests() {
    let dir = DataDir::new();
    let (server, key) = serving(&dir, "tests/fixtures/angel/lr/lr-model", "lr").await;
    check(&server, "lr", &key, "lr").await;
    server.stop().await;
}

#[tokio::test]
async fn a_graph_with_a_layer_this_runtime_does_not_run_is_refused_at_import() {
    let dir = DataDir::new();
    let folder = dir.scratch.join("odd-lr");
    crate::common::copy_dir(&repo_path("tests/fixtures/angel/mlcore-test-lr"), &folder);
    let graph = std::fs::read_to_string(folder.join("graph.json")).unwrap();
    std::fs::write(
        folder.join("graph.json"),
        graph.replacen("simpleinputlayer", "DropoutLayer", 1),
    )
    .unwrap();
    let out = dir
        .run(&[
            "models",
            "import",
            folder.to_str().unwrap(),
            "--name",
            "odd",
        ])
        .await;
    assert!(!out.status.success());
    let err = crate::common::stderr(&out);
    assert!(err.contains("layer input is a dropoutlayer layer"), "{err}");
    let list = dir.json(&["models", "list", "--json"]).await;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(0),
        "nothing registered: {list}"
    );
}
