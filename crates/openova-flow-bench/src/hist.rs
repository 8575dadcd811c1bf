//! A lock-free log-linear latency histogram (microseconds, ≤ 1.6 % bucket
//! width above 128 µs, exact below), shared by many tasks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

const LINEAR: u64 = 128;
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = (LINEAR + (64 - 7) * SUB) as usize;

/// Bucket index of a value.
pub fn bucket(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let e = 63 - u64::from(v.leading_zeros()); // >= 7
    let sub = (v >> (e - u64::from(SUB_BITS))) & (SUB - 1);
    (LINEAR + (e - 7) * SUB + sub) as usize
}

/// Smallest value of a bucket.
pub fn bucket_floor(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let e = (i - LINEAR) / SUB + 7;
    let sub = (i - LINEAR) % SUB;
    (SUB + sub) << (e - u64::from(SUB_BITS))
}

/// Shared histogram of microsecond values.
#[derive(Debug)]
pub struct Histogram {
    counts: Box<[AtomicU64]>,
    max: AtomicU64,
    total: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }
}

/// Percentiles of a histogram, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Histogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record_micros(&self, us: u64) {
        self.counts[bucket(us)].fetch_add(1, Relaxed);
        self.max.fetch_max(us, Relaxed);
        self.total.fetch_add(1, Relaxed);
    }

    pub fn record(&self, d: Duration) {
        self.record_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// The value at quantile `q` (0 < q ≤ 1): the floor of the bucket holding
    /// the sample of rank ⌈q·n⌉; the exact maximum for q = 1.
    pub fn quantile(&self, q: f64) -> u64 {
        let total = self.total.load(Relaxed);
        if total == 0 {
            return 0;
        }
        if q >= 1.0 {
            return self.max.load(Relaxed);
        }
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Relaxed);
            if seen >= rank {
                return bucket_floor(i);
            }
        }
        self.max.load(Relaxed)
    }

    pub fn summary(&self) -> Summary {
        Summary {
            count: self.total.load(Relaxed),
            p50: self.quantile(0.50),
            p90: self.quantile(0.90),
            p99: self.quantile(0.99),
            max: self.quantile(1.0),
        }
    }
}

impl Summary {
    /// `p50 1.23ms p90 … max …`
    pub fn display_ms(&self) -> String {
        let ms = |us: u64| format!("{:.2}ms", us as f64 / 1000.0);
        format!(
            "p50 {} p90 {} p99 {} max {} (n={})",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max),
            self.count
        )
    }

    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "p50Us": self.p50,
            "p90Us": self.p90,
            "p99Us": self.p99,
            "maxUs": self.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut prev = 0;
        for v in (0..200_000u64).chain([u64::MAX / 2, u64::MAX]) {
            let b = bucket(v);
            assert!(b >= prev, "{v}");
            prev = b;
            let floor = bucket_floor(b);
            assert!(floor <= v, "{v} floor {floor}");
            if v >= LINEAR {
                assert!((v - floor) as f64 / v as f64 <= 1.0 / 64.0 + 1e-9, "{v}");
            } else {
                assert_eq!(floor, v);
            }
        }
        assert!(bucket(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles() {
        let h = Histogram::new();
        assert_eq!(h.summary(), Summary::default());
        for v in 1..=100 {
            h.record_micros(v);
        }
        let s = h.summary();
        assert_eq!(
            (s.count, s.p50, s.p90, s.p99, s.max),
            (100, 50, 90, 99, 100)
        );
        h.record_micros(1_000_000);
        assert_eq!(h.summary().max, 1_000_000);
        let p = h.quantile(0.999);
        assert!((984_375..=1_000_000).contains(&p), "{p}");
    }
}
