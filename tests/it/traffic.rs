//! Traffic between versions against a real server: splits land within a hair of their weights
//! (also with another service called in between), 0% gets nothing, stickiness holds, a hundred
//! swaps under load fail no request and never reach a version a split in force left at 0%,
//! rollbacks step back, a stale revision is refused, labels address versions, and a split
//! survives `kill -9`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{DataDir, repo_path, stderr};
use crate::server::{Server, serving, wait_ready};

const BODY: &str = r#"{"instances":[{"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#;

/// A server with service `iris` holding versions 1, 2 and 3 (one model imported three times),
/// v1 at 100%; the server and the key.
async fn three_versions(dir: &DataDir) -> (Server, String) {
    let (s, key) = serving(dir, "assets/iris/iris.pmml", "iris").await;
    let path = repo_path("assets/iris/iris.pmml");
    for _ in 0..2 {
        dir.import(path.to_str().unwrap(), "iris").await;
    }
    for v in [2, 3] {
        let view = change(&s, json!({"op": "add_version", "version": v})).await;
        assert_eq!(view["split"][v.to_string()], json!(0), "{view}");
    }
    (s, key)
}

/// `POST services/iris/traffic`; the answer, which must be a success.
async fn change(s: &Server, call: Value) -> Value {
    let (status, v) = s
        .api(
            Method::POST,
            "services/iris/traffic",
            Some(&s.token),
            Some(call.clone()),
        )
        .await;
    assert_eq!(status, 200, "{call}: {v}");
    v
}

/// One prediction on a reused client: its status and the version that answered.
async fn predict(
    client: &reqwest::Client,
    gateway: &str,
    service: &str,
    key: &str,
    extra: Option<(&str, &str)>,
) -> (u16, Option<u32>) {
    let mut req = client
        .post(format!("{gateway}/v1/models/{service}:predict"))
        .header("Authorization", key)
        .body(BODY);
    if let Some((name, value)) = extra {
        req = req.header(name, value);
    }
    let r = req.send().await.expect("gateway answers");
    let version = r
        .headers()
        .get("x-modeldeck-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    (status, version)
}

#[tokio::test]
async fn a_split_lands_on_its_weights_and_zero_gets_nothing() {
    let dir = DataDir::new();
    let (s, key) = three_versions(&dir).await;
    // A second service, called in alternation: it must not skew iris's split.
    let other = dir
        .json(&["services", "deploy", "other", "--model", "iris:1", "--json"])
        .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    wait_ready(&s.gateway, "other", &other).await;
    change(
        &s,
        json!({"op": "split", "weights": {"1": 70, "2": 30, "3": 0}}),
    )
    .await;
    let client = reqwest::Client::new();
    let mut counts: BTreeMap<u32, u32> = BTreeMap::new();
    for i in 0..10_000 {
        let (status, version) = predict(&client, &s.gateway, "iris", &key, None).await;
        assert_eq!(status, 200);
        *counts
            .entry(version.expect("X-Modeldeck-Version"))
            .or_default() += 1;
        if i % 3 == 0 {
            assert_eq!(
                predict(&client, &s.gateway, "other", &other, None).await.0,
                200
            );
        }
    }
    let share = |v| f64::from(counts.get(&v).copied().unwrap_or(0)) / 100.0;
    assert!(
        (share(1) - 70.0).abs() <= 2.0 && (share(2) - 30.0).abs() <= 2.0,
        "{counts:?}"
    );
    assert_eq!(counts.get(&3), None, "a 0% version got traffic: {counts:?}");
    // Sticky on a header: each caller stays on one version, and callers still split.
    change(&s, json!({"op": "sticky", "header": "X-User-Id"})).await;
    let mut by_user: BTreeMap<u32, std::collections::BTreeSet<u32>> = BTreeMap::new();
    for round in 0..5 {
        for user in 0..200u32 {
            let id = format!("user-{user}");
            let (status, version) =
                predict(&client, &s.gateway, "iris", &key, Some(("X-User-Id", &id))).await;
            assert_eq!(status, 200, "round {round}");
            by_user.entry(user).or_default().insert(version.unwrap());
        }
    }
    assert!(
        by_user.values().all(|v| v.len() == 1),
        "a caller moved: {by_user:?}"
    );
    let on_two = by_user.values().filter(|v| v.contains(&2)).count();
    assert!((30..=90).contains(&on_two), "{on_two} of 200 callers on v2");
    s.stop().await;
}

/// For 30 s of load the split changes 100 times: no request fails, and every answer comes from
/// a version with weight > 0 in a split in force at some moment of that request.
#[tokio::test]
async fn a_hundred_swaps_under_load_fail_nothing() {
    let dir = DataDir::new();
    let (s, key) = three_versions(&dir).await;
    let splits = [
        json!({"1": 100, "2": 0, "3": 0}),
        json!({"1": 0, "2": 50, "3": 50}),
        json!({"1": 0, "2": 0, "3": 100}),
        json!({"1": 20, "2": 80, "3": 0}),
    ];
    let start = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (g, k, done) = (s.gateway.clone(), key.clone(), done.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut seen = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let from = start.elapsed();
                    let (status, version) = predict(&client, &g, "iris", &k, None).await;
                    seen.push((from, start.elapsed(), status, version));
                }
                seen
            })
        })
        .collect();
    // (in force from, applied by, weights): a split is in force from the moment its apply is
    // sent until the next one is acknowledged.
    let mut applied: Vec<(Duration, Duration, Value)> = vec![(
        Duration::ZERO,
        Duration::ZERO,
        json!({"1": 100, "2": 0, "3": 0}),
    )];
    for i in 0..100 {
        let weights = splits[(i + 1) % splits.len()].clone();
        let sent = start.elapsed();
        change(&s, json!({"op": "split", "weights": weights})).await;
        applied.push((sent, start.elapsed(), weights));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut requests = 0;
    for task in load {
        for (from, to, status, version) in task.await.unwrap() {
            requests += 1;
            assert_eq!(status, 200, "a request failed during the swaps");
            let v = version.expect("X-Modeldeck-Version").to_string();
            // Splits in force at some moment of [from, to]: each from its send to the next
            // one's acknowledgement.
            let fits = applied.iter().enumerate().any(|(i, (sent, _, weights))| {
                let until = applied.get(i + 1).map_or(Duration::MAX, |next| next.1);
                *sent <= to && from <= until && weights[&v].as_u64() > Some(0)
            });
            assert!(
                fits,
                "v{v} answered at {from:?}..{to:?}, where no split gave it traffic"
            );
        }
    }
    assert!(requests > 1000, "only {requests} requests in the load");
    s.stop().await;
}

#[tokio::test]
async fn rollbacks_step_back_and_a_stale_revision_is_refused() {
    let dir = DataDir::new();
    let (s, key) = three_versions(&dir).await;
    let v = change(
        &s,
        json!({"op": "split", "weights": {"1": 90, "2": 10, "3": 0}, "reason": "canary v2"}),
    )
    .await;
    let read_at = v["revision"].as_i64().unwrap();
    change(&s, json!({"op": "upgrade", "to": 3, "percent": 50})).await;
    // Someone edits from the revision before the upgrade: refused, naming who changed it.
    let (status, err) = s
        .api(
            Method::POST,
            "services/iris/traffic",
            Some(&s.token),
            Some(
                json!({"op": "split", "weights": {"1": 0, "2": 100, "3": 0}, "revision": read_at}),
            ),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("stale_revision")),
        "{err}"
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("last by"),
        "{err}"
    );
    // Rollback: before the upgrade, then before the canary, then nothing further back.
    let back = change(&s, json!({"op": "rollback"})).await;
    assert_eq!(back["split"], json!({"1": 90, "2": 10, "3": 0}), "{back}");
    let back = change(&s, json!({"op": "rollback"})).await;
    assert_eq!(back["split"], json!({"1": 100, "2": 0, "3": 0}), "{back}");
    let (status, err) = s
        .api(
            Method::POST,
            "services/iris/traffic",
            Some(&s.token),
            Some(json!({"op": "rollback"})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("nothing_to_roll_back"))
    );
    // The history says who, what and why, in order.
    let history = dir.json(&["services", "history", "iris", "--json"]).await;
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["add", "add", "split", "upgrade", "rollback", "rollback"]
    );
    assert_eq!(history[2]["reason"], json!("canary v2"));
    // Bad splits are refused with the reason, and nothing changes.
    for (weights, says) in [
        (json!({"1": 70, "2": 20, "3": 0}), "sum to 90"),
        (json!({"1": 100, "2": 0}), "version 3 is missing"),
        (
            json!({"1": -10, "2": 110, "3": 0}),
            "whole percent from 0 to 100",
        ),
        (
            json!({"1": "70", "2": 30, "3": 0}),
            "whole percent from 0 to 100",
        ),
        (json!({"1": 50, "2": 50, "3": 0, "4": 0}), "no version 4"),
    ] {
        let (status, err) = s
            .api(
                Method::POST,
                "services/iris/traffic",
                Some(&s.token),
                Some(json!({"op": "split", "weights": weights})),
            )
            .await;
        assert_eq!(status, 400, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(says),
            "{err}"
        );
    }
    let out = dir.run(&["services", "remove-version", "iris", "1"]).await;
    assert!(stderr(&out).contains("has 100%"), "{}", stderr(&out));
    // The split in force again: nothing moves, so nothing is recorded.
    let before = s.get("services/iris/traffic").await["revision"].clone();
    let again = change(
        &s,
        json!({"op": "split", "weights": {"1": 100, "2": 0, "3": 0}}),
    )
    .await;
    assert_eq!(again["revision"], before);
    // The CLI checks a split before it sends the sticky header: a bad split changes neither.
    let out = dir
        .run(&[
            "services",
            "traffic",
            "iris",
            "1=50",
            "2=60",
            "3=0",
            "--sticky-header",
            "X-A",
        ])
        .await;
    assert!(stderr(&out).contains("sum to 110"), "{}", stderr(&out));
    let view = s.get("services/iris/traffic").await;
    assert_eq!(view.get("sticky_header"), None, "{view}");
    // A version at 0% goes; the split keeps the others.
    let v = change(&s, json!({"op": "remove_version", "version": 3})).await;
    assert_eq!(v["split"], json!({"1": 100, "2": 0}));
    let client = reqwest::Client::new();
    assert_eq!(
        predict(&client, &s.gateway, "iris", &key, None).await,
        (200, Some(1))
    );
    s.stop().await;
}

#[tokio::test]
async fn labels_address_versions_and_a_split_survives_kill_9() {
    let dir = DataDir::new();
    let (s, key) = three_versions(&dir).await;
    change(
        &s,
        json!({"op": "labels", "labels": {"stable": 1, "canary": 3}}),
    )
    .await;
    change(
        &s,
        json!({"op": "split", "weights": {"1": 0, "2": 100, "3": 0}}),
    )
    .await;
    let client = reqwest::Client::new();
    let at = |gateway: &str, label: &str| {
        client
            .post(format!("{gateway}/v1/models/iris/labels/{label}:predict"))
            .header("Authorization", &key)
            .body(BODY)
            .send()
    };
    let r = at(&s.gateway, "canary").await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["x-modeldeck-version"].to_str().unwrap()
        ),
        (200, "3")
    );
    let r = at(&s.gateway, "nosuch").await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Unrecognized servable version label: nosuch")
    );
    // Labels must name held versions.
    let (status, _) = s
        .api(
            Method::POST,
            "services/iris/traffic",
            Some(&s.token),
            Some(json!({"op": "labels", "labels": {"x": 9}})),
        )
        .await;
    assert_eq!(status, 409);
    // kill -9: the next server routes exactly as the acknowledged split said.
    s.kill_9().await;
    let s = Server::start(&dir).await;
    wait_ready(&s.gateway, "iris", &key).await;
    for _ in 0..20 {
        assert_eq!(
            predict(&client, &s.gateway, "iris", &key, None).await,
            (200, Some(2))
        );
    }
    let r = at(&s.gateway, "stable").await.unwrap();
    assert_eq!(r.headers()["x-modeldeck-version"].to_str().unwrap(), "1");
    s.stop().await;
}

/// `iris` v1 and a v2 that runs `behaviour` (a test runtime), v1 at 100%.
async fn with_candidate(dir: &DataDir, behaviour: &str) -> (Server, String) {
    let (s, key) = serving(dir, "assets/iris/iris.pmml", "iris").await;
    let text = std::fs::read_to_string(repo_path("assets/iris/iris.pmml")).unwrap();
    let text = text.replacen(
        "<Header>",
        &format!("<Header><Extension name=\"modeldeck-test-runtime\" value=\"{behaviour}\"/>"),
        1,
    );
    let file = dir.scratch.join("candidate.pmml");
    std::fs::write(&file, text).unwrap();
    dir.import(file.to_str().unwrap(), "iris").await;
    (s, key)
}

/// Sends requests (a few at a time) until the canary's state is `state`; its traffic view.
async fn load_until(s: &Server, key: &str, state: &str) -> Value {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        for _ in 0..10 {
            predict(&client, &s.gateway, "iris", key, None).await;
        }
        let view = s.get("services/iris/traffic").await;
        if view["canary"]["state"] == json!(state) {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the canary never reached {state}: {}",
        s.get("services/iris/traffic").await
    );
}

#[cfg(feature = "test-runtimes")]
#[tokio::test]
async fn a_canary_that_errors_is_rolled_back_with_the_reason() {
    let dir = DataDir::new();
    let (s, key) = with_candidate(&dir, "fail-every 3").await;
    let out = dir
        .ok(&[
            "services",
            "canary",
            "iris",
            "--to",
            "2",
            "--steps",
            "50,100",
            "--interval",
            "1s",
            "--min-requests",
            "20",
            "--max-error-rate",
            "1%",
        ])
        .await;
    assert!(out.contains("v1 50% · v2 50%"), "{out}");
    let view = load_until(&s, &key, "rolled_back").await;
    assert_eq!(view["split"], json!({"1": 100, "2": 0}), "{view}");
    let verdict = view["canary"]["verdict"].as_str().unwrap();
    assert!(verdict.contains("error rate"), "{verdict}");
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["kind"], &last["actor"]),
        (&json!("canary"), &json!("canary"))
    );
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .starts_with("canary breach"),
        "{last}"
    );
    s.stop().await;
}

#[cfg(feature = "test-runtimes")]
#[tokio::test]
async fn a_canary_pauses_for_people_survives_kill_9_and_is_promoted() {
    let dir = DataDir::new();
    let (s, key) = with_candidate(&dir, "echo").await;
    change(
        &s,
        json!({"op": "canary_start", "to": 2, "steps": "10,pause,100", "interval_secs": 1,
               "min_requests": 20, "max_error_pct": 1.0, "max_p99_ms": 500.0}),
    )
    .await;
    // A person changes the traffic by hand: the canary stops and says why.
    let view = change(&s, json!({"op": "split", "weights": {"1": 85, "2": 15}})).await;
    assert_eq!(view["canary"]["state"], json!("paused"), "{view}");
    assert!(
        view["canary"]["verdict"]
            .as_str()
            .unwrap()
            .contains("by hand")
    );
    // The candidate cannot be taken out from under it.
    let (status, err) = s
        .api(
            Method::POST,
            "services/iris/traffic",
            Some(&s.token),
            Some(json!({"op": "remove_version", "version": 2})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("in_canary")),
        "{err}"
    );
    change(&s, json!({"op": "canary", "action": "resume"})).await;
    // The first step holds; the next is a pause for a person.
    let view = load_until(&s, &key, "paused").await;
    assert_eq!(view["canary"]["step"], json!(1), "{view}");
    assert!(
        view["canary"]["verdict"]
            .as_str()
            .unwrap()
            .contains("waiting for a person")
    );
    // kill -9: the canary is where it was, and so is the split.
    s.kill_9().await;
    let s = Server::start(&dir).await;
    wait_ready(&s.gateway, "iris", &key).await;
    let view = s.get("services/iris/traffic").await;
    assert_eq!(
        (
            &view["canary"]["state"],
            &view["canary"]["step"],
            &view["split"]
        ),
        (&json!("paused"), &json!(1), &json!({"1": 85, "2": 15})),
        "{view}"
    );
    let out = dir.ok(&["services", "canary", "resume", "iris"]).await;
    assert!(out.contains("v1 0% · v2 100%"), "{out}");
    let view = load_until(&s, &key, "promoted").await;
    assert_eq!(view["split"], json!({"1": 0, "2": 100}));
    let status = dir.ok(&["services", "canary", "status", "iris"]).await;
    assert!(status.contains("Promoted"), "{status}");
    // Every decision, a person's or the driver's, is in the audit log.
    let events = s.get("events?since=0").await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| k.starts_with("canary."))
        .collect();
    for kind in [
        "canary.started",
        "canary.resumed",
        "canary.paused",
        "canary.promoted",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    s.stop().await;
}

/// Imports the iris model again as a version running `behaviour` (a test runtime).
async fn import_variant(dir: &DataDir, behaviour: &str, file: &str) {
    let text = std::fs::read_to_string(repo_path("assets/iris/iris.pmml")).unwrap();
    let text = text.replacen(
        "<Header>",
        &format!("<Header><Extension name=\"modeldeck-test-runtime\" value=\"{behaviour}\"/>"),
        1,
    );
    let path = dir.scratch.join(file);
    std::fs::write(&path, text).unwrap();
    dir.import(path.to_str().unwrap(), "iris").await;
}

/// Shadow traffic: the mirrored version answers no client, is not counted as its traffic,
/// does not make the client wait, and what it answers differently is counted and kept.
#[cfg(feature = "test-runtimes")]
#[tokio::test]
async fn shadow_traffic_is_compared_and_invisible_to_clients() {
    let dir = DataDir::new();
    let (s, key) = with_candidate(&dir, "echo").await;
    import_variant(&dir, "sleep 5000", "slow.pmml").await;
    change(&s, json!({"op": "add_version", "version": 2})).await;
    change(&s, json!({"op": "add_version", "version": 3})).await;
    // A version that answers clients cannot be a shadow, nor can a shadow be given traffic
    // or taken out.
    let refused = |call: Value| {
        let s = &s;
        async move {
            let (status, err) = s
                .api(
                    Method::POST,
                    "services/iris/traffic",
                    Some(&s.token),
                    Some(call),
                )
                .await;
            (
                status,
                err["error"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
    };
    assert_eq!(
        refused(json!({"op": "shadow", "to": 1})).await,
        (409, "answers_clients".to_string())
    );
    let view = change(&s, json!({"op": "shadow", "to": 2, "percent": 100})).await;
    assert_eq!(view["sticky_header"], Value::Null);
    assert_eq!(
        refused(json!({"op": "split", "weights": {"1": 90, "2": 10, "3": 0}})).await,
        (409, "shadowed".to_string())
    );
    assert_eq!(
        refused(json!({"op": "remove_version", "version": 2})).await,
        (409, "shadowed".to_string())
    );
    assert_eq!(
        refused(json!({"op": "shadow", "to": 2, "percent": 0})).await,
        (400, "invalid_field".to_string())
    );
    let client = reqwest::Client::new();
    for _ in 0..40 {
        assert_eq!(
            predict(&client, &s.gateway, "iris", &key, None).await,
            (200, Some(1))
        );
    }
    let mut shadow = Value::Null;
    for _ in 0..100 {
        shadow = s.get("services/iris/shadow").await;
        if shadow["mirrored"] == json!(40) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        (&shadow["mirrored"], &shadow["differed"], &shadow["same"]),
        (&json!(40), &json!(40), &json!(0)),
        "{shadow}"
    );
    let sample = &shadow["samples"][0];
    assert!(
        sample["live"].as_str().unwrap().contains("species")
            && sample["shadow"].as_str().unwrap().contains("petal_width"),
        "{sample}"
    );
    // Not v2's traffic: its figures stay empty.
    let history = s.get("monitor?service=iris&window=15m").await["history"].clone();
    let v2 = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == json!(2))
        .map_or(0, |v| v["figures"]["requests"].as_u64().unwrap());
    assert_eq!(v2, 0, "{history}");
    // A shadow that takes five seconds does not hold the client up.
    change(&s, json!({"op": "shadow", "to": 3, "percent": 100})).await;
    let started = Instant::now();
    assert_eq!(
        predict(&client, &s.gateway, "iris", &key, None).await,
        (200, Some(1))
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    let out = dir.ok(&["services", "shadow", "iris", "--off"]).await;
    assert!(out.contains("no shadow traffic"), "{out}");
    // A service with one slot: the shadow has slots of its own, so clients never meet a 429
    // it caused, and it still mirrors.
    let tiny = dir
        .json(&[
            "services",
            "deploy",
            "tiny",
            "--model",
            "iris:1",
            "--concurrency",
            "1",
            "--json",
        ])
        .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    wait_ready(&s.gateway, "tiny", &tiny).await;
    dir.ok(&["services", "add-version", "tiny", "--version", "2"])
        .await;
    dir.ok(&["services", "shadow", "tiny", "--to", "2"]).await;
    for _ in 0..20 {
        assert_eq!(
            predict(&client, &s.gateway, "tiny", &tiny, None).await,
            (200, Some(1))
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shadow = s.get("services/tiny/shadow").await;
    assert!(shadow["mirrored"].as_u64().unwrap() >= 10, "{shadow}");
    s.stop().await;
}
