//! The timing harness behind `cargo xtask bench`.
//!
//! Each benchmark binary (ours, with `harness = false`) and each peer script in
//! `bench/peers/` prints one JSON object per line on standard output:
//!
//! ```json
//! {"suite":"seeding","case":"u64 bulk","impl":"lockstep","items":1048576,"ns_per_item":0.9,"samples":7}
//! ```
//!
//! The xtask joins records of the same `suite` and `case` across implementations and
//! prints the ratio of each peer's time to ours, measured in the same run. A record may
//! carry targets (`min_speedup` against a named peer, `max_ns_per_item`) that the report
//! checks. Progress goes to standard error.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

mod nms_workload;
pub use nms_workload::nms_workload;

/// One measurement, as printed on a line of JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The group of cases, such as `seeding`.
    pub suite: String,
    /// The case, the same string for ours and the peers' side.
    pub case: String,
    /// Who measured: `lockstep` for ours, the peer's name otherwise.
    #[serde(rename = "impl")]
    pub implementation: String,
    /// Items processed per timed call.
    pub items: u64,
    /// Median nanoseconds per item over the samples.
    pub ns_per_item: f64,
    /// How many timed samples the median is over.
    pub samples: u32,
    /// The least speedup against each named peer that the issue asks for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_speedup: BTreeMap<String, f64>,
    /// An absolute ceiling on our nanoseconds per item, where the issue sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ns_per_item: Option<f64>,
}

/// How long to sample each case: at least `min_samples` timed calls and at least
/// `min_time` in total, after one untimed warm-up call.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Timed calls at least.
    pub min_samples: u32,
    /// Total timed duration at least.
    pub min_time: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            min_samples: 5,
            min_time: Duration::from_millis(400),
        }
    }
}

/// A suite of measurements for one binary.
#[derive(Debug)]
pub struct Suite {
    name: String,
    budget: Budget,
}

impl Suite {
    /// A suite with the default budget, or a shorter one when `LOCKSTEP_BENCH_QUICK`
    /// is set (used by the tests of the bench plumbing).
    pub fn new(name: &str) -> Self {
        let budget = if std::env::var_os("LOCKSTEP_BENCH_QUICK").is_some() {
            Budget {
                min_samples: 1,
                min_time: Duration::ZERO,
            }
        } else {
            Budget::default()
        };
        Self {
            name: name.to_string(),
            budget,
        }
    }

    /// Times `run`, which processes `items` items per call, prints the record as a JSON
    /// line and returns it. `run` gets the sample number, so it can vary its input.
    pub fn measure<T>(&self, case: &str, items: u64, mut run: impl FnMut(u32) -> T) -> Record {
        eprintln!("bench {}/{case} …", self.name);
        black_box(run(0));
        let mut per_item = Vec::new();
        let started = Instant::now();
        let mut sample = 1;
        while per_item.len() < self.budget.min_samples as usize
            || started.elapsed() < self.budget.min_time
        {
            let t = Instant::now();
            black_box(run(sample));
            per_item.push(t.elapsed().as_nanos() as f64 / items.max(1) as f64);
            sample += 1;
        }
        Record {
            suite: self.name.clone(),
            case: case.to_string(),
            implementation: "lockstep".to_string(),
            items,
            ns_per_item: median(&mut per_item),
            samples: per_item.len() as u32,
            min_speedup: BTreeMap::new(),
            max_ns_per_item: None,
        }
    }

    /// Times two implementations of one case, alternating a sample of each (and which
    /// goes first) so that drift in the machine's speed falls on both alike. Returns
    /// the records of `a` and `b`, labelled `lockstep` and `peer`.
    pub fn measure_alternating<T, U>(
        &self,
        case: &str,
        items: u64,
        peer: &str,
        mut a: impl FnMut(u32) -> T,
        mut b: impl FnMut(u32) -> U,
    ) -> (Record, Record) {
        eprintln!("bench {}/{case} (alternating with {peer}) …", self.name);
        black_box(a(0));
        black_box(b(0));
        let (mut per_a, mut per_b) = (Vec::new(), Vec::new());
        let started = Instant::now();
        let mut sample = 1;
        while per_a.len() < self.budget.min_samples as usize
            || started.elapsed() < self.budget.min_time * 2
        {
            let mut time_a = || {
                let t = Instant::now();
                black_box(a(sample));
                per_a.push(t.elapsed().as_nanos() as f64 / items.max(1) as f64);
            };
            let mut time_b = || {
                let t = Instant::now();
                black_box(b(sample));
                per_b.push(t.elapsed().as_nanos() as f64 / items.max(1) as f64);
            };
            if sample % 2 == 0 {
                time_a();
                time_b();
            } else {
                time_b();
                time_a();
            }
            sample += 1;
        }
        let record = |implementation: &str, per_item: &mut Vec<f64>| Record {
            suite: self.name.clone(),
            case: case.to_string(),
            implementation: implementation.to_string(),
            items,
            ns_per_item: median(per_item),
            samples: per_item.len() as u32,
            min_speedup: BTreeMap::new(),
            max_ns_per_item: None,
        };
        (record("lockstep", &mut per_a), record(peer, &mut per_b))
    }

    /// Prints a record as one JSON line on standard output.
    pub fn emit(&self, record: &Record) {
        println!("{}", serde_json::to_string(record).unwrap_or_default());
    }
}

impl Record {
    /// This record with a least speedup against `peer` attached.
    pub fn min_speedup(mut self, peer: &str, ratio: f64) -> Self {
        self.min_speedup.insert(peer.to_string(), ratio);
        self
    }

    /// This record with an absolute ceiling attached.
    pub fn max_ns_per_item(mut self, ns: f64) -> Self {
        self.max_ns_per_item = Some(ns);
        self
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn record_round_trips_through_json() {
        let r = Record {
            suite: "s".into(),
            case: "c".into(),
            implementation: "lockstep".into(),
            items: 10,
            ns_per_item: 1.5,
            samples: 3,
            min_speedup: BTreeMap::new(),
            max_ns_per_item: None,
        }
        .min_speedup("numpy", 1.5)
        .max_ns_per_item(20.0);
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"impl\":\"lockstep\""));
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
    }

    #[test]
    fn alternating_measures_both_sides_equally_often() {
        let suite = Suite {
            name: "t".into(),
            budget: Budget {
                min_samples: 4,
                min_time: Duration::ZERO,
            },
        };
        let (mut calls_a, mut calls_b) = (0, 0);
        let (a, b) =
            suite.measure_alternating("case", 10, "other", |_| calls_a += 1, |_| calls_b += 1);
        assert_eq!(
            (calls_a, calls_b),
            (5, 5),
            "one warm-up each plus four samples"
        );
        assert_eq!((a.samples, b.samples), (4, 4));
        assert_eq!(
            (a.implementation.as_str(), b.implementation.as_str()),
            ("lockstep", "other")
        );
        assert_eq!(a.case, b.case);
    }

    #[test]
    fn measure_reports_the_items_and_at_least_one_sample() {
        let suite = Suite {
            name: "t".into(),
            budget: Budget {
                min_samples: 3,
                min_time: Duration::ZERO,
            },
        };
        let mut calls = 0;
        let r = suite.measure("case", 100, |_| {
            calls += 1;
            calls
        });
        assert_eq!(calls, 4, "one warm-up plus three samples");
        assert_eq!(r.samples, 3);
        assert_eq!(r.items, 100);
        assert!(r.ns_per_item >= 0.0);
    }
}
