//! How the CLI prints: JSON for scripts, aligned tables for people. Output goes through
//! [`say!`](crate::say), which ends the process quietly when stdout is a pipe that closed
//! (`modeldeck services list | head -1`), as Unix tools do, instead of panicking.

/// `println!` for command output: a closed stdout ends the process with success.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

use std::io::Write;

pub fn print_json(value: &serde_json::Value) {
    crate::say!("{value}");
}

pub fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

pub fn used_by(services: impl Iterator<Item = String>) -> String {
    let list: Vec<String> = services.collect();
    if list.is_empty() {
        "-".to_string()
    } else {
        list.join(", ")
    }
}

pub fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        if writeln!(out, "{}", line.trim_end()).is_err() {
            std::process::exit(0);
        }
    }
}
