//! Key sequences through the state machine, and the effects they ask for.

use super::*;
use crate::tui::effect::Done;
use crate::tui::state::{List, Loadable, Overlay, Pane};

fn call(c: Call) -> Vec<Effect> {
    vec![Effect::Call(c)]
}

fn quit(stop: bool) -> Vec<Effect> {
    vec![Effect::Ui(Ui::Quit { stop })]
}

fn row(s: &State, list: List) -> usize {
    s.cursor(list).row
}

#[test]
fn navigate_drill_in_and_back() {
    let mut s = loaded("dev");
    press(&mut s, &["j", "j", "j"]);
    assert_eq!(row(&s, List::Models), 2, "stops at the last row");
    press(&mut s, &["g"]);
    assert_eq!(s.selected_model().unwrap().name, "diabetes");
    press(&mut s, &["down"]);
    let effects = press(&mut s, &["enter"]);
    assert_eq!(effects, call(Call::LoadVersions("iris".into())));
    assert!(matches!(s.versions, Some((ref n, Loadable::Loading)) if n == "iris"));
    iris_versions(&mut s);
    assert_eq!(s.rows(), 2);
    press(&mut s, &["esc"]);
    assert!(s.versions.is_none(), "esc goes back");
    press(&mut s, &["2"]);
    assert_eq!(s.pane, Pane::Services);
    press(&mut s, &["tab", "tab", "backtab"]);
    assert_eq!(s.pane, Pane::Traffic);
    press(&mut s, &["backtab", "backtab", "backtab"]);
    assert_eq!(s.pane, Pane::Jobs, "panes wrap around");
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
    assert_eq!(
        row(&s, List::Models),
        0,
        "keys move within the filtered rows"
    );
    press(&mut s, &["esc"]);
    assert_eq!((s.filter.as_str(), s.rows()), ("", 3));
    assert_eq!(press(&mut s, &["q"]), quit(false), "q quits at the top");
}

#[test]
fn selection_follows_the_item_across_refreshes_and_new_items_are_selected() {
    let mut s = loaded("dev");
    press(&mut s, &["2", "j"]);
    assert_eq!(s.selected_service().unwrap().service.name.as_str(), "iris");
    // A refresh brings a service that sorts first: the cursor stays on iris, not on row 1.
    let services = vec![
        service("churn", "churn", 1),
        service("fraud", "fraud", 3),
        service("iris", "iris", 2),
    ];
    let models = s.models.ready().unwrap().clone();
    let refresh = |s: &mut State, services: Vec<ServiceView>| {
        let msg = Msg::Snapshot {
            models: models.clone(),
            services,
            environment: "dev".into(),
            gateway: "http://127.0.0.1:8501".into(),
            scope: Scope::Operator,
        };
        update(s, &Keymap::defaults(), msg, t0());
    };
    refresh(&mut s, services.clone());
    assert_eq!(s.selected_service().unwrap().service.name.as_str(), "iris");
    // A deploy finishes: the new service is selected once a snapshot brings it.
    let done = Done {
        text: "deployed alpha".into(),
        created: Some((List::Services, "alpha".into())),
    };
    update(&mut s, &Keymap::defaults(), Msg::Done(Ok(done)), t0());
    let mut more = services;
    more.insert(0, service("alpha", "iris", 1));
    refresh(&mut s, more);
    assert_eq!(s.selected_service().unwrap().service.name.as_str(), "alpha");
    assert_eq!(s.select_next, None);
    // The selected service is deleted elsewhere: the cursor stays in the table.
    refresh(&mut s, vec![service("iris", "iris", 2)]);
    assert_eq!(s.selected_service().unwrap().service.name.as_str(), "iris");
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
        call(Call::DeleteService("fraud".into()))
    );
    press(&mut s, &["D"]);
    assert!(press(&mut s, &["esc"]).is_empty());
    press(&mut s, &["K"]);
    assert_eq!(press(&mut s, &["y"]), call(Call::RotateKey("fraud".into())));
}

#[test]
fn upstream_names_the_server_of_the_selected_or_named_version() {
    let mut s = loaded("dev");
    let serve_by = |model: &str, version, url: &str| {
        call(Call::ServeBy {
            model: model.into(),
            version,
            upstream: url.into(),
        })
    };
    press(&mut s, &[":"]);
    type_text(&mut s, "upstream resnet:3 http://tfs:8501");
    assert_eq!(
        press(&mut s, &["enter"]),
        serve_by("resnet", 3, "http://tfs:8501")
    );
    // Without a version named or selected, it says how.
    press(&mut s, &[":"]);
    type_text(&mut s, "upstream http://tfs:8501");
    assert!(press(&mut s, &["enter"]).is_empty());
    assert!(last_message(&s).contains(":upstream MODEL:VERSION URL"));
    // In a model's versions, the selected one.
    press(&mut s, &["j", "enter"]);
    iris_versions(&mut s);
    press(&mut s, &["j", ":"]);
    type_text(&mut s, "upstream http://tfs:8501/v1/models/iris");
    assert_eq!(
        press(&mut s, &["enter"]),
        serve_by("iris", 2, "http://tfs:8501/v1/models/iris")
    );
    // A version named without its URL, or a selection not on screen, is not guessed at.
    press(&mut s, &[":"]);
    type_text(&mut s, "upstream iris:2");
    assert!(press(&mut s, &["enter"]).is_empty());
    press(&mut s, &["4", ":"]);
    type_text(&mut s, "upstream http://tfs:8501");
    assert!(press(&mut s, &["enter"]).is_empty());
    assert!(last_message(&s).contains(":upstream MODEL:VERSION URL"));
}

#[test]
fn d_deletes_the_model_on_the_list_and_the_version_in_its_versions() {
    let mut s = loaded("dev");
    press(&mut s, &["D"]);
    let Overlay::Confirm(c) = &s.overlay else {
        panic!("D on the Models list does nothing")
    };
    assert_eq!(c.call, Call::DeleteModel("diabetes".into()));
    assert!(
        c.title.contains("diabetes") && c.title.contains("1 version"),
        "{}",
        c.title
    );
    press(&mut s, &["esc", "j", "enter"]);
    // iris: version 1 idle, version 2 serving; give version 3 version 1's bytes.
    let mut v3 = version("iris", 3, None);
    v3.sha256 = "aa".into();
    let mut v1 = version("iris", 1, None);
    v1.sha256 = "aa".into();
    let versions = vec![v1, version("iris", 2, Some("iris")), v3];
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Versions("iris".into(), Ok(versions)),
        t0(),
    );
    press(&mut s, &["D"]);
    let Overlay::Confirm(c) = &s.overlay else {
        panic!("no dialog")
    };
    assert_eq!(c.call, Call::DeleteVersion("iris".into(), 1));
    assert!(
        c.body.contains("kept") && c.body.contains("version 3"),
        "{}",
        c.body
    );
    press(&mut s, &["esc", "j"]);
    press(&mut s, &["D"]);
    let Overlay::Confirm(c) = &s.overlay else {
        panic!("no dialog")
    };
    assert!(c.body.contains("It serves iris"), "{}", c.body);
}

#[test]
fn deleting_a_models_last_version_leaves_no_dead_view() {
    let mut s = loaded("dev");
    press(&mut s, &["enter"]);
    let versions = vec![version("diabetes", 1, None)];
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Versions("diabetes".into(), Ok(versions)),
        t0(),
    );
    press(&mut s, &["D"]);
    let Overlay::Confirm(c) = &s.overlay else {
        panic!("no dialog")
    };
    assert!(c.body.contains("last version"), "{}", c.body);
    // The reload after the delete no longer lists the model.
    let models = vec![model("iris", 2, &["iris"]), model("fraud", 3, &["fraud"])];
    let msg = Msg::Snapshot {
        models,
        services: vec![],
        environment: "dev".into(),
        gateway: String::new(),
        scope: Scope::Operator,
    };
    press(&mut s, &["y"]);
    let effects = update(&mut s, &Keymap::defaults(), msg, t0());
    assert!(s.versions.is_none(), "back to the list");
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Call(Call::LoadVersions(_)))),
        "nothing asks for the gone model: {effects:?}"
    );
    assert!(
        last_message(&s).contains("diabetes is gone"),
        "{}",
        last_message(&s)
    );
    // A versions answer that says the model is gone closes the view too.
    press(&mut s, &["enter"]);
    let gone = failure("not_found", "no model named \"iris\"", None);
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Versions("iris".into(), Err(gone)),
        t0(),
    );
    assert!(s.versions.is_none());
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
        call(Call::DeleteService("iris".into()))
    );
}

#[test]
fn forms_are_text_inputs_and_a_refusal_puts_the_cursor_on_its_field() {
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
    type_text(&mut s, "iirs2");
    // Fix a typo in the middle: left to it, delete, retype.
    press(&mut s, &["left", "left", "left", "backspace", "right", "i"]);
    press(&mut s, &["tab", "end"]);
    type_text(&mut s, ":2");
    press(&mut s, &["tab", "tab", "tab", "ctrl+u"]);
    type_text(&mut s, "999999999");
    let effects = press(&mut s, &["enter"]);
    assert!(
        matches!(&effects[..], [Effect::Call(Call::Deploy { name, model, threads, timeout_ms, .. })]
        if name == "iris2" && model == "iris:2" && threads == "1" && timeout_ms == "999999999"),
        "{effects:?}"
    );
    assert!(matches!(&s.overlay, Overlay::Form(f) if f.busy));
    assert!(
        press(&mut s, &["x"]).is_empty(),
        "a busy form takes no keys"
    );
    let refusal = failure(
        "invalid_setting",
        "timeout_ms must be a whole number of milliseconds from 1 to 3600000, not 999999999",
        Some("timeout_ms"),
    );
    update(&mut s, &Keymap::defaults(), Msg::Done(Err(refusal)), t0());
    let Overlay::Form(form) = &s.overlay else {
        panic!("the form closed on an error")
    };
    assert!(form.error.as_deref().unwrap().contains("timeout_ms"));
    assert_eq!(
        form.fields[form.focus].key, "timeout_ms",
        "the cursor is on the field at fault"
    );
    assert!(!form.busy);
    press(&mut s, &["ctrl+w"]);
    let Overlay::Form(form) = &s.overlay else {
        panic!("no form")
    };
    assert_eq!(form.error, None, "editing clears the old refusal");
    type_text(&mut s, "5000");
    press(&mut s, &["enter"]);
    let done = Done {
        text: "deployed iris2".into(),
        created: Some((List::Services, "iris2".into())),
    };
    update(&mut s, &Keymap::defaults(), Msg::Done(Ok(done)), t0());
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(last_message(&s), "deployed iris2");
    assert_eq!(s.select_next, Some((List::Services, "iris2".into())));
}

#[test]
fn refusals_name_console_keys_not_cli_commands() {
    let mut s = loaded("dev");
    press(&mut s, &["2", "n"]);
    press(&mut s, &["enter"]);
    let refusal = failure(
        "not_found",
        "no model named \"nosuch\": see `modeldeck models list`",
        Some("model"),
    );
    update(&mut s, &Keymap::defaults(), Msg::Done(Err(refusal)), t0());
    let Overlay::Form(form) = &s.overlay else {
        panic!("no form")
    };
    assert_eq!(
        form.error.as_deref(),
        Some("no model named \"nosuch\": see the Models pane (1)")
    );
    assert_eq!(form.fields[form.focus].key, "model");
}

#[test]
fn command_mode_completes_runs_and_refuses_what_it_cannot_do() {
    let mut s = loaded("dev");
    press(&mut s, &[":"]);
    type_text(&mut s, "sv");
    press(&mut s, &["tab"]);
    assert!(matches!(&s.overlay, Overlay::Command(i) if i.text() == "svc"));
    type_text(&mut s, " i");
    press(&mut s, &["tab"]);
    assert!(matches!(&s.overlay, Overlay::Command(i) if i.text() == "svc iris"));
    press(&mut s, &["enter"]);
    assert_eq!(
        (s.pane, s.selected_service().unwrap().service.name.as_str()),
        (Pane::Services, "iris")
    );
    press(&mut s, &["1", ":"]);
    type_text(&mut s, "svc nosuch");
    press(&mut s, &["enter"]);
    assert_eq!(
        s.pane,
        Pane::Models,
        "an unknown service does not switch panes"
    );
    assert!(s.status_message(t0()).unwrap().error);
    assert!(last_message(&s).contains("nosuch"));
    // The next command that works takes the error off the status line.
    press(&mut s, &[":"]);
    type_text(&mut s, "services");
    press(&mut s, &["enter"]);
    assert_eq!(s.pane, Pane::Services, "an alias runs the same action");
    assert_eq!(s.status_message(t0()), None);
    press(&mut s, &[":"]);
    type_text(&mut s, "theme mo");
    press(&mut s, &["tab"]);
    assert_eq!(
        press(&mut s, &["enter"]),
        vec![Effect::Ui(Ui::Theme("mono".into()))]
    );
    press(&mut s, &[":"]);
    type_text(&mut s, "bogus");
    press(&mut s, &["enter"]);
    assert!(s.messages.last().unwrap().error);
    press(&mut s, &[":"]);
    type_text(&mut s, "messages");
    press(&mut s, &["enter"]);
    assert_eq!(s.overlay, Overlay::Messages);
    assert!(s.messages.len() >= 2, "the history keeps earlier messages");
}

#[test]
fn stop_needs_an_admin_and_a_confirmation() {
    let mut s = loaded("dev");
    press(&mut s, &[":"]);
    type_text(&mut s, "stop");
    assert!(press(&mut s, &["enter"]).is_empty());
    assert!(last_message(&s).contains("admin"));
    s.scope = Scope::Admin;
    press(&mut s, &[":"]);
    type_text(&mut s, "stop");
    press(&mut s, &["enter"]);
    assert!(matches!(&s.overlay, Overlay::Confirm(c) if !c.on_ok && c.call == Call::StopServer));
    assert_eq!(press(&mut s, &["y"]), call(Call::StopServer));
    let km = Keymap::defaults();
    update(&mut s, &km, Msg::StopAsked(4242), t0());
    update(
        &mut s,
        &km,
        Msg::Connection(Err("connection refused".into())),
        t0(),
    );
    update(
        &mut s,
        &km,
        Msg::Connection(Err("no server runs".into())),
        t0(),
    );
    assert!(
        s.connection.stale(),
        "still STALE: nothing on screen is fresh"
    );
    let news: Vec<(&str, bool)> = s
        .messages
        .iter()
        .map(|m| (m.text.as_str(), m.error))
        .collect();
    assert!(
        news.ends_with(&[
            (
                "server pid 4242 is stopping (it drains requests in progress first)",
                false
            ),
            ("the server has stopped, as asked", false),
        ]),
        "{news:?}"
    );
}

/// The stop's reply and the server's loss come from different workers: read in the other
/// order, the history still says the stop, then that it happened, and no error.
#[test]
fn a_stop_whose_server_is_gone_before_its_reply_is_read_is_still_news() {
    let mut s = loaded("dev");
    s.scope = Scope::Admin;
    press(&mut s, &[":"]);
    type_text(&mut s, "stop");
    press(&mut s, &["enter"]);
    assert_eq!(press(&mut s, &["y"]), call(Call::StopServer));
    let km = Keymap::defaults();
    update(
        &mut s,
        &km,
        Msg::Connection(Err("no server runs".into())),
        t0(),
    );
    update(&mut s, &km, Msg::StopAsked(4242), t0());
    update(&mut s, &km, Msg::Connection(Err("refused".into())), t0());
    let news: Vec<(&str, bool)> = s
        .messages
        .iter()
        .map(|m| (m.text.as_str(), m.error))
        .collect();
    assert!(
        news.ends_with(&[
            (
                "server pid 4242 is stopping (it drains requests in progress first)",
                false
            ),
            ("the server has stopped, as asked", false),
        ]),
        "{news:?}"
    );
    assert!(s.connection.stale());

    // A stop the server refuses is an error, and a later loss is one too.
    let mut s = loaded("dev");
    s.scope = Scope::Admin;
    press(&mut s, &[":"]);
    type_text(&mut s, "stop");
    press(&mut s, &["enter"]);
    press(&mut s, &["y"]);
    let refused = Failure::new("forbidden", "no");
    update(&mut s, &km, Msg::StopFailed(refused), t0());
    update(&mut s, &km, Msg::Connection(Err("gone".into())), t0());
    assert!(
        s.messages.iter().rev().take(2).all(|m| m.error),
        "{:?}",
        s.messages
    );
}

#[test]
fn ctrl_c_quits_at_once_and_esc_never_does() {
    let mut s = loaded("dev");
    for _ in 0..3 {
        assert!(press(&mut s, &["esc"]).is_empty());
    }
    press(&mut s, &["i"]);
    assert!(matches!(s.overlay, Overlay::Form(_)));
    assert_eq!(press(&mut s, &["ctrl+c"]), quit(false));
    // Even with live services on a server this console started: no dialog, the server stays.
    let mut s = loaded("dev");
    s.started_server = true;
    assert_eq!(press(&mut s, &["ctrl+c"]), quit(false));
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
    assert_eq!(press(&mut s, &["enter"]), quit(false));
    let mut s = loaded("dev");
    s.started_server = true;
    press(&mut s, &["q", "tab"]);
    assert_eq!(press(&mut s, &["enter"]), quit(true));
}

#[test]
fn read_only_tokens_cannot_write_and_the_demo_needs_an_empty_repository() {
    let mut s = loaded("dev");
    s.scope = Scope::Viewer;
    assert!(press(&mut s, &["2", "D"]).is_empty());
    assert_eq!(s.overlay, Overlay::None);
    assert!(last_message(&s).contains("read-only"));
    let mut s = loaded("dev");
    assert!(press(&mut s, &["d"]).is_empty(), "no demo over real models");
    assert!(last_message(&s).contains("empty repository"));
    let mut empty = empty();
    assert_eq!(press(&mut empty, &["d"]), call(Call::Demo));
}

#[test]
fn y_copies_a_line_built_by_the_worker_or_says_why_not() {
    let mut s = loaded("dev");
    press(&mut s, &["2", "j"]);
    assert_eq!(
        press(&mut s, &["y"]),
        call(Call::CopyRequest("iris".into()))
    );
    let line = "curl -s http://127.0.0.1:8501/v1/models/iris:predict …".to_string();
    let effects = update(
        &mut s,
        &Keymap::defaults(),
        Msg::CopyReady("iris".into(), Ok(line.clone())),
        t0(),
    );
    assert_eq!(
        effects,
        vec![Effect::Ui(Ui::Copy {
            line,
            service: "iris".into()
        })]
    );
    let forbidden = failure("forbidden", "token \"ro\" has scope viewer", None);
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::CopyReady("iris".into(), Err(forbidden)),
        t0(),
    );
    assert!(
        last_message(&s).contains("operator scope"),
        "{}",
        last_message(&s)
    );
    // In the detail, y copies the open service's line; v reveals its key.
    press(&mut s, &["enter"]);
    assert_eq!(
        press(&mut s, &["y"]),
        call(Call::CopyRequest("iris".into()))
    );
    assert_eq!(press(&mut s, &["v"]), call(Call::RevealKey("iris".into())));
}

#[test]
fn a_lost_connection_is_stale_until_it_recovers() {
    let mut s = loaded("dev");
    let km = Keymap::defaults();
    assert_eq!(update(&mut s, &km, Msg::Changed, t0()), call(Call::Reload));
    update(
        &mut s,
        &km,
        Msg::Connection(Err("cannot reach 127.0.0.1:8502".into())),
        t0(),
    );
    assert!(s.connection.stale() && !s.connection.healthy);
    update(
        &mut s,
        &km,
        Msg::Relinked("attached 127.0.0.1:9602".into()),
        t0(),
    );
    assert_eq!(s.connection.label, "attached 127.0.0.1:9602");
    assert_eq!(
        update(&mut s, &km, Msg::Connection(Ok(())), t0()),
        call(Call::Reload)
    );
    assert!(!s.connection.stale());
}

#[test]
fn the_page_stays_put_while_the_cursor_moves_within_it() {
    let models = (0..20)
        .map(|i| model(&format!("m{i:02}"), 1, &[]))
        .collect();
    let mut s = snapshot("embedded", models, vec![], "dev");
    s.page = 5;
    let at = |s: &State| (s.cursor(List::Models).row, s.cursor(List::Models).offset);
    press(&mut s, &["j", "j", "j", "j", "j", "j", "j"]);
    assert_eq!(at(&s), (7, 3), "scrolled just enough");
    press(&mut s, &["k", "k"]);
    assert_eq!(at(&s), (5, 3), "moving up inside the page does not scroll");
    press(&mut s, &["k", "k", "k"]);
    assert_eq!(at(&s), (2, 2));
    press(&mut s, &["G"]);
    assert_eq!(at(&s), (19, 15));
}

#[test]
fn the_import_form_names_the_model_after_its_file_until_a_name_is_typed() {
    let mut s = loaded("dev");
    press(&mut s, &["i"]);
    type_text(&mut s, "~/models/Wine-Quality.v2.pmml");
    press(&mut s, &["tab"]);
    let name = |s: &State| match &s.overlay {
        Overlay::Form(f) => f.value("name").to_string(),
        _ => panic!("no form"),
    };
    assert_eq!(name(&s), "wine-quality");
    // The path changes: the name the form filled in follows it.
    press(&mut s, &["backtab", "ctrl+u"]);
    type_text(&mut s, "/srv/diabetes.pmml");
    press(&mut s, &["tab"]);
    assert_eq!(name(&s), "diabetes");
    // A name the user typed is theirs.
    press(&mut s, &["ctrl+u"]);
    type_text(&mut s, "mine");
    press(&mut s, &["backtab", "ctrl+u"]);
    type_text(&mut s, "/srv/iris.pmml");
    press(&mut s, &["tab"]);
    assert_eq!(name(&s), "mine");
}

#[test]
fn a_console_whose_server_was_replaced_no_longer_offers_to_stop_it() {
    let mut s = loaded("dev");
    s.started_server = true;
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Relinked("attached 127.0.0.1:9602".into()),
        t0(),
    );
    assert_eq!(
        press(&mut s, &["q"]),
        quit(false),
        "no leave-or-stop question"
    );
}
