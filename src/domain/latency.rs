//! Latency buckets: one fixed, log-linear layout shared by the gateway's counters, the live
//! samples, the minute rollups in SQLite and the Prometheus export.
//!
//! Values are microseconds. Below 16 µs every microsecond has its bucket; above, each power of
//! two is cut into 16 equal buckets (HdrHistogram's layout with 4 bits of precision), so a
//! bucket is at most 1/16 of its lower bound wide and the midpoint any percentile reports is
//! within ±3.2% of the truth. The buckets reach 2^27 µs (134 s); anything longer counts in the
//! last one. Because the layout is fixed, counts from any two periods add bucket by bucket:
//! percentiles of an hour, a day or a week are computed from summed counts, never by averaging
//! percentiles.

/// Linear buckets per power of two.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// The highest power of two with buckets of its own.
const TOP_EXPONENT: u32 = 26;

/// How many buckets the layout has.
pub const BUCKETS: usize = (SUB as usize) * (TOP_EXPONENT - SUB_BITS + 2) as usize;

/// The bucket a latency of `micros` falls in.
#[inline]
pub fn bucket(micros: u64) -> usize {
    if micros < SUB {
        return micros as usize;
    }
    let exponent = 63 - micros.leading_zeros();
    if exponent > TOP_EXPONENT {
        return BUCKETS - 1;
    }
    let sub = (micros >> (exponent - SUB_BITS)) - SUB;
    ((exponent - SUB_BITS + 1) as usize) * SUB as usize + sub as usize
}

/// The smallest latency in bucket `i`, in microseconds.
pub fn lower(i: usize) -> u64 {
    let i = i.min(BUCKETS - 1) as u64;
    if i < SUB {
        return i;
    }
    let octave = i / SUB - 1;
    let sub = i % SUB;
    (SUB + sub) << octave
}

/// One past the largest latency in bucket `i` (the last bucket reports its lower bound doubled).
pub fn upper(i: usize) -> u64 {
    if i + 1 >= BUCKETS {
        lower(BUCKETS - 1) * 2
    } else {
        lower(i + 1)
    }
}

/// The latency below which a share `q` (0..=1) of the counted requests fall, as the midpoint of
/// its bucket; `None` when nothing was counted.
pub fn percentile(counts: &[u64], q: f64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some((lower(i) + upper(i) - 1) / 2);
        }
    }
    None
}

/// How many counted requests took at most `micros` (buckets that start above it are left out;
/// a bucket that straddles it counts whole, which is within the layout's precision).
pub fn at_most(counts: &[u64], micros: u64) -> u64 {
    counts
        .iter()
        .enumerate()
        .take_while(|(i, _)| lower(*i) <= micros)
        .map(|(_, c)| c)
        .sum()
}

/// Bucket counts as stored in SQLite: the non-zero buckets only, each as a little-endian u16
/// index and u64 count. A minute of traffic usually touches a dozen buckets.
pub fn encode(counts: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
        out.extend_from_slice(&(i as u16).to_le_bytes());
        out.extend_from_slice(&c.to_le_bytes());
    }
    out
}

/// Adds the counts `encode` wrote into `into` (at least [`BUCKETS`] long). Entries that do not
/// fit the layout are ignored: a damaged row loses its latency, not the query.
pub fn decode_into(bytes: &[u8], into: &mut [u64]) {
    for entry in bytes.chunks_exact(10) {
        let i = u16::from_le_bytes([entry[0], entry[1]]) as usize;
        let mut c = [0u8; 8];
        c.copy_from_slice(&entry[2..]);
        if let Some(slot) = into.get_mut(i) {
            *slot = slot.saturating_add(u64::from_le_bytes(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latency_lands_in_the_bucket_that_bounds_it() {
        for micros in (0..5000).chain([65_535, 1_000_000, 60_000_000, (1 << 26) + 5]) {
            let i = bucket(micros);
            assert!(i < BUCKETS);
            assert!(lower(i) <= micros, "{micros} below bucket {i}");
            if i + 1 < BUCKETS {
                assert!(micros < upper(i), "{micros} above bucket {i}");
            }
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        // Buckets are contiguous and at most 1/16 of their lower bound wide.
        for i in 1..BUCKETS {
            assert_eq!(upper(i - 1), lower(i));
            if lower(i) >= 16 && i + 1 < BUCKETS {
                assert!((upper(i) - lower(i)) * 16 <= lower(i), "bucket {i}");
            }
        }
    }

    #[test]
    fn percentiles_are_within_the_layouts_precision() {
        let mut counts = vec![0u64; BUCKETS];
        // 90 requests of 5 ms, 10 of 100 ms.
        counts[bucket(5_000)] += 90;
        counts[bucket(100_000)] += 10;
        let p50 = percentile(&counts, 0.5).unwrap() as f64;
        let p95 = percentile(&counts, 0.95).unwrap() as f64;
        assert!((p50 / 5_000.0 - 1.0).abs() < 0.035, "{p50}");
        assert!((p95 / 100_000.0 - 1.0).abs() < 0.035, "{p95}");
        assert_eq!(percentile(&vec![0; BUCKETS], 0.5), None);
        assert_eq!(at_most(&counts, 10_000), 90);
    }

    #[test]
    fn encoded_counts_add_back() {
        let mut counts = vec![0u64; BUCKETS];
        counts[3] = 7;
        counts[200] = 1 << 40;
        let bytes = encode(&counts);
        assert_eq!(bytes.len(), 20);
        let mut sum = vec![0u64; BUCKETS];
        decode_into(&bytes, &mut sum);
        decode_into(&bytes, &mut sum);
        assert_eq!(sum[3], 14);
        assert_eq!(sum[200], 2 << 40);
        // Garbage is ignored rather than trusted.
        decode_into(&[0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 9], &mut sum);
    }
}
