//! Monitoring against a real server: exact counts under concurrent load, percentiles of a known
//! latency mix, the output distribution, history across a restart, Prometheus text through a
//! real parser, threshold crossings as events, and the CLI and API refusing bad questions.

use std::time::Duration;

use serde_json::{Value, json};

use crate::clients::python;
use crate::common::{DataDir, stderr, stdout};
use crate::server::{Server, post, serving, wait_ready};

const SETOSA: &str = r#"{"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#;
const VIRGINICA: &str = r#"{"sepal_width":3.0,"petal_length":6.0,"petal_width":2.2}"#;

/// The service's history over the last 15 minutes, once `done` says it has caught up (the
/// ticker folds counts in once a second).
async fn history_when(s: &Server, service: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = s
            .get(&format!("monitor?service={service}&window=15m"))
            .await;
        if done(&last["history"]) {
            return last["history"].clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the monitor never caught up: {last}");
}

/// `PUT services/iris/thresholds` with the admin token: status and answer.
async fn put_thresholds(s: &Server, body: Option<Value>) -> (u16, Value) {
    s.api(
        reqwest::Method::PUT,
        "services/iris/thresholds",
        Some(&s.token),
        body,
    )
    .await
}

async fn send(gateway: &str, model: &str, key: &str, body: &str, source: Option<&str>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("{gateway}/v1/models/{model}:predict"))
        .header("Authorization", key)
        .body(body.to_string());
    if let Some(s) = source {
        req = req.header("X-Modeldeck-Source", s);
    }
    req.send().await.expect("gateway answers").status().as_u16()
}

#[tokio::test]
async fn counting_under_concurrent_load_is_exact_by_outcome_and_source() {
    let dir = DataDir::new();
    let (s, key) = serving(&dir, "assets/iris/iris.pmml", "iris").await;
    // Eight clients at once: 400 good requests, 48 the model refuses (400), 40 with a wrong
    // key (401, counted for the service), and 24 tagged as console tests.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (g, k) = (s.gateway.clone(), key.clone());
            tokio::spawn(async move {
                let good = format!(r#"{{"instances":[{SETOSA}]}}"#);
                let mut statuses = Vec::new();
                for _ in 0..50 {
                    statuses.push(send(&g, "iris", &k, &good, None).await);
                }
                for _ in 0..6 {
                    statuses.push(send(&g, "iris", &k, r#"{"instances":[{"x":1}]}"#, None).await);
                }
                for _ in 0..5 {
                    statuses.push(send(&g, "iris", "not-the-key", &good, None).await);
                }
                for _ in 0..3 {
                    statuses.push(send(&g, "iris", &k, &good, Some("test")).await);
                }
                statuses
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.extend(t.await.unwrap());
    }
    let count = |code| statuses.iter().filter(|s| **s == code).count() as u64;
    assert_eq!((count(200), count(400), count(401)), (424, 48, 40));

    let h = history_when(&s, "iris", |h| {
        h["total"]["requests"] == json!(448) && h["total"]["tagged"] == json!(24)
    })
    .await;
    let total = &h["total"];
    assert_eq!(total["outcomes"]["2xx"], json!(400), "{total}");
    assert_eq!(total["outcomes"]["4xx"], json!(48));
    assert_eq!(total["outcomes"]["unauthorised"], json!(40));
    assert_eq!(total["errors"], json!(48));
    let v1 = &h["versions"][0];
    assert_eq!(
        (v1["version"].clone(), v1["figures"]["requests"].clone()),
        (json!(1), json!(448))
    );
    // What the model answered: 400 setosa (the refused records answered nothing).
    assert_eq!(v1["outputs"]["classes"], json!({"setosa": 400}));
    // The live samples add up to the same.
    let view = s.get("monitor?since=0").await;
    let samples = view["services"][0]["samples"].as_array().unwrap();
    let requests: u64 = samples.iter().map(|x| x[1].as_u64().unwrap()).sum();
    let tagged: u64 = samples.iter().map(|x| x[3].as_u64().unwrap()).sum();
    assert_eq!((requests, tagged), (448, 24));
    s.stop().await;
}

#[tokio::test]
async fn percentiles_of_a_known_latency_mix_are_within_the_buckets_precision() {
    let dir = DataDir::new();
    let key = crate::limits::deploy_test_model(&dir, "mix", "sleep-input", &[]).await;
    let s = Server::start(&dir).await;
    wait_ready(&s.gateway, "mix", &key).await;
    // 90 requests that take 5 ms and 10 that take 100 ms (the model sleeps the first input).
    let body = |ms: u32| {
        format!(r#"{{"instances":[{{"sepal_width":{ms},"petal_length":1.4,"petal_width":0.2}}]}}"#)
    };
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (g, k, slow, fast) = (s.gateway.clone(), key.clone(), body(100), body(5));
            tokio::spawn(async move {
                for i in 0..10 {
                    let b = if i == 9 { &slow } else { &fast };
                    assert_eq!(send(&g, "mix", &k, b, None).await, 200);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let h = history_when(&s, "mix", |h| h["total"]["requests"] == json!(100)).await;
    let ms = |q: &str| h["total"][q].as_f64().unwrap();
    // The server's time includes a little more than the sleep; the bucket adds at most 3.2%.
    let (p50, p95, p99) = (ms("p50_ms"), ms("p95_ms"), ms("p99_ms"));
    assert!(
        (5.0 * 0.968..=5.0 * 1.035 + 3.0).contains(&p50),
        "p50 {p50}"
    );
    assert!(
        (100.0 * 0.968..=100.0 * 1.035 + 10.0).contains(&p95),
        "p95 {p95}"
    );
    assert!(
        (100.0 * 0.968..=100.0 * 1.035 + 10.0).contains(&p99),
        "p99 {p99}"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_output_distribution_matches_what_the_model_answered() {
    let dir = DataDir::new();
    let (s, key) = serving(&dir, "assets/iris/iris.pmml", "iris").await;
    // Batches: 3×10 setosa, 2×10 virginica, one mixed batch of 5 and 5.
    let batch = |row: &str, n: usize| format!(r#"{{"instances":[{}]}}"#, vec![row; n].join(","));
    for _ in 0..3 {
        assert_eq!(
            send(&s.gateway, "iris", &key, &batch(SETOSA, 10), None).await,
            200
        );
    }
    for _ in 0..2 {
        assert_eq!(
            send(&s.gateway, "iris", &key, &batch(VIRGINICA, 10), None).await,
            200
        );
    }
    let mixed = format!(
        r#"{{"instances":[{},{}]}}"#,
        [SETOSA; 5].join(","),
        [VIRGINICA; 5].join(",")
    );
    assert_eq!(send(&s.gateway, "iris", &key, &mixed, None).await, 200);
    // Batch traffic is not the client's answer distribution.
    assert_eq!(
        send(
            &s.gateway,
            "iris",
            &key,
            &batch(VIRGINICA, 7),
            Some("batch")
        )
        .await,
        200
    );
    let h = history_when(&s, "iris", |h| h["total"]["tagged"] == json!(1)).await;
    let v1 = &h["versions"][0];
    assert_eq!(
        v1["outputs"]["classes"],
        json!({"setosa": 35, "virginica": 25})
    );
    assert!(v1["figures"]["rows_per_s"].as_f64().unwrap() > 0.0);
    let shares = &v1["output_points"][0]["shares"];
    assert_eq!(shares[0][0], json!("setosa"), "{shares}");
    s.stop().await;

    // A regressor: mean and spread of what it answered.
    let dir = DataDir::new();
    let (s, key) = serving(&dir, "assets/diabetes/diabetes.pmml", "diabetes").await;
    let text =
        std::fs::read_to_string(crate::common::repo_path("assets/diabetes/diabetes.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let instances: Vec<Value> = lines
        .take(40)
        .map(|l| {
            let mut o = serde_json::Map::new();
            for (k, v) in header.iter().zip(l.split(',')) {
                if let Ok(n) = v.parse::<f64>() {
                    o.insert(k.to_string(), json!(n));
                }
            }
            Value::Object(o)
        })
        .collect();
    let (status, answer, _) = post(
        &format!("{}/v1/models/diabetes:predict", s.gateway),
        None,
        Some(&key),
        &json!({ "instances": instances }).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let predicted: Vec<f64> = answer["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p.as_f64()
                .or_else(|| p.as_object().and_then(|o| o.values().next()?.as_f64()))
                .unwrap()
        })
        .collect();
    let n = predicted.len() as f64;
    let mean = predicted.iter().sum::<f64>() / n;
    let h = history_when(&s, "diabetes", |h| h["total"]["requests"] == json!(1)).await;
    let o = &h["versions"][0]["outputs"];
    assert_eq!(o["values"], json!(40));
    assert!(
        (o["sum"].as_f64().unwrap() / 40.0 - mean).abs() < 1e-9,
        "{o} vs {mean}"
    );
    s.stop().await;
}

#[tokio::test]
async fn history_survives_a_restart_and_reads_without_a_server() {
    let dir = DataDir::new();
    let (s, key) = serving(&dir, "assets/iris/iris.pmml", "iris").await;
    let good = format!(r#"{{"instances":[{SETOSA}]}}"#);
    for _ in 0..50 {
        assert_eq!(send(&s.gateway, "iris", &key, &good, None).await, 200);
    }
    history_when(&s, "iris", |h| h["total"]["requests"] == json!(50)).await;
    // A stop flushes the partial minute; the next server adds to it.
    assert!(s.stop().await.success());
    let s = Server::start(&dir).await;
    wait_ready(&s.gateway, "iris", &key).await;
    for _ in 0..30 {
        assert_eq!(send(&s.gateway, "iris", &key, &good, None).await, 200);
    }
    let h = history_when(&s, "iris", |h| h["total"]["requests"] == json!(80)).await;
    assert_eq!(h["versions"][0]["outputs"]["classes"]["setosa"], json!(80));
    // The chart of the last 15 minutes reaches back before the restart: it is drawn from the
    // minute rows, so its points hold both sides too, not just what the new ticker saw.
    let points = h["versions"][0]["points"].as_array().unwrap();
    let charted: u64 = points.iter().map(|p| p[1].as_u64().unwrap()).sum();
    assert_eq!(charted, 80, "{points:?}");
    assert!(s.stop().await.success());
    // No server: the CLI reads the store.
    let v = dir
        .json(&["monitor", "iris", "--since", "1h", "--json"])
        .await;
    assert_eq!(v["total"]["requests"], json!(80), "{v}");
    let text = dir.ok(&["monitor", "iris", "--since", "1h"]).await;
    assert!(
        text.contains("v1 (iris)") && text.contains("setosa 100%"),
        "{text}"
    );
    // A deleted service's history stays readable.
    dir.ok(&["services", "rm", "iris"]).await;
    let v = dir
        .json(&["monitor", "iris", "--since", "1h", "--json"])
        .await;
    assert_eq!(v["total"]["requests"], json!(80));
}

#[tokio::test]
async fn prometheus_text_parses_with_a_real_parser() {
    let Some(python) = python() else { return };
    let dir = DataDir::new();
    let (s, key) = serving(&dir, "assets/iris/iris.pmml", "iris").await;
    let good = format!(r#"{{"instances":[{SETOSA},{VIRGINICA}]}}"#);
    for _ in 0..12 {
        assert_eq!(send(&s.gateway, "iris", &key, &good, None).await, 200);
    }
    assert_eq!(send(&s.gateway, "iris", "wrong", &good, None).await, 401);
    // A viewer token is enough, as Prometheus sends it from bearer_token_file.
    let viewer = dir
        .json(&[
            "tokens",
            "create",
            "prometheus",
            "--scope",
            "viewer",
            "--json",
        ])
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let client = reqwest::Client::new();
    let none = client
        .get(format!("{}/metrics", s.control))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status().as_u16(), 401);
    let resp = client
        .get(format!("{}/metrics", s.control))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = resp.text().await.unwrap();
    let file = dir.scratch.join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    // The real parser reads every family; the figures it reads are what was sent.
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        key = s.name + json.dumps(s.labels, sort_keys=True, separators=(",", ":"))
        out[key] = s.value
    out["type:" + f.name] = f.type
print(json.dumps(out))
"#;
    let run = tokio::process::Command::new(&python)
        .args(["-c", script, file.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(
        run.status.success(),
        "the parser refused the text: {}\n{text}",
        stderr(&run)
    );
    let parsed: Value = serde_json::from_str(&stdout(&run)).unwrap();
    let at = |name: &str, labels: Value| {
        let key = format!("{name}{labels}");
        parsed[&key]
            .as_f64()
            .unwrap_or_else(|| panic!("no {key} in {parsed}"))
    };
    let base = json!({"code": "2xx", "model": "iris", "service": "iris", "source": "client", "version": "1"});
    assert_eq!(at("modeldeck_requests_total", base), 12.0);
    let labels = json!({"model": "iris", "service": "iris", "source": "client", "version": "1"});
    assert_eq!(at("modeldeck_rows_total", labels.clone()), 24.0);
    assert_eq!(
        at("modeldeck_request_duration_seconds_count", labels.clone()),
        12.0
    );
    let mut inf = labels.clone();
    inf["le"] = json!("+Inf");
    assert_eq!(at("modeldeck_request_duration_seconds_bucket", inf), 12.0);
    assert_eq!(
        at(
            "modeldeck_unauthorised_requests_total",
            json!({"service": "iris"})
        ),
        1.0
    );
    let mut class = json!({"model": "iris", "service": "iris", "version": "1"});
    class["class"] = json!("virginica");
    assert_eq!(at("modeldeck_output_class_total", class), 12.0);
    assert_eq!(
        parsed["type:modeldeck_request_duration_seconds"],
        json!("histogram")
    );
    assert_eq!(parsed["type:process_resident_memory_bytes"], json!("gauge"));
    assert_eq!(
        at(
            "modeldeck_build_info",
            json!({"version": env!("CARGO_PKG_VERSION")})
        ),
        1.0
    );
    s.stop().await;
}

#[tokio::test]
async fn a_threshold_crossing_becomes_an_event_and_a_level() {
    let dir = DataDir::new();
    let key = crate::limits::deploy_test_model(&dir, "slow", "sleep 20", &[]).await;
    // p99 over 2 ms is critical for this service; the server's levels stay as they are.
    let set = dir
        .json(&[
            "services",
            "thresholds",
            "slow",
            "--p99-ms",
            "1,2",
            "--json",
        ])
        .await;
    assert_eq!(set["own"], json!(true));
    assert_eq!(
        set["thresholds"]["p99_ms"],
        json!({"warn": 1.0, "critical": 2.0})
    );
    let s = Server::start(&dir).await;
    wait_ready(&s.gateway, "slow", &key).await;
    let body = crate::limits::ROW;
    let mut crossed = None;
    for _ in 0..60 {
        assert_eq!(send(&s.gateway, "slow", &key, body, None).await, 200);
        let events = s.get("events?since=0").await;
        crossed = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == json!("threshold.crossed") && e["subject"] == json!("slow"))
            .cloned();
        if crossed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let e = crossed.expect("a threshold.crossed event");
    assert_eq!(e["actor"], json!("monitor"));
    assert_eq!(e["detail"]["to"], json!("critical"));
    assert!(
        e["detail"]["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("p99 "),
        "{e}"
    );
    let view = s.get("monitor?since=0").await;
    assert_eq!(view["services"][0]["level"], json!("critical"), "{view}");
    // Killed while critical: the next server starts at ok and the audit log closes the level.
    s.kill_9().await;
    let s = Server::start(&dir).await;
    let mut cleared = None;
    for _ in 0..50 {
        let events = s.get("events?since=0").await;
        cleared = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == json!("threshold.cleared"))
            .cloned();
        if cleared.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let e = cleared.expect("a threshold.cleared event after the restart");
    assert_eq!(
        (&e["subject"], &e["detail"]["from"], &e["detail"]["to"]),
        (&json!("slow"), &json!("critical"), &json!("ok")),
        "{e}"
    );
    assert!(
        e["detail"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("restarted"),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_questions_are_refused_with_what_to_write() {
    let dir = DataDir::new();
    let (s, _key) = serving(&dir, "assets/iris/iris.pmml", "iris").await;
    for (query, field) in [
        ("service=iris&window=1y", "window"),
        ("service=iris&window=0s", "window"),
        ("service=iris&from=yesterday", "from"),
        ("service=iris&from=200&to=100", "from"),
        ("service=iris&to=100", "to"),
        ("since=-1", "since"),
        ("service=iris&points=0", "points"),
        ("service=iris&points=999999", "points"),
        ("since=abc", "since"),
        ("version=1", "version"),
        ("service=iris&version=9", "version"),
    ] {
        let (status, v) = s
            .api(
                reqwest::Method::GET,
                &format!("monitor?{query}"),
                Some(&s.token),
                None,
            )
            .await;
        assert_eq!(status, 400, "{query}: {v}");
        assert_eq!(v["error"]["field"], json!(field), "{query}: {v}");
    }
    let (status, v) = s
        .api(
            reqwest::Method::GET,
            "monitor?service=..%2Fx",
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, _) = s
        .api(
            reqwest::Method::GET,
            "monitor?service=nosuch",
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // The service's own levels, which the refusals below must leave as they are.
    let own = json!({"thresholds": {"p99_ms": {"warn": 100, "critical": 200}}});
    let (status, v) = put_thresholds(&s, Some(own)).await;
    assert_eq!(status, 200, "{v}");
    // Levels out of order, past 100%, unknown fields, an empty body and a viewer are
    // refused; nothing changes.
    let bad = json!({"thresholds": {"p99_ms": {"warn": 500, "critical": 100}}});
    let (status, v) = put_thresholds(&s, Some(bad)).await;
    assert_eq!(
        (status, v["error"]["field"].clone()),
        (400, json!("thresholds")),
        "{v}"
    );
    let bad = json!({"thresholds": {"p99": {"warn": 1, "critical": 2}}});
    let (status, _) = put_thresholds(&s, Some(bad)).await;
    assert_eq!(status, 400);
    let bad = json!({"thresholds": {"error_pct": {"warn": 50, "critical": 150}}});
    let (status, v) = put_thresholds(&s, Some(bad)).await;
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(status == 400 && message.contains("up to 100"), "{v}");
    let (status, v) = put_thresholds(&s, Some(json!({}))).await;
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        status == 400 && message.contains("thresholds") && !message.contains("ThresholdsCall"),
        "{v}"
    );
    let viewer = dir
        .json(&["tokens", "create", "eyes", "--scope", "viewer", "--json"])
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = s
        .api(
            reqwest::Method::PUT,
            "services/iris/thresholds",
            Some(&viewer),
            Some(json!({"thresholds": null})),
        )
        .await;
    assert_eq!(status, 403);
    let shown = dir
        .json(&["services", "thresholds", "iris", "--json"])
        .await;
    assert_eq!(
        (&shown["own"], &shown["thresholds"]["p99_ms"]["warn"]),
        (&json!(true), &json!(100.0)),
        "{shown}"
    );
    // The CLI says what to write.
    let out = dir.run(&["monitor", "iris", "--since", "1y"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("15m"), "{}", stderr(&out));
    let out = dir
        .run(&["services", "thresholds", "iris", "--p99-ms", "fast"])
        .await;
    assert!(stderr(&out).contains("like 1,5"), "{}", stderr(&out));
    // Levels past 100 are fine for a latency, refused for a percent, by the server.
    let set = dir
        .ok(&["services", "thresholds", "iris", "--p99-ms", "50,200"])
        .await;
    assert!(set.contains("p99 50/200 ms"), "{set}");
    let out = dir
        .run(&["services", "thresholds", "iris", "--error-pct", "1,150"])
        .await;
    assert!(
        stderr(&out).contains("error_pct: 150 is past 100"),
        "{}",
        stderr(&out)
    );
    s.stop().await;
}

/// A service deleted and deployed again under the same name, faster than the monitor's
/// one-second tick, still counts every request each incarnation answered or refused.
#[tokio::test]
async fn churned_services_count_every_request() {
    use reqwest::Method;
    let dir = DataDir::new();
    let (s, key) = serving(&dir, "assets/iris/iris.pmml", "iris").await;
    let good = format!(r#"{{"instances":[{SETOSA}]}}"#);
    let mut key = key;
    for round in 0..6 {
        for _ in 0..20 {
            assert_eq!(send(&s.gateway, "iris", &key, &good, None).await, 200);
        }
        for _ in 0..2 {
            assert_eq!(send(&s.gateway, "iris", "wrong", &good, None).await, 401);
        }
        let (status, v) = s
            .api(Method::DELETE, "services/iris", Some(&s.token), None)
            .await;
        assert_eq!(status, 200, "round {round}: {v}");
        let deploy = json!({"name": "iris", "model": "iris"});
        let (status, v) = s
            .api(Method::POST, "services", Some(&s.token), Some(deploy))
            .await;
        assert!(status < 300, "round {round}: {v}");
        key = v["key"].as_str().expect("a new key").to_string();
        wait_ready(&s.gateway, "iris", &key).await;
    }
    let h = history_when(&s, "iris", |h| {
        let outcomes = &h["total"]["outcomes"];
        outcomes["2xx"].as_u64() >= Some(120) && outcomes["unauthorised"].as_u64() >= Some(12)
    })
    .await;
    let total = &h["total"];
    assert_eq!(
        (
            &total["outcomes"]["2xx"],
            &total["outcomes"]["unauthorised"]
        ),
        (&json!(120), &json!(12)),
        "{h}"
    );
    assert_eq!(h["versions"][0]["outputs"]["classes"]["setosa"], json!(120));
    s.stop().await;
}
