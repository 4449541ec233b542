//! The control API and the CLI over it: tokens and scopes, changes that take effect on the
//! gateway before the call answers, the change stream, uploads followed as operations, the
//! owner lock between servers, and services that come back after a restart or a `kill -9`.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{DataDir, repo_path, stderr};
use crate::server::{Server, post, wait_ready};

const SETOSA: &str = r#"{"instances":[{"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#;

async fn predict(s: &Server, name: &str, key: &str) -> (u16, Value) {
    let url = format!("{}/v1/models/{name}:predict", s.gateway);
    let (status, body, _) = post(&url, None, Some(key), SETOSA).await;
    (status, body)
}

#[tokio::test]
async fn tokens_and_scopes_guard_every_call() {
    let dir = DataDir::new();
    let s = Server::start(&dir).await;
    let mode = std::fs::metadata(dir.path.join("control.token")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );

    let (status, err) = s.api(Method::GET, "services", None, None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = s.api(Method::GET, "services", Some("mdt_nope"), None).await;
    assert_eq!(status, 401);

    // The CLI reaches the running server through the API, with the local admin token.
    let viewer = dir
        .json(&[
            "tokens",
            "create",
            "dashboard",
            "--scope",
            "viewer",
            "--json",
        ])
        .await;
    let viewer = viewer["token"].as_str().unwrap().to_string();
    assert!(viewer.starts_with("mdt_"));
    let (status, v) = s.api(Method::GET, "services", Some(&viewer), None).await;
    assert_eq!((status, &v["services"]), (200, &json!([])));
    let deploy = json!({"name": "iris", "model": "iris"});
    let (status, err) = s
        .api(Method::POST, "services", Some(&viewer), Some(deploy))
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs operator"),
        "{err}"
    );
    let (status, _) = s.api(Method::GET, "tokens", Some(&viewer), None).await;
    assert_eq!(status, 403, "only admins see tokens");

    // Secrets are never listed; a revoked token stops working at once.
    let listed = s.get("tokens").await;
    assert!(!listed.to_string().contains(&viewer));
    let names: Vec<&str> = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dashboard", "local-admin"]);
    let out = dir.run(&["tokens", "create", "dashboard"]).await;
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    dir.ok(&["tokens", "revoke", "dashboard"]).await;
    let (status, _) = s.api(Method::GET, "services", Some(&viewer), None).await;
    assert_eq!(status, 401);

    // Bad calls get a JSON error with a stable code.
    let (status, err) = s.api(Method::GET, "nosuch", Some(&s.token), None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, err) = s.api(Method::PUT, "services", Some(&s.token), None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (status, err) = s
        .api(
            Method::POST,
            "services",
            Some(&s.token),
            Some(json!({"name": "x", "modle": "iris"})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    assert!(
        err["error"]["message"].as_str().unwrap().contains("modle"),
        "{err}"
    );
    assert!(s.stop().await.success());
}

#[tokio::test]
async fn changes_through_the_api_take_effect_before_it_answers() {
    let dir = DataDir::new();
    dir.import(repo_path("assets/iris/iris.pmml").to_str().unwrap(), "iris")
        .await;
    let s = Server::start(&dir).await;
    let status = s.get("status").await;
    let start_revision = status["revision"].as_i64().unwrap();

    // Follow the change stream from now on while the CLI makes changes.
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/watch", s.control))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut stream = resp.bytes_stream();

    let deployed = dir
        .json(&["services", "deploy", "iris", "--model", "iris", "--json"])
        .await;
    let key = deployed["key"].as_str().unwrap().to_string();
    // No waiting: the deploy answered after the version was loaded and published.
    assert_eq!(predict(&s, "iris", &key).await.0, 200);

    let rotated = dir
        .json(&["services", "rotate-key", "iris", "--json"])
        .await;
    let new_key = rotated["key"].as_str().unwrap().to_string();
    assert_eq!(
        predict(&s, "iris", &key).await.0,
        401,
        "old key stops at once"
    );
    assert_eq!(predict(&s, "iris", &new_key).await.0, 200);
    let shown = dir
        .json(&["services", "show", "iris", "--show-key", "--json"])
        .await;
    assert_eq!(shown["key"], new_key.as_str());

    dir.ok(&["services", "rm", "iris"]).await;
    let (status, body) = predict(&s, "iris", &new_key).await;
    assert_eq!(status, 404, "deleted service is gone at once: {body}");

    // The stream saw the three changes, in order, each with its revision and its actor.
    let mut text = String::new();
    while !text.contains("service.deleted") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("change stream delivers")
            .expect("stream open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with("retry: 2000\nevent: hello\n"), "{text}");
    let changes: Vec<Value> = text
        .split("\n\n")
        .filter(|f| f.contains("event: change"))
        .map(|f| serde_json::from_str(f.rsplit("data: ").next().unwrap()).unwrap())
        .collect();
    let kinds: Vec<&str> = changes
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["service.deployed", "service.key_rotated", "service.deleted"]
    );
    assert_eq!(changes[0]["revision"].as_i64().unwrap(), start_revision + 1);
    assert!(changes.iter().all(|c| c["actor"] == "local-admin"));
    assert!(
        !text.contains(&key) && !text.contains(&new_key),
        "keys never in events"
    );

    // A client that reconnects from a revision gets what it missed.
    let events = s.get(&format!("events?since={start_revision}")).await;
    assert_eq!(events["events"].as_array().unwrap().len(), 3);
    assert!(s.stop().await.success(), "a stop ends open change streams");
    // The log has one line per change, without keys.
    let log = std::fs::read_to_string(dir.scratch.join("serve.log")).unwrap();
    for kind in ["service.deployed", "service.key_rotated", "service.deleted"] {
        let lines = log
            .lines()
            .filter(|l| l.contains(&format!("kind={kind}")))
            .count();
        assert_eq!(lines, 1, "{kind} in: {log}");
    }
    assert!(
        !log.contains(&key) && !log.contains(&new_key),
        "keys never logged"
    );
}

#[tokio::test]
async fn uploads_are_imported_as_operations_and_bad_ones_register_nothing() {
    let dir = DataDir::new();
    let s = Server::start(&dir).await;
    let client = reqwest::Client::new();
    let upload = |bytes: Vec<u8>, query: &str| {
        client
            .post(format!("{}/api/v1/models/iris/versions?{query}", s.control))
            .bearer_auth(&s.token)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
    };
    let pmml = std::fs::read(repo_path("assets/iris/iris.pmml")).unwrap();
    let resp = upload(pmml, "filename=iris.pmml&description=from%20a%20test")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let op: Value = resp.json().await.unwrap();
    let id = op["id"].as_str().unwrap().to_string();
    let mut done = op;
    for _ in 0..100 {
        if done["state"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        done = s.get(&format!("operations/{id}")).await;
    }
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"]["version"], 1);
    let model = s.get("models/iris").await;
    assert_eq!(model["versions"][0]["source"], "upload:iris.pmml");
    assert_eq!(model["description"], "from a test");

    // Not a model: the operation fails with the import's code and nothing is registered.
    let resp = upload(
        b"<html>not a model</html>".to_vec(),
        "filename=x.pmml&wait=true",
    )
    .await
    .unwrap();
    let op: Value = resp.json().await.unwrap();
    assert_eq!(op["state"], "failed", "{op}");
    assert!(op["error"]["code"].as_str().is_some(), "{op}");
    assert_eq!(
        s.get("models/iris").await["versions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let resp = upload(Vec::new(), "wait=true").await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // A source the server fetches itself must be absolute (the server has its own cwd).
    let (status, err) = s
        .api(
            Method::POST,
            "models/iris/versions",
            Some(&s.token),
            Some(json!({"source": "assets/iris/iris.pmml"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("absolute"),
        "{err}"
    );
    assert!(s.stop().await.success());
}

#[tokio::test]
async fn a_second_server_refuses_and_names_the_first() {
    let dir = DataDir::new();
    let s = Server::start(&dir).await;
    let pid = s.child.id().unwrap();
    let out = dir
        .run(&[
            "serve",
            "--gateway",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
        ])
        .await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("pid {pid}, a server")), "{err}");
    // The first one is unharmed.
    assert_eq!(s.get("status").await["pid"], pid);
    assert!(s.stop().await.success());
}

#[tokio::test]
async fn services_come_back_after_kill_9_and_a_broken_artifact_blocks_nothing_else() {
    let dir = DataDir::new();
    dir.import(repo_path("assets/iris/iris.pmml").to_str().unwrap(), "iris")
        .await;
    dir.import(
        repo_path("assets/diabetes/diabetes.pmml").to_str().unwrap(),
        "diabetes",
    )
    .await;
    let iris = dir
        .json(&["services", "deploy", "iris", "--model", "iris", "--json"])
        .await;
    let key = iris["key"].as_str().unwrap().to_string();
    let diabetes = dir
        .json(&[
            "services", "deploy", "diabetes", "--model", "diabetes", "--json",
        ])
        .await;
    let diabetes_key = diabetes["key"].as_str().unwrap().to_string();

    let s = Server::start(&dir).await;
    wait_ready(&s.gateway, "iris", &key).await;
    assert_eq!(predict(&s, "iris", &key).await.0, 200);
    s.kill_9().await;

    // A crash leaves server.json behind; the next server replaces it and serves as before.
    assert!(dir.path.join("server.json").exists());
    let shown = dir.json(&["models", "show", "diabetes", "--json"]).await;
    let artifact = dir
        .path
        .join(shown["versions"][0]["artifact"].as_str().unwrap());
    std::fs::write(&artifact, "<PMML broken").unwrap();

    let s = Server::start(&dir).await;
    wait_ready(&s.gateway, "iris", &key).await;
    assert_eq!(
        predict(&s, "iris", &key).await.0,
        200,
        "same key after restart"
    );
    let url = format!("{}/v1/models/diabetes", s.gateway);
    let mut state = Value::Null;
    for _ in 0..100 {
        let r = reqwest::Client::new()
            .get(&url)
            .header("Authorization", &diabetes_key)
            .send()
            .await
            .unwrap();
        state = r.json().await.unwrap();
        if state["model_version_status"][0]["state"] != "LOADING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state["ready"], false, "{state}");
    let row = r#"{"instances":[{"age":0,"sex":0,"bmi":0,"bp":0,"s1":0,"s2":0,"s3":0,"s4":0,"s5":0,"s6":0}]}"#;
    let (status, body, _) = post(
        &format!("{}/v1/models/diabetes:predict", s.gateway),
        None,
        Some(&diabetes_key),
        row,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("failed"), "{body}");
    assert!(s.stop().await.success());
}

#[tokio::test]
async fn service_settings_out_of_range_are_refused_naming_field_and_range() {
    let dir = DataDir::new();
    dir.import(repo_path("assets/iris/iris.pmml").to_str().unwrap(), "iris")
        .await;
    let s = Server::start(&dir).await;
    for (field, value, range) in [
        ("timeout_ms", "18446744073709551615", "from 1 to 3600000"),
        ("threads", "1000000000", "from 1 to 256"),
        ("concurrency", "99999999999999999999", "from 1 to 100000"),
        ("max_batch_rows", "0", "from 1 to 1000000"),
        ("concurrency", "-3", "from 1 to 100000"),
        ("threads", "2.5", "from 1 to 256"),
        ("threads", "\"5\"", "from 1 to 256"),
        ("concurrency", "true", "from 1 to 100000"),
        ("timeout_ms", "[]", "from 1 to 3600000"),
    ] {
        // Raw JSON, so the number arrives exactly as typed.
        let body = format!(r#"{{"name":"x","model":"iris","{field}":{value}}}"#);
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/services", s.control))
            .bearer_auth(&s.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{field}={value}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_setting", "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with(field) && msg.contains(range), "{msg}");
    }
    assert_eq!(s.get("services").await["services"], json!([]));
    // The CLI reports a bad flag as it reports any error: as JSON with --json.
    let out = dir
        .run(&[
            "services",
            "deploy",
            "x",
            "--model",
            "iris",
            "--threads",
            "abc",
            "--json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(err["error"]["code"], "invalid_setting", "{err}");
    assert!(s.stop().await.success());
}

#[tokio::test]
async fn free_text_with_control_characters_is_refused() {
    let dir = DataDir::new();
    let s = Server::start(&dir).await;
    let iris = std::fs::read(repo_path("assets/iris/iris.pmml")).unwrap();
    let long = format!("filename={}.pmml", "a".repeat(300));
    for query in [
        "filename=%1b%5b31mRED%1b%5b0m%0aFAKE.pmml",
        "filename=a%00b.pmml",
        "filename=x%0a2026-12-01%20INFO%20stopped",
        &long,
    ] {
        let resp = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/models/esc/versions?wait=true&{query}",
                s.control
            ))
            .bearer_auth(&s.token)
            .body(iris.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{query}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_text", "{v}");
    }
    let path = repo_path("assets/iris/iris.pmml").display().to_string();
    let out = dir
        .run(&[
            "models",
            "import",
            &path,
            "--name",
            "esc",
            "--description",
            "line\n\u{1b}[2J",
        ])
        .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("control characters"),
        "{}",
        stderr(&out)
    );
    assert_eq!(dir.json(&["models", "list", "--json"]).await, json!([]));
    assert!(s.stop().await.success());
}

#[tokio::test]
async fn usage_errors_and_logs_suit_scripts() {
    let dir = DataDir::new();
    // A mistake on the command line is JSON with --json, like any other error.
    let out = dir.run(&["models", "list", "--bogus", "--json"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(err["error"]["code"], "usage", "{err}");
    // A server logging to a pipe writes no colour codes.
    let child = Server::unlogged(&dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let info = dir.path.join("server.json");
    for _ in 0..200 {
        if info.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("serving"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log: {log:?}"
    );
}
