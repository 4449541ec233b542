//! Traffic splits: how a service shares its requests between the versions it holds.
//!
//! A split names every version of the service with a whole percent, and the percents sum to
//! 100. Every way of changing one — typed (`1=70 2=30`), an upgrade that moves points to one
//! version, a rollback to an earlier split, a console slider that rebalances the others — ends
//! in [`Split::new`], so a split that breaks the rule cannot be built, whoever builds it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Weights by version, in version order; always Σ = 100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<u32, u8>", into = "BTreeMap<u32, u8>")]
pub struct Split(BTreeMap<u32, u8>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("the weights sum to {0}, not 100: give whole percents that add up to 100")]
    Sum(u32),
    #[error("a split needs at least one version")]
    Empty,
    #[error("{0:?} is not VERSION=PERCENT (e.g. 1=70 2=30)")]
    Syntax(String),
    #[error("version {0} is named twice")]
    Twice(u32),
    #[error("version {version} gets {percent}%: a weight is a whole percent from 0 to 100")]
    Range { version: u32, percent: String },
    #[error("the service holds no version {0}; it holds {1}")]
    Unknown(u32, String),
    #[error("version {0} is missing: name every version the service holds ({1}), 0 for none")]
    Missing(u32, String),
}

impl TryFrom<BTreeMap<u32, u8>> for Split {
    type Error = SplitError;
    fn try_from(weights: BTreeMap<u32, u8>) -> Result<Split, SplitError> {
        Split::new(weights)
    }
}

impl From<Split> for BTreeMap<u32, u8> {
    fn from(s: Split) -> BTreeMap<u32, u8> {
        s.0
    }
}

impl Split {
    pub fn new(weights: BTreeMap<u32, u8>) -> Result<Split, SplitError> {
        if weights.is_empty() {
            return Err(SplitError::Empty);
        }
        if let Some((v, w)) = weights.iter().find(|(_, w)| **w > 100) {
            return Err(SplitError::Range {
                version: *v,
                percent: w.to_string(),
            });
        }
        let sum: u32 = weights.values().map(|w| u32::from(*w)).sum();
        if sum != 100 {
            return Err(SplitError::Sum(sum));
        }
        Ok(Split(weights))
    }

    /// All traffic to one version.
    pub fn all_to(version: u32) -> Split {
        Split([(version, 100)].into())
    }

    /// Reads `1=70 2=30` (or `1=70,2=30`): whole percents, each version once.
    pub fn parse(words: &[String]) -> Result<Split, SplitError> {
        let mut weights = BTreeMap::new();
        for word in words.iter().flat_map(|w| w.split(',')).map(str::trim) {
            if word.is_empty() {
                continue;
            }
            let (v, p) = word
                .split_once('=')
                .ok_or_else(|| SplitError::Syntax(word.to_string()))?;
            let version: u32 = v
                .trim()
                .trim_start_matches('v')
                .parse()
                .map_err(|_| SplitError::Syntax(word.to_string()))?;
            let percent: u8 = p
                .trim()
                .trim_end_matches('%')
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| SplitError::Range {
                    version,
                    percent: p.trim().to_string(),
                })?;
            if weights.insert(version, percent).is_some() {
                return Err(SplitError::Twice(version));
            }
        }
        Split::new(weights)
    }

    /// Checks that the split names exactly the versions a service holds.
    pub fn check_versions(&self, held: &[u32]) -> Result<(), SplitError> {
        let list = versions_list(held);
        if let Some(v) = self.0.keys().find(|v| !held.contains(v)) {
            return Err(SplitError::Unknown(*v, list));
        }
        if let Some(v) = held.iter().find(|v| !self.0.contains_key(v)) {
            return Err(SplitError::Missing(*v, list));
        }
        Ok(())
    }

    pub fn weight(&self, version: u32) -> u8 {
        self.0.get(&version).copied().unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, u8)> + '_ {
        self.0.iter().map(|(v, w)| (*v, *w))
    }

    pub fn versions(&self) -> Vec<u32> {
        self.0.keys().copied().collect()
    }

    /// Sets `version` to `percent` (adding it if new) and gives the other versions what is
    /// left in proportion to their weights now — largest remainders first, ties to the lower
    /// version — so that the sum stays 100. When the others all had 0, the lowest version
    /// among them takes the rest. This is a partial upgrade and a console slider alike.
    pub fn with(&self, version: u32, percent: u8) -> Split {
        let percent = percent.min(100);
        let rest = u32::from(100 - percent);
        let others: Vec<(u32, u32)> = self
            .0
            .iter()
            .filter(|(v, _)| **v != version)
            .map(|(v, w)| (*v, u32::from(*w)))
            .collect();
        let mut out = BTreeMap::from([(version, percent)]);
        let total: u32 = others.iter().map(|(_, w)| w).sum();
        if others.is_empty() {
            // Nobody to take the rest: the one version keeps everything.
            return Split::all_to(version);
        }
        if total == 0 {
            for (i, (v, _)) in others.iter().enumerate() {
                out.insert(*v, if i == 0 { rest as u8 } else { 0 });
            }
            return Split(out);
        }
        let mut shares: Vec<(u32, u32, u32)> = others
            .iter()
            .map(|(v, w)| (*v, rest * w / total, rest * w % total))
            .collect();
        let mut left = rest - shares.iter().map(|(_, s, _)| s).sum::<u32>();
        let mut order: Vec<usize> = (0..shares.len()).collect();
        order.sort_by(|a, b| {
            shares[*b]
                .2
                .cmp(&shares[*a].2)
                .then(shares[*a].0.cmp(&shares[*b].0))
        });
        for i in order {
            if left == 0 {
                break;
            }
            shares[i].1 += 1;
            left -= 1;
        }
        for (v, s, _) in shares {
            out.insert(v, s as u8);
        }
        Split(out)
    }

    /// The same weights over `held`: versions not in this split get 0. `Err` names a version
    /// this split gives traffic that the service no longer holds.
    pub fn onto(&self, held: &[u32]) -> Result<Split, u32> {
        if let Some((v, _)) = self.0.iter().find(|(v, w)| **w > 0 && !held.contains(v)) {
            return Err(*v);
        }
        Ok(Split(held.iter().map(|v| (*v, self.weight(*v))).collect()))
    }

    /// `v1 90→70 · v2 10→30`: the versions whose weight changes from `before`.
    pub fn diff(&self, before: &Split, sep: &str) -> String {
        let versions: std::collections::BTreeSet<u32> =
            self.0.keys().chain(before.0.keys()).copied().collect();
        versions
            .into_iter()
            .filter(|v| self.weight(*v) != before.weight(*v))
            .map(|v| format!("v{v} {}→{}", before.weight(v), self.weight(v)))
            .collect::<Vec<_>>()
            .join(sep)
    }
}

impl fmt::Display for Split {
    /// `1=70 2=30`, as `services traffic` takes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.0.iter().map(|(v, w)| format!("{v}={w}")).collect();
        f.write_str(&words.join(" "))
    }
}

/// How a service's requests find a version beyond the weights: the split's revision (bumped by
/// every change to versions or weights), a request header that keeps a caller on one version,
/// and labels that name versions (`/v1/models/m/labels/canary:predict`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficRules {
    pub revision: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky_header: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Shadow>,
}

/// A share of client requests mirrored to a version that does not answer the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shadow {
    pub version: u32,
    pub percent: u8,
}

/// What kind of change a traffic change was; rollbacks step back over the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Split,
    Upgrade,
    Rollback,
    Add,
    Remove,
    Canary,
}

impl ChangeKind {
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Split => "split",
            ChangeKind::Upgrade => "upgrade",
            ChangeKind::Rollback => "rollback",
            ChangeKind::Add => "add",
            ChangeKind::Remove => "remove",
            ChangeKind::Canary => "canary",
        }
    }

    pub fn parse(text: &str) -> ChangeKind {
        match text {
            "upgrade" => ChangeKind::Upgrade,
            "rollback" => ChangeKind::Rollback,
            "add" => ChangeKind::Add,
            "remove" => ChangeKind::Remove,
            "canary" => ChangeKind::Canary,
            _ => ChangeKind::Split,
        }
    }

    /// Whether a rollback can restore what was in force before this change: weights moved.
    /// Adding or removing a version at 0% moves no traffic.
    fn moves_traffic(self) -> bool {
        matches!(
            self,
            ChangeKind::Split | ChangeKind::Upgrade | ChangeKind::Canary
        )
    }
}

/// One recorded change of a service's split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficChange {
    /// The service's traffic revision this change produced.
    pub revision: i64,
    pub at: String,
    pub actor: String,
    pub kind: ChangeKind,
    /// Weights by version before and after (a version absent was not held).
    pub before: BTreeMap<u32, u8>,
    pub after: BTreeMap<u32, u8>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl TrafficChange {
    /// `+v3` for a version added, `-v1` for one removed, then the weights that moved:
    /// `v1 90→70 · v2 10→30`.
    pub fn summary(&self, sep: &str) -> String {
        let mut words: Vec<String> = self
            .after
            .keys()
            .filter(|v| !self.before.contains_key(v))
            .map(|v| format!("+v{v}"))
            .chain(
                self.before
                    .keys()
                    .filter(|v| !self.after.contains_key(v))
                    .map(|v| format!("-v{v}")),
            )
            .collect();
        if let (Ok(before), Ok(after)) = (
            Split::new(self.before.clone()),
            Split::new(self.after.clone()),
        ) {
            let moved = after.diff(&before, sep);
            if !moved.is_empty() {
                words.push(moved);
            }
        }
        words.join(" ")
    }
}

/// The split a rollback goes to, with the revision in force (the newest change's): the split
/// before the newest change that moved traffic and was not itself a rollback, one further back
/// for each rollback since. `None` when there is nothing further back. The store applies it;
/// the console shows it before anyone confirms.
pub fn rollback_target(changes: &[TrafficChange]) -> Option<(Split, i64)> {
    let newest = changes.last()?;
    let rollbacks = changes
        .iter()
        .rev()
        .take_while(|c| c.kind == ChangeKind::Rollback || !c.kind.moves_traffic())
        .filter(|c| c.kind == ChangeKind::Rollback)
        .count();
    let movers: Vec<&TrafficChange> = changes.iter().filter(|c| c.kind.moves_traffic()).collect();
    let target = movers.get(movers.len().checked_sub(rollbacks + 1)?)?;
    Some((Split::new(target.before.clone()).ok()?, newest.revision))
}

fn versions_list(held: &[u32]) -> String {
    held.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn typed_splits_are_whole_percents_summing_to_100() {
        let s = Split::parse(&words("1=70 2=30")).unwrap();
        assert_eq!(s.to_string(), "1=70 2=30");
        assert_eq!(Split::parse(&words("v1=70%,v2=30%")).unwrap(), s);
        for (bad, says) in [
            ("1=70 2=20", "sum to 90"),
            ("1=70.5 2=29.5", "whole percent"),
            ("1=-10 2=110", "whole percent"),
            ("1=101", "whole percent"),
            ("1=50 1=50", "named twice"),
            ("1:50 2=50", "VERSION=PERCENT"),
            ("", "at least one"),
        ] {
            let e = Split::parse(&words(bad)).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        let e = s.check_versions(&[1, 2, 3]).unwrap_err().to_string();
        assert!(e.contains("version 3 is missing"), "{e}");
        let e = s.check_versions(&[1]).unwrap_err().to_string();
        assert!(e.contains("no version 2"), "{e}");
        assert!(s.check_versions(&[1, 2]).is_ok());
    }

    #[test]
    fn moving_points_to_a_version_takes_them_from_the_others_in_proportion() {
        let s = Split::parse(&words("1=60 2=30 3=10")).unwrap();
        assert_eq!(s.with(3, 50).to_string(), "1=33 2=17 3=50");
        assert_eq!(s.with(4, 100).to_string(), "1=0 2=0 3=0 4=100");
        assert_eq!(s.with(1, 0).to_string(), "1=0 2=75 3=25");
        // Others at 0: the lowest takes the rest.
        let s = Split::parse(&words("1=100 2=0 3=0")).unwrap();
        assert_eq!(s.with(1, 90).to_string(), "1=90 2=10 3=0");
        for p in 0..=100 {
            let moved = Split::parse(&words("1=33 2=33 3=34")).unwrap().with(2, p);
            assert_eq!(moved.iter().map(|(_, w)| u32::from(w)).sum::<u32>(), 100);
            assert_eq!(moved.weight(2), p);
        }
    }

    fn change(revision: i64, kind: ChangeKind, before: &str, after: &str) -> TrafficChange {
        let weights = |t: &str| {
            Split::parse(&words(t))
                .map(BTreeMap::from)
                .unwrap_or_default()
        };
        TrafficChange {
            revision,
            at: String::new(),
            actor: "t".into(),
            kind,
            before: weights(before),
            after: weights(after),
            reason: String::new(),
        }
    }

    /// Back before the newest change that was not a rollback; each repeat one further; adding
    /// a version at 0% moves no traffic and is stepped over.
    #[test]
    fn rollbacks_step_back_one_change_each() {
        use ChangeKind::*;
        let mut h = vec![
            change(1, Add, "1=100", "1=100 2=0"),
            change(2, Split, "1=100 2=0", "1=90 2=10"),
            change(3, Upgrade, "1=90 2=10", "1=50 2=50"),
        ];
        let target = |h: &[TrafficChange]| rollback_target(h).map(|(s, r)| (s.to_string(), r));
        assert_eq!(target(&h), Some(("1=90 2=10".into(), 3)));
        h.push(change(4, Rollback, "1=50 2=50", "1=90 2=10"));
        assert_eq!(target(&h), Some(("1=100 2=0".into(), 4)));
        h.push(change(5, Rollback, "1=90 2=10", "1=100 2=0"));
        assert_eq!(target(&h), None);
        // A new change after rollbacks is the one the next rollback undoes.
        h.push(change(6, Split, "1=100 2=0", "1=0 2=100"));
        assert_eq!(target(&h), Some(("1=100 2=0".into(), 6)));
    }

    #[test]
    fn a_split_lands_on_the_versions_held_and_says_what_changed() {
        let old = Split::parse(&words("1=90 2=10")).unwrap();
        assert_eq!(old.onto(&[1, 2, 3]).unwrap().to_string(), "1=90 2=10 3=0");
        assert_eq!(old.onto(&[1]), Err(2));
        let new = Split::parse(&words("1=70 2=30")).unwrap();
        assert_eq!(new.diff(&old, " · "), "v1 90→70 · v2 10→30");
    }
}
