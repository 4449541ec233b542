//! Every pane rendered at 80x24 and 120x40 — empty, loaded and failed — in the mono theme with
//! ASCII symbols (insta snapshots of the text), plus style checks of semantic cells in the
//! colour themes.

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;

use super::*;
use crate::tui::state::Loadable;
use crate::tui::theme::{self, Symbols, Theme};
use crate::tui::view::{self, Look};

pub(super) fn render(
    state: &State,
    size: (u16, u16),
    theme: &Theme,
    sym: &Symbols,
) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
    let keymap = Keymap::defaults();
    let look = Look {
        theme,
        sym,
        keymap: &keymap,
        now: t0() + Duration::from_secs(2),
    };
    term.draw(|f| {
        view::draw(f, state, &look);
    })
    .unwrap();
    term
}

/// Every cell of a rendered screen as one string, row after row (monochrome).
pub(super) fn screen_text(s: &State, size: (u16, u16), sym: &theme::Symbols) -> String {
    render(s, size, &Theme::mono(), sym)
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol().to_string())
        .collect()
}

pub(super) fn snap(name: &str, state: &State) {
    let mono = Theme::mono();
    for size in [(80, 24), (120, 40)] {
        let term = render(state, size, &mono, &theme::ASCII);
        insta::assert_snapshot!(format!("{name}_{}x{}", size.0, size.1), term.backend());
    }
}

fn failed() -> State {
    let mut s = State::new("attached 127.0.0.1:8502", "mono");
    s.models = Loadable::Failed("the control API at http://127.0.0.1:8502 does not answer".into());
    s.services =
        Loadable::Failed("the control API at http://127.0.0.1:8502 does not answer".into());
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Connection(Err("cannot reach http://127.0.0.1:8502".into())),
        t0(),
    );
    s
}

#[test]
fn models_pane() {
    snap("models_empty", &empty());
    snap("models_loaded", &loaded("dev"));
    snap("models_failed", &failed());
    let mut versions = loaded("dev");
    press(&mut versions, &["j", "enter"]);
    iris_versions(&mut versions);
    snap("models_versions", &versions);
    let mut import = loaded("dev");
    press(&mut import, &["i"]);
    type_text(&mut import, "/srv/models/churn.pmml");
    press(&mut import, &["enter"]);
    update(
        &mut import,
        &Keymap::defaults(),
        Msg::Done(Err(failure(
            "invalid_field",
            "/srv/models/churn.pmml: No such file or directory (os error 2)",
            Some("source"),
        ))),
        t0(),
    );
    snap("models_import_error", &import);
    let mut delete = loaded("dev");
    press(&mut delete, &["j", "D"]);
    snap("models_delete_dialog", &delete);
}

#[test]
fn services_pane() {
    let mut s = empty();
    press(&mut s, &["2"]);
    snap("services_empty", &s);
    let mut s = loaded("prod");
    press(&mut s, &["2"]);
    snap("services_loaded", &s);
    let mut s = failed();
    press(&mut s, &["2"]);
    snap("services_failed", &s);
    let mut s = loaded("dev");
    press(&mut s, &["2", "j", "enter"]);
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Signature("iris".into(), Ok(Some(iris_signature()))),
        t0(),
    );
    snap("services_detail", &s);
    let mut s = loaded("dev");
    press(&mut s, &["2"]);
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Connection(Err(
            "cannot reach http://127.0.0.1:8502: connection refused".into(),
        )),
        t0() + Duration::from_secs(1),
    );
    snap("services_stale", &s);
    let mut s = loaded("dev");
    press(&mut s, &["2", "D"]);
    snap("services_delete_dialog", &s);
    let mut s = loaded("dev");
    press(&mut s, &["2", "n"]);
    snap("services_deploy_form", &s);
}

#[test]
fn placeholders_help_and_too_small() {
    let mut s = loaded("dev");
    press(&mut s, &["4"]);
    snap("monitor_placeholder", &s);
    press(&mut s, &["1", "?"]);
    snap("help", &s);
    let mut s = loaded("dev");
    s.toast("deployed iris", false, t0());
    s.toast(
        "model iris has no version 9: see the model's versions (1, enter); a message this long is cut at the edge of the screen and :messages shows it whole",
        true,
        t0() + Duration::from_secs(1),
    );
    snap("long_error", &s);
    press(&mut s, &[":"]);
    type_text(&mut s, "messages");
    press(&mut s, &["enter"]);
    snap("messages", &s);
    let term = render(&loaded("dev"), (60, 20), &Theme::mono(), &theme::ASCII);
    insta::assert_snapshot!("too_small", term.backend());
}

#[test]
fn colour_themes_style_the_selection_and_errors() {
    let mut s = loaded("dev");
    s.toast("the server refused", true, t0());
    for name in ["default", "light", "high-contrast"] {
        let theme = Theme::load(name, None).unwrap();
        let term = render(&s, (80, 24), &theme, &theme::UTF8);
        let buf = term.backend().buffer();
        // Row 4 is the selected model (the first table row); its cells carry the selection style.
        let sel = &buf[(5, 4)];
        assert_eq!(
            sel.style().fg,
            theme.selection.fg.or(sel.style().fg),
            "{name}"
        );
        assert!(
            theme.selection.add_modifier.is_empty()
                || sel
                    .style()
                    .add_modifier
                    .contains(theme.selection.add_modifier),
            "{name}: selection modifiers"
        );
        assert_eq!(
            sel.style().bg,
            theme.selection.bg.or(sel.style().bg),
            "{name}"
        );
        // The status line shows the error toast in the error style, prefixed ERR.
        let row = 22;
        let text: String = (0..20)
            .map(|x| buf[(x, row)].symbol().to_string())
            .collect();
        assert!(text.starts_with("ERR the server"), "{name}: {text:?}");
        assert_eq!(buf[(0, row)].style().fg, theme.error.fg, "{name}");
    }
    // Mono has no colour anywhere: state shows through glyphs and modifiers.
    let term = render(&s, (80, 24), &Theme::mono(), &theme::UTF8);
    let buf = term.backend().buffer();
    assert!(buf.content().iter().all(|c| {
        c.style()
            .fg
            .is_none_or(|f| f == ratatui::style::Color::Reset)
    }));
    assert!(
        buf[(5, 4)]
            .style()
            .add_modifier
            .contains(Modifier::REVERSED)
    );
    assert_eq!(buf[(1, 4)].symbol(), "▶");
}

#[test]
fn ascii_draws_no_unicode_anywhere() {
    let mut s = loaded("dev");
    press(&mut s, &["2", "enter"]);
    let text = screen_text(&s, (80, 24), &theme::ASCII);
    assert!(text.is_ascii(), "non-ASCII on an --ascii screen: {text}");
    assert!(text.contains("********5671"), "the key is masked in ASCII");
}

/// An upstream version is shown with its server and health: the list says the service's
/// upstream is down, and the detail names the server, the reason, and whose inputs they are.
#[test]
fn an_upstream_service_shows_its_server_and_health() {
    let mut remote = service("remote", "remote", 1);
    remote.service.runtime = "upstream/0.1.0".into();
    remote.service.deployments[0].kind = crate::domain::ModelKind::Upstream;
    remote.serving.state = "upstream down".into();
    remote.serving.upstreams = vec![crate::control::contract::UpstreamState {
        version: 1,
        target: "upstream http://10.0.0.7:8080 (model iris)".into(),
        health: "down".into(),
        reason: Some("cannot connect: Connection refused".into()),
    }];
    let mut s = snapshot("attached 127.0.0.1:8502", vec![], vec![remote], "dev");
    press(&mut s, &["2"]);
    let list = screen_text(&s, (80, 24), &theme::UTF8);
    assert!(list.contains("upstream down"), "{list}");
    press(&mut s, &["enter"]);
    update(
        &mut s,
        &Keymap::defaults(),
        Msg::Signature("remote".into(), Ok(None)),
        t0(),
    );
    let detail = screen_text(&s, (80, 24), &theme::UTF8);
    for want in [
        "upstream/0.1.0",
        "v1        upstream http://10.0.0.7:8080 (model iris) down: cannot",
        "(the upstream server's own)",
    ] {
        assert!(detail.contains(want), "{want:?} in {detail}");
    }
}
