//! Text sparklines: a series as one line of bar glyphs, for the CLI and the console's tables
//! (which draw them in a cell, where a widget does not fit).

const UTF8: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Rising marks that read as a bar chart in any terminal.
const ASCII: [char; 8] = ['_', '.', ',', '-', '~', '=', '*', '#'];

/// `values` as `width` glyphs (each the largest value it covers, scaled to the largest of all);
/// zero is a blank, so an idle stretch reads as nothing happening. The newest values are kept
/// when there are more than `width`.
pub fn spark(values: &[f64], width: usize, ascii: bool) -> String {
    if width == 0 {
        return String::new();
    }
    let bars = if ascii { &ASCII } else { &UTF8 };
    let columns = squeeze(values, width);
    let top = columns.iter().copied().fold(0.0_f64, f64::max);
    columns
        .iter()
        .map(|v| {
            if !(v.is_finite() && *v > 0.0 && top > 0.0) {
                ' '
            } else {
                let i = ((v / top) * 7.0).round() as usize;
                bars[i.min(7)]
            }
        })
        .collect()
}

/// At most `width` values, each the largest of the ones it stands for.
pub fn squeeze(values: &[f64], width: usize) -> Vec<f64> {
    if values.len() <= width {
        return values.to_vec();
    }
    // Whole chunks end at the newest value; the oldest chunk may be short.
    let per = values.len().div_ceil(width);
    let mut out: Vec<f64> = values
        .rchunks(per)
        .map(|c| c.iter().copied().fold(0.0_f64, f64::max))
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_value_is_a_full_bar_and_zero_is_blank() {
        assert_eq!(spark(&[0.0, 1.0, 2.0, 4.0], 10, false), " ▃▅█");
        assert_eq!(spark(&[0.0, 4.0], 10, true), " #");
        assert_eq!(spark(&[], 10, false), "");
        assert_eq!(spark(&[f64::NAN, 1.0], 10, false), " █");
    }

    #[test]
    fn long_series_keep_their_peaks_and_newest_values() {
        let values: Vec<f64> = (0..100).map(|i| if i == 50 { 9.0 } else { 1.0 }).collect();
        let s = spark(&values, 10, false);
        assert_eq!(s.chars().count(), 10);
        assert!(s.contains('█'));
        assert_eq!(squeeze(&[1.0, 2.0, 3.0, 4.0, 5.0], 2), vec![2.0, 5.0]);
    }
}
