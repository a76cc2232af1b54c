//! Thin layers over tch's parameter builders whose forward passes use fallible ops, so
//! a bad input is an error, never a panic.

use tch::nn::{self, Init};
use tch::Tensor;

use crate::error::Result;

/// A 3×3-style convolution followed by BatchNorm and ReLU.
#[derive(Debug)]
pub(crate) struct ConvBnRelu {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
    stride: i64,
    padding: i64,
    dilation: i64,
}

impl ConvBnRelu {
    pub(crate) fn new(
        vs: nn::Path<'_>,
        cin: i64,
        cout: i64,
        k: i64,
        stride: i64,
        dilation: i64,
    ) -> Self {
        let conv_cfg = nn::ConvConfig {
            stride,
            padding: dilation * (k / 2),
            dilation,
            bias: false,
            ..Default::default()
        };
        let bn_cfg = nn::BatchNormConfig {
            ws_init: Init::Const(1.0),
            ..Default::default()
        };
        Self {
            conv: nn::conv2d(&vs / "conv", cin, cout, k, conv_cfg),
            bn: nn::batch_norm2d(&vs / "bn", cout, bn_cfg),
            stride,
            padding: dilation * (k / 2),
            dilation,
        }
    }

    pub(crate) fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = x.f_conv2d(
            &self.conv.ws,
            self.conv.bs.as_ref(),
            [self.stride, self.stride],
            [self.padding, self.padding],
            [self.dilation, self.dilation],
            1,
        )?;
        let y = y.f_batch_norm(
            self.bn.ws.as_ref(),
            self.bn.bs.as_ref(),
            Some(&self.bn.running_mean),
            Some(&self.bn.running_var),
            train,
            0.1,
            1e-5,
            true,
        )?;
        Ok(y.f_relu()?)
    }
}

/// A plain convolution (with bias).
#[derive(Debug)]
pub(crate) struct Conv {
    conv: nn::Conv2D,
    padding: i64,
}

impl Conv {
    pub(crate) fn new(vs: nn::Path<'_>, cin: i64, cout: i64, k: i64) -> Self {
        let cfg = nn::ConvConfig {
            padding: k / 2,
            ..Default::default()
        };
        Self {
            conv: nn::conv2d(vs, cin, cout, k, cfg),
            padding: k / 2,
        }
    }

    pub(crate) fn bias(&self) -> Option<&Tensor> {
        self.conv.bs.as_ref()
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.f_conv2d(
            &self.conv.ws,
            self.conv.bs.as_ref(),
            [1, 1],
            [self.padding, self.padding],
            [1, 1],
            1,
        )?)
    }
}

/// A fully connected layer.
#[derive(Debug)]
pub(crate) struct Linear {
    inner: nn::Linear,
}

impl Linear {
    pub(crate) fn new(vs: nn::Path<'_>, cin: i64, cout: i64) -> Self {
        Self {
            inner: nn::linear(vs, cin, cout, Default::default()),
        }
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.f_linear(&self.inner.ws, self.inner.bs.as_ref())?)
    }
}
