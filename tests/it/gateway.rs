//! Deploy services, start the real `modeldeck serve` on port 0, and call the gateway over HTTP
//! as a TF Serving client would.

use serde_json::{Value, json};

use crate::common::{DataDir, repo_path, stderr};
use crate::server::{Server, post, serving, wait_ready};

#[tokio::test]
async fn deployed_service_answers_tf_serving_requests() {
    let dir = DataDir::new();
    let iris = repo_path("assets/iris/iris.pmml");
    dir.import(iris.to_str().unwrap(), "iris").await;
    let deployed = dir
        .json(&["services", "deploy", "iris", "--model", "iris", "--json"])
        .await;
    assert_eq!(deployed["host"], "iris.modeldeck.local");
    assert_eq!(deployed["version"], 1);
    let key = deployed["key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 32, "128-bit hex key");
    let other = dir
        .json(&[
            "services", "deploy", "iris-b", "--model", "iris:1", "--json",
        ])
        .await;
    let other_key = other["key"].as_str().unwrap().to_string();
    assert_ne!(key, other_key);

    let server = Server::start(&dir).await;
    let g = server.gateway.clone();
    wait_ready(&g, "iris", &key).await;
    let url = format!("{g}/v1/models/iris:predict");
    let row =
        json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2});

    // Row format, routed by the model name in the path (Host is the loopback address).
    let (status, body, version) = post(
        &url,
        None,
        Some(&key),
        &json!({"instances": [row]}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(version.as_deref(), Some("1"));
    assert_eq!(body["predictions"][0]["species"], "setosa");
    assert_eq!(body["predictions"][0]["probability(setosa)"], 1.0);

    // Columnar format, routed by Host (port ignored) whatever the path's model name.
    let columns = json!({"inputs": {"sepal_width": [3.5, 2.2], "petal_length": [1.4, 4.5], "petal_width": [0.2, 1.5]}});
    let (status, body, _) = post(
        &format!("{g}/v1/models/anything:predict"),
        Some("iris.modeldeck.local:8501"),
        Some(&format!("Bearer {key}")),
        &columns.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outputs"]["species"], json!(["setosa", "versicolor"]));

    // Whole-number floats keep their ".0" on the wire.
    let raw = reqwest::Client::new()
        .post(&url)
        .header("Authorization", &key)
        .body(json!({"instances": [row]}).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.contains("\"probability(setosa)\":1.0"), "{raw}");

    // KServe's model list: the caller's own service, found by Host or by the key alone.
    let list = |key: Option<&str>| {
        let mut req = reqwest::Client::new().get(format!("{g}/v1/models"));
        if let Some(k) = key {
            req = req.header("Authorization", k);
        }
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(list(Some(&key)).await, (200, json!({"models": ["iris"]})));
    assert_eq!(
        list(Some(&other_key)).await,
        (200, json!({"models": ["iris-b"]}))
    );
    assert_eq!(list(None).await.0, 401);
    assert_eq!(list(Some("7909…")).await.0, 401);

    // Keys: none → 401, unknown → 401, another service's → 403.
    let body = json!({"instances": [row]}).to_string();
    assert_eq!(post(&url, None, None, &body).await.0, 401);
    assert_eq!(post(&url, None, Some("0123"), &body).await.0, 401);
    let (status, err, _) = post(&url, None, Some(&other_key), &body).await;
    assert_eq!(status, 403, "{err}");

    // TF Serving's errors, exactly.
    let (status, err, _) = post(&url, None, Some(&key), "").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("JSON Parse error: The document is empty"))
    );
    let (status, err, _) = post(&url, None, Some(&key), "{}").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("Missing 'inputs' or 'instances' key"))
    );
    let bad_type =
        json!({"instances": [{"sepal_width": "wide", "petal_length": 1.4, "petal_width": 0.2}]});
    let (status, err, _) = post(&url, None, Some(&key), &bad_type.to_string()).await;
    assert_eq!(status, 400);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("is not of expected type: float"),
        "{err}"
    );
    let missing = json!({"instances": [{"sepal_width": 3.5}]});
    let (status, err, _) = post(&url, None, Some(&key), &missing.to_string()).await;
    assert_eq!(status, 400);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("keys must be equal to: petal_length,petal_width,sepal_width"),
        "{err}"
    );
    let (status, err, _) = post(
        &format!("{g}/v1/models/iris/versions/7:predict"),
        None,
        Some(&key),
        &body,
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (
            404,
            Some("Servable not found for request: Specific(iris, 7)")
        )
    );
    let resp = reqwest::Client::new()
        .put(&url)
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        format!("Malformed request: PUT /v1/models/iris:predict")
    );
    let (status, _, _) = post(
        &format!("{g}/v1/models/nosuch:predict"),
        None,
        Some(&key),
        &body,
    )
    .await;
    assert_eq!(status, 404);

    let exit = server.stop().await;
    assert!(exit.success(), "serve exits cleanly on SIGTERM: {exit:?}");
    assert!(
        !dir.path.join("server.json").exists(),
        "server.json is removed on a clean stop"
    );
}

#[tokio::test]
async fn deploy_refuses_bad_requests_and_changes_nothing() {
    let dir = DataDir::new();
    let iris = repo_path("assets/iris/iris.pmml");
    dir.import(iris.to_str().unwrap(), "iris").await;
    // `services deploy NAME --model MODEL [FLAG VALUE]`, and what its error must say.
    for (name, model, flag, expect) in [
        ("Iris", "iris", None, "illegal service name"),
        ("../models/iris", "iris", None, "illegal service name"),
        ("iris", "nosuch", None, "no model named"),
        ("iris", "iris:9", None, "has no version 9"),
        (
            "iris",
            "iris",
            Some(("--concurrency", "0")),
            "concurrency must be a whole number of requests from 1 to 100000, not 0",
        ),
        (
            "iris",
            "iris",
            Some(("--concurrency", "99999999999999999999")),
            "from 1 to 100000, not \"99999999999999999999\"",
        ),
        (
            "iris",
            "iris",
            Some(("--threads", "1000000000")),
            "threads must be a whole number of threads from 1 to 256",
        ),
    ] {
        let mut args = vec!["services", "deploy", name, "--model", model];
        args.extend(flag.map(|(f, v)| [f, v]).into_iter().flatten());
        let out = dir.run(&args).await;
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr(&out).contains(expect), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(dir.json(&["services", "list", "--json"]).await, json!([]));
    dir.ok(&["services", "deploy", "iris", "--model", "iris"])
        .await;
    let out = dir
        .run(&["services", "deploy", "iris", "--model", "iris"])
        .await;
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = dir.run(&["models", "rm", "iris:1"]).await;
    assert!(
        !out.status.success(),
        "a version in service cannot be removed"
    );
    dir.ok(&["services", "rm", "iris"]).await;
    assert_eq!(dir.json(&["services", "list", "--json"]).await, json!([]));
    dir.ok(&["models", "rm", "iris:1"]).await;
}

#[tokio::test]
async fn classify_regress_and_the_open_inference_protocol() {
    let dir = DataDir::new();
    let (server, key) = serving(&dir, "assets/iris-lr/iris-lr.pmml", "iris").await;
    let g = server.gateway.clone();
    let call = |path: &str, body: Value| {
        let url = format!("{g}{path}");
        let key = key.clone();
        async move { post(&url, None, Some(&key), &body.to_string()).await }
    };

    // Classify: examples plus shared context, a one-element feature list is its value.
    let (status, body, _) = call(
        "/v1/models/iris:classify",
        json!({"examples": [{"x1": 6.8, "x2": [2.8]}], "context": {"x3": 4.8, "x4": 1.4}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let classes = &body["results"][0];
    assert_eq!(classes.as_array().unwrap().len(), 3);
    assert_eq!(classes[1][0], "1");
    assert!((classes[1][1].as_f64().unwrap() - 0.8015484525786077).abs() < 1e-12);
    let (status, body, _) = call("/v1/models/iris:classify", json!({"instances": []})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            400,
            Some("When method is classify, key 'examples' is expected and was not found")
        )
    );
    let (status, body, _) = call(
        "/v1/models/iris:regress",
        json!({"examples": [{"x1": 1, "x2": 1, "x3": 1, "x4": 1}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains(":classify"),
        "{body}"
    );

    // V2: metadata, readiness, an [N, 4] tensor in feature order, per-field tensors.
    let meta = reqwest::Client::new()
        .get(format!("{g}/v2/models/iris"))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(meta["versions"], json!(["1"]));
    assert_eq!(
        meta["inputs"][0],
        json!({"name": "x1", "datatype": "FP64", "shape": [-1]})
    );
    let (status, body, version) = call(
        "/v2/models/iris/infer",
        json!({"id": "7", "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64",
               "data": [[6.8, 2.8, 4.8, 1.4], [5.1, 3.5, 1.4, 0.2]]}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(version.as_deref(), Some("1"));
    assert_eq!(
        (&body["id"], &body["model_version"]),
        (&json!("7"), &json!("1"))
    );
    let y = body["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "y")
        .unwrap();
    assert_eq!(y["data"], json!([1, 0]));
    assert_eq!(y["shape"], json!([2]));
    let fields = json!({"inputs": [
        {"name": "x1", "shape": [1], "datatype": "FP64", "data": [6.8]},
        {"name": "x2", "shape": [1], "datatype": "FP64", "data": [2.8]},
        {"name": "x3", "shape": [1, 1], "datatype": "FP64", "data": [[4.8]]},
        {"name": "x4", "shape": [1], "datatype": "FP64", "data": [1.4]}],
        "outputs": [{"name": "probability(1)"}]});
    let (status, body, _) = call("/v2/models/iris/versions/1/infer", fields).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outputs"].as_array().unwrap().len(), 1);
    let (status, body, _) = call(
        "/v2/models/iris/infer",
        json!({"inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("[N, 4]"), "{body}");
    let (status, _, _) = call("/v2/models/iris/versions/9/infer", json!({"inputs": []})).await;
    assert_eq!(status, 404);

    // The binary tensor extension, as tritonclient sends it by default.
    let header = json!({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32",
                        "parameters": {"binary_data_size": 16}}]})
    .to_string();
    let mut bytes = header.clone().into_bytes();
    for v in [6.8f32, 2.8, 4.8, 1.4] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let resp = reqwest::Client::new()
        .post(format!("{g}/v2/models/iris/infer"))
        .header("Authorization", &key)
        .header("Content-Type", "application/octet-stream")
        .header("Inference-Header-Content-Length", header.len())
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["outputs"][0]["data"], json!([1]), "{body}");
    let resp = reqwest::Client::new()
        .post(format!("{g}/v2/models/iris/infer"))
        .header("Authorization", &key)
        .header("Inference-Header-Content-Length", header.len())
        .body(bytes[..bytes.len() - 3].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        400,
        "truncated binary data is refused"
    );
    assert!(server.stop().await.success());
}

/// Every error of protocols.md §1.8 that a REST client can cause, with TF Serving's status
/// and message, exactly.
#[tokio::test]
async fn tf_serving_error_messages_exactly() {
    let dir = DataDir::new();
    let (server, key) = serving(&dir, "assets/iris-lr/iris-lr.pmml", "iris").await;
    let g = server.gateway.clone();
    let row = r#"[6.8,2.8,4.8,1.4]"#;
    let cases: Vec<(&str, String, u16, String)> = vec![
        ("/v1/models/iris:predict", String::new(), 400, "JSON Parse error: The document is empty".into()),
        ("/v1/models/iris:predict", "{\"instances\": [1,}".into(), 400, "JSON Parse error: Invalid value. at offset: 17".into()),
        ("/v1/models/iris:predict", format!("{{\"instances\":[{row}],\"inputs\":[{row}]}}"), 400,
            "JSON Value: {\n    \"instances\": [\n        [\n            6.8,\n            2.8,\n            4.8,\n            1.4\n        ]\n    ],\n    \"inputs\": [\n        [\n            6.8,\n            2.8,\n            4.8,\n            1.4\n        ]\n    ]\n} Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ".to_string()),
        ("/v1/models/iris:predict", "{\"instances\":5}".into(), 400,
            "JSON Value: {\n    \"instances\": 5\n} Excepting 'instances' to be an list/array".into()),
        ("/v1/models/iris:predict", "{\"instances\":[]}".into(), 400,
            "JSON Value: {\n    \"instances\": []\n} No values in 'instances' array".into()),
        ("/v1/models/iris:predict", "{\"x\":1}".into(), 400, "Missing 'inputs' or 'instances' key".into()),
        ("/v1/models/iris:predict", format!("{{\"signature_name\":1,\"instances\":[{row}]}}"), 400,
            "JSON Value: {\n    \"signature_name\": 1,\n    \"instances\": [\n        [\n            6.8,\n            2.8,\n            4.8,\n            1.4\n        ]\n    ]\n} not formatted correctly. 'signature_name' key must be a string value.".into()),
        ("/v1/models/iris:predict", format!("{{\"signature_name\":\"foo\",\"instances\":[{row}]}}"), 400,
            "Serving signature name: \"foo\" not found in signature def".into()),
        ("/v1/models/iris:predict", "{\"instances\":[{\"x1\":\"x\",\"x2\":1,\"x3\":1,\"x4\":1}]}".into(), 400,
            "Failed to process element: 0 key: x1 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: \"x\" Type: String is not of expected type: double".into()),
        ("/v1/models/half:predict", format!("{{\"instances\":[{row}]}}"), 404, "Servable not found for request: Latest(half)".into()),
        ("/v1/models/iris/versions/99:predict", format!("{{\"instances\":[{row}]}}"), 404, "Servable not found for request: Specific(iris, 99)".into()),
        ("/v1/models/iris/labels/foo:predict", format!("{{\"instances\":[{row}]}}"), 400, "Unrecognized servable version label: foo".into()),
        ("/v1/models/iris:explain", format!("{{\"instances\":[{row}]}}"), 400, "Malformed request: POST /v1/models/iris:explain".into()),
    ];
    for (path, body, status, message) in cases {
        let (got, err, _) = post(&format!("{g}{path}"), None, Some(&key), &body).await;
        assert_eq!(
            (got, err["error"].as_str().unwrap_or_default()),
            (status, message.as_str()),
            "POST {path} {body}"
        );
    }
    assert!(server.stop().await.success());
}
