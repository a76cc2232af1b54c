"""Every binding returns the same bits as the Rust crates for the same inputs."""

import json
import struct

import numpy as np
import pytest

import lockstep
from lockstep import EpochKey, Nms, Op, SeedTree


def f64_bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def fnv1a(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


ROOT = SeedTree.from_int(7)
NODE = ROOT.child("train").child_index("epoch", 3).index(5)


def test_seed_keys_and_draws(rust):
    s = rust["seed"]
    assert NODE.path == s["path"] == "root/train/epoch[3][5]"
    assert NODE.key_hex == s["key_hex"]
    assert NODE.key == bytes.fromhex(s["key_hex"])
    assert [NODE.u64_at(i * 1000) for i in range(4)] == s["u64_at"]
    assert [f64_bits(NODE.f64_at(i)) for i in range(4)] == s["f64_at_bits"]
    assert [f32_bits(NODE.f32_at(i)) for i in range(4)] == s["f32_at_bits"]
    assert ROOT.child("42").key_hex == s["label_42"]
    assert ROOT.index(42).key_hex == s["index_42"]
    assert ROOT.child("42") != ROOT.index(42)
    assert SeedTree.from_bytes(bytes([9] * 32)).child("x").key_hex == s["bytes_root"]
    assert SeedTree.from_json(s["json"]) == NODE
    assert NODE.to_json() == s["json"]
    assert ROOT.descend("train/epoch[3][5]") == NODE


def test_pinned_draws(rust):
    d = rust["seed"]["draws"]
    rng = NODE.rng()
    assert [rng.below(1000) for _ in range(8)] == d["below_1000"]
    assert [rng.bernoulli(0.3) for _ in range(8)] == d["bernoulli_0_3"]
    assert [f64_bits(rng.uniform_f64(-2.0, 5.0)) for _ in range(4)] == d["uniform_f64_bits"]
    assert [f32_bits(rng.uniform_f32(-2.0, 5.0)) for _ in range(4)] == d["uniform_f32_bits"]
    assert [f64_bits(rng.normal(1.5, 0.25)) for _ in range(4)] == d["normal_bits"]


def test_pinned_values_of_the_rust_known_answer_tests():
    # crates/nn/src/reseed.rs `torch_seed_known_answers`.
    assert ROOT.child("init").torch_seed() == 3311273587106326963
    assert ROOT.child_index("step", 0).torch_seed() == 5966453945926781282
    assert lockstep.RunKey(ROOT).step(1).torch_seed() == 3332445416879272006


def test_permutations(rust):
    assert lockstep.permutation(ROOT.child("perm"), 50).tolist() == rust["permutation"]
    ip = lockstep.IndexPermutation(ROOT.child("ip"), 1_000_003)
    got = [ip[i] for i in [0, 1, 2, 999, 500_000, 1_000_002]]
    assert got == rust["index_permutation"]
    assert all(ip.inverse(v) == i for i, v in zip([0, 1, 2, 999, 500_000, 1_000_002], got))
    small = lockstep.IndexPermutation(ROOT, 1000).to_array()
    assert sorted(small.tolist()) == list(range(1000))


def test_sampler_order_state_and_resume(rust):
    r = rust["sampler"]
    data = ROOT.child("data")
    s = lockstep.Sampler(23, data, rank=1, world=3, epochs=2)
    first = [next(s)[2] for _ in range(4)]
    assert first == r["first"]
    state = s.state()
    assert json.loads(state) == json.loads(r["state"])
    assert [x[2] for x in s] == r["rest"]
    resumed = lockstep.Sampler.restore(state, 23, data, rank=1, world=3, epochs=2)
    assert resumed.take(1000).tolist() == r["rest"]
    single = lockstep.Sampler(23, data, epochs=2)
    assert [x[2] for x in single] == r["single"]
    # Resharded: world 3 -> 1 continues at the same global position.
    one = lockstep.Sampler.restore(state, 23, data, world=1, epochs=2, reshard=True)
    assert one.take(3).tolist() == r["single"][12:15]


def test_augment_outputs(rust):
    pipeline = lockstep.Compose(
        [
            Op("random_resized_crop", width=24, height=20, scale=[0.3, 1.0], ratio=[0.75, 1.333], interpolation="Bilinear"),
            Op("hflip", p=0.5),
            Op("brightness", low=0.7, high=1.3),
            Op("saturation", low=0.5, high=1.5),
            Op("noise", p=0.8, std_low=1.0, std_high=6.0),
        ]
    )
    y, x, c = np.meshgrid(np.arange(40), np.arange(48), np.arange(3), indexing="ij")
    image = ((x * 7 + y * 13 + c * 29) % 256).astype(np.uint8)
    boxes = np.array([[4, 5, 30, 28], [33, 2, 46, 39]], np.float32)
    labels = np.array([1, 4])
    data = ROOT.child("data")
    for case in rust["augment"]:
        key = EpochKey(data, 1).sample(case["index"])
        out = pipeline.apply(image, boxes, labels, key=key)
        assert list(out.image.shape) == case["shape"] + [3]
        assert fnv1a(out.image.tobytes()) == case["image_fnv1a"]
        assert out.boxes.view(np.uint32).ravel().tolist() == case["box_bits"]
        assert out.labels.tolist() == case["labels"]
        assert [json.loads(p.to_json()) for p in out.params] == case["params"]
        again = pipeline.replay(image, boxes, labels, params=out.params)
        assert np.array_equal(again.image, out.image)
        assert np.array_equal(again.boxes.view(np.uint32), out.boxes.view(np.uint32))
    batch = pipeline.apply_batch([(image, boxes, labels, EpochKey(data, 1).sample(c["index"])) for c in rust["augment"]])
    assert [fnv1a(o.image.tobytes()) for o in batch] == [c["image_fnv1a"] for c in rust["augment"]]


def nms_input(n):
    node = SeedTree.from_int(11).child("nms")
    boxes, scores, classes = [], [], []
    for i in range(n):
        f = lambda j: np.float32(node.f32_at(j))  # noqa: E731
        x = np.float32(i % 16) * np.float32(6.0) + f(4 * i) * np.float32(8.0)
        y = np.float32(i // 16) * np.float32(6.0) + f(4 * i + 1) * np.float32(8.0)
        s = np.float32(4.0) + f(4 * i + 2) * np.float32(12.0)
        boxes.append([x, y, x + s, y + s])
        scores.append(np.float32(node.u64_at(4 * i + 3) % 8) / np.float32(8.0))
        classes.append(i % 3)
    return np.array(boxes, np.float32), np.array(scores, np.float32), np.array(classes)


def test_nms_indices_and_scores(rust):
    for case in rust["nms"]:
        b, s, c = nms_input(case["n"])
        assert Nms(0.5).run(b, s).tolist() == case["plain"]
        assert lockstep.nms(b, s, 0.5).tolist() == case["plain"]
        assert Nms(0.5, tie_break="lower_index").run(b, s).tolist() == case["lower_index"]
        assert Nms(0.45).run_batched(b, s, c).tolist() == case["batched"]
        assert lockstep.batched_nms(b, s, c, 0.45).tolist() == case["batched"]
        idx, valid = Nms(0.5, max_output=10).run_padded(b, s)
        assert idx.tolist() == case["padded"] and valid == case["padded_valid"]
        si, ss = Nms(0.3).run_soft(b, s, method="gaussian", sigma=0.5)
        assert si.tolist() == case["soft_indices"]
        assert ss.view(np.uint32).tolist() == case["soft_score_bits"]
        li, ls = Nms(0.3).run_soft(b, s, method="linear")
        assert li.tolist() == case["linear_indices"]
        assert ls.view(np.uint32).tolist() == case["linear_score_bits"]
        many = Nms(0.5).run_many([(b, s), (b[:10], s[:10])])
        assert many[0].tolist() == case["plain"]
        assert many[1].tolist() == Nms(0.5).run(b[:10], s[:10]).tolist()
        for algorithm in ["quadratic", "grid"]:
            assert Nms(0.5, algorithm=algorithm).run(b, s).tolist() == case["plain"]


def test_map():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    report = lockstep.evaluate_map(
        np.array([0, 0]), gt, np.array([1, 1]), np.array([0.9, 0.8], np.float32),
        np.array([0, 0]), gt, np.array([1, 1]),
    )
    assert report["map"] == 1.0 and report["map_50"] == 1.0


def test_streams():
    node = ROOT.child("buf")
    items = list(lockstep.BufferedShuffle(10, node, 4))
    assert sorted(items) == list(range(10))
    assert list(lockstep.BufferedShuffle(iter(range(10)), node, 4)) == items
    sh = lockstep.BufferedShuffle(10, node, 4)
    head = [next(sh) for _ in range(3)]
    resumed = lockstep.BufferedShuffle.resume(10, node, 4, sh.state())
    assert head + list(resumed) == items
    assert list(lockstep.Interleave([[1, 2, 3], "ab", [7]], 2, 2)) == [1, 2, "a", "b", 3, 7]


class Boom:
    def __iter__(self):
        yield 1
        raise KeyError("upstream failed")


def test_errors_are_exceptions_naming_the_argument():
    with pytest.raises(lockstep.AugmentError, match="probability"):
        Op("hflip", p=1.5)
    with pytest.raises(lockstep.AugmentError):
        Op("no_such_op")
    with pytest.raises(TypeError, match="argument `image`"):
        lockstep.Compose([Op("hflip", p=0.5)]).apply(np.zeros((4, 4), np.uint8), key=EpochKey(ROOT, 0).sample(0))
    with pytest.raises(ValueError, match="argument `labels`"):
        lockstep.Compose([]).apply(np.zeros((4, 4, 3), np.uint8), np.zeros((2, 4), np.float32), np.array([1]), key=EpochKey(ROOT, 0).sample(0))
    with pytest.raises(lockstep.AugmentError, match="outside the image"):
        lockstep.Compose([]).apply(np.zeros((4, 4, 3), np.uint8), np.array([[0, 0, 9, 9]], np.float32), key=EpochKey(ROOT, 0).sample(0))
    with pytest.raises(lockstep.PostprocessError, match="IoU threshold"):
        Nms(1.5)
    with pytest.raises(ValueError, match="argument `tie_break`"):
        Nms(0.5, tie_break="random")
    with pytest.raises(lockstep.PostprocessError, match="not finite"):
        lockstep.nms(np.array([[0, 0, np.nan, 1]], np.float32), np.ones(1, np.float32), 0.5)
    with pytest.raises(TypeError, match="argument `boxes`"):
        lockstep.nms(np.zeros((2, 4)), np.ones(2, np.float32), 0.5)
    with pytest.raises(lockstep.DataError, match="rank"):
        lockstep.Sampler(10, ROOT, rank=2, world=2)
    with pytest.raises(lockstep.DataError):
        lockstep.Sampler.restore("{}", 10, ROOT)
    with pytest.raises(lockstep.DataError, match="state"):
        s = lockstep.Sampler(10, ROOT)
        lockstep.Sampler.restore(s.state(), 11, ROOT)
    with pytest.raises(lockstep.SeedError):
        ROOT.descend("a[")
    with pytest.raises(lockstep.SeedError):
        ROOT.rng().below(0)
    with pytest.raises(OverflowError):
        SeedTree.from_int(-1)
    with pytest.raises(ValueError, match="argument `seed`"):
        SeedTree.from_bytes(b"short")
    with pytest.raises(KeyError, match="upstream failed"):
        list(lockstep.BufferedShuffle(Boom(), ROOT, 2))
    with pytest.raises(TypeError, match="argument `source`"):
        lockstep.BufferedShuffle(3.5, ROOT, 2)
    assert issubclass(lockstep.DataError, lockstep.LockstepError)
    assert issubclass(lockstep.LockstepError, ValueError)


def test_pickling_round_trips():
    import pickle

    key = EpochKey(ROOT.child("d"), 4).sample(9)
    assert pickle.loads(pickle.dumps(key)).node == key.node
    assert pickle.loads(pickle.dumps(NODE)) == NODE
    c = lockstep.Compose([Op("hflip", p=0.5)])
    assert pickle.loads(pickle.dumps(c)).to_json() == c.to_json()
