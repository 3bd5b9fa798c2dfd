//! Sample summaries and number formatting.

use crate::Row;

/// Summarise samples (nanoseconds) as a [`Row`]: median, nearest-rank p99, mean, min, max.
/// An empty sample set gives zeros (and n = 0).
pub fn summarize(name: &str, samples: &[f64]) -> Row {
    let mut s: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        return Row { name: name.into(), n: 0, median_ns: 0.0, p99_ns: 0.0, mean_ns: 0.0, min_ns: 0.0, max_ns: 0.0 };
    }
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
    let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n);
    Row {
        name: name.into(),
        n,
        median_ns: median,
        p99_ns: s[rank - 1],
        mean_ns: s.iter().sum::<f64>() / n as f64,
        min_ns: s[0],
        max_ns: s[n - 1],
    }
}

/// Nanoseconds in a short unit with three significant digits: `12.3 ns`, `4.56 µs`, `7.89 ms`.
pub fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let digits = if v >= 100.0 { 0 } else if v >= 10.0 { 1 } else { 2 };
    format!("{v:.digits$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        let r = summarize("x", &v);
        assert_eq!(r.n, 200);
        assert_eq!(r.median_ns, 100.5);
        assert_eq!(r.p99_ns, 198.0);
        assert_eq!(r.max_ns, 200.0);
        assert_eq!(summarize("one", &[5.0]).p99_ns, 5.0);
        assert_eq!(summarize("none", &[]).n, 0);
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_ns(12.345), "12.3 ns");
        assert_eq!(fmt_ns(4_560.0), "4.56 µs");
        assert_eq!(fmt_ns(123_456_789.0), "123 ms");
    }
}
