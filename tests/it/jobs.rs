//! Batch jobs end to end: the real server fires them, a real `batch-worker` child runs them,
//! and the tests look at the files they leave (or must not leave) and at the run records.
//! Slow runs use the test runtime's `sleep` extension (cargo feature `test-runtimes`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{DataDir, repo_path, stderr, stdout};
use crate::server::{Server, wait_ready};

/// A cron that will not fire while a test runs (1 January), for jobs run by hand.
const YEARLY: &str = "0 0 1 1 *";

/// The iris asset, with a test behaviour when given, imported as `name`.
async fn import_iris(dir: &DataDir, name: &str, behaviour: Option<&str>) {
    let mut text = std::fs::read_to_string(repo_path("assets/iris/iris.pmml")).unwrap();
    if let Some(b) = behaviour {
        text = text.replacen(
            "<Header>",
            &format!("<Header><Extension name=\"modeldeck-test-runtime\" value=\"{b}\"/>"),
            1,
        );
    }
    let file = dir.scratch.join(format!("{name}.pmml"));
    std::fs::write(&file, text).unwrap();
    dir.import(file.to_str().unwrap(), name).await;
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `jobs create NAME ARGS… --json`, which must succeed.
async fn create(dir: &DataDir, name: &str, args: &[&str]) -> Value {
    let mut all = vec!["jobs", "create", name, "--json"];
    all.extend_from_slice(args);
    dir.json(&all).await
}

async fn runs(dir: &DataDir, job: &str) -> Vec<Value> {
    dir.json(&["jobs", "runs", job, "--json"])
        .await
        .as_array()
        .unwrap()
        .clone()
}

/// Polls run `id` until `done` holds (at most `secs` seconds); the last answer.
async fn wait_run(dir: &DataDir, job: &str, id: i64, secs: u64, done: fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let run = runs(dir, job)
            .await
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("run {id} is not listed"));
        if done(&run) {
            return run;
        }
        assert!(Instant::now() < deadline, "run {id} never got there: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `jobs run NAME --json` (without waiting): the run it started.
async fn start_run(dir: &DataDir, job: &str) -> i64 {
    dir.json(&["jobs", "run", job, "--json"]).await["id"]
        .as_i64()
        .unwrap()
}

fn running(r: &Value) -> bool {
    r["state"] == "running" && r["steps"].as_array().is_some_and(|s| s.len() >= 3)
}

/// The pid of the worker process running `run`, from /proc.
fn worker_pid(run: i64) -> Option<i32> {
    let want = format!("batch-worker\0{run}\0");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        String::from_utf8_lossy(&cmd).contains(&want).then_some(pid)
    })
}

/// Every file in `dir`, by name.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn rows(file: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The iris rows, as `sepal_width,pl,pw_mm,species` with every 7th sepal width missing.
fn disguised_iris(dir: &Path) -> (PathBuf, Vec<[Option<f64>; 3]>) {
    let text = std::fs::read_to_string(repo_path("assets/iris/iris.csv")).unwrap();
    let mut out = String::from("sepal_width,pl,pw_mm,species\n");
    let mut values = Vec::new();
    for (i, line) in text.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let sw: Option<f64> = (i % 7 != 3).then(|| f[1].parse().unwrap());
        let pl: f64 = f[2].parse().unwrap();
        let pw_mm = (f[3].parse::<f64>().unwrap() * 10.0).round();
        out.push_str(&format!(
            "{},{pl},{pw_mm},{}\n",
            sw.map(|v| v.to_string()).unwrap_or_default(),
            f[4]
        ));
        values.push([sw, Some(pl), Some(pw_mm)]);
    }
    let file = dir.join("iris-disguised.csv");
    std::fs::write(&file, out).unwrap();
    (file, values)
}

#[tokio::test]
async fn a_job_scores_as_score_does_on_the_preprocessed_input() {
    let dir = DataDir::new();
    import_iris(&dir, "iris", None).await;
    let (input, values) = disguised_iris(&dir.scratch);
    let output = dir.scratch.join("scored-{run}.csv");
    create(
        &dir,
        "nightly",
        &[
            "--model",
            "iris",
            "--input",
            path(&input),
            "--output",
            path(&output),
            "--cron",
            YEARLY,
            "--step",
            "rename:pl=petal_length",
            "--step",
            "fill:sepal_width=mean",
            "--step",
            "derive:petal_width=pw_mm / 10",
        ],
    )
    .await;
    // The same preprocessing by hand, then `modeldeck score` on it.
    let present: Vec<f64> = values.iter().filter_map(|v| v[0]).collect();
    let mean = present.iter().sum::<f64>() / present.len() as f64;
    let mut by_hand = String::from("sepal_width,petal_length,petal_width\n");
    for v in &values {
        by_hand.push_str(&format!(
            "{},{},{}\n",
            v[0].unwrap_or(mean),
            v[1].unwrap(),
            v[2].unwrap() / 10.0
        ));
    }
    let prepped = dir.scratch.join("prepped.csv");
    std::fs::write(&prepped, by_hand).unwrap();
    let expected = dir.scratch.join("expected.csv");
    let model = repo_path("assets/iris/iris.pmml");
    let out = std::process::Command::new(crate::common::BIN)
        .args(["score", "--model", path(&model), "--input", path(&prepped)])
        .args(["--output", path(&expected)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let server = Server::start(&dir).await;
    let out = dir
        .run(&["jobs", "run", "nightly", "--wait", "--json"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let run: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(run["state"], "completed", "{run}");
    assert_eq!(run["rows_read"], 150);
    assert_eq!(run["rows_scored"], 150);
    let id = run["id"].as_i64().unwrap();
    let got = rows(&dir.scratch.join(format!("scored-{id}.csv")));
    let want = rows(&expected);
    assert_eq!(got.len(), 150);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        // `score` adds an `_error` column; a job sends bad records to its rejects file.
        assert_eq!(g[..], w[..g.len()], "row {i}");
        assert_eq!(w[g.len()], "", "row {i} scored by hand");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_job_through_a_service_scores_as_the_model_does() {
    let dir = DataDir::new();
    import_iris(&dir, "iris", None).await;
    let key = dir
        .json(&["services", "deploy", "flowers", "--model", "iris", "--json"])
        .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let input = repo_path("assets/iris/iris.csv");
    for (name, target) in [
        ("direct", ["--model", "iris"]),
        ("gateway", ["--service", "flowers"]),
    ] {
        let output = dir.scratch.join(format!("{name}.csv"));
        let mut args = target.to_vec();
        args.extend([
            "--input",
            path(&input),
            "--output",
            path(&output),
            "--cron",
            YEARLY,
        ]);
        create(&dir, name, &args).await;
    }
    let server = Server::start(&dir).await;
    wait_ready(&server.gateway, "flowers", &key).await;
    for name in ["direct", "gateway"] {
        let out = dir.run(&["jobs", "run", name, "--wait"]).await;
        assert!(out.status.success(), "{name}: {}", stderr(&out));
    }
    let direct = rows(&dir.scratch.join("direct.csv"));
    assert_eq!(direct.len(), 150);
    assert_eq!(direct, rows(&dir.scratch.join("gateway.csv")));
    server.stop().await;
}

/// A job over the iris file into `out/scored.csv` through a model that sleeps 20 s per call:
/// a run stays in its scoring stage long enough to be cancelled or killed.
async fn slow_job(dir: &DataDir) -> PathBuf {
    import_iris(dir, "slow", Some("sleep 20000")).await;
    let out_dir = dir.scratch.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let output = out_dir.join("scored.csv");
    let input = repo_path("assets/iris/iris.csv");
    let args = [
        "--model",
        "slow",
        "--input",
        path(&input),
        "--output",
        path(&output),
    ];
    create(dir, "slow", &[&args[..], &["--cron", YEARLY]].concat()).await;
    out_dir
}

/// A slow job's run going under a fresh server: the server, the run, its worker's pid and
/// the output folder.
async fn slow_run(dir: &DataDir) -> (Server, i64, i32, PathBuf) {
    let out_dir = slow_job(dir).await;
    let server = Server::start(dir).await;
    let id = start_run(dir, "slow").await;
    wait_run(dir, "slow", id, 20, running).await;
    let pid = worker_pid(id).expect("the run has a worker process");
    (server, id, pid, out_dir)
}

/// Waits for run `id` to end as failed (interrupted) with nothing left in `out_dir`.
async fn interrupted(dir: &DataDir, id: i64, out_dir: &Path) {
    let run = wait_run(dir, "slow", id, 10, |r| r["state"] != "running").await;
    assert_eq!(run["state"], "failed", "{run}");
    assert!(
        run["error"].as_str().unwrap().contains("interrupted"),
        "{run}"
    );
    assert_eq!(files_in(out_dir), Vec::<String>::new(), "nothing is left");
}

#[tokio::test]
async fn cancelling_a_run_kills_its_worker_and_leaves_no_output() {
    let dir = DataDir::new();
    let out_dir = slow_job(&dir).await;
    let server = Server::start(&dir).await;
    let id = start_run(&dir, "slow").await;
    wait_run(&dir, "slow", id, 20, running).await;
    let pid = worker_pid(id).expect("the run has a worker process");
    assert!(
        !files_in(&out_dir).is_empty(),
        "the run writes to its temporary output"
    );
    let out = dir
        .run(&["jobs", "cancel", &id.to_string(), "--json"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let run = wait_run(&dir, "slow", id, 10, |r| r["state"] != "running").await;
    assert_eq!(run["state"], "cancelled", "{run}");
    assert!(run["finished_at"].is_string(), "{run}");
    assert_eq!(files_in(&out_dir), Vec::<String>::new(), "nothing is left");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "worker {pid} still alive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Cancelling an ended run says so.
    let again = dir.run(&["jobs", "cancel", &id.to_string()]).await;
    assert!(!again.status.success());
    assert!(stderr(&again).contains("cancelled"), "{}", stderr(&again));
    server.stop().await;
}

#[tokio::test]
async fn a_killed_worker_fails_its_run_and_leaves_no_output() {
    let dir = DataDir::new();
    let (server, id, pid, out_dir) = slow_run(&dir).await;
    unsafe { libc::kill(pid, libc::SIGKILL) };
    interrupted(&dir, id, &out_dir).await;
    // The server lives on and runs the job again.
    let next = start_run(&dir, "slow").await;
    assert!(next > id);
    wait_run(&dir, "slow", next, 20, running).await;
    server.stop().await;
}

#[tokio::test]
async fn a_run_cut_by_kill_9_of_the_server_is_failed_at_restart() {
    let dir = DataDir::new();
    let (server, id, pid, out_dir) = slow_run(&dir).await;
    server.kill_9().await;
    // The worker notices its server is gone (its stdin closes) and exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() && worker_pid(id).is_some() {
        assert!(
            Instant::now() < deadline,
            "worker {pid} outlived its server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let server = Server::start(&dir).await;
    interrupted(&dir, id, &out_dir).await;
    // The definition survived the crash.
    let job = dir.json(&["jobs", "show", "slow", "--json"]).await;
    assert_eq!(job["job"]["spec"]["cron"], YEARLY, "{job}");
    server.stop().await;
}

/// The iris file with `bad` lines spliced in after the header; its path.
fn iris_with(dir: &Path, name: &str, bad: &[&[u8]]) -> PathBuf {
    let text = std::fs::read(repo_path("assets/iris/iris.csv")).unwrap();
    let cut = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut out = text[..cut].to_vec();
    for (i, line) in text[cut..].split_inclusive(|&b| b == b'\n').enumerate() {
        out.extend_from_slice(line);
        if let Some(b) = bad.get(i) {
            out.extend_from_slice(b);
            out.push(b'\n');
        }
    }
    let file = dir.join(name);
    std::fs::write(&file, out).unwrap();
    file
}

/// Creates job `name` over `input` (policy `policy`), runs it and waits: the run and the
/// files left in its output folder.
/// `then`, when given, replaces the input after the job is saved (its check reads the file).
async fn run_over(
    dir: &DataDir,
    name: &str,
    input: &Path,
    policy: &str,
    then: Option<&Path>,
) -> (Value, Vec<String>) {
    let out_dir = dir.scratch.join(format!("out-{name}"));
    std::fs::create_dir(&out_dir).unwrap();
    let output = out_dir.join("scored.csv");
    create(
        dir,
        name,
        &[
            "--model",
            "iris",
            "--input",
            path(input),
            "--output",
            path(&output),
            "--cron",
            YEARLY,
            "--on-bad-record",
            policy,
        ],
    )
    .await;
    if let Some(file) = then {
        std::fs::copy(file, input).unwrap();
    }
    let out = dir.run(&["jobs", "run", name, "--wait", "--json"]).await;
    let run: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&out), stderr(&out)));
    assert_eq!(out.status.success(), run["state"] == "completed", "{run}");
    (run, files_in(&out_dir))
}

#[tokio::test]
async fn bad_input_files_follow_the_failure_policy() {
    let dir = DataDir::new();
    import_iris(&dir, "iris", None).await;
    let server = Server::start(&dir).await;

    // A required column missing: the run fails before writing anything.
    let text = std::fs::read_to_string(repo_path("assets/iris/iris.csv")).unwrap();
    let no_width = dir.scratch.join("no-width.csv");
    let cut: String = text
        .lines()
        .map(|l| l.rsplitn(3, ',').nth(2).unwrap().to_string() + "\n")
        .collect();
    std::fs::write(&no_width, cut).unwrap();
    let input = dir.scratch.join("iris.csv");
    std::fs::copy(repo_path("assets/iris/iris.csv"), &input).unwrap();
    let (run, left) = run_over(&dir, "missing", &input, "reject", Some(&no_width)).await;
    assert_eq!(run["state"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("petal_width"), "{error}");
    assert_eq!(run["rows_read"], 0, "{run}");
    assert_eq!(left, Vec::<String>::new(), "nothing written");

    // One line of bad encoding in 151: rejected, the run completes (under 1%).
    let latin1 = iris_with(&dir.scratch, "latin1.csv", &[b"5.0,3.\xe9,1.4,0.2,setosa"]);
    let (run, left) = run_over(&dir, "encoding", &latin1, "reject", None).await;
    assert_eq!(run["state"], "completed", "{run}");
    assert_eq!(
        (run["rows_read"].as_u64(), run["rows_rejected"].as_u64()),
        (Some(151), Some(1))
    );
    assert_eq!(left, ["scored.csv", "scored.rejects.csv"]);
    let rejects = rows(&dir.scratch.join("out-encoding/scored.rejects.csv"));
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0][1], "2", "the record's place: {rejects:?}");
    assert!(rejects[0].last().unwrap().contains("UTF-8"), "{rejects:?}");
    assert_eq!(
        rows(&dir.scratch.join("out-encoding/scored.csv")).len(),
        150
    );

    // The same file under abort: the run fails at that record, no output.
    let (run, left) = run_over(&dir, "strict", &latin1, "abort", None).await;
    assert_eq!(run["state"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("record 2"), "{run}");
    assert!(!left.contains(&"scored.csv".to_string()), "{left:?}");

    // Two ragged rows in 152: past 1%, the run fails; the rejects file says which and why.
    let ragged = iris_with(
        &dir.scratch,
        "ragged.csv",
        &[b"5.0,3.4", b"", b"1,2,3,4,5,6"],
    );
    let (run, left) = run_over(&dir, "ragged", &ragged, "reject", None).await;
    assert_eq!(run["state"], "failed", "{run}");
    assert!(
        run["error"].as_str().unwrap().contains("more than 1%"),
        "{run}"
    );
    assert_eq!(run["rows_rejected"], 2, "{run}");
    assert_eq!(left, ["scored.rejects.csv"], "no output, the rejects kept");
    let rejects = rows(&dir.scratch.join("out-ragged/scored.rejects.csv"));
    assert_eq!(rejects.len(), 2);
    assert!(rejects[0].last().unwrap().contains("fields"), "{rejects:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_seconds_cron_fires_on_time_and_pause_and_edit_apply_at_once() {
    let dir = DataDir::new();
    import_iris(&dir, "iris", None).await;
    let server = Server::start(&dir).await;
    let input = repo_path("assets/iris/iris.csv");
    let output = dir.scratch.join("scored-{run}.csv");
    let created = create(
        &dir,
        "often",
        &[
            "--model",
            "iris",
            "--input",
            path(&input),
            "--output",
            path(&output),
            "--cron",
            "*/2 * * * * *",
        ],
    )
    .await;
    assert_eq!(
        created["next_fires"].as_array().unwrap().len(),
        5,
        "{created}"
    );
    // Two scheduled runs complete, each into its own file.
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let done: Vec<Value> = runs(&dir, "often")
            .await
            .into_iter()
            .filter(|r| r["state"] == "completed")
            .collect();
        if done.len() >= 2 {
            break done;
        }
        assert!(Instant::now() < deadline, "the cron did not fire twice");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for r in &done {
        assert_eq!(r["trigger"], "schedule", "{r}");
        let fire = r["fire_at"].as_str().unwrap();
        let secs: u32 = fire[17..19].parse().unwrap();
        assert_eq!(secs % 2, 0, "fires on even seconds: {fire}");
        let id = r["id"].as_i64().unwrap();
        assert_eq!(
            rows(&dir.scratch.join(format!("scored-{id}.csv"))).len(),
            150
        );
    }

    // Paused: no new fire, without a restart.
    dir.ok(&["jobs", "pause", "often"]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = runs(&dir, "often").await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        runs(&dir, "often").await.len(),
        before,
        "a paused job fired"
    );
    // Edited to a yearly schedule and resumed: still nothing now, and the next fire moved.
    dir.ok(&["jobs", "edit", "often", "--cron", YEARLY]).await;
    let resumed = dir.json(&["jobs", "resume", "often", "--json"]).await;
    assert!(
        resumed["job"]["next_fire_at"]
            .as_str()
            .unwrap()
            .contains("-01-01T"),
        "{resumed}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        runs(&dir, "often").await.len(),
        before,
        "the old schedule fired"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_fire_that_overlaps_a_running_run_is_skipped_and_recorded() {
    let dir = DataDir::new();
    slow_job(&dir).await;
    let server = Server::start(&dir).await;
    let id = start_run(&dir, "slow").await;
    wait_run(&dir, "slow", id, 20, running).await;
    let out = dir.run(&["jobs", "run", "slow", "--wait", "--json"]).await;
    assert!(!out.status.success(), "a skipped run is not a success");
    let skipped: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(skipped["state"], "skipped", "{skipped}");
    assert!(
        skipped["error"].as_str().unwrap().contains(&id.to_string()),
        "names the run it overlapped: {skipped}"
    );
    let listed = runs(&dir, "slow").await;
    assert_eq!(listed[0]["state"], "skipped", "recorded: {listed:?}");
    assert_eq!(listed[1]["state"], "running");
    dir.ok(&["jobs", "cancel", &id.to_string()]).await;
    server.stop().await;
}

#[tokio::test]
async fn paths_are_read_where_typed_and_outputs_are_local() {
    let dir = DataDir::new();
    import_iris(&dir, "iris", None).await;
    std::fs::copy(
        repo_path("assets/iris/iris.csv"),
        dir.scratch.join("in.csv"),
    )
    .unwrap();
    // Typed in the scratch folder: the job keeps absolute paths, for a server elsewhere.
    let out = std::process::Command::new(crate::common::BIN)
        .current_dir(&dir.scratch)
        .arg("--data-dir")
        .arg(&dir.path)
        .args([
            "jobs", "create", "here", "--model", "iris", "--input", "in.csv",
        ])
        .args(["--output", "out/{run}.csv", "--cron", YEARLY, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let job: Value = serde_json::from_slice(&out.stdout).unwrap();
    let scratch = dir.scratch.canonicalize().unwrap();
    let spec = &job["job"]["spec"];
    assert_eq!(spec["input"], path(&scratch.join("in.csv")), "{job}");
    assert_eq!(
        spec["output"],
        path(&scratch.join("out/{run}.csv")),
        "{job}"
    );
    // The model a job scores through is not deleted from under it.
    let out = dir.run(&["models", "rm", "iris"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("scored by job here"),
        "{}",
        stderr(&out)
    );
    // An output that is neither a local file nor a bucket is refused when the job is saved.
    let out = dir
        .run(&[
            "jobs",
            "create",
            "up",
            "--model",
            "iris",
            "--input",
            path(&scratch.join("in.csv")),
            "--output",
            "https://example.com/scored.csv",
        ])
        .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not somewhere a job can write"),
        "{}",
        stderr(&out)
    );
    // A once-job whose start has passed would never fire: refused, saying so.
    let input = scratch.join("in.csv");
    let once = [
        "--model",
        "iris",
        "--input",
        path(&input),
        "--output",
        "/tmp/x.csv",
    ];
    let past = [
        &["jobs", "create", "late"][..],
        &once,
        &["--start", "2020-01-01 00:00"],
    ]
    .concat();
    let out = dir.run(&past).await;
    assert!(stderr(&out).contains("is in the past"), "{}", stderr(&out));
    let listed = dir.json(&["jobs", "list", "--json"]).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_writes_its_output_and_rejects_to_a_bucket() {
    use crate::import_s3::{ACCESS_KEY, SECRET_KEY, start_s3};
    let dir = DataDir::new();
    import_iris(&dir, "iris", None).await;
    let root = dir.scratch.join("s3");
    std::fs::create_dir_all(root.join("results")).unwrap();
    let endpoint = start_s3(&root, "s3.test").await;
    let input = iris_with(&dir.scratch, "one-bad.csv", &[b"5.0,x,1.4,0.2,setosa"]);
    let args = ["--model", "iris", "--input", path(&input), "--cron", YEARLY];
    let good = [&args[..], &["--output", "s3://results/scored-{run}.csv"]].concat();
    create(&dir, "upload", &good).await;
    let denied = [&args[..], &["--output", "s3://results/denied-{run}.csv"]].concat();
    create(&dir, "denied", &denied).await;
    // A bucket that is not one is refused when the job is saved.
    let out = dir
        .run(&[
            "jobs",
            "create",
            "bad",
            "--model",
            "iris",
            "--input",
            path(&input),
            "--output",
            "s3://X/y.csv",
        ])
        .await;
    assert!(
        stderr(&out).contains("not a bucket name"),
        "{}",
        stderr(&out)
    );

    let env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let server = Server::start_env(&dir, &env).await;
    let out = dir
        .run(&["jobs", "run", "upload", "--wait", "--json"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let scored = rows(&root.join("results/scored-1.csv"));
    assert_eq!(scored.len(), 150);
    let rejects = rows(&root.join("results/scored-1.rejects.csv"));
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    server.stop().await;

    // With a wrong secret the store refuses: the run fails saying so, the bucket holds nothing.
    let env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", "wrong"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let server = Server::start_env(&dir, &env).await;
    let out = dir
        .run(&["jobs", "run", "denied", "--wait", "--json"])
        .await;
    assert!(!out.status.success());
    let run: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("cannot write s3://results/denied-2"),
        "{error}"
    );
    assert!(error.contains("403"), "{error}");
    let left: Vec<String> = files_in(&root.join("results"))
        .into_iter()
        .filter(|f| f.starts_with("denied"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_job_cannot_write_over_the_store_system_files_or_its_own_input() {
    let dir = DataDir::new();
    import_iris(&dir, "iris", None).await;
    let scratch = dir.scratch.canonicalize().unwrap();
    let input = scratch.join("in.csv");
    std::fs::copy(repo_path("assets/iris/iris.csv"), &input).unwrap();
    std::os::unix::fs::symlink(&input, scratch.join("alias.csv")).unwrap();
    let fifo = scratch.join("pipe.csv");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let token = dir.path.join("control.token");
    std::fs::write(scratch.join("secret.csv"), "mdt_this_is_a_secret\n").unwrap();
    let db = dir.path.join("modeldeck.db");
    let cases: Vec<(PathBuf, PathBuf, &str)> = vec![
        (input.clone(), db, "data directory"),
        (
            input.clone(),
            PathBuf::from("/dev/null"),
            "system pseudo-file",
        ),
        (
            input.clone(),
            scratch.join("alias.csv"),
            "would be one of the input's files",
        ),
        (
            input.clone(),
            scratch.join("./x/../in.csv"),
            "would be one of the input's files",
        ),
        (
            scratch.join("*.csv"),
            scratch.join("scored-{run}.csv"),
            "would be one of",
        ),
        (token, scratch.join("o.csv"), "data directory"),
        (fifo, scratch.join("o.csv"), "not a regular file"),
        (
            scratch.join("secret.csv"),
            scratch.join("o.csv"),
            "its header has 1 columns",
        ),
    ];
    for (i, (input, output, why)) in cases.iter().enumerate() {
        let name = format!("bad{i}");
        let out = dir
            .run(&[
                "jobs",
                "create",
                &name,
                "--model",
                "iris",
                "--input",
                path(input),
                "--output",
                path(output),
                "--cron",
                YEARLY,
                "--step",
                "rename:zzz=sepal_width",
            ])
            .await;
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "{input:?} -> {output:?} was accepted"
        );
        assert!(err.contains(why), "{input:?} -> {output:?}: {err}");
        assert!(!err.contains("mdt_"), "a secret was repeated: {err}");
    }
    assert_eq!(
        std::fs::read(scratch.join("in.csv")).unwrap(),
        std::fs::read(repo_path("assets/iris/iris.csv")).unwrap()
    );
}
