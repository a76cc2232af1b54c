//! `InMemoryDataset` and `DatasetIter`, the restartable upstream of a resumed shuffle,
//! and the field names a state mismatch reports. (Found by mutation testing: nothing
//! iterated a dataset directly or read these names.)

use lockstep_data::{BufferedShuffle, Dataset, DatasetIter, Error, InMemoryDataset, StateField};
use lockstep_seeding::SeedTree;

#[test]
fn a_dataset_iterates_in_index_order_from_any_start() {
    let data = InMemoryDataset::new(vec!['a', 'b', 'c', 'd']);
    assert_eq!(data.items(), ['a', 'b', 'c', 'd']);
    assert!(!data.is_empty());
    assert!(InMemoryDataset::<char>::new(Vec::new()).is_empty());

    let mut it = DatasetIter::new(&data);
    assert_eq!(it.position(), 0);
    assert_eq!(it.next().map(Result::unwrap), Some('a'));
    assert_eq!(it.position(), 1);
    let rest: Vec<char> = it.by_ref().map(Result::unwrap).collect();
    assert_eq!(rest, ['b', 'c', 'd']);
    assert_eq!(it.position(), 4);
    assert!(it.next().is_none(), "ends at len");
    assert_eq!(it.dataset().len(), 4);

    let from_two: Vec<char> = DatasetIter::from_index(&data, 2)
        .map(Result::unwrap)
        .collect();
    assert_eq!(from_two, ['c', 'd']);
    assert_eq!(
        DatasetIter::from_index(&data, 9).next().map(|r| r.is_ok()),
        None
    );
}

#[test]
fn a_mismatch_names_the_field_as_the_state_json_does() {
    let names = [
        (StateField::Format, "format"),
        (StateField::Len, "len"),
        (StateField::Seed, "seed"),
        (StateField::Shuffle, "shuffle"),
        (StateField::DropRemainder, "drop_remainder"),
        (StateField::Epochs, "epochs"),
        (StateField::World, "world"),
        (StateField::BufferSize, "buffer_size"),
        (StateField::CycleLength, "cycle_length"),
        (StateField::BlockLength, "block_length"),
    ];
    for (field, name) in names {
        assert_eq!(field.name(), name);
        assert_eq!(field.to_string(), name);
    }
    // In an error: a shuffle saved with a buffer of 4, resumed with 5.
    let node = SeedTree::from_u64(33);
    let mut s = BufferedShuffle::new(0..10u64, &node, 4).unwrap();
    s.next();
    let err = BufferedShuffle::resume(0..10u64, &node, 5, &s.state()).unwrap_err();
    assert!(matches!(
        err,
        Error::StateMismatch {
            field: StateField::BufferSize,
            ..
        }
    ));
    assert!(err.to_string().contains("buffer_size"), "{err}");
}

#[test]
fn a_permutation_reports_its_length_and_is_never_empty() {
    let node = SeedTree::from_u64(34).child("len");
    for n in [1u64, 2, 7, 1000, 1 << 20] {
        let p = lockstep_data::IndexPermutation::new(&node, n).unwrap();
        assert_eq!(p.len(), n);
        assert!(!p.is_empty());
        assert!(p.domain() >= n && p.domain() < 2 * n.max(2));
    }
}

#[test]
fn strided_reads_stop_exactly_at_the_end() {
    let node = SeedTree::from_u64(35).child("strided");
    let p = lockstep_data::IndexPermutation::new(&node, 10).unwrap();
    let mut out = [0u64; 4];
    // Positions 1, 4, 7: the last is 7 < 10.
    p.get_strided(1, 3, &mut out[..3]).unwrap();
    assert_eq!(
        out[..3],
        [p.get(1).unwrap(), p.get(4).unwrap(), p.get(7).unwrap()]
    );
    // Positions 1, 4, 7, 10: the last is 10 = n, one past the end.
    let mut untouched = [u64::MAX; 4];
    let err = p.get_strided(1, 3, &mut untouched).unwrap_err();
    assert!(
        matches!(err, Error::IndexOutOfRange { index: 10, len: 10 }),
        "{err:?}"
    );
    assert_eq!(untouched, [u64::MAX; 4], "left unchanged");
    // Positions 0, 3, 6, 9: the last is 9, in range.
    p.get_strided(0, 3, &mut out).unwrap();
    assert_eq!(out[3], p.get(9).unwrap());
}

/// A sampler's epoch order and shard accessors, and its largest accepted length (2⁶³,
/// which a permutation of that length can still index).
#[test]
fn epoch_orders_and_shards_report_what_they_hold() {
    use lockstep_data::{EpochOrder, SamplerConfig, Shard};
    let node = SeedTree::from_u64(36).child("orders");
    for shuffle in [false, true] {
        let config = SamplerConfig::new(5, node.clone()).with_shuffle(shuffle);
        let order = config.epoch_order(0).unwrap();
        assert_eq!(order.len(), 5);
        assert!(!order.is_empty());
        let mut seen: Vec<u64> = (0..5).map(|i| order.get(i).unwrap()).collect();
        if !shuffle {
            assert!(matches!(order, EpochOrder::Sequential(5)));
            assert_eq!(seen, [0, 1, 2, 3, 4]);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert!(matches!(
            order.get(5),
            Err(Error::IndexOutOfRange { index: 5, len: 5 })
        ));
    }
    assert!(EpochOrder::Sequential(0).is_empty());

    let largest = 1u64 << 63;
    assert!(SamplerConfig::new(largest, node.clone()).validate().is_ok());
    assert!(matches!(
        SamplerConfig::new(largest + 1, node.clone()).validate(),
        Err(Error::TooLarge { .. })
    ));

    let shard = Shard::new(2, 3).unwrap();
    assert_eq!((shard.rank(), shard.world()), (2, 3));
    assert_eq!((Shard::single().rank(), Shard::single().world()), (0, 1));
}
