//! Every sentence the console shows that is not an action's own help (that lives in the
//! action table): messages, dialog wording, empty states, and the translation of the server's
//! CLI-worded advice into console keys. One place, so wording stays consistent and reviewable
//! (gitui's `strings.rs`).

pub const READ_ONLY: &str = "read-only: this token may not change anything";
pub const NOT_ADMIN: &str = "only an admin token may stop the server";
pub const LOADING_DEMO: &str = "loading the sample models";
pub const DEMO_NEEDS_EMPTY: &str = "the demo loads into an empty repository only";
pub const DEMO_DONE: &str = "loaded 3 sample models and deployed service iris (2 shows it)";
pub const NOTHING_SELECTED: &str = "nothing selected";
pub const TOKEN_CANNOT_READ_KEYS: &str = "this token may not read access keys (it needs operator scope), so there is no runnable line to copy";

// What finished calls say, and where the console is attached.

pub fn attached(address: &str) -> String {
    format!("attached {address}")
}

pub fn started(address: &str) -> String {
    format!("started {address}")
}

pub fn deployed(name: &str, host: &str) -> String {
    format!("deployed {name} at {host}")
}

pub fn imported(model: &str, version: u32) -> String {
    format!("imported {model}:{version}")
}

pub fn deleted_version(model: &str, version: u32) -> String {
    format!("deleted {model}:{version}")
}

pub fn deleted_model(model: &str, versions: usize) -> String {
    format!(
        "deleted model {model} ({versions} version{})",
        if versions == 1 { "" } else { "s" }
    )
}

pub fn deleted_service(name: &str) -> String {
    format!("deleted service {name}")
}

pub fn new_key(name: &str) -> String {
    format!("{name} has a new key (v shows it)")
}

pub fn stream_broke(base: &str) -> String {
    format!("the change stream from {base} broke off")
}

pub fn stream_closed(base: &str) -> String {
    format!("the server at {base} closed the change stream")
}

pub fn unknown_command(name: &str) -> String {
    format!("unknown command :{name}; tab completes, ? lists them")
}

pub fn no_service(name: &str) -> String {
    format!("no service named {name:?}; tab after :svc lists them")
}

pub fn no_theme_given() -> String {
    "which theme? :theme NAME (tab lists them)".into()
}

pub fn copied(service: &str) -> String {
    format!("copied the request for {service} (with its key): paste it into a shell")
}

/// Inside tmux, an application's clipboard request reaches the clipboard only with
/// `set-clipboard on` (tmux 3.3's default, `external`, drops it): the line went into tmux's
/// paste buffer instead.
pub fn copied_to_tmux(service: &str, setting: &str) -> String {
    format!(
        "copied the request for {service} into tmux's paste buffer (prefix ] pastes it); tmux has set-clipboard {setting}, so for the system clipboard: tmux set -g set-clipboard on"
    )
}

pub fn copy_failed(why: &str) -> String {
    format!("cannot write to the terminal to copy: {why}")
}

pub fn model_gone(name: &str) -> String {
    format!("model {name} is gone (its last version was deleted)")
}

pub fn service_gone(name: &str) -> String {
    format!("service {name} is gone (deleted)")
}

pub fn stopping(pid: u32) -> String {
    format!("server pid {pid} is stopping (it drains requests in progress first)")
}

pub const STALE: &str = "STALE";

pub fn lost(why: &str) -> String {
    format!("lost the server: {why}")
}

pub const RECONNECTED: &str = "reconnected to the server";

pub const STOPPED_AS_ASKED: &str = "the server has stopped, as asked";

pub fn stale_reason(why: &str) -> String {
    format!("not connected (showing what was last loaded): {why}; retrying")
}

// Dialogs.

pub fn delete_service_title(name: &str) -> String {
    format!("Delete service {name}?")
}

pub fn delete_service_body(host: &str) -> String {
    format!("{host} stops answering at once (404); its history stays.")
}

pub fn rotate_key_title(name: &str) -> String {
    format!("New access key for {name}?")
}

pub const ROTATE_KEY_BODY: &str =
    "The current key stops working at once; clients need the new one.";

pub fn delete_model_title(name: &str, versions: u32) -> String {
    format!(
        "Delete model {name} ({versions} version{})?",
        if versions == 1 { "" } else { "s" }
    )
}

pub const DELETE_MODEL_BODY: &str =
    "Every version goes, and each artifact file no other model uses; this cannot be undone.";

pub fn in_service(services: &[String]) -> String {
    format!(
        "It serves {}: the server will refuse until those services are deleted.",
        services.join(", ")
    )
}

pub fn delete_version_title(model: &str, version: u32) -> String {
    format!("Delete {model}:{version}?")
}

/// What deleting a version does to its artifact: kept when another version of the model has
/// the same bytes (the artifact store keeps one file per content), removed otherwise — unless
/// some other model imported the very same bytes, which this view cannot see.
pub fn delete_version_body(shared_with: &[u32], last: bool) -> String {
    let artifact = if shared_with.is_empty() {
        "its artifact file is removed (unless another model has the same bytes)".to_string()
    } else {
        let list: Vec<String> = shared_with.iter().map(u32::to_string).collect();
        format!(
            "its artifact file is kept: version {} has the same bytes",
            list.join(", ")
        )
    };
    let model = if last {
        " It is the last version, so the model goes too."
    } else {
        ""
    };
    format!("The version is removed and {artifact}; this cannot be undone.{model}")
}

pub const STOP_TITLE: &str = "Stop the server?";
pub const STOP_BODY: &str = "Every service stops answering once requests in progress finish; consoles show STALE until a server runs again for this data directory (`modeldeck serve`, or a console opened on it).";

// Form hints.

pub const HINT_SOURCE: &str =
    "a file here (uploaded), a path on the server, or an http(s):// or s3:// URL";
pub const HINT_MODEL_NAME: &str = "a-z 0-9 . _ -  (an existing name adds a version)";
pub const HINT_TYPE: &str = "pmml, onnx, angel, upstream, savedmodel; empty: detect";
pub const HINT_SERVICE_NAME: &str = "service name: a DNS label (a-z 0-9 -)";
pub const HINT_MODEL_REF: &str = "MODEL or MODEL:VERSION";
pub const HINT_UPSTREAM: &str = "a SavedModel's TF Serving URL; else empty";
pub const SERVE_BY_USAGE: &str = "give :upstream MODEL:VERSION URL, or :upstream URL on a version in a model's versions (enter on the model)";

pub fn served_by(model: &str, version: u32, url: &str) -> String {
    format!("{model}:{version} is served by {url}")
}

// What the panes and overlays say.

pub const MONITOR_EMPTY: &str =
    "No services to watch: deploy one (Services pane, n), then send it requests.";
pub const FROZEN: &str = "FROZEN (f resumes)";
pub const CANARY_TITLE: &str = "Canary: take a version through steps, each judged";
pub const HINT_CANARY_TO: &str = "the candidate version (added at 0% if not held)";
pub const HINT_CANARY_STEPS: &str = "percents rising to 100; `pause` waits for you";
pub const HINT_CANARY_INTERVAL: &str = "each step lasts at least this (30s, 5m)";
pub const HINT_CANARY_MIN: &str = "client requests the candidate serves before a step is judged";
pub const HINT_CANARY_ERRORS: &str = "the most error % the candidate may show";
pub const HINT_CANARY_P99: &str = "the most p99 (ms) the candidate may show";
pub const BAD_CANARY_TO: &str = "give the candidate's version number";
pub const NO_CANARY: &str = "no canary in progress: c starts one";

pub const STAGED_DROPPED: &str = "staged traffic edit dropped; the split in force is unchanged";
pub const NOTHING_STAGED: &str =
    "nothing staged: move a version's weight first (h/l by 5, H/L by 1, = exact)";
pub const HINT_PERCENT: &str = "whole percent, 0 to 100; the other versions rebalance";
pub const BAD_PERCENT: &str = "give a whole percent from 0 to 100";
pub const WEIGHT_TITLE: &str = "Weight (staged until a applies it)";
pub const TRAFFIC_EMPTY: &str =
    "No services: deploy one (Services pane, n), then split its traffic here.";
pub const TRAFFIC_HINT: [&str; 5] = [
    "h/l ±5 H/L ±1 = exact",
    "a apply",
    "u undo",
    "R roll back",
    "c canary",
];

pub fn traffic_changed(service: &str, kind: &str, split: &str) -> String {
    format!("{service}: {kind} applied, now {split}")
}

pub fn resume_title(service: &str) -> String {
    format!("Resume {service}'s canary at its next step?")
}

pub fn promote_title(service: &str, version: u32) -> String {
    format!("Promote v{version} to all of {service}'s traffic now?")
}

pub fn apply_title(service: &str) -> String {
    format!("Apply this split to {service}?")
}

pub fn rollback_title(service: &str) -> String {
    format!("Roll {service} back to its previous split?")
}

pub fn nothing_to_roll_back(service: &str) -> String {
    format!("{service} has no earlier split to roll back to")
}

pub const HISTORY_LOADING: &str = "loading the history";
pub const HISTORY_STALE: &str =
    "no history: the server is not answering (STALE); it loads when it does";
/// The grid's sparklines are the last two minutes, live: windows and metrics are for a chart.
pub const MONITOR_OPEN_FIRST: &str =
    "open a service (enter) to chart it over a window (+ -) or another metric ([ ])";
pub const EVENTS_EMPTY: &str = "no events match";
pub const EVENTS_HINT: [&str; 4] = ["/ filter", "j/k scroll", "G newest", "esc close"];
pub const NO_JOBS: &str = "No jobs yet. ";
pub const NO_JOBS_MATCH: &str = "No job's last run matches the filter (F changes it).";
pub const NO_RUNS: &str = "no runs yet: t runs it now";
pub const JOB_NEEDS_NAME: &str = "name the job";
pub const JOB_TITLE: &str = "New batch job";
pub const STEP_TITLE: &str = "Preprocessing step";
pub const SAVING_JOB: &str = "saving (the server checks the chain against the model)";
pub const HINT_JOB_NAME: &str = "a-z 0-9 . _ -";
pub const HINT_JOB_INPUT: &str = "a file or glob (CSV or .jsonl), http(s):// or s3://";
pub const HINT_JOB_OUTPUT: &str = "a path; {date} and {run} are filled in per run";
pub const HINT_JOB_CRON: &str = "5 or 6 fields (0 2 * * *); empty: once";
pub const HINT_JOB_START: &str = "YYYY-MM-DD HH:MM in the zone; empty: now";
pub const HINT_JOB_TZ: &str = "tz database name; empty: UTC";
pub const HINT_JOB_STEPS: &str = "KIND:PARAMS; KIND:PARAMS … (a adds more later)";
pub const HINT_STEP: &str = "fill:age=median  rename:old=new  filter:age >= 18  derive:r=a / b";
pub const NO_RUN_GOING: &str = "no run of this job is going";
pub const NO_STEP: &str = "no step selected: a adds one";
pub const DELETE_ON_CHAIN: &str =
    "D deletes a step of the chain (h goes to it), or a job from the list (esc)";
pub const DELETE_STEP_BODY: &str = "Its neighbours join. The server checks the chain that is left against the model; if it refuses, nothing changes.";

pub fn delete_step_title(n: usize, step: &str) -> String {
    format!("Delete step {n} ({step})?")
}

pub fn run_started(run: &crate::domain::Run) -> String {
    match run.state {
        crate::domain::RunState::Skipped => format!(
            "run {} of {} skipped: {}",
            run.id,
            run.job,
            run.error.as_deref().unwrap_or("-")
        ),
        _ => format!("run {} of {} started", run.id, run.job),
    }
}

pub fn run_cancelled(run: &crate::domain::Run) -> String {
    format!("run {} of {} {}", run.id, run.job, run.state)
}

pub fn deleted_job(name: &str) -> String {
    format!("deleted job {name} (its runs stay in the history)")
}

pub fn job_created(name: &str, schedule: &str) -> String {
    format!("created job {name}: {schedule} (5 shows it)")
}

pub fn job_paused(name: &str, paused: bool) -> String {
    if paused {
        format!("paused {name}: it does not fire until resumed (P)")
    } else {
        format!("resumed {name}")
    }
}

/// A chain edit the server refused: the step numbers are those of the chain that was sent.
pub fn chain_refused(why: &str) -> String {
    format!("not saved, the chain is unchanged: in the edited chain, {why}")
}

pub fn chain_saved(name: &str, what: &str) -> String {
    format!("{name}: {what}; the chain was checked and saved")
}

pub fn cancel_run_title(id: i64, job: &str) -> String {
    format!("Cancel run {id} of {job}?")
}

pub const CANCEL_RUN_BODY: &str =
    "Its worker is killed and its temporary output removed; nothing is written to the output path.";

pub fn delete_job_title(name: &str) -> String {
    format!("Delete job {name}?")
}

pub const DELETE_JOB_BODY: &str =
    "It stops firing; its runs stay in the history. A running run must end or be cancelled first.";
pub const ANY_KEY_CLOSES: &str = "any key closes this";
pub const NO_MESSAGES: &str = "no messages yet";
pub const IMPORT_TITLE: &str = "Import a model";
pub const DEPLOY_TITLE: &str = "Deploy a model version";
pub const IMPORTING: &str = "importing (the server fetches and checks the model)";
pub const DEPLOYING: &str = "deploying (the server compiles the model)";
pub const LEAVE_1: &str = "This console started the server, and services are live.";
pub const LEAVE_2: &str = "Leave it running (clients keep being served), or stop it?";
pub const NO_MODELS: &str = "No models yet. ";
pub const NO_SERVICES: &str = "No services yet. ";
pub const ESC_CANCELS: &str = "esc cancels";

/// The server's advice names CLI commands; in the console the same thing is a key away.
const CLI_TO_CONSOLE: &[(&str, &str)] = &[
    (
        "use --type pmml, or leave --type out",
        "set type to pmml, or leave it empty",
    ),
    ("leave --type out", "leave type empty"),
    ("--type ", "type "),
    ("`modeldeck models list`", "the Models pane (1)"),
    ("`modeldeck services list`", "the Services pane (2)"),
    ("`modeldeck jobs edit`", "the Jobs pane (5)"),
    ("the job needs --input", "the job needs an input"),
    ("the job needs --output", "the job needs an output"),
    ("give --input", "fill in the input"),
    ("give --output", "fill in the output"),
    ("--step ", "step "),
    ("--model MODEL[:VERSION] or --service SERVICE", "a model"),
    (
        "check with the Models pane (1) or the Services pane (2) before retrying",
        "check the Models (1) and Services (2) panes before retrying",
    ),
    (
        "with --upstream URL when deploying",
        "on the deploy form's upstream line",
    ),
    ("leave --upstream out", "leave the upstream line empty"),
];

/// An error message as the console shows it: CLI commands replaced by the keys that do the
/// same here.
pub fn for_console(message: &str) -> String {
    let mut out = message.to_string();
    for (cli, console) in CLI_TO_CONSOLE {
        out = out.replace(cli, console);
    }
    if let Some(start) = out.find("`modeldeck models show ")
        && let Some(len) = out[start + 1..].find('`')
    {
        out.replace_range(start..start + len + 2, "the model's versions (1, enter)");
    }
    if let Some(start) = out.find("`modeldeck jobs edit ")
        && let Some(len) = out[start + 1..].find('`')
    {
        out.replace_range(start..start + len + 2, "the Jobs pane (5)");
    }
    if let Some(start) = out.find("`modeldeck services add-version ")
        && let Some(len) = out[start + 1..].find('`')
    {
        out.replace_range(
            start..start + len + 2,
            "a canary in the Traffic pane (3, c)",
        );
    }
    const SERVE_BY: &str = "`modeldeck models upstream ";
    if let Some(start) = out.find(SERVE_BY)
        && let Some(len) = out[start + SERVE_BY.len()..].find('`')
    {
        let args = out[start + SERVE_BY.len()..start + SERVE_BY.len() + len].to_string();
        out.replace_range(
            start..start + SERVE_BY.len() + len + 1,
            &format!(":upstream {args}"),
        );
    }
    out
}

/// The Services detail of a service served only by upstreams.
pub const UPSTREAM_REQUESTS: &str = "Requests reach the upstream server as sent (or translated between V1 and V2): write what its model takes.";

/// `y` on a service served only by upstreams.
pub fn no_upstream_example(service: &str) -> String {
    format!(
        "{service} is served by an upstream server, which decides what it takes: there is no example request to copy"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_model_with_no_server_points_at_the_form_and_the_command() {
        let said = for_console(&crate::runtime::saved_model_needs_upstream("resnet:3"));
        assert!(
            said.contains("on the deploy form's upstream line"),
            "{said}"
        );
        assert!(
            said.ends_with("for a service that exists: :upstream resnet:3 http://tf-serving:8501"),
            "{said}"
        );
        assert!(!said.contains("--") && !said.contains('`'), "{said}");
    }

    #[test]
    fn cli_advice_becomes_console_keys() {
        assert_eq!(
            for_console("no model named \"x\": see `modeldeck models list`"),
            "no model named \"x\": see the Models pane (1)"
        );
        assert_eq!(
            for_console("model iris has no version 9: see `modeldeck models show iris`"),
            "model iris has no version 9: see the model's versions (1, enter)"
        );
        assert_eq!(
            for_console(
                "a job named \"j\" exists: pick another name, or change it with `modeldeck jobs edit j`"
            ),
            "a job named \"j\" exists: pick another name, or change it with the Jobs pane (5)"
        );
        assert_eq!(
            for_console("the job needs --input"),
            "the job needs an input"
        );
    }
}
