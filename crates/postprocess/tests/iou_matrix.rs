//! `IouMatrix`'s accessors: every in-range entry is the IoU of its row and column box,
//! and every out-of-range index (including a row of a matrix without columns) is
//! `None`, never a neighbouring row's value. (Found by mutation testing.)

use lockstep_postprocess::{iou_f64, iou_matrix, BBox};

fn boxes(n: usize, shift: f32) -> Vec<BBox> {
    (0..n)
        .map(|i| {
            let x = i as f32 * 3.0 + shift;
            BBox::new(x, 1.0, x + 5.0, 6.0 + i as f32)
        })
        .collect()
}

#[test]
fn entries_rows_and_bounds() {
    let (a, b) = (boxes(3, 0.0), boxes(4, 1.5));
    let m = iou_matrix(&a, &b).unwrap();
    assert_eq!((m.rows(), m.cols()), (3, 4));
    for (r, x) in a.iter().enumerate() {
        let row = m.row(r).unwrap();
        assert_eq!(row.len(), 4);
        for (c, y) in b.iter().enumerate() {
            let want = iou_f64(x, y);
            assert_eq!(m.get(r, c), Some(want), "({r}, {c})");
            assert_eq!(row[c].to_bits(), want.to_bits());
        }
    }
    let rows: Vec<f64> = (0..3).flat_map(|r| m.row(r).unwrap().to_vec()).collect();
    assert_eq!(m.as_slice(), &rows[..], "as_slice is the rows, row-major");
    assert!(m.as_slice().iter().any(|&v| v > 0.0), "some boxes overlap");
    assert_eq!(m.get(0, 4), None, "one column past the end is not row 1");
    assert_eq!(m.get(1, 4), None);
    assert_eq!(m.get(3, 0), None);
    assert_eq!(m.get(usize::MAX, usize::MAX), None);
    assert_eq!(m.row(3), None);

    let no_columns = iou_matrix(&a, &[]).unwrap();
    assert_eq!((no_columns.rows(), no_columns.cols()), (3, 0));
    assert_eq!(no_columns.row(2), Some(&[][..]));
    assert_eq!(no_columns.row(3), None);
    assert_eq!(no_columns.get(0, 0), None);
}
