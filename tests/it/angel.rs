//! Angel models served natively: imported as folders, deployed, and called through the gateway
//! in Angel Serving's request forms, answering as `expected.json` says.

use serde_json::{Value, json};

use crate::common::{DataDir, repo_path};
use crate::server::{Server, post, serving};

fn expected(fixture: &str) -> Value {
    let text = std::fs::read_to_string(repo_path(&format!(
        "tests/fixtures/angel/{fixture}/expected.json"
    )))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn num(v: &Value) -> f64 {
    v.as_f64().or_else(|| v.as_str()?.parse().ok()).unwrap()
}

/// Every case of `expected.json` through the gateway: pred within 1e-5, proba within 1e-6,
/// in the form the case gives and, for a dense case, as Angel Serving's named form
/// (`{"values": […]}`) and as an Open Inference Protocol tensor.
async fn check(server: &Server, name: &str, key: &str, fixture: &str) {
    for case in expected(fixture)["cases"].as_array().unwrap() {
        let want = &case["expected_response"]["predictions"][0];
        let url = format!("{}/v1/models/{name}:predict", server.gateway);
        let mut forms = vec![case["request"].to_string()];
        if let Some(dense) = case["request"]["instances"][0].as_array() {
            forms.push(json!({"instances": [{"values": dense, "key": 1}]}).to_string());
            let body = json!({"inputs": [{"name": "x", "shape": [1, dense.len()], "datatype": "FP32", "data": dense}]});
            let v2 = format!("{}/v2/models/{name}/infer", server.gateway);
            let (status, answer, _) = post(&v2, None, Some(key), &body.to_string()).await;
            assert_eq!(status, 200, "{}: {answer}", case["name"]);
            let output = |n: &str| {
                let o = answer["outputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|o| o["name"] == n);
                num(&o.unwrap_or_else(|| panic!("{answer}"))["data"][0])
            };
            assert!(
                (output("pred") - num(&want["pred"])).abs() < 1e-5,
                "{answer}"
            );
            assert!(
                (output("proba") - num(&want["proba"])).abs() < 1e-6,
                "{answer}"
            );
        }
        for body in forms {
            check_one(&url, key, &body, want, case["name"].as_str().unwrap()).await;
        }
    }
}

async fn check_one(url: &str, key: &str, body: &str, want: &Value, case: &str) {
    {
        let (status, answer, _) = post(url, None, Some(key), body).await;
        assert_eq!(status, 200, "{case}: {answer}");
        let got = &answer["predictions"][0];
        assert!(
            (num(&got["pred"]) - num(&want["pred"])).abs() < 1e-5,
            "{case}: {got}"
        );
        assert!(
            (num(&got["proba"]) - num(&want["proba"])).abs() < 1e-6,
            "{case}: {got}"
        );
        assert_eq!(num(&got["predLabel"]), num(&want["predLabel"]), "{case}");
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
    assert!(
        answer.to_string().contains("takes exactly 13 features"),
        "{answer}"
    );
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

/// `score` with an Angel folder: the CSV's columns are the features 0…N-1, and an empty cell
/// is a feature left out — every `expected.json` case of the LR model, dense and sparse, in one
/// file.
#[tokio::test]
async fn score_runs_an_angel_folder_over_a_csv() {
    let dir = DataDir::new();
    let cases = expected("lr")["cases"].as_array().unwrap().clone();
    let width = 123;
    let mut csv = (0..width)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for case in &cases {
        let instance = &case["request"]["instances"][0];
        let mut cells = vec![String::new(); width];
        match instance.as_array() {
            Some(dense) => {
                for (i, v) in dense.iter().enumerate() {
                    cells[i] = v.to_string();
                }
            }
            None => {
                let idx = instance["sparseIndices"].as_array().unwrap();
                let vals = instance["sparseValues"].as_array().unwrap();
                for (i, v) in idx.iter().zip(vals) {
                    cells[i.as_u64().unwrap() as usize] = v.to_string();
                }
            }
        }
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    let input = dir.scratch.join("lr.csv");
    std::fs::write(&input, csv).unwrap();
    let output = dir.scratch.join("scored.csv");
    let model = repo_path("tests/fixtures/angel/lr/lr-model");
    dir.ok(&[
        "score",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ])
    .await;
    let scored = std::fs::read_to_string(&output).unwrap();
    let mut lines = scored.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{header:?}"))
    };
    let (pred, proba) = (col("pred"), col("proba"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), cases.len());
    for (row, case) in rows.iter().zip(&cases) {
        let want = &case["expected_response"]["predictions"][0];
        let got = |i: usize| row[i].parse::<f64>().unwrap();
        assert!(
            (got(pred) - num(&want["pred"])).abs() < 1e-5,
            "{}: {row:?}",
            case["name"]
        );
        assert!(
            (got(proba) - num(&want["proba"])).abs() < 1e-6,
            "{}: {row:?}",
            case["name"]
        );
    }
}
