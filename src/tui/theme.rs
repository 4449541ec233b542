//! Themes and symbol sets. A theme is a semantic palette — ok, warn, error, muted, accent,
//! focus, selection — read whole from TOML or refused whole (never half applied). The four
//! built-in themes are compiled in from `themes/`; `~/.config/modeldeck/themes/NAME.toml` adds
//! more. Mono carries state with glyphs and modifiers only, and `NO_COLOR` forces it.
//! Without a UTF-8 locale (or with `--ascii`) the ASCII symbols replace block and box glyphs.

use std::collections::BTreeMap;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;

pub const BUILT_IN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("mono", include_str!("../../themes/mono.toml")),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub ok: Style,
    pub warn: Style,
    pub error: Style,
    pub muted: Style,
    pub accent: Style,
    pub focus: Style,
    pub selection: Style,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Entry {
    Color(String),
    Full {
        fg: Option<String>,
        bg: Option<String>,
        #[serde(default)]
        bold: bool,
        #[serde(default)]
        reverse: bool,
    },
}

const KEYS: [&str; 7] = [
    "ok",
    "warn",
    "error",
    "muted",
    "accent",
    "focus",
    "selection",
];

impl Theme {
    /// Parses a theme file's text; `source` names it in errors.
    pub fn parse(name: &str, text: &str, source: &str) -> Result<Theme, String> {
        let table: BTreeMap<String, Entry> = toml::from_str(text)
            .map_err(|e| format!("{source}: not a theme ({e}); see themes/default.toml"))?;
        if let Some(k) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(format!(
                "{source}: unknown entry {k:?}; a theme has {}",
                KEYS.join(", ")
            ));
        }
        let color = |c: &str| {
            Color::from_str(c).map_err(|_| {
                format!("{source}: {c:?} is not a colour (use a name like \"red\" or \"#rrggbb\")")
            })
        };
        let style = |key: &str| -> Result<Style, String> {
            let entry = table.get(key).ok_or_else(|| {
                format!(
                    "{source}: missing {key:?}; a theme sets all of {}",
                    KEYS.join(", ")
                )
            })?;
            Ok(match entry {
                Entry::Color(c) => Style::new().fg(color(c)?),
                Entry::Full {
                    fg,
                    bg,
                    bold,
                    reverse,
                } => {
                    let mut s = Style::new();
                    if let Some(c) = fg {
                        s = s.fg(color(c)?);
                    }
                    if let Some(c) = bg {
                        s = s.bg(color(c)?);
                    }
                    if *bold {
                        s = s.add_modifier(Modifier::BOLD);
                    }
                    if *reverse {
                        s = s.add_modifier(Modifier::REVERSED);
                    }
                    s
                }
            })
        };
        Ok(Theme {
            name: name.to_string(),
            ok: style("ok")?,
            warn: style("warn")?,
            error: style("error")?,
            muted: style("muted")?,
            accent: style("accent")?,
            focus: style("focus")?,
            selection: style("selection")?,
        })
    }

    /// A theme by name: built in, or from `config_dir/themes/NAME.toml`.
    pub fn load(name: &str, config_dir: Option<&std::path::Path>) -> Result<Theme, String> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) {
            return Theme::parse(name, text, &format!("themes/{name}.toml"));
        }
        let path = config_dir.map(|d| d.join("themes").join(format!("{name}.toml")));
        match path.as_ref().map(std::fs::read_to_string) {
            Some(Ok(text)) => {
                Theme::parse(name, &text, &path.unwrap_or_default().display().to_string())
            }
            _ => Err(format!(
                "no theme {name:?}: built in are {}{}",
                BUILT_IN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
                path.map(|p| format!(", or write {}", p.display()))
                    .unwrap_or_default()
            )),
        }
    }

    pub fn mono() -> Theme {
        Theme::load("mono", None).unwrap_or_else(|e| panic!("built-in theme: {e}"))
    }

    pub fn is_mono(&self) -> bool {
        self.name == "mono"
    }
}

/// Glyphs, in UTF-8 or ASCII.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Symbols {
    pub selected: &'static str,
    pub dot_ok: &'static str,
    pub dot_bad: &'static str,
    pub sep: &'static str,
    pub border: border::Set<'static>,
    pub ellipsis: &'static str,
    /// Hides a key's characters.
    pub mask: &'static str,
    /// A state not known (the console is STALE).
    pub dot_unknown: &'static str,
    /// Sparklines and charts draw with ASCII marks.
    pub ascii: bool,
}

pub const UTF8: Symbols = Symbols {
    selected: "▶ ",
    dot_ok: "●",
    dot_bad: "○",
    sep: " · ",
    border: border::PLAIN,
    ellipsis: "…",
    mask: "•",
    dot_unknown: "?",
    ascii: false,
};

pub const ASCII: Symbols = Symbols {
    selected: "> ",
    dot_ok: "*",
    dot_bad: "o",
    sep: " | ",
    border: border::Set {
        top_left: "+",
        top_right: "+",
        bottom_left: "+",
        bottom_right: "+",
        vertical_left: "|",
        vertical_right: "|",
        horizontal_top: "-",
        horizontal_bottom: "-",
    },
    ellipsis: "~",
    mask: "*",
    dot_unknown: "?",
    ascii: true,
};

/// Whether the locale promises UTF-8 (LC_ALL, then LC_CTYPE, then LANG).
pub fn utf8_locale(env: &dyn Fn(&str) -> Option<String>) -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()))
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_parse_and_mono_has_no_colour() {
        for (name, _) in BUILT_IN {
            Theme::load(name, None).unwrap();
        }
        let mono = Theme::mono();
        for s in [mono.ok, mono.warn, mono.error, mono.selection] {
            assert_eq!((s.fg, s.bg), (None, None));
        }
        assert!(mono.selection.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn bad_themes_are_refused_whole_with_the_reason() {
        let err = Theme::parse("x", "ok = \"greeen\"", "x.toml").unwrap_err();
        assert!(err.contains("x.toml") && err.contains("greeen"), "{err}");
        let err = Theme::parse("x", "ok = \"green\"", "x.toml").unwrap_err();
        assert!(err.contains("missing"), "{err}");
        let err = Theme::parse("x", "ok = [", "x.toml").unwrap_err();
        assert!(err.contains("not a theme"), "{err}");
        assert!(
            Theme::load("nosuch", None)
                .unwrap_err()
                .contains("built in are")
        );
    }

    #[test]
    fn locale_decides_the_symbols() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(utf8_locale(&env(&[("LANG", "en_US.UTF-8")])));
        assert!(!utf8_locale(&env(&[("LANG", "C")])));
        assert!(!utf8_locale(&env(&[
            ("LC_ALL", "POSIX"),
            ("LANG", "en_US.UTF-8")
        ])));
        assert!(!utf8_locale(&env(&[])));
    }
}
