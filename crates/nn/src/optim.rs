//! SGD and AdamW written over tch tensor ops, so their state is ours to save.
//!
//! The update formulas follow the documentation of PyTorch's `torch.optim.SGD` and
//! `torch.optim.AdamW` (single-tensor path, `maximize=False`, `amsgrad=False`). State is
//! created lazily at a parameter's first update, as PyTorch does, and is named
//! `<slot>/<parameter>` (`momentum_buffer/…`, `exp_avg/…`, `exp_avg_sq/…`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::error::{Error, Result};

/// Which optimizer, with its hyper-parameters (the learning rate comes from the
/// schedule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
#[non_exhaustive]
pub enum OptimizerConfig {
    /// Stochastic gradient descent with momentum and (coupled, L2) weight decay.
    Sgd {
        /// Momentum factor `μ` (0 for none).
        momentum: f64,
        /// Dampening `τ`.
        dampening: f64,
        /// Weight decay `λ`, added to the gradient as `λ·θ`.
        weight_decay: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// Adam with decoupled weight decay.
    AdamW {
        /// `β1`.
        beta1: f64,
        /// `β2`.
        beta2: f64,
        /// `ε`.
        eps: f64,
        /// Decoupled weight decay `λ` (`θ ← θ·(1 − γλ)`).
        weight_decay: f64,
    },
}

impl OptimizerConfig {
    /// PyTorch's SGD defaults with the given momentum.
    pub fn sgd(momentum: f64) -> Self {
        Self::Sgd {
            momentum,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }

    /// PyTorch's AdamW defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    pub fn adamw() -> Self {
        Self::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }

    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        let check = |what: &'static str, v: f64, ok: bool| {
            if v.is_finite() && ok {
                Ok(())
            } else {
                Err(Error::InvalidConfig {
                    what,
                    value: v.to_string(),
                })
            }
        };
        match *self {
            Self::Sgd {
                momentum,
                dampening,
                weight_decay,
                nesterov,
            } => {
                check("optimizer.momentum", momentum, momentum >= 0.0)?;
                check("optimizer.dampening", dampening, true)?;
                check("optimizer.weight_decay", weight_decay, weight_decay >= 0.0)?;
                if nesterov && (momentum <= 0.0 || dampening != 0.0) {
                    return Err(Error::InvalidConfig {
                        what: "optimizer.nesterov",
                        value: "true (needs momentum > 0 and dampening 0)".into(),
                    });
                }
                Ok(())
            }
            Self::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                check("optimizer.beta1", beta1, (0.0..1.0).contains(&beta1))?;
                check("optimizer.beta2", beta2, (0.0..1.0).contains(&beta2))?;
                // eps = 0 divides 0 by 0 (NaN) wherever a gradient has been 0 so far.
                check("optimizer.eps", eps, eps > 0.0)?;
                check("optimizer.weight_decay", weight_decay, weight_decay >= 0.0)
            }
        }
    }

    /// The state slots this optimizer keeps per parameter.
    pub fn slots(&self) -> &'static [&'static str] {
        match self {
            Self::Sgd { momentum, .. } if *momentum != 0.0 => &["momentum_buffer"],
            Self::Sgd { .. } => &[],
            Self::AdamW { .. } => &["exp_avg", "exp_avg_sq"],
        }
    }
}

/// An optimizer and its state.
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    updates: u64,
    /// slot → parameter name → tensor.
    state: BTreeMap<String, Tensor>,
}

/// A copy of `t` that shares no storage with it.
pub(crate) fn deep_copy(t: &Tensor) -> Result<Tensor> {
    let mut out = t.f_zeros_like()?;
    out.f_copy_(t)?;
    Ok(out)
}

fn key(slot: &str, param: &str) -> String {
    format!("{slot}/{param}")
}

impl Optimizer {
    /// A fresh optimizer with no state.
    pub fn new(config: OptimizerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            updates: 0,
            state: BTreeMap::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// How many updates have been applied (AdamW's `t` before the next update).
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The state as named tensors, `<slot>/<parameter>`, in name order.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.state
            .iter()
            .map(|(k, t)| (k.clone(), t.shallow_clone()))
            .collect()
    }

    /// Replaces the state with `named` after `updates` updates. Every slot of every
    /// parameter in `params` must be present exactly when `updates > 0`, with the
    /// parameter's shape and kind; nothing else may be.
    pub fn restore(
        &mut self,
        updates: u64,
        named: Vec<(String, Tensor)>,
        params: &[(String, Tensor)],
    ) -> Result<()> {
        let mut given: BTreeMap<String, Tensor> = named.into_iter().collect();
        let mut state = BTreeMap::new();
        if updates > 0 {
            for (name, p) in params {
                for slot in self.config.slots() {
                    let k = key(slot, name);
                    let t = given.remove(&k).ok_or_else(|| Error::ModelMismatch {
                        what: "optimizer",
                        tensor: k.clone(),
                        reason: "missing from the checkpoint".into(),
                    })?;
                    if t.size() != p.size() || t.kind() != p.kind() {
                        return Err(Error::ModelMismatch {
                            what: "optimizer",
                            tensor: k,
                            reason: format!(
                                "checkpoint has {:?} {:?}, parameter is {:?} {:?}",
                                t.size(),
                                t.kind(),
                                p.size(),
                                p.kind()
                            ),
                        });
                    }
                    state.insert(k, t.f_to_device(p.device())?);
                }
            }
        }
        if let Some(extra) = given.into_keys().next() {
            return Err(Error::ModelMismatch {
                what: "optimizer",
                tensor: extra,
                reason: "in the checkpoint but not in this optimizer".into(),
            });
        }
        self.updates = updates;
        self.state = state;
        Ok(())
    }

    /// Applies one update with rate `lr` to `params` (name, tensor) given `grads` in the
    /// same order. Runs under `no_grad`.
    pub fn step(&mut self, params: &[(String, Tensor)], grads: &[Tensor], lr: f64) -> Result<()> {
        if params.len() != grads.len() {
            return Err(Error::InvalidConfig {
                what: "gradients",
                value: format!("{} gradients for {} parameters", grads.len(), params.len()),
            });
        }
        let t = self.updates + 1;
        let _guard = tch::no_grad_guard();
        for ((name, p), g) in params.iter().zip(grads) {
            let mut p = p.shallow_clone();
            match self.config {
                OptimizerConfig::Sgd {
                    momentum,
                    dampening,
                    weight_decay,
                    nesterov,
                } => {
                    // g ← g + λθ
                    let mut d = if weight_decay != 0.0 {
                        g.f_add(&p.f_mul_scalar(weight_decay)?)?
                    } else {
                        g.shallow_clone()
                    };
                    if momentum != 0.0 {
                        let k = key("momentum_buffer", name);
                        let buf = match self.state.get_mut(&k) {
                            // b ← μb + (1 − τ)g
                            Some(b) => {
                                let _ = b.f_mul_scalar_(momentum)?;
                                let _ = b.f_add_(&d.f_mul_scalar(1.0 - dampening)?)?;
                                b.shallow_clone()
                            }
                            // b₁ ← g
                            None => {
                                let b = deep_copy(&d)?;
                                self.state.insert(k, b.shallow_clone());
                                b
                            }
                        };
                        d = if nesterov {
                            d.f_add(&buf.f_mul_scalar(momentum)?)?
                        } else {
                            buf
                        };
                    }
                    // θ ← θ − γg
                    let _ = p.f_sub_(&d.f_mul_scalar(lr)?)?;
                }
                OptimizerConfig::AdamW {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                } => {
                    // θ ← θ(1 − γλ)
                    if weight_decay != 0.0 {
                        let _ = p.f_mul_scalar_(1.0 - lr * weight_decay)?;
                    }
                    let mk = key("exp_avg", name);
                    let vk = key("exp_avg_sq", name);
                    if !self.state.contains_key(&mk) {
                        self.state.insert(mk.clone(), p.f_zeros_like()?);
                        self.state.insert(vk.clone(), p.f_zeros_like()?);
                    }
                    let (Some(m), Some(v)) = (self.state.get(&mk), self.state.get(&vk)) else {
                        return Err(Error::ModelMismatch {
                            what: "optimizer",
                            tensor: vk,
                            reason: "state slot missing".into(),
                        });
                    };
                    let (mut m, mut v) = (m.shallow_clone(), v.shallow_clone());
                    // m ← β1·m + (1 − β1)·g, as PyTorch computes it: lerp(m, g, 1 − β1).
                    let _ = m.f_lerp_(g, 1.0 - beta1)?;
                    // v ← β2·v + (1 − β2)·g²
                    let _ = v.f_mul_scalar_(beta2)?;
                    let _ = v.f_addcmul_(g, &g.f_mul_scalar(1.0 - beta2)?)?;
                    // θ ← θ − (γ / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
                    let bc1 = 1.0 - libm::pow(beta1, t as f64);
                    let bc2 = 1.0 - libm::pow(beta2, t as f64);
                    let step_size = lr / bc1;
                    let mut denom = v.f_sqrt()?;
                    let _ = denom.f_div_scalar_(libm::sqrt(bc2))?;
                    let _ = denom.f_add_scalar_(eps)?;
                    let mut update = m.f_div(&denom)?;
                    let _ = update.f_mul_scalar_(step_size)?;
                    let _ = p.f_sub_(&update)?;
                }
            }
        }
        self.updates = t;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn param(values: &[f64]) -> (String, Tensor) {
        (
            "w".to_string(),
            Tensor::from_slice(values)
                .to_kind(Kind::Double)
                .to_device(Device::Cpu),
        )
    }

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t).unwrap()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-14 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn sgd_momentum_weight_decay_matches_hand_computation() {
        let p = param(&[1.0, -2.0]);
        let mut opt = Optimizer::new(OptimizerConfig::Sgd {
            momentum: 0.9,
            dampening: 0.1,
            weight_decay: 0.01,
            nesterov: false,
        })
        .unwrap();
        let grads = [[0.5, 0.25], [-1.0, 2.0]];
        // By hand: d = g + 0.01θ; b1 = d; b_t = 0.9 b + 0.9 d; θ -= 0.1 b.
        let mut theta = [1.0f64, -2.0];
        let mut buf: Option<[f64; 2]> = None;
        for g in grads {
            opt.step(std::slice::from_ref(&p), &[Tensor::from_slice(&g)], 0.1)
                .unwrap();
            let d = [g[0] + 0.01 * theta[0], g[1] + 0.01 * theta[1]];
            let b = match buf {
                None => d,
                Some(b) => [0.9 * b[0] + 0.9 * d[0], 0.9 * b[1] + 0.9 * d[1]],
            };
            buf = Some(b);
            theta = [theta[0] - 0.1 * b[0], theta[1] - 0.1 * b[1]];
            close(&values(&p.1), &theta);
        }
        // Step 1 by hand: θ0 = 1 − 0.1·(0.5 + 0.01) = 0.949; step 2: d = −1 + 0.00949,
        // b = 0.9·0.51 + 0.9·d, θ0 = 0.949 − 0.1·b.
        let d2 = -1.0 + 0.01 * 0.949;
        close(&values(&p.1)[..1], &[0.949 - 0.1 * (0.9 * 0.51 + 0.9 * d2)]);
        assert_eq!(opt.updates(), 2);
        assert_eq!(opt.state().len(), 1);
    }

    #[test]
    fn sgd_nesterov_matches_hand_computation() {
        let p = param(&[3.0]);
        let mut opt = Optimizer::new(OptimizerConfig::Sgd {
            momentum: 0.5,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: true,
        })
        .unwrap();
        opt.step(
            std::slice::from_ref(&p),
            &[Tensor::from_slice(&[1.0f64])],
            0.1,
        )
        .unwrap();
        // b = 1; d = 1 + 0.5·1 = 1.5; θ = 3 − 0.15.
        close(&values(&p.1), &[2.85]);
        opt.step(
            std::slice::from_ref(&p),
            &[Tensor::from_slice(&[2.0f64])],
            0.1,
        )
        .unwrap();
        // b = 0.5 + 2 = 2.5; d = 2 + 1.25 = 3.25; θ = 2.85 − 0.325.
        close(&values(&p.1), &[2.525]);
    }

    #[test]
    fn adamw_matches_hand_computation() {
        let p = param(&[1.0, -1.0]);
        let (b1, b2, eps, wd, lr) = (0.9, 0.999, 1e-8, 0.01, 0.001);
        let mut opt = Optimizer::new(OptimizerConfig::AdamW {
            beta1: b1,
            beta2: b2,
            eps,
            weight_decay: wd,
        })
        .unwrap();
        let mut theta = [1.0f64, -1.0];
        let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
        for (t, g) in [[0.1, -0.2], [0.3, 0.05], [-0.4, 0.0]].iter().enumerate() {
            opt.step(std::slice::from_ref(&p), &[Tensor::from_slice(g)], lr)
                .unwrap();
            let t = (t + 1) as i32;
            for i in 0..2 {
                theta[i] *= 1.0 - lr * wd;
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                let mhat = m[i] / (1.0 - b1.powi(t));
                let vhat = v[i] / (1.0 - b2.powi(t));
                theta[i] -= lr * mhat / (vhat.sqrt() + eps * 1.0);
            }
            // The docs' form divides by √v̂ + ε; the implementation's √v/√bc2 + ε is the
            // same up to rounding.
            close(&values(&p.1), &theta);
        }
        // The first AdamW step moves each weight by about lr (sign of the gradient).
        assert!((values(&p.1)[0] - theta[0]).abs() < 1e-14);
        let names: Vec<String> = opt.state().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["exp_avg/w", "exp_avg_sq/w"]);
    }

    #[test]
    fn restore_checks_slots_and_shapes() {
        let p = param(&[1.0, 2.0]);
        let mut opt = Optimizer::new(OptimizerConfig::adamw()).unwrap();
        let err = opt
            .restore(1, vec![], std::slice::from_ref(&p))
            .unwrap_err();
        assert!(matches!(err, Error::ModelMismatch { ref tensor, .. } if tensor == "exp_avg/w"));
        let bad = vec![
            (
                "exp_avg/w".to_string(),
                Tensor::zeros([3], (Kind::Double, Device::Cpu)),
            ),
            (
                "exp_avg_sq/w".to_string(),
                Tensor::zeros([2], (Kind::Double, Device::Cpu)),
            ),
        ];
        assert!(matches!(
            opt.restore(1, bad, std::slice::from_ref(&p)),
            Err(Error::ModelMismatch { .. })
        ));
        let extra = vec![(
            "momentum_buffer/w".to_string(),
            Tensor::zeros([2], (Kind::Double, Device::Cpu)),
        )];
        assert!(matches!(
            opt.restore(0, extra, std::slice::from_ref(&p)),
            Err(Error::ModelMismatch { .. })
        ));
        assert!(Optimizer::new(OptimizerConfig::AdamW {
            beta1: 1.0,
            beta2: 0.9,
            eps: 1e-8,
            weight_decay: 0.0
        })
        .is_err());
    }

    #[test]
    fn zero_eps_is_refused() {
        // AdamW with eps 0 divides 0 by 0 on a parameter whose gradients were all 0.
        assert!(matches!(
            Optimizer::new(OptimizerConfig::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 0.0,
                weight_decay: 0.0
            }),
            Err(Error::InvalidConfig {
                what: "optimizer.eps",
                ..
            })
        ));
    }
}
