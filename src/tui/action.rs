//! Every console action, defined once: its keys, its `:` command names, its help, and its
//! handler. The key map, the hint bar, the `?` help, `:` commands and their completion, and
//! the names `console.toml` remaps are all generated from [`ACTIONS`] (DESIGN.md "One
//! definition drives everything"), so a key can never do one thing and be documented as
//! another, and adding an action is one row here plus its handler.

use std::time::Instant;

use super::effect::Effect;
use super::state::{Pane, State};

/// Where an action's keys apply. Pane keys are looked up first, then global ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Global,
    Models,
    Services,
    Monitor,
    Traffic,
    Jobs,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Models => "models",
            Scope::Services => "services",
            Scope::Monitor => "monitor",
            Scope::Traffic => "traffic",
            Scope::Jobs => "jobs",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Help,
    Command,
    Filter,
    Pane(Pane),
    NextPane,
    PrevPane,
    Down,
    Up,
    First,
    Last,
    PageDown,
    PageUp,
    Open,
    Back,
    Quit,
    ForceQuit,
    Suspend,
    Refresh,
    Messages,
    Theme,
    StopServer,
    Import,
    Demo,
    Delete,
    Deploy,
    ServeBy,
    DeleteService,
    RotateKey,
    RevealKey,
    Copy,
    Events,
    WindowLonger,
    WindowShorter,
    NextMetric,
    PrevMetric,
    Freeze,
    Zoom,
    WeightDown,
    WeightUp,
    WeightDownOne,
    WeightUpOne,
    WeightExact,
    ApplyTraffic,
    DiscardTraffic,
    Rollback,
    StartCanary,
    Promote,
    NewJob,
    JobFilter,
    JobFocus,
    TriggerJob,
    CancelRun,
    PauseJob,
    AddStep,
    EditStep,
    StepUp,
    StepDown,
    DeleteJobOrStep,
}

/// What a handler is given besides the state: the time (the only clock `update` reads) and
/// the argument typed after a `:` command.
pub struct Ctx<'a> {
    pub now: Instant,
    pub arg: &'a str,
    /// The action being run (handlers shared by several, such as the panes', read it).
    pub action: Action,
}

pub type Handler = fn(&mut State, &Ctx) -> Vec<Effect>;

/// One action: its config name, default keys, `:` command names (the first is the name,
/// the rest aliases), where its keys apply, what help says, whether the hint bar shows it,
/// and what it does.
pub struct ActionDef {
    pub action: Action,
    pub name: &'static str,
    pub keys: &'static [&'static str],
    pub commands: &'static [&'static str],
    /// What a `:` command takes after its name, for help (`NAME`, `[NAME]`).
    pub arg: &'static str,
    pub scope: Scope,
    pub help: &'static str,
    /// The hint bar's short word for it; empty: not in the hint bar.
    pub hint: &'static str,
    /// Changes server state: hidden from hints and refused when the token is read-only.
    pub writes: bool,
    pub run: Handler,
}

const fn def(
    action: Action,
    name: &'static str,
    keys: &'static [&'static str],
    scope: Scope,
    help: &'static str,
    hint: &'static str,
    run: Handler,
) -> ActionDef {
    ActionDef {
        action,
        name,
        keys,
        commands: &[],
        arg: "",
        scope,
        help,
        hint,
        writes: false,
        run,
    }
}

const fn writes(d: ActionDef) -> ActionDef {
    ActionDef { writes: true, ..d }
}

/// The action is also a `:` command, named `names[0]` (the rest are aliases).
const fn cmd(names: &'static [&'static str], arg: &'static str, d: ActionDef) -> ActionDef {
    ActionDef {
        commands: names,
        arg,
        ..d
    }
}

use crate::tui::update::actions as h;
use crate::tui::update::jobs as jb;
use crate::tui::update::monitor as mon;
use crate::tui::update::traffic as tr;
use Action as A;
use Scope::{Global as G, Jobs as J, Models as M, Monitor as O, Services as S, Traffic as T};

pub const ACTIONS: &[ActionDef] = &[
    def(A::Help, "help", &["?"], G, "show keys", "help", h::help),
    def(
        A::Command,
        "command",
        &[":"],
        G,
        "command line",
        "command",
        h::command,
    ),
    def(
        A::Filter,
        "filter",
        &["/"],
        G,
        "filter rows",
        "filter",
        h::filter,
    ),
    cmd(
        &["models", "m"],
        "",
        def(
            A::Pane(Pane::Models),
            "models_tab",
            &["1"],
            G,
            "Models",
            "",
            h::pane,
        ),
    ),
    cmd(
        &["svc", "services", "s"],
        "[NAME]",
        def(
            A::Pane(Pane::Services),
            "services_tab",
            &["2"],
            G,
            "Services, at NAME",
            "",
            h::pane,
        ),
    ),
    cmd(
        &["traffic"],
        "",
        def(
            A::Pane(Pane::Traffic),
            "traffic_tab",
            &["3"],
            G,
            "Traffic",
            "",
            h::pane,
        ),
    ),
    cmd(
        &["monitor"],
        "",
        def(
            A::Pane(Pane::Monitor),
            "monitor_tab",
            &["4"],
            G,
            "Monitor",
            "",
            h::pane,
        ),
    ),
    cmd(
        &["jobs"],
        "",
        def(
            A::Pane(Pane::Jobs),
            "jobs_tab",
            &["5"],
            G,
            "Jobs",
            "",
            h::pane,
        ),
    ),
    def(
        A::NextPane,
        "next_tab",
        &["tab"],
        G,
        "next pane",
        "",
        h::next_pane,
    ),
    def(
        A::PrevPane,
        "prev_tab",
        &["backtab"],
        G,
        "previous pane",
        "",
        h::prev_pane,
    ),
    def(A::Down, "down", &["j", "down"], G, "move down", "", h::down),
    def(A::Up, "up", &["k", "up"], G, "move up", "", h::up),
    def(
        A::First,
        "first",
        &["g", "home"],
        G,
        "first row",
        "",
        h::first,
    ),
    def(A::Last, "last", &["G", "end"], G, "last row", "", h::last),
    def(
        A::PageDown,
        "page_down",
        &["pgdn", "ctrl+d"],
        G,
        "page down",
        "",
        h::page_down,
    ),
    def(
        A::PageUp,
        "page_up",
        &["pgup", "ctrl+u"],
        G,
        "page up",
        "",
        h::page_up,
    ),
    def(A::Open, "open", &["enter"], G, "open", "open", h::open),
    def(A::Back, "back", &["esc"], G, "back / close", "", h::back),
    cmd(
        &["quit", "q"],
        "",
        def(
            A::Quit,
            "quit",
            &["q"],
            G,
            "back; quit at the top",
            "quit",
            h::quit,
        ),
    ),
    def(
        A::ForceQuit,
        "force_quit",
        &["ctrl+c"],
        G,
        "quit now; server stays",
        "",
        h::force_quit,
    ),
    def(
        A::Suspend,
        "suspend",
        &["ctrl+z"],
        G,
        "suspend to the shell",
        "",
        h::suspend,
    ),
    cmd(
        &["refresh"],
        "",
        def(
            A::Refresh,
            "refresh",
            &["r"],
            G,
            "reload everything",
            "",
            h::refresh,
        ),
    ),
    cmd(
        &["messages", "msgs"],
        "",
        def(
            A::Messages,
            "messages",
            &["M"],
            G,
            "messages so far",
            "",
            h::messages,
        ),
    ),
    cmd(
        &["theme"],
        "NAME",
        def(
            A::Theme,
            "theme",
            &[],
            G,
            "switch theme (tab lists)",
            "",
            h::theme,
        ),
    ),
    cmd(
        &["stop"],
        "",
        writes(def(
            A::StopServer,
            "stop_server",
            &[],
            G,
            "stop the server (admin)",
            "",
            h::stop_server,
        )),
    ),
    cmd(
        &["import"],
        "",
        writes(def(
            A::Import,
            "import",
            &["i"],
            M,
            "import a model",
            "import",
            h::import,
        )),
    ),
    writes(def(
        A::Demo,
        "demo",
        &["d"],
        M,
        "load the sample models",
        "",
        h::demo,
    )),
    writes(def(
        A::Delete,
        "delete_model",
        &["D"],
        M,
        "delete model or version",
        "delete",
        h::delete,
    )),
    cmd(
        &["deploy"],
        "",
        writes(def(
            A::Deploy,
            "deploy",
            &["n"],
            S,
            "deploy a model version",
            "deploy",
            h::deploy,
        )),
    ),
    cmd(
        &["upstream"],
        "[MODEL:VERSION] URL",
        writes(def(
            A::ServeBy,
            "upstream",
            &[],
            M,
            "name the server of a SavedModel version",
            "",
            h::serve_by,
        )),
    ),
    writes(def(
        A::DeleteService,
        "delete_service",
        &["D"],
        S,
        "delete the service",
        "delete",
        h::delete_service,
    )),
    writes(def(
        A::RotateKey,
        "rotate_key",
        &["K"],
        S,
        "new access key",
        "key",
        h::rotate_key,
    )),
    def(
        A::RevealKey,
        "reveal_key",
        &["v"],
        S,
        "show / hide the key",
        "reveal",
        h::reveal_key,
    ),
    def(
        A::Copy,
        "copy",
        &["y"],
        S,
        "copy a runnable request",
        "copy",
        h::copy,
    ),
    cmd(
        &["events", "ev"],
        "[SERVICE]",
        def(
            A::Events,
            "events",
            &["e"],
            G,
            "audit log (of the open service)",
            "events",
            mon::events,
        ),
    ),
    def(
        A::WindowLonger,
        "window_longer",
        &["+"],
        O,
        "longer window",
        "window",
        mon::longer,
    ),
    def(
        A::WindowShorter,
        "window_shorter",
        &["-"],
        O,
        "shorter window",
        "",
        mon::shorter,
    ),
    def(
        A::NextMetric,
        "next_metric",
        &["]"],
        O,
        "next metric",
        "metric",
        mon::next_metric,
    ),
    def(
        A::PrevMetric,
        "prev_metric",
        &["["],
        O,
        "previous metric",
        "",
        mon::prev_metric,
    ),
    def(
        A::Freeze,
        "freeze",
        &["f"],
        O,
        "freeze / unfreeze",
        "freeze",
        mon::freeze,
    ),
    def(
        A::Zoom,
        "zoom",
        &["z"],
        O,
        "zoom the chart",
        "zoom",
        mon::zoom,
    ),
    def(
        A::WeightDown,
        "weight_down",
        &["h", "left"],
        T,
        "version -5 points (staged)",
        "-5",
        tr::nudge,
    ),
    def(
        A::WeightUp,
        "weight_up",
        &["l", "right"],
        T,
        "version +5 points (staged)",
        "+5",
        tr::nudge,
    ),
    def(
        A::WeightDownOne,
        "weight_down_one",
        &["H"],
        T,
        "version -1 point (staged)",
        "",
        tr::nudge,
    ),
    def(
        A::WeightUpOne,
        "weight_up_one",
        &["L"],
        T,
        "version +1 point (staged)",
        "",
        tr::nudge,
    ),
    def(
        A::WeightExact,
        "weight_exact",
        &["="],
        T,
        "type a version's percent (staged)",
        "exact",
        tr::exact,
    ),
    writes(def(
        A::ApplyTraffic,
        "apply_traffic",
        &["a"],
        T,
        "apply the staged split (confirm)",
        "apply",
        tr::apply,
    )),
    def(
        A::DiscardTraffic,
        "discard_traffic",
        &["u"],
        T,
        "drop the staged split",
        "undo",
        tr::discard,
    ),
    writes(def(
        A::Rollback,
        "rollback",
        &["R"],
        T,
        "roll back to the previous split (confirm)",
        "roll back",
        tr::rollback,
    )),
    writes(def(
        A::StartCanary,
        "canary",
        &["c"],
        T,
        "start a canary (form)",
        "canary",
        tr::canary,
    )),
    writes(def(
        A::Promote,
        "promote",
        &["p"],
        T,
        "resume a paused canary, or promote a running one (confirm)",
        "promote",
        tr::promote,
    )),
    writes(def(
        A::NewJob,
        "new_job",
        &["b"],
        M,
        "new batch job (form)",
        "batch",
        jb::new_job,
    )),
    def(
        A::JobFilter,
        "job_filter",
        &["F"],
        J,
        "filter by last run",
        "by state",
        jb::cycle_filter,
    ),
    def(
        A::JobFocus,
        "job_focus",
        &["h", "l"],
        J,
        "chain / runs",
        "chain/runs",
        jb::switch_focus,
    ),
    writes(def(
        A::TriggerJob,
        "trigger_job",
        &["t"],
        J,
        "run the job now",
        "run now",
        jb::trigger,
    )),
    writes(def(
        A::CancelRun,
        "cancel_run",
        &["X"],
        J,
        "cancel a run (confirm)",
        "cancel",
        jb::cancel,
    )),
    writes(def(
        A::PauseJob,
        "pause_job",
        &["P"],
        J,
        "pause / resume",
        "pause/resume",
        jb::pause,
    )),
    writes(def(
        A::AddStep,
        "add_step",
        &["a"],
        J,
        "add a step after",
        "add step",
        jb::add_step,
    )),
    writes(def(
        A::EditStep,
        "edit_step",
        &["E"],
        J,
        "edit the step (enter)",
        "edit",
        jb::edit,
    )),
    writes(def(
        A::StepUp,
        "step_up",
        &["K"],
        J,
        "move the step up",
        "",
        jb::move_step,
    )),
    writes(def(
        A::StepDown,
        "step_down",
        &["J"],
        J,
        "move the step down",
        "",
        jb::move_step,
    )),
    writes(def(
        A::DeleteJobOrStep,
        "delete_job",
        &["D"],
        J,
        "delete step or job",
        "delete",
        jb::delete,
    )),
];

pub fn def_of(action: Action) -> Option<&'static ActionDef> {
    ACTIONS.iter().find(|d| d.action == action)
}

/// The action a `:` command names (by name or alias).
pub fn command(name: &str) -> Option<&'static ActionDef> {
    ACTIONS.iter().find(|d| d.commands.contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_action_has_a_key() {
        let mut names: Vec<&str> = ACTIONS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate action names");
        assert!(
            ACTIONS
                .iter()
                .all(|d| !d.keys.is_empty() || !d.commands.is_empty()),
            "an action nobody can reach"
        );
        let mut commands: Vec<&str> = ACTIONS
            .iter()
            .flat_map(|d| d.commands.iter().copied())
            .collect();
        commands.sort_unstable();
        let before = commands.len();
        commands.dedup();
        assert_eq!(before, commands.len(), "a command name or alias used twice");
    }
}
