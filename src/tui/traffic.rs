//! What the Traffic pane holds: the service whose sliders are open, its traffic as the server
//! last said (split, revision, rules, history), and the weights staged on top of it. Edits are
//! staged, never sent: moving one slider rebalances the others so the split always sums to
//! 100, and only `a` (confirmed) applies — with the revision the edit started from, so a change
//! made meanwhile by someone else is refused rather than overwritten.

use crate::control::contract::TrafficView;
use crate::domain::{Split, rollback_target};

use super::state::Loadable;

#[derive(Debug, Clone, PartialEq)]
pub struct TrafficUi {
    /// The service whose sliders are open (Enter on the list).
    pub open: Option<String>,
    pub view: Loadable<TrafficView>,
    /// Weights edited and not applied; `None`: what is in force.
    pub staged: Option<Split>,
    /// The revision the staged edit started from.
    pub staged_from: i64,
    /// An apply is on its way.
    pub applying: bool,
}

impl Default for TrafficUi {
    fn default() -> TrafficUi {
        TrafficUi {
            open: None,
            view: Loadable::Loading,
            staged: None,
            staged_from: 0,
            applying: false,
        }
    }
}

impl TrafficUi {
    /// The split in force, as last loaded.
    pub fn current(&self) -> Option<&Split> {
        self.view.ready().map(|v| &v.split)
    }

    /// What the sliders show: the staged split, else the one in force.
    pub fn shown(&self) -> Option<&Split> {
        self.staged.as_ref().or(self.current())
    }

    /// The versions, in the sliders' order.
    pub fn versions(&self) -> Vec<u32> {
        self.shown().map(Split::versions).unwrap_or_default()
    }

    /// Moves `version` by `delta` points (to between 0 and 100); the others rebalance.
    pub fn nudge(&mut self, version: u32, delta: i32) {
        let Some(shown) = self.shown().cloned() else {
            return;
        };
        let to = (i32::from(shown.weight(version)) + delta).clamp(0, 100) as u8;
        self.set(version, to);
    }

    /// Sets `version` to `percent`; the others rebalance. Back at the split in force, nothing
    /// is staged any more.
    pub fn set(&mut self, version: u32, percent: u8) {
        let (Some(shown), Some(view)) = (self.shown().cloned(), self.view.ready()) else {
            return;
        };
        if self.staged.is_none() {
            self.staged_from = view.revision;
        }
        let next = shown.with(version, percent);
        self.staged = (next != view.split).then_some(next);
    }

    /// `v1 90→70 · v2 10→30`: what applying would change.
    pub fn diff(&self, sep: &str) -> Option<String> {
        let (staged, current) = (self.staged.as_ref()?, self.current()?);
        Some(staged.diff(current, sep))
    }

    /// The split a rollback would go to, and what it changes from the one in force.
    pub fn rollback(&self, sep: &str) -> Option<(Split, String)> {
        let view = self.view.ready()?;
        let (target, _) = rollback_target(&view.history)?;
        let target = target.onto(&view.split.versions()).ok()?;
        let diff = target.diff(&view.split, sep);
        Some((target, diff))
    }
}
