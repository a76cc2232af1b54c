//! `-0.0` and `+0.0` are the same coordinate, so boxes that differ only in the sign of a
//! zero must be one box to NMS: `normalize` canonicalises every corner, and the tie
//! order (which compares bits) never sees the sign.

use lockstep_postprocess::{normalize, BBox, Nms};

#[test]
fn normalize_turns_negative_zero_into_positive_zero_in_every_corner() {
    for corner in 0..4 {
        let mut c = [0.0f32, 0.0, 2.0, 3.0];
        // Put a -0.0 where the corner lands after ordering, in either diagonal order.
        c[corner] = -0.0;
        for b in [BBox::from(c), BBox::from([c[2], c[3], c[0], c[1]])] {
            let n = normalize(b).to_array();
            for (i, v) in n.iter().enumerate() {
                assert!(
                    !(*v == 0.0 && v.is_sign_negative()),
                    "corner {corner}: output {i} of {b:?} is -0.0: {n:?}"
                );
            }
        }
    }
    // Negative zero on the far side: a box from -3 to -0.0.
    let n = normalize(BBox::new(-3.0, -2.0, -0.0, -0.0)).to_array();
    assert_eq!(
        n.map(f32::to_bits),
        [-3.0f32, -2.0, 0.0, 0.0].map(f32::to_bits)
    );
}

#[test]
fn boxes_differing_only_in_the_sign_of_zero_tie_alike() {
    // Two equal-scored copies of one box, one written with -0.0 corners, plus a third
    // box: the kept order must not depend on which copy carries the signs.
    let plain = BBox::new(0.0, 0.0, 4.0, 4.0);
    let signed = BBox::new(-0.0, -0.0, 4.0, 4.0);
    let other = BBox::new(10.0, 10.0, 14.0, 14.0);
    let nms = Nms::new(0.5);
    let a = nms.run(&[plain, signed, other], &[0.9, 0.9, 0.9]).unwrap();
    let b = nms.run(&[signed, plain, other], &[0.9, 0.9, 0.9]).unwrap();
    // One of the two copies is kept (lower index wins the exact tie), plus the third.
    assert_eq!(a, vec![0, 2]);
    assert_eq!(b, vec![0, 2]);
    for corner in 0..4 {
        let mut c = [1.0f32, 1.0, 5.0, 5.0];
        let mut d = c;
        c[corner] = 0.0;
        d[corner] = -0.0;
        // Keep a valid box: when the zero lands on a far corner, move the near one.
        if corner >= 2 {
            c[corner - 2] = -1.0;
            d[corner - 2] = -1.0;
        }
        let kept = nms
            .run(&[BBox::from(d), BBox::from(c)], &[0.7, 0.7])
            .unwrap();
        assert_eq!(kept, vec![0], "corner {corner}");
    }
}
