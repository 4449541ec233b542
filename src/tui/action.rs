//! Every console action, defined once. The key map, the hint bar, the `?` help, `:` command
//! completion and the defaults written to `console.toml` are all generated from [`ACTIONS`]
//! (DESIGN.md "One definition drives everything"), so a key can never do one thing and be
//! documented as another.

/// Where an action's keys apply. Pane keys are looked up first, then global ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Global,
    Models,
    Services,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Models => "models",
            Scope::Services => "services",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Help,
    Command,
    Filter,
    Tab(usize),
    NextTab,
    PrevTab,
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
    Import,
    Demo,
    DeleteVersion,
    Deploy,
    DeleteService,
    RotateKey,
    RevealKey,
    Copy,
}

/// One action: its config name, default keys, where they apply, what help says, and whether
/// the hint bar shows it.
pub struct ActionDef {
    pub action: Action,
    pub name: &'static str,
    pub keys: &'static [&'static str],
    pub scope: Scope,
    pub help: &'static str,
    /// The hint bar's short word for it; empty: not in the hint bar.
    pub hint: &'static str,
    /// Changes server state: hidden from hints and refused when the token is read-only.
    pub writes: bool,
}

const fn def(
    action: Action,
    name: &'static str,
    keys: &'static [&'static str],
    scope: Scope,
    help: &'static str,
    hint: &'static str,
) -> ActionDef {
    ActionDef {
        action,
        name,
        keys,
        scope,
        help,
        hint,
        writes: false,
    }
}

const fn writes(d: ActionDef) -> ActionDef {
    ActionDef { writes: true, ..d }
}

use Action as A;
use Scope::{Global as G, Models as M, Services as S};

pub const ACTIONS: &[ActionDef] = &[
    def(A::Help, "help", &["?"], G, "show keys", "help"),
    def(A::Command, "command", &[":"], G, "command mode", "command"),
    def(A::Filter, "filter", &["/"], G, "filter rows", "filter"),
    def(A::Tab(0), "models_tab", &["1"], G, "Models", ""),
    def(A::Tab(1), "services_tab", &["2"], G, "Services", ""),
    def(A::Tab(2), "traffic_tab", &["3"], G, "Traffic", ""),
    def(A::Tab(3), "monitor_tab", &["4"], G, "Monitor", ""),
    def(A::Tab(4), "jobs_tab", &["5"], G, "Jobs", ""),
    def(A::NextTab, "next_tab", &["tab"], G, "next pane", ""),
    def(A::PrevTab, "prev_tab", &["backtab"], G, "previous pane", ""),
    def(A::Down, "down", &["j", "down"], G, "move down", ""),
    def(A::Up, "up", &["k", "up"], G, "move up", ""),
    def(A::First, "first", &["g", "home"], G, "first row", ""),
    def(A::Last, "last", &["G", "end"], G, "last row", ""),
    def(
        A::PageDown,
        "page_down",
        &["pgdn", "ctrl+d"],
        G,
        "page down",
        "",
    ),
    def(A::PageUp, "page_up", &["pgup", "ctrl+u"], G, "page up", ""),
    def(A::Open, "open", &["enter"], G, "open", "open"),
    def(A::Back, "back", &["esc"], G, "back / close", ""),
    def(A::Quit, "quit", &["q"], G, "back; quit at the top", "quit"),
    def(A::ForceQuit, "force_quit", &["ctrl+c"], G, "quit now", ""),
    def(
        A::Suspend,
        "suspend",
        &["ctrl+z"],
        G,
        "suspend to the shell",
        "",
    ),
    def(A::Refresh, "refresh", &["r"], G, "reload everything", ""),
    writes(def(
        A::Import,
        "import",
        &["i"],
        M,
        "import a model",
        "import",
    )),
    writes(def(
        A::Demo,
        "demo",
        &["d"],
        M,
        "load the sample models and deploy one",
        "",
    )),
    writes(def(
        A::DeleteVersion,
        "delete_version",
        &["D"],
        M,
        "delete a version",
        "delete",
    )),
    writes(def(
        A::Deploy,
        "deploy",
        &["n"],
        S,
        "deploy a model version",
        "deploy",
    )),
    writes(def(
        A::DeleteService,
        "delete_service",
        &["D"],
        S,
        "delete the service",
        "delete",
    )),
    writes(def(
        A::RotateKey,
        "rotate_key",
        &["K"],
        S,
        "new access key",
        "new key",
    )),
    def(
        A::RevealKey,
        "reveal_key",
        &["v"],
        S,
        "show / hide the key",
        "reveal",
    ),
    def(
        A::Copy,
        "copy",
        &["y"],
        S,
        "copy the curl line",
        "copy curl",
    ),
];

/// `:` commands: name, argument hint, help. Completion and `?` list them from here.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("models", "", "Models"),
    ("svc", "[NAME]", "Services, at NAME"),
    ("theme", "NAME", "switch theme (tab lists)"),
    ("q", "", "quit"),
];

pub fn def_of(action: Action) -> Option<&'static ActionDef> {
    ACTIONS.iter().find(|d| d.action == action)
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
        assert!(ACTIONS.iter().all(|d| !d.keys.is_empty()));
    }
}
