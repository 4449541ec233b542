//! The Traffic pane with a synthetic service: sliders, staged edits that keep Σ = 100, the
//! apply and rollback dialogs with their exact diffs (Cancel focused), `=` for an exact value,
//! a failed apply that stays staged, and snapshots at 80x24 and 120x40.

use std::collections::BTreeMap;

use super::screens::snap;
use super::*;
use crate::control::contract::{TrafficCall, TrafficView};
use crate::domain::{ChangeKind, Split, TrafficChange};
use crate::tui::state::{Overlay, Pane};

fn weights(text: &str) -> BTreeMap<u32, u8> {
    let words: Vec<String> = text.split_whitespace().map(String::from).collect();
    Split::parse(&words).unwrap().into()
}

fn change(
    revision: i64,
    kind: ChangeKind,
    before: &str,
    after: &str,
    actor: &str,
) -> TrafficChange {
    TrafficChange {
        revision,
        at: format!("2026-12-02T10:0{revision}:00Z"),
        actor: actor.into(),
        kind,
        before: weights(before),
        after: weights(after),
        reason: if kind == ChangeKind::Split {
            "canary looks fine".into()
        } else {
            String::new()
        },
    }
}

/// fraud at revision 3: v3 added, then 100/0 → 90/10, then 90/10 → 80/20.
fn fraud_traffic() -> TrafficView {
    TrafficView {
        service: "fraud".into(),
        model: "fraud".into(),
        revision: 3,
        split: Split::new(weights("3=80 4=20")).unwrap(),
        sticky_header: Some("x-user-id".into()),
        labels: [("stable".to_string(), 3)].into(),
        history: vec![
            TrafficChange {
                revision: 1,
                at: "2026-12-02T10:01:00Z".into(),
                actor: "alice".into(),
                kind: ChangeKind::Add,
                before: weights("3=100"),
                after: weights("3=100 4=0"),
                reason: String::new(),
            },
            change(2, ChangeKind::Split, "3=100 4=0", "3=90 4=10", "alice"),
            change(3, ChangeKind::Upgrade, "3=90 4=10", "3=80 4=20", "bob"),
        ],
        canary: None,
    }
}

/// The Traffic pane with fraud's sliders open and loaded.
fn open_fraud() -> State {
    let mut s = loaded("dev");
    let out = press(&mut s, &["3", "enter"]);
    assert_eq!(out, vec![Effect::Call(Call::LoadTraffic("fraud".into()))]);
    let msg = Msg::Traffic {
        service: "fraud".into(),
        result: Ok(Box::new(fraud_traffic())),
        changed: false,
    };
    update(&mut s, &Keymap::defaults(), msg, t0());
    s
}

#[test]
fn sliders_stage_edits_that_keep_the_sum_at_100() {
    let mut s = loaded("dev");
    press(&mut s, &["3"]);
    assert_eq!(s.pane, Pane::Traffic);
    snap("traffic_list", &s);
    let mut s = open_fraud();
    snap("traffic_sliders", &s);
    // v4 (second row) +5, +5, +1: staged, v3 gives way.
    press(&mut s, &["j", "l", "l", "L"]);
    let staged = s.traffic.staged.clone().expect("staged");
    assert_eq!(staged.to_string(), "3=69 4=31");
    assert_eq!(s.traffic.diff(" · ").unwrap(), "v3 80→69 · v4 20→31");
    snap("traffic_staged", &s);
    // Back to where it was: nothing staged.
    press(&mut s, &["H", "h", "h"]);
    assert_eq!(s.traffic.staged, None);
    // `=` types an exact value; out of range stays in the form.
    press(&mut s, &["="]);
    press(&mut s, &["ctrl+u"]);
    type_text(&mut s, "150");
    press(&mut s, &["enter"]);
    assert!(matches!(&s.overlay, Overlay::Form(f) if f.error.is_some()));
    press(&mut s, &["ctrl+u"]);
    type_text(&mut s, "40");
    press(&mut s, &["enter"]);
    assert_eq!(s.traffic.staged.as_ref().unwrap().to_string(), "3=60 4=40");
    // u drops it.
    press(&mut s, &["u"]);
    assert_eq!(s.traffic.staged, None);
}

#[test]
fn apply_shows_the_diff_with_cancel_focused_and_carries_the_revision() {
    let mut s = open_fraud();
    assert!(
        press(&mut s, &["a"]).is_empty(),
        "nothing staged, nothing to apply"
    );
    press(&mut s, &["j", "l", "l"]);
    press(&mut s, &["a"]);
    let Overlay::Confirm(c) = &s.overlay else {
        panic!("a dialog")
    };
    assert_eq!(c.body, "v3 80→70 · v4 20→30");
    assert!(!c.on_ok, "Cancel is focused");
    snap("traffic_apply_dialog", &s);
    // Enter on Cancel sends nothing and keeps the edit.
    assert!(press(&mut s, &["enter"]).is_empty());
    assert!(s.traffic.staged.is_some());
    let out = press(&mut s, &["a", "y"]);
    let expected = Call::ChangeTraffic {
        service: "fraud".into(),
        call: TrafficCall::Split {
            weights: [("3".to_string(), 70.into()), ("4".to_string(), 30.into())].into(),
            revision: Some(3),
            reason: String::new(),
        },
    };
    assert_eq!(out, vec![Effect::Call(expected)]);
    // Refused (someone changed it meanwhile): the edit stays staged, the reason is shown.
    let refused = Msg::Traffic {
        service: "fraud".into(),
        result: Err(failure(
            "stale_revision",
            "fraud's traffic changed since revision 3",
            None,
        )),
        changed: true,
    };
    update(&mut s, &Keymap::defaults(), refused, t0());
    assert!(s.traffic.staged.is_some());
    assert!(last_message(&s).contains("changed since revision 3"));
    // Applied: nothing staged, the new split shown.
    let mut after = fraud_traffic();
    after.revision = 4;
    after.split = Split::new(weights("3=70 4=30")).unwrap();
    after.history.push(change(
        4,
        ChangeKind::Split,
        "3=80 4=20",
        "3=70 4=30",
        "operator",
    ));
    let applied = Msg::Traffic {
        service: "fraud".into(),
        result: Ok(Box::new(after)),
        changed: true,
    };
    update(&mut s, &Keymap::defaults(), applied, t0());
    assert_eq!(s.traffic.staged, None);
    assert!(
        last_message(&s).contains("now 3=70 4=30"),
        "{}",
        last_message(&s)
    );
}

#[test]
fn rollback_shows_the_split_it_goes_back_to() {
    let mut s = open_fraud();
    press(&mut s, &["R"]);
    let Overlay::Confirm(c) = &s.overlay else {
        panic!("a dialog")
    };
    // Before bob's upgrade: 90/10.
    assert_eq!(c.body, "v3 80→90 · v4 20→10");
    snap("traffic_rollback_dialog", &s);
    let out = press(&mut s, &["y"]);
    assert_eq!(
        out,
        vec![Effect::Call(Call::ChangeTraffic {
            service: "fraud".into(),
            call: TrafficCall::Rollback {
                reason: String::new(),
                revision: Some(3),
            },
        })]
    );
    // A viewer may not: the keys are refused and not offered.
    let mut s = open_fraud();
    s.scope = crate::domain::Scope::Viewer;
    press(&mut s, &["R"]);
    assert!(matches!(s.overlay, Overlay::None));
}

#[test]
fn a_canary_is_started_from_a_form_shown_and_promoted_after_a_dialog() {
    let mut s = open_fraud();
    // The form proposes the version at 0% (none here: v4 has 20%), with the defaults.
    press(&mut s, &["c"]);
    let Overlay::Form(form) = &s.overlay else {
        panic!("a form")
    };
    assert_eq!(form.value("steps"), "5,25,50,100");
    // No version: the form says so and stays.
    press(&mut s, &["enter"]);
    assert!(matches!(&s.overlay, Overlay::Form(f) if f.error.is_some()));
    type_text(&mut s, "4");
    let out = press(&mut s, &["enter"]);
    let Some(Effect::Call(Call::ChangeTraffic { service, call })) = out.first() else {
        panic!("a change: {out:?}")
    };
    assert_eq!(service, "fraud");
    assert!(
        matches!(
            call,
            TrafficCall::CanaryStart {
                to: 4,
                interval_secs: 60,
                min_requests: 200,
                ..
            }
        ),
        "{call:?}"
    );
    // The server refuses it: the form stays, with the reason, to fix.
    let refused = Msg::Traffic {
        service: "fraud".into(),
        result: Err(failure(
            "invalid_candidate",
            "version 4 already has 20% of fraud's traffic",
            None,
        )),
        changed: true,
    };
    update(&mut s, &Keymap::defaults(), refused, t0());
    let Overlay::Form(form) = &s.overlay else {
        panic!("the form stays: {:?}", s.overlay)
    };
    assert!(
        !form.busy
            && form
                .error
                .as_deref()
                .is_some_and(|e| e.contains("already has 20%"))
    );
    press(&mut s, &["esc"]);
    // The server's answer: a canary paused at a pause step.
    let mut view = fraud_traffic();
    view.canary = Some(crate::domain::canary::Canary {
        candidate: 4,
        steps: crate::domain::canary::parse_steps("20,pause,100").unwrap(),
        step: 1,
        gates: crate::domain::canary::Gates {
            interval_secs: 60,
            min_requests: 200,
            max_error_pct: 1.0,
            max_p99_ms: 500.0,
        },
        state: crate::domain::canary::CanaryState::Paused,
        baseline: weights("3=100 4=0"),
        verdict: "step 1 held (error 0.00%, p99 0.10 ms over 240 requests); waiting for a person"
            .into(),
        started_by: "alice".into(),
        started_at: "2026-12-02T10:00:00Z".into(),
    });
    let msg = Msg::Traffic {
        service: "fraud".into(),
        result: Ok(Box::new(view)),
        changed: false,
    };
    update(&mut s, &Keymap::defaults(), msg, t0());
    snap("traffic_canary", &s);
    press(&mut s, &["p"]);
    let Overlay::Confirm(c) = &s.overlay else {
        panic!("a dialog")
    };
    assert!(c.title.contains("Resume"), "{}", c.title);
    let out = press(&mut s, &["y"]);
    assert_eq!(
        out,
        vec![Effect::Call(Call::ChangeTraffic {
            service: "fraud".into(),
            call: TrafficCall::Canary {
                action: crate::control::contract::CanaryAction::Resume
            },
        })]
    );
}
