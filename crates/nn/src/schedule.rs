//! Learning-rate schedules: a pure function of the step, so resume needs no state.
//!
//! Steps count from 0. Transcendentals come from `libm` (pinned), not the platform's
//! libm, so the rate is the same on every machine.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the learning rate moves with the step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
#[non_exhaustive]
pub enum LrSchedule {
    /// `base` at every step.
    Constant {
        /// The rate.
        base: f64,
    },
    /// `base · gamma^⌊k / every⌋` (PyTorch's `StepLR`).
    Step {
        /// The initial rate.
        base: f64,
        /// Steps between decays (at least 1).
        every: u64,
        /// The decay factor.
        gamma: f64,
    },
    /// Linear warm-up `base · (k + 1) / warmup` for `k < warmup`, then cosine decay from
    /// `base` to `min` over the remaining `total − warmup` steps:
    /// `min + (base − min) · (1 + cos(π · t)) / 2` with `t = (k − warmup) / (total − warmup)`
    /// clamped to `[0, 1]`.
    Cosine {
        /// The peak rate.
        base: f64,
        /// The final rate.
        min: f64,
        /// Warm-up steps (may be 0).
        warmup: u64,
        /// Total steps of the run (more than `warmup`).
        total: u64,
    },
}

impl LrSchedule {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &'static str, value: String| Err(Error::InvalidConfig { what, value });
        match *self {
            Self::Constant { base } | Self::Step { base, .. } | Self::Cosine { base, .. }
                if !(base.is_finite() && base >= 0.0) =>
            {
                bad("schedule.base", base.to_string())
            }
            Self::Step { every: 0, .. } => bad("schedule.every", "0".into()),
            // A negative factor would make every other rate negative.
            Self::Step { gamma, .. } if !(gamma.is_finite() && gamma >= 0.0) => {
                bad("schedule.gamma", gamma.to_string())
            }
            Self::Cosine { min, .. } if !(min.is_finite() && min >= 0.0) => {
                bad("schedule.min", min.to_string())
            }
            Self::Cosine { warmup, total, .. } if total <= warmup => {
                bad("schedule.total", format!("{total} (warmup {warmup})"))
            }
            _ => Ok(()),
        }
    }

    /// The rate at step `k`, or [`Error::InvalidConfig`] when it is not finite (a
    /// `gamma` above 1 overflows after enough decays).
    pub fn checked_lr(&self, k: u64) -> Result<f64> {
        let lr = self.lr(k);
        if lr.is_finite() {
            Ok(lr)
        } else {
            Err(Error::InvalidConfig {
                what: "schedule",
                value: format!("{self:?} (its rate at step {k} is {lr})"),
            })
        }
    }

    /// The rate at step `k`.
    pub fn lr(&self, k: u64) -> f64 {
        match *self {
            Self::Constant { base } => base,
            Self::Step { base, every, gamma } => {
                let decays = k / every.max(1);
                base * libm::pow(gamma, decays as f64)
            }
            Self::Cosine {
                base,
                min,
                warmup,
                total,
            } => {
                if k < warmup {
                    return base * (k + 1) as f64 / warmup as f64;
                }
                let span = total.saturating_sub(warmup).max(1) as f64;
                let t = ((k - warmup) as f64 / span).min(1.0);
                min + (base - min) * (1.0 + libm::cos(std::f64::consts::PI * t)) / 2.0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_and_step_known_values() {
        assert_eq!(LrSchedule::Constant { base: 0.1 }.lr(1000), 0.1);
        let s = LrSchedule::Step {
            base: 1.0,
            every: 10,
            gamma: 0.5,
        };
        assert_eq!(
            [s.lr(0), s.lr(9), s.lr(10), s.lr(25)],
            [1.0, 1.0, 0.5, 0.25]
        );
    }

    #[test]
    fn cosine_warms_up_then_decays_to_min() {
        let s = LrSchedule::Cosine {
            base: 1.0,
            min: 0.0,
            warmup: 4,
            total: 14,
        };
        assert_eq!([s.lr(0), s.lr(1), s.lr(3)], [0.25, 0.5, 1.0]);
        assert_eq!(s.lr(4), 1.0);
        assert!((s.lr(9) - 0.5).abs() < 1e-15);
        assert_eq!(s.lr(14), 0.0);
        assert_eq!(s.lr(100), 0.0);
    }

    #[test]
    fn invalid_schedules_are_typed_errors() {
        assert!(LrSchedule::Step {
            base: 1.0,
            every: 0,
            gamma: 0.5
        }
        .validate()
        .is_err());
        assert!(LrSchedule::Cosine {
            base: 1.0,
            min: 0.0,
            warmup: 5,
            total: 5
        }
        .validate()
        .is_err());
        assert!(LrSchedule::Constant { base: f64::NAN }.validate().is_err());
        // A negative decay factor flips the rate's sign every other decay.
        assert!(LrSchedule::Step {
            base: 1.0,
            every: 1,
            gamma: -0.5
        }
        .validate()
        .is_err());
        // A factor above 1 validates but overflows to an infinite rate at some step.
        let growing = LrSchedule::Step {
            base: 1.0,
            every: 1,
            gamma: 1e10,
        };
        assert!(growing.validate().is_ok());
        assert!(growing.checked_lr(10).is_ok());
        assert!(matches!(
            growing.checked_lr(40),
            Err(Error::InvalidConfig {
                what: "schedule",
                ..
            })
        ));
        assert!(LrSchedule::Constant { base: 0.1 }.validate().is_ok());
    }
}
