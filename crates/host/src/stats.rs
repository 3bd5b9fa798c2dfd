//! Running statistics for profiles: all-time min/mean/max plus a window for percentiles.

use silverline_proto::status::Summary;
use std::collections::VecDeque;

/// Running statistics over all samples plus a window of recent ones for percentiles.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
    recent: VecDeque<u64>,
}

const RECENT: usize = 1024;

impl Stats {
    pub(crate) fn add(&mut self, v: u64) {
        self.min = if self.count == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.count += 1;
        self.sum += v as u128;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(v);
    }

    pub(crate) fn summary(&self) -> Summary {
        if self.count == 0 {
            return Summary::default();
        }
        let mut sorted: Vec<u64> = self.recent.iter().copied().collect();
        sorted.sort_unstable();
        let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
        Summary {
            count: self.count,
            min: self.min,
            mean: (self.sum / self.count as u128) as u64,
            p50: pct(0.50),
            p99: pct(0.99),
            max: self.max,
        }
    }
}

