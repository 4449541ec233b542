//! The terminal: raw mode and the alternate screen on the way in, and always back out — on
//! quit, on error, and on panic (the hook restores before the message prints). Ctrl-Z leaves
//! the screen, stops the process, and redraws on return. Frames are written inside
//! synchronized output so a slow SSH link never shows half a frame.

use std::io::{self, Write};

use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<io::Stdout>>;

pub fn enter() -> io::Result<Term> {
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

/// Puts the terminal back as the shell left it. Safe to call more than once.
pub fn restore() {
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
    let _ = disable_raw_mode();
}

/// Ctrl-Z: restore, stop until `fg`, then take the screen again and redraw everything.
pub fn suspend(term: &mut Term) -> io::Result<()> {
    restore();
    // SAFETY: raising SIGTSTP on ourselves stops the process like the shell's Ctrl-Z would.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
    term.clear()
}

pub fn begin_frame() -> io::Result<()> {
    execute!(io::stdout(), BeginSynchronizedUpdate)
}

pub fn end_frame() -> io::Result<()> {
    execute!(io::stdout(), EndSynchronizedUpdate)
}

/// Where a copy went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copied {
    /// To the terminal's clipboard (OSC 52; inside tmux, through tmux's `set-clipboard on`).
    Clipboard,
    /// Inside tmux with `set-clipboard` at this setting, which drops clipboard requests: into
    /// tmux's paste buffer instead (prefix + `]` pastes it).
    TmuxBuffer(String),
}

/// Copies `text` to the clipboard of the terminal the user sits at, over SSH too, with a plain
/// OSC 52. Inside tmux that lands in tmux's buffer (and from there the outer terminal's
/// clipboard) only when tmux has `set-clipboard on`; tmux 3.3 drops the old passthrough
/// wrapping by default, so a plain sequence is the one that works. When tmux would drop it,
/// the text goes into tmux's paste buffer instead, and the console says which happened.
pub fn copy(text: &str) -> io::Result<Copied> {
    if std::env::var_os("TMUX").is_some()
        && let Some(setting) = tmux_clipboard()
        && setting != "on"
    {
        let status = std::process::Command::new("tmux")
            .args(["set-buffer", "--", text])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?;
        return if status.success() {
            Ok(Copied::TmuxBuffer(setting))
        } else {
            Err(io::Error::other(format!(
                "tmux set-buffer failed ({status})"
            )))
        };
    }
    let seq = format!("\x1b]52;c;{}\x07", base64(text.as_bytes()));
    let mut out = io::stdout();
    out.write_all(seq.as_bytes())?;
    out.flush()?;
    Ok(Copied::Clipboard)
}

/// tmux's `set-clipboard` option, asked of the tmux this console runs in.
fn tmux_clipboard() -> Option<String> {
    let out = std::process::Command::new("tmux")
        .args(["show-options", "-gv", "set-clipboard"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let value = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !value.is_empty()).then_some(value)
}

pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), coded);
        }
    }
}
