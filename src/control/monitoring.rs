//! What the monitor answers through the core: live figures (when this process runs the
//! gateway) and any period's history (from the store, so also with no server running), and
//! a service's own threshold levels.

use super::{ControlError, Core};
use crate::control::contract::{MonitorQuery, MonitorView, ThresholdsView};
use crate::domain::{Period, ServiceName, Thresholds};
use crate::monitor::Monitor;
use crate::monitor::history::{self, Ask, LiveSlice};

/// Chart points when the caller names none: a console row, about.
const POINTS: u32 = 120;

impl Core {
    /// `GET /monitor`: with `live`, every service's new samples; with a service, its history.
    pub fn monitor(
        &self,
        live: Option<&Monitor>,
        q: &MonitorQuery,
        now: i64,
    ) -> Result<MonitorView, ControlError> {
        let mut view = live
            .map(|m| m.view(q.since.unwrap_or(i64::MIN)))
            .unwrap_or_default();
        let Some(name) = &q.service else {
            if q.version.is_some() {
                return Err(ControlError::field(
                    "version",
                    "a version is asked for with its service: add service=NAME",
                ));
            }
            return Ok(view);
        };
        ServiceName::parse(name)?;
        let period = Period::parse(q.window.as_deref(), q.from.as_deref(), q.to.as_deref(), now)
            .map_err(|e| {
                // The parameter the question was put with (the message names the one at fault).
                let field = match (&q.from, &q.to) {
                    (Some(_), _) => "from",
                    (None, Some(_)) => "to",
                    _ => "window",
                };
                ControlError::field(field, e)
            })?;
        let service = self.store().service(name)?;
        let ask = Ask {
            service: name,
            version: q.version,
            period,
            points: i64::from(q.points.unwrap_or(POINTS)),
            thresholds: self.thresholds_of(service.as_ref().and_then(|s| s.thresholds)),
            concurrency: service.as_ref().map(|s| s.resources.concurrency),
        };
        let slice = live.map(|m| LiveSlice::of(&m.live(), name));
        let history = history::history(self.store(), slice, &ask)?;
        if service.is_none() && history.versions.is_empty() && history.total.requests == 0 {
            return Err(ControlError::NotFound(format!(
                "no service named {name:?} and no history for one in this period: see `modeldeck services list`"
            )));
        }
        if let (Some(v), Some(s)) = (q.version, &service)
            && !s.deployments.iter().any(|d| d.version == v)
            && history.versions.is_empty()
        {
            return Err(ControlError::field(
                "version",
                format!("service {name} has no version {v} and no history of one in this period"),
            ));
        }
        view.history = Some(history);
        Ok(view)
    }

    /// The levels a service follows: its own, else the server's.
    pub fn thresholds_of(&self, own: Option<Thresholds>) -> Thresholds {
        own.unwrap_or(self.settings().monitor.thresholds)
    }

    /// Sets (or with `None` clears) a service's own threshold levels.
    pub async fn set_thresholds(
        &self,
        actor: &str,
        name: &str,
        thresholds: Option<Thresholds>,
    ) -> Result<ThresholdsView, ControlError> {
        ServiceName::parse(name)?;
        let thresholds = thresholds.map(Thresholds::normalised);
        if let Some(t) = &thresholds {
            t.check()
                .map_err(|e| ControlError::field("thresholds", e))?;
        }
        self.store().set_thresholds(actor, name, thresholds).await?;
        Ok(ThresholdsView {
            service: name.to_string(),
            thresholds: self.thresholds_of(thresholds),
            own: thresholds.is_some(),
        })
    }
}
