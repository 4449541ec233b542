//! Text that fits: cells and lines cut with an ellipsis (never silently), and table columns
//! sized by their content — each column gets what its widest cell needs, and when the screen
//! is too narrow the widest columns give way first.

use unicode_width::UnicodeWidthStr;

/// `text` cut to `width` columns, ending in `ellipsis` when cut.
pub fn cut(text: &str, width: usize, ellipsis: &str) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let room = width.saturating_sub(ellipsis.width());
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    if width >= ellipsis.width() {
        out.push_str(ellipsis);
    }
    out
}

/// `text` in lines of at most `width` characters, broken at spaces where it can be and inside
/// a word only when the word alone is wider than a line (a URL, a path).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        let used = line.chars().count();
        if used > 0 && used + 1 + word.len() <= width {
            line.push(' ');
            line.extend(word);
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line));
        }
        while word.len() > width {
            lines.push(word.drain(..width).collect());
        }
        line = word.into_iter().collect();
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Column widths for `rows` (header first) in `total` columns with `gap` between them: each
/// column's widest cell, the widest columns shrunk first until the table fits; no column
/// shrinks below `min` (or its own width).
pub fn columns(rows: &[Vec<String>], total: usize, gap: usize, min: usize) -> Vec<usize> {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths: Vec<usize> = (0..n)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let room = total.saturating_sub(gap * n.saturating_sub(1));
    while widths.iter().sum::<usize>() > room {
        let Some((i, w)) = widths
            .iter()
            .enumerate()
            .max_by_key(|(_, w)| **w)
            .map(|(i, w)| (i, *w))
        else {
            break;
        };
        if w <= min {
            break;
        }
        widths[i] = w - 1;
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_text_says_so() {
        assert_eq!(cut("fraud.modeldeck.local", 10, "…"), "fraud.mod…");
        assert_eq!(cut("iris", 10, "~"), "iris");
        assert_eq!(cut("abcdef", 3, "~"), "ab~");
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_splits_only_long_words() {
        assert_eq!(
            wrap("paste it into a shell", 10),
            ["paste it", "into a", "shell"]
        );
        assert_eq!(
            wrap("at http://127.0.0.1:8502/x ok", 10),
            ["at", "http://127", ".0.0.1:850", "2/x ok"]
        );
        assert_eq!(wrap("", 5), [""]);
    }

    #[test]
    fn the_widest_columns_give_way_first() {
        let rows = vec![
            vec!["NAME".into(), "HOST".into(), "STATE".into()],
            vec!["iris".into(), "iris.modeldeck.local".into(), "ready".into()],
        ];
        assert_eq!(columns(&rows, 80, 2, 4), vec![4, 20, 5]);
        assert_eq!(columns(&rows, 25, 2, 4), vec![4, 12, 5]);
    }
}
