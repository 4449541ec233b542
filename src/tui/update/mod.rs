//! `update(state, message) -> effects`: the console's whole behaviour as a pure function.
//! Keys and server news come in as [`Msg`]s; what must happen outside goes out as
//! [`Effect`]s — [`Ui`](super::effect::Ui) ones for the event loop, [`Call`]s for the worker.
//! The clock is an argument: nothing here reads it.
//!
//! Module map: [`keys`] (who gets a key: overlays, the filter, then the action table),
//! [`actions`] (one handler per action of [`ACTIONS`](super::action::ACTIONS)), [`commands`]
//! (the `:` line), [`forms`] (import and deploy), [`selection`] (cursors that follow items).

pub mod actions;
mod commands;
mod forms;
pub mod jobs;
mod keys;
pub mod monitor;
mod selection;
pub mod traffic;

use std::time::Instant;

use super::effect::{Call, Effect, Failure, Msg, Ui};
use super::keymap::Keymap;
use super::state::{Detail, Loadable, Overlay, State, StopAsk};
use super::text;

pub use commands::completions;
pub use keys::{hints, scope_of};

pub fn update(state: &mut State, keymap: &Keymap, msg: Msg, now: Instant) -> Vec<Effect> {
    let effects = apply(state, keymap, msg, now);
    selection::scroll(state);
    effects
}

fn apply(state: &mut State, keymap: &Keymap, msg: Msg, now: Instant) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => keys::on_key(state, keymap, key, now),
        Msg::Snapshot {
            models,
            services,
            environment,
            gateway,
            scope,
        } => {
            let keep = selection::remember(state);
            state.models = Loadable::Ready(models);
            state.services = Loadable::Ready(services);
            state.environment = environment;
            state.gateway = gateway;
            state.scope = scope;
            state.connection.healthy = true;
            state.connection.problem = None;
            state.connection.updated = Some(now);
            selection::restore(state, &keep);
            let mut out = gone(state, now);
            out.push(Call::LoadJobs.into());
            out
        }
        Msg::Versions(name, result) => {
            let shown = matches!(&state.versions, Some((n, _)) if *n == name);
            if !shown {
                return vec![];
            }
            match result {
                Err(f) if f.code == "not_found" => {
                    state.versions = None;
                    state.toast(text::model_gone(&name), false, now);
                }
                result => {
                    let keep = selection::remember(state);
                    if let Some((_, list)) = &mut state.versions {
                        *list = match result {
                            Ok(v) => Loadable::Ready(v),
                            Err(f) => Loadable::Failed(text::for_console(&f.message)),
                        };
                    }
                    selection::restore(state, &keep);
                }
            }
            vec![]
        }
        Msg::Signature(name, result) => {
            if let Some(d) = &mut state.detail
                && d.name == name
            {
                d.signature = match result {
                    Ok(s) => Loadable::Ready(s),
                    Err(f) => Loadable::Failed(text::for_console(&f.message)),
                };
            }
            vec![]
        }
        Msg::Changed => {
            let mut out = vec![Call::Reload.into()];
            if let Some(view) = &state.events {
                out.push(Call::LoadEvents(view.revision()).into());
            }
            if let Some(service) = &state.traffic.open {
                out.push(Call::LoadTraffic(service.clone()).into());
            }
            // The snapshot the reload brings asks for the job list; the open job is asked here.
            if let Some(o) = &state.jobs.open {
                out.push(Call::LoadJob(o.name.clone()).into());
            }
            out
        }
        Msg::Metrics(view) => {
            state.metrics.fold(*view, now);
            // A run's progress is not an audit event: follow it with the tick while one goes.
            if state.pane == super::state::Pane::Jobs && state.jobs.live() {
                return jobs::reload(state);
            }
            vec![]
        }
        Msg::Jobs(result) => {
            let keep = selection::remember(state);
            jobs::loaded_list(state, result);
            selection::restore(state, &keep);
            vec![]
        }
        Msg::Job(name, result) => {
            let keep = selection::remember(state);
            jobs::loaded_job(state, name, result.map(|v| *v), now);
            selection::restore(state, &keep);
            vec![]
        }
        Msg::Events(result) => monitor::loaded(state, result),
        Msg::Traffic {
            service,
            result,
            changed,
        } => {
            let keep = selection::remember(state);
            let out = traffic::loaded(state, service, result, changed, now);
            selection::restore(state, &keep);
            out
        }
        Msg::StopAsked(pid) => {
            state.toast(text::stopping(pid), false, now);
            // The server may already be gone, its loss held back until now.
            if state.connection.problem.is_some() {
                state.toast(text::STOPPED_AS_ASKED, false, now);
            }
            state.connection.stop = StopAsk::Accepted;
            vec![]
        }
        Msg::StopFailed(failure) => {
            state.connection.stop = StopAsk::None;
            done(state, Err(failure), now);
            vec![]
        }
        Msg::Connection(Ok(())) => {
            if state.connection.problem.take().is_some() {
                // A server that answers again is a new one: any stop was for the old.
                state.connection.stop = StopAsk::None;
                state.toast(text::RECONNECTED, false, now);
            }
            vec![Call::Reload.into()]
        }
        Msg::Connection(Err(why)) => {
            // Once per outage (and again when the reason changes) into :messages; a stop
            // this console asked for is said once, as news, after the server's reply to it.
            match state.connection.stop {
                StopAsk::Sent => {}
                StopAsk::Accepted if state.connection.problem.is_some() => {}
                StopAsk::Accepted => state.toast(text::STOPPED_AS_ASKED, false, now),
                StopAsk::None if state.connection.problem.as_deref() == Some(&why) => {}
                StopAsk::None => state.toast(text::lost(&why), true, now),
            }
            state.connection.healthy = false;
            state.connection.problem = Some(why);
            vec![]
        }
        Msg::Relinked(label) => {
            state.connection.label = label;
            // Whatever server answers now, it is not the one this console started.
            state.started_server = false;
            vec![]
        }
        Msg::RevealedKey(name, key) => {
            if let Some(d) = &mut state.detail
                && d.name == name
            {
                d.key = Some(key);
            }
            vec![]
        }
        Msg::CopyReady(name, result) => match result {
            Ok(line) => vec![
                Ui::Copy {
                    line,
                    service: name,
                }
                .into(),
            ],
            Err(f) => {
                let message = if f.code == "forbidden" {
                    text::TOKEN_CANNOT_READ_KEYS.to_string()
                } else {
                    text::for_console(&f.message)
                };
                state.toast(message, true, now);
                vec![]
            }
        },
        Msg::Done(result) => {
            done(state, result, now);
            vec![]
        }
    }
}

/// A call finished: a busy form closes on success or shows the refusal in place, with the
/// cursor on the field at fault; anything else becomes a message.
fn done(state: &mut State, result: Result<super::effect::Done, Failure>, now: Instant) {
    if let Overlay::Form(form) = &mut state.overlay
        && form.busy
    {
        match result {
            Ok(d) => {
                state.overlay = Overlay::None;
                state.select_next = d.created;
                state.toast(d.text, false, now);
            }
            Err(f) => {
                form.busy = false;
                if let Some(i) = f
                    .field
                    .as_deref()
                    .and_then(|k| form.fields.iter().position(|x| x.key == k))
                {
                    form.focus = i;
                }
                form.error = Some(text::for_console(&f.message));
            }
        }
        return;
    }
    match result {
        Ok(d) => {
            if d.created.is_some() {
                state.select_next = d.created;
            }
            state.toast(d.text, false, now);
        }
        Err(f) => state.toast(text::for_console(&f.message), true, now),
    }
}

/// After a snapshot: a drilled-in view whose item is gone closes, saying so.
fn gone(state: &mut State, now: Instant) -> Vec<Effect> {
    let mut effects = Vec::new();
    if let Some((name, _)) = &state.versions {
        let name = name.clone();
        let exists = state
            .models
            .ready()
            .is_some_and(|m| m.iter().any(|m| m.name == name));
        if exists {
            effects.push(Call::LoadVersions(name).into());
        } else {
            state.versions = None;
            state.toast(text::model_gone(&name), false, now);
        }
    }
    if let Some(Detail { name, .. }) = &state.detail
        && state.service(name).is_none()
    {
        let name = name.clone();
        state.detail = None;
        state.toast(text::service_gone(&name), false, now);
    }
    effects
}
