//! Concurrent control changes against a running server: whatever order they finish in, the
//! gateway ends up serving exactly what the store holds, and every change it acknowledged.
#![cfg(feature = "test-runtimes")]

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{DataDir, repo_path};
use crate::server::{Server, post};

const ROW: &str = r#"{"instances":[{"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#;

/// A prediction addressed by Host, as a client of that service sends it.
async fn call(s: &Server, service: &str, key: &str) -> u16 {
    let url = format!("{}/v1/models/{service}:predict", s.gateway);
    let host = format!("{service}.modeldeck.local");
    post(&url, Some(&host), Some(key), ROW).await.0
}

#[tokio::test]
async fn concurrent_rotations_deploys_and_deletes_leave_the_gateway_in_step() {
    let dir = DataDir::new();
    dir.import(repo_path("assets/iris/iris.pmml").to_str().unwrap(), "iris")
        .await;
    let stable: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
    for name in &stable {
        dir.ok(&["services", "deploy", name, "--model", "iris"])
            .await;
    }
    // Each change waits up to 5 ms between reading the store and publishing (test builds), so
    // changes publish out of the order they read in, every run.
    let s = Server::start_env(&dir, &[("MODELDECK_TEST_PUBLISH_DELAY_MS", "5")]).await;
    let api = |method: Method, path: String, body: Option<Value>| {
        let (control, token) = (s.control.clone(), s.token.clone());
        async move {
            let mut req = reqwest::Client::new()
                .request(method, format!("{control}/api/v1/{path}"))
                .bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.expect("control API answers");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Keys every rotation handed out, per service, in the order the calls answered.
    let mut handed_out: Vec<Vec<String>> = vec![Vec::new(); stable.len()];
    for round in 0..100 {
        let mut calls = Vec::new();
        for name in &stable {
            calls.push(tokio::spawn(api(
                Method::POST,
                format!("services/{name}/rotate-key"),
                None,
            )));
        }
        calls.push(tokio::spawn(api(
            Method::POST,
            "services".into(),
            Some(json!({"name": format!("t{round}"), "model": "iris"})),
        )));
        if round > 0 {
            calls.push(tokio::spawn(api(
                Method::DELETE,
                format!("services/t{}", round - 1),
                None,
            )));
        }
        let mut deployed_key = String::new();
        for (i, c) in calls.into_iter().enumerate() {
            let (status, v) = c.await.unwrap();
            assert!(status < 300, "round {round}, call {i}: {status} {v}");
            if i < stable.len() {
                handed_out[i].push(v["key"].as_str().unwrap().to_string());
            } else if i == stable.len() {
                deployed_key = v["key"].as_str().unwrap().to_string();
            }
        }
        // Every change of the round was acknowledged, so the gateway serves all of them.
        for (name, keys) in stable.iter().zip(&handed_out) {
            let newest = &keys[keys.len() - 1];
            assert_eq!(
                call(&s, name, newest).await,
                200,
                "round {round}: {name}'s new key"
            );
            if keys.len() > 1 {
                let old = &keys[keys.len() - 2];
                assert_eq!(
                    call(&s, name, old).await,
                    401,
                    "round {round}: {name}'s old key"
                );
            }
        }
        let fresh = format!("t{round}");
        assert_eq!(
            call(&s, &fresh, &deployed_key).await,
            200,
            "round {round}: {fresh}"
        );
        if round > 0 {
            let gone = format!("t{}", round - 1);
            assert_eq!(call(&s, &gone, "any").await, 404, "round {round}: {gone}");
        }
    }
    // Every live service answers with exactly its stored key, and with no other.
    let live = s.get("services").await;
    let live: Vec<String> = live["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(live.len(), stable.len() + 1, "{live:?}");
    for name in &live {
        let shown = s.get(&format!("services/{name}?show_key=true")).await;
        let key = shown["key"].as_str().unwrap();
        assert_eq!(
            call(&s, name, key).await,
            200,
            "{name} refuses its stored key"
        );
    }
    for (name, keys) in stable.iter().zip(&handed_out) {
        for old in &keys[..keys.len() - 1] {
            assert_eq!(
                call(&s, name, old).await,
                401,
                "{name} still takes a rotated-out key"
            );
        }
    }
    // Nothing deleted answers.
    for round in 0..99 {
        let name = format!("t{round}");
        let status = call(&s, &name, "any").await;
        assert_eq!(status, 404, "{name} was deleted but answers {status}");
    }
    assert!(s.stop().await.success());
}
