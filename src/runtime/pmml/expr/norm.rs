//! Normalisation and binning: `NormContinuous`'s piecewise-linear knots (and the knot search
//! a `NeuralNetwork` shares to map its outputs back), `Discretize`'s intervals.

use crate::runtime::pmml::fields::V;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outliers {
    AsIs,
    AsMissing,
    AsExtreme,
}

#[derive(Debug, Clone, Copy)]
pub struct Interval {
    pub left: f64,
    pub right: f64,
    pub left_closed: bool,
    pub right_closed: bool,
}

impl Interval {
    pub(super) fn contains(&self, x: f64) -> bool {
        (if self.left_closed {
            x >= self.left
        } else {
            x > self.left
        }) && (if self.right_closed {
            x <= self.right
        } else {
            x < self.right
        })
    }
}

pub(super) fn norm_continuous(x: f64, points: &[(f64, f64)], outliers: Outliers) -> V {
    let n = points.len();
    let segment = knot_segment_by(x, n, |i| points[i].0);
    let i = match segment {
        Some(i) => i,
        None => {
            let below = x < points[0].0;
            match outliers {
                Outliers::AsMissing => return V::Missing,
                Outliers::AsExtreme => {
                    return V::Num(if below { points[0].1 } else { points[n - 1].1 });
                }
                // Extrapolate along the outermost segment.
                Outliers::AsIs if below => 0,
                Outliers::AsIs => n - 2,
            }
        }
    };
    let (a, b) = (points[i], points[i + 1]);
    V::Num(a.1 + ((x - a.0) / (b.0 - a.0)) * (b.1 - a.1))
}

/// The segment `[i, i+1]` of ascending `knots` that `v` falls in, by JPMML's binary search
/// (which also decides the segment of a value exactly on an inner knot: the same value can
/// come out of either neighbour's formula with a different last bit); `None` outside.
pub fn knot_segment(v: f64, knots: &[f64]) -> Option<usize> {
    knot_segment_by(v, knots.len(), |i| knots[i])
}

fn knot_segment_by(v: f64, n: usize, knot: impl Fn(usize) -> f64) -> Option<usize> {
    let (mut low, mut high) = (0isize, n as isize - 1);
    while low <= high {
        let mid = low + (high - low) / 2;
        let m = mid as usize;
        if v >= knot(m) {
            if m + 1 < n {
                if v <= knot(m + 1) {
                    return Some(m);
                }
            } else {
                return None; // past the last knot
            }
            low = mid + 1;
        } else {
            high = mid - 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_continuous_interpolates_and_extrapolates() {
        let pts = [(0.0, 0.0), (10.0, 1.0), (20.0, 3.0)];
        assert_eq!(norm_continuous(5.0, &pts, Outliers::AsIs), V::Num(0.5));
        assert_eq!(norm_continuous(15.0, &pts, Outliers::AsIs), V::Num(2.0));
        assert_eq!(norm_continuous(30.0, &pts, Outliers::AsIs), V::Num(5.0));
        assert_eq!(norm_continuous(-10.0, &pts, Outliers::AsIs), V::Num(-1.0));
        assert_eq!(
            norm_continuous(30.0, &pts, Outliers::AsExtreme),
            V::Num(3.0)
        );
        assert_eq!(norm_continuous(30.0, &pts, Outliers::AsMissing), V::Missing);
    }
}
