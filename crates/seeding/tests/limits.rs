//! Hostile sizes and parameters: deep paths and extreme normal parameters give typed
//! errors or correct results, never a stack overflow or an infinite value.

use lockstep_seeding::{Error, SeedTree, MAX_PATH_DEPTH, NORMAL_MAX_ABS};
use proptest::prelude::*;

/// Runs `f` on a thread with a 2 MiB stack, as a user's worker thread might have.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .map(|handle| handle.join())
        .expect("spawn a thread")
        .expect("the thread did not panic")
}

/// The JSON of a node of `root 1` whose path is `steps` times the label `a`, with a
/// wrong key (the depth check must come first).
fn json_with_steps(steps: usize) -> String {
    let mut path = String::with_capacity(steps * 4);
    for k in 0..steps {
        if k > 0 {
            path.push(',');
        }
        path.push_str("\"a\"");
    }
    format!(
        r#"{{"format":"lockstep-seed-node/1","root":{{"u64":1}},"path":[{path}],"key":"{}"}}"#,
        "0".repeat(64)
    )
}

fn deep(depth: usize) -> SeedTree {
    let mut node = SeedTree::from_u64(1);
    for k in 0..depth {
        node = if k % 2 == 0 {
            node.child("a")
        } else {
            node.index(k as u64)
        };
    }
    node
}

#[test]
fn a_node_a_million_steps_deep_drops_on_a_small_stack() {
    let depth = on_small_stack(|| {
        let node = deep(1_000_000);
        let depth = node.depth();
        drop(node);
        depth
    });
    assert_eq!(depth, 1_000_000);
}

#[test]
fn a_deep_chain_shared_by_two_nodes_drops_on_a_small_stack() {
    on_small_stack(|| {
        let middle = deep(500_000);
        // Both leaves share the chain up to `middle`: dropping one must stop at the
        // shared part, and dropping the last owner must free all of it.
        let mut a = middle.child("a");
        let mut b = middle.child("b");
        for _ in 0..500_000 {
            a = a.child("x");
            b = b.index(7);
        }
        drop(middle);
        drop(a);
        assert_eq!(b.depth(), 1_000_001);
        drop(b);
    });
}

#[test]
fn a_million_step_json_path_is_a_typed_error() {
    let result = on_small_stack(|| SeedTree::from_json(&json_with_steps(1_000_000)));
    assert_eq!(
        result,
        Err(Error::PathTooDeep {
            depth: 1_000_000,
            max: MAX_PATH_DEPTH as u64
        })
    );
}

#[test]
fn a_hundred_thousand_step_json_path_is_a_typed_error_on_a_2_mib_stack() {
    let result = on_small_stack(|| SeedTree::from_json(&json_with_steps(100_000)));
    assert!(
        matches!(result, Err(Error::PathTooDeep { depth: 100_000, .. })),
        "{result:?}"
    );
}

#[test]
fn the_depth_limit_is_exact_and_the_limit_round_trips() {
    on_small_stack(|| {
        let node = deep(MAX_PATH_DEPTH);
        let back = SeedTree::from_json(&node.to_json()).expect("the limit itself loads");
        assert_eq!(back, node);
        let over = node.child("one more");
        assert_eq!(
            SeedTree::from_json(&over.to_json()),
            Err(Error::PathTooDeep {
                depth: MAX_PATH_DEPTH as u64 + 1,
                max: MAX_PATH_DEPTH as u64
            })
        );
    });
}

#[test]
fn every_serde_entry_point_applies_the_depth_limit() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Embedding {
        seed: SeedTree,
    }
    let text = format!(r#"{{"seed":{}}}"#, json_with_steps(MAX_PATH_DEPTH + 1));
    let error = serde_json::from_str::<Embedding>(&text).expect_err("too deep");
    assert!(
        error.to_string().contains("more than the maximum"),
        "{error}"
    );
    let direct = serde_json::from_str::<SeedTree>(&json_with_steps(200_000)).expect_err("deep");
    assert!(direct.to_string().contains("200000 steps"), "{direct}");
}

#[test]
fn descend_applies_the_depth_limit() {
    let root = SeedTree::from_u64(3);
    let text = "a/".repeat(MAX_PATH_DEPTH) + "a";
    assert_eq!(
        root.descend(&text),
        Err(Error::PathTooDeep {
            depth: MAX_PATH_DEPTH as u64 + 1,
            max: MAX_PATH_DEPTH as u64
        })
    );
    let at_limit = "a/".repeat(MAX_PATH_DEPTH - 2) + "a";
    let node = root.child("b").descend(&at_limit).expect("at the limit");
    assert_eq!(node.depth(), MAX_PATH_DEPTH);
    assert!(matches!(node.descend("c"), Err(Error::PathTooDeep { .. })));
}

#[test]
fn normal_with_an_overflowing_spread_is_a_typed_error() {
    let mut rng = SeedTree::from_u64(1).rng();
    for (mean, std) in [
        (0.0, f64::MAX),
        (f64::MAX, 1e300),
        (-f64::MAX, 1e300),
        (0.0, f64::MAX / 8.0),
    ] {
        assert_eq!(
            rng.normal(mean, std),
            Err(Error::NormalTooWide { mean, std }),
            "mean {mean} std {std}"
        );
    }
    // The check is made before drawing: nothing was consumed.
    assert_eq!(rng.position(), 0);
}

#[test]
fn normal_at_the_widest_accepted_spread_is_always_finite() {
    // The largest accepted spread at mean 0.
    let mut std = f64::MAX / NORMAL_MAX_ABS;
    while !(NORMAL_MAX_ABS * std).is_finite() {
        std = f64::from_bits(std.to_bits() - 1);
    }
    assert!(!(NORMAL_MAX_ABS * f64::from_bits(std.to_bits() + 1)).is_finite());
    let mut rng = SeedTree::from_u64(2).rng();
    for _ in 0..2000 {
        let x = rng.normal(0.0, std).expect("accepted");
        assert!(x.is_finite(), "{x}");
    }
    // A mean at the edge with no spread is exact.
    assert_eq!(rng.normal(f64::MAX, 0.0), Ok(f64::MAX));
}

/// Means and spreads from ordinary to the largest finite values.
fn wide() -> impl Strategy<Value = f64> {
    prop_oneof![
        -10.0f64..10.0,
        (-300i32..=308, any::<bool>()).prop_map(|(e, neg)| {
            let x = 10f64.powi(e).min(f64::MAX);
            if neg {
                -x
            } else {
                x
            }
        }),
        Just(f64::MAX),
        Just(-f64::MAX),
        Just(f64::MAX / NORMAL_MAX_ABS),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_accepted_normal_is_finite(seed: u64, mean in wide(), std in wide()) {
        let mut rng = SeedTree::from_u64(seed).rng();
        for _ in 0..8 {
            match rng.normal(mean, std) {
                Ok(x) => prop_assert!(x.is_finite(), "normal({mean}, {std}) = {x}"),
                Err(e) => prop_assert!(
                    matches!(e, Error::NegativeStd { .. } | Error::NormalTooWide { .. }),
                    "{e:?}"
                ),
            }
        }
    }
}
