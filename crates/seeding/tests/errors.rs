//! Bad input gives a typed error that names what is wrong.

use lockstep_seeding::{Error, SeedTree};

#[test]
fn bad_draw_parameters_are_typed_errors() {
    let mut rng = SeedTree::from_u64(1).rng();
    assert_eq!(rng.try_below(0), Err(Error::EmptyRange));
    assert!(matches!(rng.bernoulli(1.5), Err(Error::Probability { p }) if p == 1.5));
    assert!(matches!(
        rng.bernoulli(f64::NAN),
        Err(Error::Probability { .. })
    ));
    assert!(matches!(
        rng.uniform_f64(2.0, 1.0),
        Err(Error::InvertedRange { .. })
    ));
    assert!(matches!(
        rng.uniform_f64(0.0, f64::INFINITY),
        Err(Error::NonFiniteBound { .. })
    ));
    assert!(matches!(
        rng.uniform_f32(f32::NAN, 1.0),
        Err(Error::NonFiniteBound { .. })
    ));
    assert!(matches!(
        rng.uniform_f64(-f64::MAX, f64::MAX),
        Err(Error::RangeTooWide { .. })
    ));
    assert!(matches!(
        rng.uniform_f32(-f32::MAX, f32::MAX),
        Err(Error::RangeTooWide { .. })
    ));
    assert!(matches!(rng.normal(0.0, -1.0), Err(Error::NegativeStd { std }) if std == -1.0));
    assert!(matches!(
        rng.normal(f64::NAN, 1.0),
        Err(Error::NonFinite { what: "mean", .. })
    ));
}

#[test]
fn malformed_json_is_a_typed_error() {
    for text in [
        "",
        "{}",
        "[1,2]",
        r#"{"format":"lockstep-seed-node/2","root":{"u64":1},"path":[],"key":""}"#,
        r#"{"format":"lockstep-seed-node/1","root":{"bytes":"zz"},"path":[],"key":""}"#,
        r#"{"format":"lockstep-seed-node/1","root":{"u64":1},"path":[true],"key":""}"#,
        r#"{"format":"lockstep-seed-node/1","root":{"u64":1},"path":[],"key":"abc"}"#,
        r#"{"format":"lockstep-seed-node/1","root":{"u64":1},"path":[],"key":"00","extra":1}"#,
    ] {
        assert!(
            matches!(SeedTree::from_json(text), Err(Error::Malformed { .. })),
            "{text}"
        );
    }
}

#[test]
fn a_tampered_key_is_refused() {
    let node = SeedTree::from_u64(1).child("train");
    let json = node.to_json();
    let tampered = json.replace("\"train\"", "\"trainx\"");
    match SeedTree::from_json(&tampered) {
        Err(Error::KeyMismatch { path, stored, .. }) => {
            assert_eq!(path, "root/trainx");
            assert_eq!(stored, node.key_hex());
        }
        other => panic!("expected KeyMismatch, got {other:?}"),
    }
}

#[test]
fn bad_paths_are_typed_errors() {
    let root = SeedTree::from_u64(1);
    for bad in [
        "a/b]",
        "a[",
        "a[x]",
        "a[01]",
        "a[]",
        "a\\q",
        "a[99999999999999999999]",
    ] {
        assert!(
            matches!(root.descend(bad), Err(Error::BadPath { .. })),
            "{bad}"
        );
    }
}

#[test]
fn paths_render_with_escapes() {
    let root = SeedTree::from_u64(1);
    let node = root.child("a/b").child_index("x[", 3).index(4);
    assert_eq!(node.path(), "root/a\\/b/x\\[[3][4]");
    assert_eq!(root.descend(&node.path()).unwrap(), node);
    assert_eq!(root.descend("").unwrap(), root);
    assert_eq!(root.descend("[5]").unwrap(), root.index(5));
    assert_eq!(root.index(5).path(), "root[5]");
    assert_eq!(node.depth(), 4);
}
