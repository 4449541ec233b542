//! The console end to end: the real binary in tmux at 80x24, driven with `send-keys` and read
//! with `capture-pane` (polling the screen, never sleeping and hoping). Start (which starts a
//! server detached), switch panes, load the demo, quit leaving the server running, re-attach,
//! close a console's terminal (the server lives on), then quit with stop — and the terminal
//! is restored every time.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{BIN, DataDir, repo_path};

struct Tmux {
    socket: String,
    /// Whether the session exists yet (the first console creates it).
    started: std::cell::Cell<bool>,
}

impl Tmux {
    fn new(tag: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var_os("MODELDECK_REQUIRE_TMUX").is_none(),
                "MODELDECK_REQUIRE_TMUX is set but tmux is not installed"
            );
            eprintln!("skipping the console end-to-end test: tmux is not installed");
            return None;
        }
        Some(Tmux {
            socket: format!("modeldeck-test-{tag}-{}", std::process::id()),
            started: std::cell::Cell::new(false),
        })
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        if !out.stderr.is_empty() {
            eprintln!("tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Opens window `name` running the console on `data` with a clean config home; prints a
    /// marker, the exit code and the tty mode when the console exits.
    fn console(&self, name: &str, data: &Path, home: &Path) {
        let cmd = format!(
            "cd {0} && env HOME={0} LANG=C.UTF-8 TERM=xterm-256color {BIN} --data-dir {1}; echo CONSOLE-EXITED $?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 600",
            home.display(),
            data.display()
        );
        if !self.started.replace(true) {
            self.run(&[
                "new-session",
                "-d",
                "-s",
                "t",
                "-n",
                name,
                "-x",
                "80",
                "-y",
                "24",
                &cmd,
            ]);
        } else {
            self.run(&["new-window", "-t", "t:", "-n", name, &cmd]);
        }
    }

    fn screen(&self, name: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", &format!("t:{name}")])
    }

    fn keys(&self, name: &str, keys: &[&str]) {
        for k in keys {
            self.run(&["send-keys", "-t", &format!("t:{name}"), k]);
            // Separate presses, as a person types: ESC followed at once by a key reads as Alt.
            std::thread::sleep(Duration::from_millis(120));
        }
    }

    /// Polls the screen until it shows `text`; the screen then, or a failure with it.
    fn wait_for(&self, name: &str, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen(name);
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {text:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

fn server_pid(data: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data.join("server.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["pid"].as_i64().map(|p| p as i32)
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only asks whether the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a command against `dir` that must succeed; its standard output.
fn cli(dir: &DataDir, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(&dir.path)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts `modeldeck serve` for `dir` (killed when the guard drops) once it has published.
fn serve(dir: &DataDir) -> (std::process::Child, KillOnDrop) {
    let serve = Command::new(BIN)
        .arg("--data-dir")
        .arg(&dir.path)
        .args(["serve", "--log-file"])
        .arg(dir.scratch.join("serve.log"))
        .spawn()
        .unwrap();
    let guard = KillOnDrop(serve.id() as i32);
    wait_until("the server publishes", || server_pid(&dir.path).is_some());
    (serve, guard)
}

#[test]
fn start_demo_leave_running_reattach_and_stop() {
    let Some(tmux) = Tmux::new("e2e") else { return };
    let dir = DataDir::new();
    // Free ports, so the test never meets another server on 8501/8502.
    dir.configure("gateway = \"127.0.0.1:0\"\ncontrol = \"127.0.0.1:0\"\n");
    let home = dir.scratch.join("home");
    std::fs::create_dir_all(&home).unwrap();

    // 1. No server yet: the console starts one, detached, and says so.
    tmux.console("one", &dir.path, &home);
    let screen = tmux.wait_for("one", "No models yet");
    assert!(screen.contains("started 127.0.0.1:"), "{screen}");
    tmux.keys("one", &["d"]);
    tmux.wait_for("one", "deployed service iris");
    tmux.wait_for("one", "Models (3)");
    tmux.keys("one", &["2"]);
    tmux.wait_for("one", "iris:1 100%");
    tmux.keys("one", &["3"]);
    tmux.wait_for("one", "STICKY ON");

    // 2. Quit: services are live, so it asks; leaving it running is the default.
    tmux.keys("one", &["q"]);
    tmux.wait_for("one", "Leave running");
    tmux.keys("one", &["Enter"]);
    let screen = tmux.wait_for("one", "CONSOLE-EXITED 0");
    assert!(
        screen.contains("\nicanon") || screen.contains("icanon\n"),
        "the tty is back in canonical mode:\n{screen}"
    );
    assert!(
        !screen.contains("modeldeck ·"),
        "the alternate screen is gone:\n{screen}"
    );
    let pid = server_pid(&dir.path).expect("the server still runs");
    assert!(alive(pid));

    // 3. Re-attach: the same server, the same service; quitting does not ask (not ours).
    tmux.console("two", &dir.path, &home);
    let screen = tmux.wait_for("two", "Models (3)");
    assert!(screen.contains("attached 127.0.0.1:"), "{screen}");
    tmux.keys("two", &["q"]);
    tmux.wait_for("two", "CONSOLE-EXITED 0");
    assert!(alive(pid), "an attached console leaves the server alone");

    // Closing the terminal (tmux kills the window: SIGHUP) never stops the server.
    tmux.console("hup", &dir.path, &home);
    tmux.wait_for("hup", "Models (3)");
    tmux.run(&["kill-window", "-t", "t:hup"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        alive(pid),
        "a hang-up of the console's terminal leaves the server running"
    );

    // 4. Stop that server; a new console starts another, and quitting with stop stops it.
    // SAFETY: signalling the server this test started through the console.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    wait_until("the first server exits", || !alive(pid));
    tmux.console("three", &dir.path, &home);
    tmux.wait_for("three", "started 127.0.0.1:");
    tmux.wait_for("three", "Models (3)");
    let second = server_pid(&dir.path).expect("a new server");
    tmux.keys("three", &["q"]);
    tmux.wait_for("three", "Leave running");
    tmux.keys("three", &["Tab", "Enter"]);
    tmux.wait_for("three", "CONSOLE-EXITED 0");
    wait_until("the started server stops", || !alive(second));
    assert!(
        !dir.path.join("server.json").exists(),
        "a clean stop removes server.json"
    );
}

/// The on-call path end to end: `y` copies a request that runs as pasted (tmux takes the
/// clipboard request with `set-clipboard on`), a dead server turns the console STALE, a
/// restart on other ports is found by itself, a model is imported from a relative path on the
/// console's machine, and `:stop` stops the server.
#[test]
fn copy_runs_stale_then_reconnects_and_stop() {
    let Some(tmux) = Tmux::new("oncall") else {
        return;
    };
    let dir = DataDir::new();
    dir.configure("gateway = \"127.0.0.1:0\"\ncontrol = \"127.0.0.1:0\"\n");
    let home = dir.scratch.join("home");
    std::fs::create_dir_all(&home).unwrap();
    tmux.console("c", &dir.path, &home);
    tmux.run(&["set-option", "-g", "set-clipboard", "on"]);
    tmux.wait_for("c", "No models yet");
    tmux.keys("c", &["d"]);
    tmux.wait_for("c", "deployed service iris");
    tmux.keys("c", &["2"]);
    tmux.wait_for("c", "ready");

    // tmux's default drops clipboard requests: y says so and fills tmux's paste buffer.
    tmux.run(&["set-option", "-g", "set-clipboard", "external"]);
    tmux.keys("c", &["y"]);
    tmux.wait_for("c", "paste buffer");
    assert!(
        tmux.run(&["show-buffer"])
            .starts_with("curl -s http://127.0.0.1:")
    );
    tmux.run(&["delete-buffer"]);
    // With set-clipboard on, the OSC 52 request itself lands; the line answers when run.
    tmux.run(&["set-option", "-g", "set-clipboard", "on"]);
    tmux.keys("c", &["y"]);
    tmux.wait_for("c", "(with its key)");
    let line = tmux.run(&["show-buffer"]);
    assert!(line.starts_with("curl -s http://127.0.0.1:"), "{line}");
    let out = Command::new("sh").arg("-c").arg(&line).output().unwrap();
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.contains("\"predictions\""),
        "the copied line answered {answer:?} ({line})"
    );

    // The server dies: STALE, the reason on a line of its own, states unknown.
    let pid = server_pid(&dir.path).expect("a server");
    // SAFETY: killing the server this test's console started, as a crash would.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let screen = tmux.wait_for("c", "STALE");
    assert!(screen.contains("not connected"), "{screen}");
    assert!(screen.contains("unknown"), "{screen}");
    assert!(!screen.contains("● ready"), "{screen}");

    // A new server on other ports: the console finds it through server.json.
    let old = std::fs::read_to_string(dir.path.join("server.json")).unwrap_or_default();
    let mut serve = Command::new(BIN)
        .arg("--data-dir")
        .arg(&dir.path)
        .args(["serve", "--log-file"])
        .arg(dir.scratch.join("second.log"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed if the test fails before `:stop` stops it.
    let _guard = KillOnDrop(serve.id() as i32);
    wait_until("the new server publishes", || {
        server_pid(&dir.path).is_some_and(|p| p as u32 == serve.id())
    });
    let screen = tmux.wait_for("c", "● connected");
    assert!(!screen.contains("STALE"), "{screen}");
    let control = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).ok()?["control"]
            .as_str()
            .map(str::to_string)
    };
    let new = std::fs::read_to_string(dir.path.join("server.json")).unwrap();
    assert_ne!(control(&old), control(&new), "the test wants other ports");
    let port = control(&new).unwrap();
    let port = port.rsplit(':').next().unwrap();
    tmux.wait_for("c", &format!("attached 127.0.0.1:{port}"));
    tmux.wait_for("c", "ready");
    assert!(tmux.screen("c").contains("iris"), "the selection stayed");

    // Import from where the console runs: a relative path, uploaded.
    std::fs::copy(repo_path("assets/iris/iris.pmml"), home.join("mine.pmml")).unwrap();
    tmux.keys("c", &["1", "i"]);
    tmux.wait_for("c", "Import a model");
    tmux.run(&["send-keys", "-t", "t:c", "-l", "mine.pmml"]);
    // Leaving the source field names the model after the file.
    tmux.keys("c", &["Tab", "Enter"]);
    tmux.wait_for("c", "imported mine:1");
    tmux.wait_for("c", "Models (4)");

    // :stop, confirmed, stops the server; the console says STALE.
    tmux.keys("c", &[":"]);
    tmux.run(&["send-keys", "-t", "t:c", "-l", "stop"]);
    tmux.keys("c", &["Enter"]);
    tmux.wait_for("c", "Stop the server?");
    tmux.keys("c", &["y"]);
    let status = serve.wait().unwrap();
    assert!(status.success(), "{status}");
    tmux.wait_for("c", "STALE");
    // The history has the stop, then that it happened: news, not errors.
    tmux.keys("c", &["M"]);
    let screen = tmux.wait_for("c", "is stopping");
    let after = &screen[screen.find("is stopping").unwrap()..];
    assert!(after.contains("has stopped, as asked"), "{screen}");
    assert!(
        !after.contains("ERR"),
        "a stop asked for is news, not an error:\n{screen}"
    );
    tmux.keys("c", &["Escape"]);
    tmux.keys("c", &["C-c"]);
    tmux.wait_for("c", "CONSOLE-EXITED 0");
}

struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: signalling a server this test started; harmless if it already exited.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

/// Load on a service shows on screen: a non-zero req/s in the Services table, then the
/// Monitor pane's grid and the service's versions with what the model answered.
#[test]
fn live_figures_show_load_and_the_monitor_pane_opens() {
    let Some(tmux) = Tmux::new("live") else {
        return;
    };
    let dir = DataDir::new();
    dir.configure("gateway = \"127.0.0.1:0\"\ncontrol = \"127.0.0.1:0\"\n");
    let home = dir.scratch.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let cli = |args: &[&str]| cli(&dir, args);
    cli(&[
        "models",
        "import",
        repo_path("assets/iris/iris.pmml").to_str().unwrap(),
        "--name",
        "iris",
    ]);
    let deployed: serde_json::Value = serde_json::from_str(&cli(&[
        "services", "deploy", "iris", "--model", "iris", "--json",
    ]))
    .unwrap();
    let key = deployed["key"].as_str().unwrap().to_string();
    let (mut serve, _guard) = serve(&dir);
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path.join("server.json")).unwrap())
            .unwrap();
    let gateway = info["gateway"].as_str().unwrap().to_string();

    tmux.console("c", &dir.path, &home);
    tmux.wait_for("c", "Models (1)");
    tmux.keys("c", &["2"]);
    tmux.wait_for("c", "ACTIVITY");

    // A client sends requests until the screen has shown them (at most a minute).
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (done, key) = (std::sync::Arc::clone(&done), key.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let client = reqwest::Client::new();
                let body =
                    r#"{"instances":[{"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#;
                let deadline = Instant::now() + Duration::from_secs(60);
                while !done.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline
                {
                    let r = client
                        .post(format!("{gateway}/v1/models/iris:predict"))
                        .header("Authorization", &key)
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
        })
    };
    // The iris row: NAME MODEL:VERSION STATE REQ/S …; its req/s must go above zero.
    let rate = |screen: &str| -> Option<f64> {
        let row = screen.lines().find(|l| l.contains("iris:1 100%"))?;
        let after = &row[row.find("ready")? + "ready".len()..];
        after.split_whitespace().next()?.parse().ok()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let screen = tmux.screen("c");
        if rate(&screen).is_some_and(|r| r > 0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "req/s never went above zero:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    tmux.keys("c", &["4"]);
    tmux.wait_for("c", "Monitor · updated");
    tmux.keys("c", &["Enter"]);
    tmux.wait_for("c", "Monitor · iris · 15m");
    let screen = tmux.wait_for("c", "v1 answers");
    assert!(screen.contains("setosa 100%"), "{screen}");
    assert!(screen.contains("VERSION"), "{screen}");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join().unwrap();
    // The audit log of this service, from its Monitor view.
    tmux.keys("c", &["e"]);
    tmux.wait_for("c", "service.deployed");
    tmux.keys("c", &["C-c"]);
    tmux.wait_for("c", "CONSOLE-EXITED 0");
    serve.kill().unwrap();
    serve.wait().unwrap();
}

/// The Traffic pane end to end: a slider moved, the staged diff on screen, the dialog
/// confirmed, and the split in force changed — as the server's own history says.
#[test]
fn traffic_pane_moves_a_slider_and_applies_it() {
    let Some(tmux) = Tmux::new("traffic") else {
        return;
    };
    let dir = DataDir::new();
    dir.configure("gateway = \"127.0.0.1:0\"\ncontrol = \"127.0.0.1:0\"\n");
    let home = dir.scratch.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let cli = |args: &[&str]| cli(&dir, args);
    let model = repo_path("assets/iris/iris.pmml");
    for _ in 0..2 {
        cli(&[
            "models",
            "import",
            model.to_str().unwrap(),
            "--name",
            "iris",
        ]);
    }
    cli(&["services", "deploy", "iris", "--model", "iris:1"]);
    cli(&["services", "add-version", "iris", "--version", "2"]);
    let (mut serve, _guard) = serve(&dir);

    tmux.console("c", &dir.path, &home);
    tmux.wait_for("c", "Models (1)");
    tmux.keys("c", &["3"]);
    tmux.wait_for("c", "v1 100% v2 0%");
    tmux.keys("c", &["Enter"]);
    tmux.wait_for("c", "revision 1");
    // v2 up by 5 and 1: staged, v1 gives way.
    tmux.keys("c", &["j", "l", "L"]);
    tmux.wait_for("c", "STAGED v1 100→94 · v2 0→6");
    tmux.keys("c", &["a"]);
    tmux.wait_for("c", "Apply this split to iris?");
    tmux.keys("c", &["y"]);
    tmux.wait_for("c", "revision 2");
    let history = cli(&["services", "history", "iris", "--json"]);
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(
        history[1]["after"],
        serde_json::json!({"1": 94, "2": 6}),
        "{history}"
    );
    tmux.keys("c", &["C-c"]);
    tmux.wait_for("c", "CONSOLE-EXITED 0");
    serve.kill().unwrap();
    serve.wait().unwrap();
}

#[test]
fn a_job_is_created_from_a_model_triggered_and_seen_to_complete() {
    let Some(tmux) = Tmux::new("jobs") else {
        return;
    };
    let dir = DataDir::new();
    dir.configure("gateway = \"127.0.0.1:0\"\ncontrol = \"127.0.0.1:0\"\n");
    let home = dir.scratch.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let model = repo_path("assets/iris/iris.pmml");
    cli(
        &dir,
        &[
            "models",
            "import",
            model.to_str().unwrap(),
            "--name",
            "iris",
        ],
    );
    let input = repo_path("assets/iris/iris.csv");
    let output = dir.scratch.join("scored-{run}.csv");
    let (mut serve, _guard) = serve(&dir);

    tmux.console("c", &dir.path, &home);
    tmux.wait_for("c", "Models (1)");
    // b on the model: the form, the model filled in. A yearly cron, so only `t` runs it.
    tmux.keys("c", &["b"]);
    tmux.wait_for("c", "New batch job");
    let typed = |text: &str| {
        tmux.run(&["send-keys", "-t", "t:c", "-l", text]);
        std::thread::sleep(Duration::from_millis(120));
    };
    typed("flowers");
    tmux.keys("c", &["Tab", "Tab"]);
    typed(input.to_str().unwrap());
    tmux.keys("c", &["Tab"]);
    typed(output.to_str().unwrap());
    tmux.keys("c", &["Tab"]);
    typed("0 0 1 1 *");
    tmux.keys("c", &["Tab", "Tab", "Tab"]);
    typed("fill:sepal_width=mean");
    tmux.keys("c", &["Enter"]);
    tmux.wait_for("c", "created job flowers");
    tmux.keys("c", &["5"]);
    let screen = tmux.wait_for("c", "flowers");
    assert!(screen.contains("never"), "no run yet:\n{screen}");
    // Open it: the chain as a flow, then run it now and watch it complete.
    tmux.keys("c", &["Enter"]);
    tmux.wait_for("c", "1 fill:sepal_width=mean");
    tmux.keys("c", &["t"]);
    tmux.wait_for("c", "completed");
    tmux.keys("c", &["l", "Enter"]);
    let live = tmux.wait_for("c", "scored 150");
    assert!(live.contains("100%"), "{live}");
    assert!(dir.scratch.join("scored-1.csv").exists());
    tmux.keys("c", &["C-c"]);
    tmux.wait_for("c", "CONSOLE-EXITED 0");
    serve.kill().unwrap();
    serve.wait().unwrap();
}
