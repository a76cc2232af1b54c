//! With the switch strict, an op libtorch has no deterministic kernel for is a typed
//! error naming the op, on the CPU too (`put_` without accumulation), and the process
//! goes on; WarnOnly is the one way to allow it.

use lockstep_nn::tch::{Device, Kind, Tensor};
use lockstep_nn::{determinism, DeterminismConfig, DeterminismMode, Error};

fn put(accumulate: bool) -> lockstep_nn::Result<Tensor> {
    let mut t = Tensor::f_zeros([4], (Kind::Float, Device::Cpu))?;
    let i = Tensor::f_from_slice(&[0i64, 0, 1])?;
    let s = Tensor::f_ones([3], (Kind::Float, Device::Cpu))?;
    Ok(t.f_put_(&i, &s, accumulate)?)
}

#[test]
fn a_nondeterministic_op_is_a_typed_error_naming_it() {
    determinism::enable(&DeterminismConfig::strict(1)).unwrap();
    match put(false) {
        Err(Error::NondeterministicOp { op, message }) => {
            assert_eq!(op, "put_");
            assert!(message.contains("deterministic"), "{message}");
        }
        other => panic!("expected NondeterministicOp, got {other:?}"),
    }
    // The process is still usable, and the deterministic variant runs.
    assert!(put(true).is_ok());
    determinism::enable(&DeterminismConfig::strict(1).with_mode(DeterminismMode::WarnOnly))
        .unwrap();
    assert!(put(false).is_ok());
    determinism::enable(&DeterminismConfig::default_mode(1)).unwrap();
    assert!(put(false).is_ok());
}
