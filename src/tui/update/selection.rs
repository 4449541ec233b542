//! Cursors that follow items, not row numbers: a refresh that adds, removes or reorders rows
//! keeps the cursor on the item it was on (or the nearest row if that item went), an item
//! just created is selected as soon as it shows, and the page scrolls only as far as needed.

use crate::tui::state::{List, State};

const LISTS: [List; 9] = [
    List::Models,
    List::Versions,
    List::Services,
    List::Monitor,
    List::Traffic,
    List::Weights,
    List::Jobs,
    List::Chain,
    List::Runs,
];

/// The selected item's name in each table, before the data changes.
pub fn remember(state: &State) -> [Option<String>; 9] {
    LISTS.map(|l| state.keys(l).get(state.cursor(l).row).cloned())
}

/// Puts each cursor back on the item it was on; a new item waiting to be selected wins.
pub fn restore(state: &mut State, kept: &[Option<String>; 9]) {
    for (list, key) in LISTS.iter().zip(kept) {
        let keys = state.keys(*list);
        let wanted = match &state.select_next {
            Some((l, name)) if l == list && keys.contains(name) => {
                let name = name.clone();
                state.select_next = None;
                Some(name)
            }
            _ => key.clone(),
        };
        let row = wanted
            .and_then(|k| keys.iter().position(|x| *x == k))
            .unwrap_or_else(|| state.cursor(*list).row.min(keys.len().saturating_sub(1)));
        state.cursor_mut(*list).row = row;
    }
}

/// Moves the current table's first shown row just enough to keep the selection on screen.
pub fn scroll(state: &mut State) {
    let Some(list) = state.list() else { return };
    let page = state.page.max(1);
    let c = state.cursor_mut(list);
    if c.row < c.offset {
        c.offset = c.row;
    } else if c.row >= c.offset + page {
        c.offset = c.row + 1 - page;
    }
}
