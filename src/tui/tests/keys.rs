//! Key sequences through the state machine, and the effects they ask for.

use super::*;
use crate::tui::state::{Loadable, Overlay};

#[test]
fn navigate_drill_in_and_back() {
    let mut s = loaded("dev");
    press(&mut s, &["j", "j", "j"]);
    assert_eq!(s.selected[0], 2, "stops at the last row");
    press(&mut s, &["g"]);
    assert_eq!(s.selected_model().unwrap().name, "diabetes");
    press(&mut s, &["down"]);
    let effects = press(&mut s, &["enter"]);
    assert_eq!(effects, vec![Effect::LoadVersions("iris".into())]);
    assert!(matches!(s.versions, Some((ref n, Loadable::Loading)) if n == "iris"));
    iris_versions(&mut s);
    assert_eq!(s.rows(), 2);
    press(&mut s, &["esc"]);
    assert!(s.versions.is_none(), "esc goes back");
    press(&mut s, &["2"]);
    assert_eq!(s.tab, 1);
    press(&mut s, &["tab", "tab", "backtab"]);
    assert_eq!(s.tab, 2);
}

#[test]
fn filter_narrows_live_and_esc_clears() {
    let mut s = loaded("dev");
    press(&mut s, &["/"]);
    type_text(&mut s, "IR");
    assert_eq!(s.rows(), 1, "case-insensitive substring");
    assert_eq!(s.selected_model().unwrap().name, "iris");
    press(&mut s, &["enter"]);
    assert!(!s.filtering && s.filter == "IR", "enter keeps the filter");
    press(&mut s, &["j"]);
    assert_eq!(s.selected[0], 0, "keys move within the filtered rows");
    press(&mut s, &["esc"]);
    assert_eq!((s.filter.as_str(), s.rows()), ("", 3));
    assert!(
        press(&mut s, &["q"]).contains(&Effect::Quit { stop: false }),
        "q quits at the top"
    );
}

#[test]
fn delete_service_dialog_starts_on_cancel() {
    let mut s = loaded("dev");
    press(&mut s, &["2", "D"]);
    assert!(
        matches!(&s.overlay, Overlay::Confirm(c) if !c.on_ok),
        "focus on Cancel"
    );
    assert!(
        press(&mut s, &["enter"]).is_empty(),
        "enter on Cancel does nothing"
    );
    assert_eq!(s.overlay, Overlay::None);
    press(&mut s, &["D", "tab"]);
    assert_eq!(
        press(&mut s, &["enter"]),
        vec![Effect::DeleteService("fraud".into())]
    );
    press(&mut s, &["D"]);
    assert!(press(&mut s, &["esc"]).is_empty());
    press(&mut s, &["K"]);
    assert_eq!(
        press(&mut s, &["y"]),
        vec![Effect::RotateKey("fraud".into())]
    );
}

#[test]
fn prod_needs_the_typed_name() {
    let mut s = loaded("prod");
    press(&mut s, &["2", "j", "D"]);
    assert!(
        press(&mut s, &["y", "enter"]).is_empty(),
        "y is typed text here, not a yes"
    );
    press(&mut s, &["backspace"]);
    type_text(&mut s, "iri");
    assert!(
        press(&mut s, &["enter"]).is_empty(),
        "a partial name does not confirm"
    );
    type_text(&mut s, "s");
    assert_eq!(
        press(&mut s, &["enter"]),
        vec![Effect::DeleteService("iris".into())]
    );
}

#[test]
fn deploy_form_submits_and_shows_the_refusal_in_place() {
    let mut s = loaded("dev");
    press(&mut s, &["j"]);
    press(&mut s, &["2", "n"]);
    let Overlay::Form(form) = &s.overlay else {
        panic!("no form")
    };
    assert_eq!(
        form.value("model"),
        "iris",
        "the model under the Models cursor"
    );
    type_text(&mut s, "iris2");
    press(&mut s, &["tab"]);
    type_text(&mut s, ":2");
    let effects = press(&mut s, &["enter"]);
    assert!(
        matches!(&effects[..], [Effect::Deploy { name, model, threads, .. }]
        if name == "iris2" && model == "iris:2" && threads == "1"),
        "{effects:?}"
    );
    assert!(matches!(&s.overlay, Overlay::Form(f) if f.busy));
    assert!(
        press(&mut s, &["x"]).is_empty(),
        "a busy form takes no keys"
    );
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Done(Err("service \"iris2\" already exists".into())),
        t0(),
    );
    let Overlay::Form(form) = &s.overlay else {
        panic!("the form closed on an error")
    };
    assert_eq!(
        form.error.as_deref(),
        Some("service \"iris2\" already exists")
    );
    assert!(!form.busy);
    press(&mut s, &["enter"]);
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Done(Ok("deployed iris2".into())),
        t0(),
    );
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(s.toasts.last().unwrap().text, "deployed iris2");
}

#[test]
fn command_mode_completes_and_runs() {
    let mut s = loaded("dev");
    press(&mut s, &[":"]);
    type_text(&mut s, "sv");
    press(&mut s, &["tab"]);
    assert_eq!(s.overlay, Overlay::Command("svc".into()));
    type_text(&mut s, " i");
    press(&mut s, &["tab"]);
    assert_eq!(s.overlay, Overlay::Command("svc iris".into()));
    press(&mut s, &["enter"]);
    assert_eq!(
        (s.tab, s.selected_service().unwrap().name.as_str()),
        (1, "iris")
    );
    press(&mut s, &[":"]);
    type_text(&mut s, "theme mo");
    press(&mut s, &["tab"]);
    assert_eq!(
        press(&mut s, &["enter"]),
        vec![Effect::Theme("mono".into())]
    );
    press(&mut s, &[":"]);
    type_text(&mut s, "bogus");
    press(&mut s, &["enter"]);
    assert!(s.toasts.last().unwrap().error);
}

#[test]
fn esc_never_quits_and_ctrl_c_always_does() {
    let mut s = loaded("dev");
    for _ in 0..3 {
        assert!(press(&mut s, &["esc"]).is_empty());
    }
    press(&mut s, &["i"]);
    assert!(matches!(s.overlay, Overlay::Form(_)));
    assert_eq!(
        press(&mut s, &["ctrl+c"]),
        vec![Effect::Quit { stop: false }]
    );
}

#[test]
fn quitting_a_started_server_with_live_services_asks_leave_or_stop() {
    let mut s = loaded("dev");
    s.started_server = true;
    assert!(press(&mut s, &["q"]).is_empty());
    assert_eq!(
        s.overlay,
        Overlay::Leave { stop: false },
        "leave running is the default"
    );
    assert_eq!(
        press(&mut s, &["enter"]),
        vec![Effect::Quit { stop: false }]
    );
    let mut s = loaded("dev");
    s.started_server = true;
    press(&mut s, &["q", "tab"]);
    assert_eq!(press(&mut s, &["enter"]), vec![Effect::Quit { stop: true }]);
}

#[test]
fn read_only_tokens_cannot_write_and_the_demo_needs_an_empty_repository() {
    let mut s = loaded("dev");
    s.read_only = true;
    assert!(press(&mut s, &["2", "D"]).is_empty());
    assert_eq!(s.overlay, Overlay::None);
    assert!(s.toasts.last().unwrap().text.contains("read-only"));
    let mut s = loaded("dev");
    assert!(press(&mut s, &["d"]).is_empty(), "no demo over real models");
    let mut empty = empty();
    assert_eq!(press(&mut empty, &["d"]), vec![Effect::Demo]);
}

#[test]
fn changes_reload_and_a_lost_connection_is_shown_then_recovered() {
    let mut s = loaded("dev");
    let km = Keymap::defaults();
    assert_eq!(
        update(&mut s, &km, Msg::Changed, t0()),
        vec![Effect::Reload]
    );
    update(
        &mut s,
        &km,
        Msg::Connection(Err("cannot reach 127.0.0.1:8502".into())),
        t0(),
    );
    assert!(!s.connection.healthy);
    assert_eq!(
        update(&mut s, &km, Msg::Connection(Ok(())), t0()),
        vec![Effect::Reload]
    );
    assert!(s.connection.healthy && s.connection.problem.is_none());
}

#[test]
fn the_page_stays_put_while_the_cursor_moves_within_it() {
    let models = (0..20)
        .map(|i| model(&format!("m{i:02}"), 1, &[]))
        .collect();
    let mut s = snapshot("embedded", models, vec![], "dev");
    s.page = 5;
    press(&mut s, &["j", "j", "j", "j", "j", "j", "j"]);
    assert_eq!((s.selected[0], s.offset[0]), (7, 3), "scrolled just enough");
    press(&mut s, &["k", "k"]);
    assert_eq!(
        (s.selected[0], s.offset[0]),
        (5, 3),
        "moving up inside the page does not scroll"
    );
    press(&mut s, &["k", "k", "k"]);
    assert_eq!((s.selected[0], s.offset[0]), (2, 2));
    press(&mut s, &["G"]);
    assert_eq!((s.selected[0], s.offset[0]), (19, 15));
}
