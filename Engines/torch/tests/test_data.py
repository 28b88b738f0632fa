"""The torch engine's data pipeline: ferd's random streams, sampling, augmentation parameters, the pixel transform,
the packed cache and `FoldData`. Expected values come from ferd's Swift known-answer tests (Tests/FerdRandomTests,
Tests/FerdDataTests, whose resize and rotation goldens were computed by Pillow) or are derived by hand; the
cross-language check against the Swift loader itself is Tests/FerdRuntimeTests/LoaderParityTests.swift."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np
import torch

from ferd_torch import data, rng, synthetic

ENGINE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fnv1a(values: bytes) -> int:
    digest = 0xCBF29CE484222325
    for byte in values:
        digest = ((digest ^ byte) * 0x100000001B3) & rng.MASK
    return digest


def pattern(width: int, height: int, seed: int) -> np.ndarray:
    """The test image of Tests/FerdDataTests/ResizeTests.swift (and Fixtures/make_resize_golden.py), (H, W, 3)."""
    i = np.arange(width * height * 3, dtype=np.uint64)
    values = (((i + np.uint64(seed * 7919)) * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)) >> np.uint64(24)
    return values.astype(np.uint8).reshape(height, width, 3)


def gradient(size: int) -> np.ndarray:
    """AugmentationTests' image: pixel (x, y) is (x, y, x + y) spread over 0…255, (S, S, 3) uint8."""
    ys, xs = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return np.stack([xs * 255 // (size - 1), ys * 255 // (size - 1), (xs + ys) * 127 // (size - 1)],
                    axis=2).astype(np.uint8)


def transform(image: np.ndarray, parameters, size: int) -> np.ndarray:
    """One (H, W, 3) frame through the device transform: (3, S, S) float32."""
    return data.transform_clips(torch.from_numpy(image)[None, None], [parameters], size)[0, 0].numpy()


def plain(size: int, flip: bool = False, brightness: float = 1.0, angle: float = 0.0) -> data.AugmentationParameters:
    return data.AugmentationParameters(("sized", 0, 0, size, size), flip, brightness, angle)


class RandomStreamTests(unittest.TestCase):
    """Known answers of Tests/FerdRandomTests/SplitMix64Tests.swift, and the draws derived from them."""

    def test_next_matches_the_reference_sequence(self):
        generator = rng.SplitMix64(0)
        self.assertEqual([generator.next() for _ in range(3)],
                         [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F])

    def test_indexed_streams_match_the_reference_values(self):
        generator = rng.SplitMix64(42, 7)
        self.assertEqual([generator.next() for _ in range(3)],
                         [0x5EBC05E3DC2CDEE4, 0x56B9E89263763CE8, 0x4649F22F6373EF7D])
        self.assertEqual(rng.SplitMix64(rng.MASK, 0).next(), 0xCFA2308853688354)

    def test_uniform_doubles_are_the_top_53_bits(self):
        generator = rng.SplitMix64(0)
        self.assertEqual(generator.uniform_double(), (0xE220A8397B1DCDAF >> 11) / 2.0 ** 53)
        self.assertEqual(generator.uniform_double(2, 5), 2 + 3 * ((0x6E789E6AA1B965F4 >> 11) / 2.0 ** 53))

    def test_integers_and_permutation_follow_from_the_draws(self):
        # Seed 0 draws u₀ = 0xE220…/2⁶⁴ ≈ 0.883 and u₁ = 0x6E78…/2⁶⁴ ≈ 0.432.
        self.assertEqual(rng.SplitMix64(0).integer_below(10), 8)
        self.assertEqual(rng.SplitMix64(0).integer_in(3, 7), 3 + 4)
        # Fisher–Yates from the top: i = 2 swaps with ⌊3u₀⌋ = 2, then i = 1 with ⌊2u₁⌋ = 0.
        self.assertEqual(rng.SplitMix64(0).permutation(3), [1, 0, 2])
        order = rng.SplitMix64(9).permutation(50)
        self.assertEqual(sorted(order), list(range(50)))
        self.assertNotEqual(order, list(range(50)))

    def test_streams_depend_on_every_key(self):
        first = rng.generator(1, rng.PURPOSE_SAMPLING, 2, 3).next()
        self.assertEqual(first, rng.generator(1, rng.PURPOSE_SAMPLING, 2, 3).next())
        for other in [(2, rng.PURPOSE_SAMPLING, 2, 3), (1, rng.PURPOSE_SHUFFLE, 2, 3), (1, rng.PURPOSE_SAMPLING, 3, 3),
                      (1, rng.PURPOSE_SAMPLING, 2, 4)]:
            self.assertNotEqual(first, rng.generator(*other).next(), other)


class SamplerTests(unittest.TestCase):
    """The hand-computed cases of Tests/FerdDataTests/ClipSamplerTests.swift."""

    quirks = data.ClipSampler(16, 1, reference_quirks=True)
    even = data.ClipSampler(16)

    def sample(self, sampler, n, mode, clip=0):
        return sampler.indices(n, mode, seed=7, epoch=0, clip=clip)

    def test_reference_drops_short_clips(self):
        self.assertFalse(self.quirks.accepts(15))
        self.assertTrue(self.quirks.accepts(16))
        self.assertTrue(self.even.accepts(1))
        self.assertEqual(data.ClipSampler(8, 2, reference_quirks=True).length, 16)

    def test_reference_test_indices(self):
        self.assertEqual(self.sample(self.quirks, 16, "test"), [0] * 16)
        self.assertEqual(self.sample(self.quirks, 10, "test"), [0] * 16)
        self.assertEqual(self.sample(self.quirks, 32, "test"), [2 * i + 1 for i in range(16)])
        self.assertEqual(self.sample(self.quirks, 17, "test"), [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16])
        self.assertEqual(self.sample(self.quirks, 40, "test"),
                         [1, 3, 6, 8, 11, 13, 16, 18, 21, 23, 26, 28, 31, 33, 36, 38])

    def test_reference_train_indices(self):
        self.assertEqual(self.sample(self.quirks, 16, "train"), list(range(16)))
        self.assertEqual(self.sample(self.quirks, 12, "train"), [0] * 16)
        for clip in range(20):
            for i, index in enumerate(self.sample(self.quirks, 40, "train", clip)):
                self.assertIn(index, (2 * i, 2 * i + 1))
        sorted_sampler = data.ClipSampler(8, 3, reference_quirks=True)
        for clip in range(20):
            indices = self.sample(sorted_sampler, 9, "train", clip)
            starts = indices[::3]
            self.assertEqual(starts, sorted(starts))
            self.assertTrue(all(0 <= start < 7 for start in starts))
            for s in range(8):
                self.assertEqual(indices[3 * s:3 * s + 3], [starts[s], starts[s] + 1, starts[s] + 2])

    def test_even_indices(self):
        self.assertEqual(self.sample(self.even, 16, "test"), list(range(16)))
        self.assertEqual(self.sample(self.even, 8, "test"), [i // 2 for i in range(16)])
        self.assertEqual(self.sample(self.even, 32, "test"), [2 * i + 1 for i in range(16)])
        self.assertEqual(self.sample(self.even, 1, "test"), [0] * 16)
        self.assertEqual(self.sample(self.even, 8, "train"), [i // 2 for i in range(16)])
        self.assertEqual(self.sample(self.even, 16, "train"), list(range(16)))
        for clip in range(20):
            for i, index in enumerate(self.sample(self.even, 48, "train", clip)):
                self.assertIn(index, range(3 * i, 3 * i + 3))

    def test_segments_of_two_frames(self):
        sampler = data.ClipSampler(8, 2)
        self.assertEqual(self.sample(sampler, 32, "test"), [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22, 25, 26, 29, 30])
        self.assertEqual(self.sample(sampler, 4, "test"), [0, 1, 0, 1, 0, 1, 1, 2, 1, 2, 2, 3, 2, 3, 2, 3])
        train = self.sample(sampler, 100, "train")
        self.assertTrue(all(train[2 * s + 1] == train[2 * s] + 1 for s in range(8)))

    def test_seeded_determinism(self):
        a = self.even.indices(200, "train", seed=1, epoch=3, clip=5)
        self.assertEqual(a, self.even.indices(200, "train", seed=1, epoch=3, clip=5))
        self.assertNotEqual(a, self.even.indices(200, "train", seed=1, epoch=4, clip=5))
        self.assertNotEqual(a, self.even.indices(200, "train", seed=1, epoch=3, clip=6))
        self.assertNotEqual(a, self.even.indices(200, "train", seed=2, epoch=3, clip=5))


class AugmentationParameterTests(unittest.TestCase):
    """Tests/FerdDataTests/AugmentationTests.swift's parameter checks."""

    def test_parameter_ranges(self):
        augmentation = data.ClipAugmentation(112)
        flips = fallbacks = 0
        draws = 2000
        for clip in range(draws):
            p = augmentation.parameters(112, 112, seed=3, epoch=0, clip=clip)
            self.assertTrue(0.4 <= p.brightness <= 1.6)
            self.assertEqual(p.brightness, float(np.float32(p.brightness)))
            self.assertTrue(-4 <= p.angle <= 4)
            flips += p.flip
            kind, *box = p.crop
            if kind == "sized":
                x, y, w, h = box
                self.assertTrue(x >= 0 and y >= 0 and x + w <= 112 and y + h <= 112)
                self.assertTrue(0.83 < w * h / 112 ** 2 <= 1)
                self.assertTrue(0.58 < w / h < 1.72)
            else:
                fallbacks += 1
                self.assertEqual(box, [112, 112, 0, 0])
        self.assertAlmostEqual(flips / draws, 0.5, delta=0.05)
        # Each try fits with probability ≈ 0.15 on a square frame, so ≈ 0.85^10 ≈ 20 % fall back.
        self.assertAlmostEqual(fallbacks / draws, 0.2, delta=0.08)

    def test_fallback_on_wide_frame(self):
        self.assertEqual(data.shorter_side(200, 100, 50), (100, 50))
        self.assertEqual(data.shorter_side(30, 70, 16), (16, 37))
        kind, w, h, x, y = data.ClipAugmentation(16, crop_attempts=0).parameters(64, 32, 1, 0, 0).crop
        self.assertEqual((kind, w, h, y), ("scaled", 32, 16, 0))
        self.assertIn(x, range(0, 17))

    def test_deterministic_per_clip(self):
        augmentation = data.ClipAugmentation(64)
        a = augmentation.parameters(64, 64, seed=5, epoch=2, clip=9)
        self.assertEqual(a, augmentation.parameters(64, 64, seed=5, epoch=2, clip=9))
        self.assertNotEqual(a, augmentation.parameters(64, 64, seed=5, epoch=3, clip=9))


class PixelTransformTests(unittest.TestCase):
    """The device transform against Pillow's goldens (from Tests/FerdDataTests) and hand-derived expectations."""

    resize_cases = [  # PILGolden.resizeCases: (in w, h, out w, h, pattern seed, FNV-1a 64 of Pillow's output)
        (224, 224, 112, 112, 0, 0x38B817C26F547E40), (256, 180, 112, 112, 1, 0x4B0E032088DC0EE2),
        (37, 29, 11, 7, 2, 0x24166814F2A49395), (37, 29, 45, 31, 3, 0xB551E14850328B1C),
        (37, 29, 37, 13, 4, 0xDD9F64C6533B8728), (37, 29, 16, 29, 5, 0xF83D95456C104AA7),
        (100, 75, 112, 112, 6, 0xDC75B7E7676A95F2), (640, 360, 112, 112, 7, 0x053A94EB285C63F1),
        (113, 97, 112, 112, 8, 0xC956571DD3878FEF), (5, 3, 112, 112, 9, 0xD320695DED548F04),
        (301, 1, 7, 1, 10, 0x68E21F577F0568BF), (1, 50, 1, 3, 11, 0x682FD5B8B38C0127),
        (199, 211, 57, 83, 12, 0xB815555ED0ED11AC), (120, 120, 112, 112, 13, 0x19DC8B8E8BC62D5E),
    ]

    def resized(self, image: np.ndarray, width: int, height: int) -> np.ndarray:
        """`image` resized by the two matrix passes, as (H, W, 3) bytes (the value table is the identity)."""
        horizontal = torch.from_numpy(data._pieces(data.resize_weights(image.shape[1], width)))[None]
        vertical = torch.from_numpy(data._pieces(data.resize_weights(image.shape[0], height)))[None]
        out = data.apply_geometry(torch.from_numpy(image)[None, None], horizontal, vertical,
                                  torch.arange(width * height)[None], torch.arange(256, dtype=torch.float32)[None])
        return out[0, 0].permute(1, 2, 0).to(torch.uint8).numpy()

    def test_resize_matches_pillow_on_every_golden_size(self):
        for iw, ih, ow, oh, seed, expected in self.resize_cases:
            output = self.resized(pattern(iw, ih, seed), ow, oh)
            self.assertEqual(output.shape, (oh, ow, 3))
            self.assertEqual(fnv1a(output.tobytes()), expected, f"{iw}×{ih} → {ow}×{oh}")

    def test_resize_matches_pillow_bytewise(self):
        expected = bytes.fromhex(  # PILGolden.smallResize: Pillow's 37×29 (pattern seed 99) → 11×7
            "8481847d8979847e807b82837e827e7d827e817c83777f827f7e7c81858179787d7f8679827b7c827e838080857e7f80827e7f82"
            "7d837c81817f817e857c7f797b8284857a827c7f7e7f857c837c827c7f7c7d817b7f7f7e837f83837e857d817c7f7e81817b867b"
            "837c8385807e7f827f7f827d847c827e827e7d817c80817e807a83798579817880827f817f827b7d7d7b837b817f80837f81847e"
            "847d827b83807f817a897c807b7f8681857a837b817e7f827e827d817e7c827c8280807c7f807b7f7c7b7977857c838285857f7b"
            "7f7d807f867f877a837e7f7e82817d81807c857c84797e")
        self.assertEqual(self.resized(pattern(37, 29, 99), 11, 7).tobytes(), expected)

    def test_rotation_matches_pillow(self):
        # AugmentationTests.testRotationMatchesPIL (Pillow 13): FNV-1a of the int32 sources, and the filled count.
        for w, h, angle, expected, filled in [(32, 32, 4.0, 0xFFE9E238ABCFC84E, 32),
                                              (17, 13, -3.3, 0xD0BC6542691AF6A9, 0),
                                              (112, 112, 2.71828, 0xEDDA7760A5E7333B, 276)]:
            sources = data.rotation_sources(w, h, angle)
            self.assertEqual(fnv1a(sources.astype("<i4").tobytes()), expected, f"{w}×{h} at {angle}°")
            self.assertEqual(int((sources < 0).sum()), filled)

    def test_rotation_quarter_turns(self):
        size = 6
        half, quarter = data.rotation_sources(size, size, 180), data.rotation_sources(size, size, 90)
        for y in range(size):
            for x in range(size):
                self.assertEqual(half[y * size + x], (size - 1 - y) * size + (size - 1 - x))
                self.assertEqual(quarter[y * size + x], x * size + (size - 1 - y))  # counter-clockwise
        self.assertEqual(data.rotation_sources(4, 4, 0).tolist(), list(range(16)))

    def test_identity_gives_the_frame_back(self):
        image = gradient(8)
        expected = image.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        np.testing.assert_array_equal(transform(image, plain(8), 8), expected)
        np.testing.assert_array_equal(transform(image, None, 8), expected)

    def test_test_transform_resizes_the_whole_frame(self):
        image = gradient(8)
        expected = self.resized(image, 4, 4).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        np.testing.assert_array_equal(transform(image, None, 4), expected)

    def test_flip_mirrors_columns(self):
        image = gradient(8)
        expected = image[:, ::-1].transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        np.testing.assert_array_equal(transform(image, plain(8, flip=True), 8), expected)

    def test_brightness_scales_and_clamps(self):
        image = gradient(8)
        out = transform(image, plain(8, brightness=1.5), 8)
        expected = np.minimum(image.transpose(2, 0, 1).astype(np.float32) / np.float32(255) * np.float32(1.5), 1)
        np.testing.assert_array_equal(out, expected)
        self.assertEqual(out.max(), 1.0)
        self.assertGreater(int((out == 1.0).sum()), 20)

    def test_crop_then_resize(self):
        image = gradient(16)
        parameters = data.AugmentationParameters(("sized", 2, 3, 10, 12), False, 1.0, 0.0)
        box = np.ascontiguousarray(image[3:15, 2:12])
        expected = self.resized(box, 8, 8).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        np.testing.assert_array_equal(transform(image, parameters, 8), expected)

    def test_fallback_resizes_then_crops(self):
        image = pattern(20, 10, 4)
        parameters = data.AugmentationParameters(("scaled", 16, 8, 5, 0), False, 1.0, 0.0)
        expected = self.resized(image, 16, 8)[:, 5:13].transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        np.testing.assert_array_equal(transform(image, parameters, 8), expected)

    def test_small_rotation_fills_corners_with_zero(self):
        size = 32
        out = transform(np.full((size, size, 3), 255, np.uint8), plain(size, angle=4.0), size)
        self.assertEqual(out[0, 0, 0], 0)
        self.assertEqual(out[2, size - 1, size - 1], 0)
        self.assertEqual(out[1, size // 2, size // 2], 1)
        self.assertEqual(int((out[0] == 0).sum()), 32)  # the filled count of Pillow's 32×32 rotation by 4°

    def test_flip_then_rotation_is_one_map(self):
        image = pattern(12, 12, 5)
        out = transform(image, plain(12, flip=True, angle=-3.0), 12)
        sources = data.rotation_sources(12, 12, -3.0)
        mirrored = image[:, ::-1].reshape(-1, 3)
        expected = np.where(sources[:, None] >= 0, mirrored[np.maximum(sources, 0)], 0)
        np.testing.assert_array_equal(out, expected.reshape(12, 12, 3).transpose(2, 0, 1).astype(np.float32) / 255)


class Fixture:
    """A tiny dataset in the `lists` layout (frame files hold arbitrary bytes: only their names, sizes and times
    enter the digest) and a packed cache of it with random S₀×S₀ frames, written as `ferd prepare` writes them."""

    # (folder, frames, label, fold 1 split)
    clips = [(f"c{k:02d}", 2 + (5 * k) % 8, k % 7, "test" if k % 3 == 0 else "train") for k in range(17)]

    def __init__(self, folder: str, size: int = 8):
        self.root, self.cache = folder + "/dataset", folder + "/cache"
        self.size = size
        os.makedirs(self.cache)
        for name, count, _, _ in self.clips:
            os.makedirs(f"{self.root}/clips/{name}")
            for f in range(count):
                with open(f"{self.root}/clips/{name}/{name}_{f + 1}.jpg", "wb") as file:
                    file.write(bytes(10 + f))
        for split in ("train", "test"):
            with open(f"{self.root}/set_1_{split}.txt", "w") as file:
                file.writelines(f"clips/{name} {count} {label}\n" for name, count, label, s in self.clips if s == split)
        self.frames = {}
        generator = np.random.default_rng(0)
        entries, offset = [], 0
        with open(self.cache + "/frames.rgb", "wb") as file:
            for name, count, label, split in self.clips:
                frames = generator.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
                file.write(frames.tobytes())
                self.frames[name] = frames
                entries.append({"id": name, "directory": f"clips/{name}", "label": label, "frameCount": count,
                                "offset": offset, "trainFolds": [1] if split == "train" else [],
                                "testFolds": [1] if split == "test" else [],
                                "frameNames": "\n".join(f"{name}_{f + 1}.jpg" for f in range(count))})
                offset += frames.nbytes
        self.index = {"format": "ferd-packed-cache", "version": 1, "size": size, "dataRoot": self.root,
                      "layout": "lists", "skipBad": False, "folds": [1], "totalFrames": offset // (size * size * 3),
                      "clips": entries, "skipped": []}
        folds = data._load_dataset(self.root, "lists", None, False, [1])
        self.index["digest"] = data.dataset_digest(data._distinct_clips(folds), self.root, size)
        self.write_index()

    def write_index(self):
        with open(self.cache + "/index.json", "w") as file:
            json.dump(self.index, file)


def settings(frames=4, size=8, batch=4, seed=5):
    return {"model": {"frames": frames, "imageSize": size}, "batchSize": batch, "seed": seed}


class FoldDataTests(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="ferd-torch-data-")
        self.fixture = Fixture(self.folder)

    def tearDown(self):
        shutil.rmtree(self.folder)

    def fold(self, **arguments) -> data.FoldData:
        return data.FoldData(self.fixture.cache, 1, settings(**arguments.pop("settings", {})), **arguments)

    def test_clips_and_batch_plans(self):
        fold = self.fold()
        train = [name for name, _, _, split in Fixture.clips if split == "train"]
        test = [name for name, _, _, split in Fixture.clips if split == "test"]
        self.assertEqual([clip["id"] for clip in fold.train.clips], train)
        self.assertEqual([clip["id"] for clip in fold.test.clips], test)
        self.assertEqual((fold.train_batch_count, fold.test_batch_count), (len(train) // 4, (len(test) + 3) // 4))
        order = rng.generator(5, rng.PURPOSE_SHUFFLE, 2, 0).permutation(len(train))
        self.assertEqual(fold.plan(2), [order[0:4], order[4:8]])
        self.assertNotEqual(fold.plan(2), fold.plan(3))
        self.assertEqual(fold.test.batch_plan(0), [[0, 1, 2, 3], [4, 5]])

    def test_reference_quirks_leave_out_short_clips(self):
        fold = self.fold(reference_quirks=True)
        self.assertTrue(fold.train.dropped)
        self.assertTrue(all(clip["frameCount"] >= 4 for clip in fold.train.clips + fold.test.clips))
        self.assertTrue(all(clip["frameCount"] < 4 for clip in fold.train.dropped + fold.test.dropped))

    def test_training_batches_are_the_planned_clips_augmented(self):
        fold = self.fold()
        batches = list(fold.train_batches(1))
        self.assertEqual(len(batches), fold.train_batch_count)
        for positions, (clips, labels) in zip(fold.plan(1), batches):
            self.assertEqual((clips.shape, clips.dtype, labels.dtype), ((4, 4, 3, 8, 8), torch.float32, torch.int64))
            self.assertEqual(labels.tolist(), [fold.train.clips[p]["label"] for p in positions])
            for clip, position in zip(clips, positions):
                frames = self.fixture.frames[fold.train.clips[position]["id"]][fold.train.indices(position, 1)]
                expected = data.transform_clips(torch.from_numpy(frames)[None], [fold.train.parameters(position, 1)], 8)
                self.assertTrue(torch.equal(clip, expected[0]))
        self.assertGreaterEqual(fold.data_wait_seconds, 0.0)

    def test_test_batches_are_the_sampled_frames_unchanged(self):
        fold = self.fold()
        batches = list(fold.test_batches())
        self.assertEqual([clips.shape[0] for clips, _ in batches], [4, 2])
        clips = torch.cat([clips for clips, _ in batches])
        for position, clip in enumerate(fold.test.clips):
            frames = self.fixture.frames[clip["id"]][fold.test.indices(position, 0)]
            expected = frames.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)
            np.testing.assert_array_equal(clips[position].numpy(), expected)

    def test_shards_take_every_kth_place_of_each_batch(self):
        whole = self.fold()
        parts = [self.fold(rank=rank, world_size=4) for rank in range(4)]
        self.assertEqual(parts[3].train_batch_count, whole.train_batch_count)
        whole_batches = list(whole.train_batches(0))
        for rank, part in enumerate(parts):
            batches = list(part.train_batches(0))
            self.assertEqual(len(batches), len(whole_batches))
            for (clips, labels), (all_clips, all_labels) in zip(batches, whole_batches):
                self.assertTrue(torch.equal(clips, all_clips[rank::4]))
                self.assertEqual(labels.tolist(), all_labels[rank::4].tolist())
            # The last test batch holds 2 clips: ranks 2 and 3 get an empty part of it.
            self.assertEqual([clips.shape[0] for clips, _ in part.test_batches()], [1, 1 if rank < 2 else 0])

    def test_a_batch_that_does_not_split_over_the_gang_is_refused(self):
        with self.assertRaisesRegex(data.DataError, "cannot be split evenly over 3 workers.*multiple of 3"):
            self.fold(world_size=3)

    def test_stopping_early_ends_the_prefetch_thread(self):
        fold = self.fold(prefetch=1)
        before = threading.active_count()
        batches = fold.train_batches(0)
        next(batches)
        batches.close()
        self.assertEqual(threading.active_count(), before)

    def test_model_size_differs_from_the_cache(self):
        fold = self.fold(settings={"size": 6})
        clips, _ = next(iter(fold.test_batches()))
        self.assertEqual(tuple(clips.shape), (4, 4, 3, 6, 6))
        frames = self.fixture.frames[fold.test.clips[0]["id"]][fold.test.indices(0, 0)]
        expected = data.transform_clips(torch.from_numpy(frames)[None], [None], 6)[0]
        self.assertTrue(torch.equal(clips[0], expected))

    def test_missing_cache(self):
        with self.assertRaisesRegex(data.DataError, r"index\.json: no packed cache here.*run `ferd prepare"):
            data.FoldData(self.folder + "/nowhere", 1, settings())

    def test_missing_fold_names_the_fold_and_the_cache(self):
        with self.assertRaises(data.DataError) as caught:
            data.FoldData(self.fixture.cache, 2, settings())
        message = str(caught.exception)
        self.assertIn("no fold 2", message)
        self.assertIn(self.fixture.cache, message)
        self.assertIn("re-run `ferd prepare --data", message)

    def test_other_format_version(self):
        self.fixture.index["version"] = 2
        self.fixture.write_index()
        with self.assertRaisesRegex(data.DataError, "cache format ferd-packed-cache v2 is not supported.*re-run"):
            self.fold()

    def test_truncated_frames_file(self):
        with open(self.fixture.cache + "/frames.rgb", "r+b") as file:
            file.truncate(100)
        with self.assertRaisesRegex(data.DataError, r"frames\.rgb: clip c00 lies outside the frames file"):
            self.fold()

    def test_unreadable_index(self):
        del self.fixture.index["clips"][3]["offset"]
        self.fixture.write_index()
        with self.assertRaisesRegex(data.DataError, "unreadable cache index .clip 3 lacks offset"):
            self.fold()

    def test_changed_dataset_is_refused(self):
        with open(f"{self.fixture.root}/clips/c04/c04_1.jpg", "ab") as file:
            file.write(b"more")
        with self.assertRaisesRegex(data.DataError, "changed since the cache was prepared.*re-run `ferd prepare"):
            self.fold()

    def test_relabelled_clip_is_refused(self):
        with open(f"{self.fixture.root}/set_1_test.txt") as file:
            lines = file.read().replace("clips/c00 2 0", "clips/c00 2 1")
        with open(f"{self.fixture.root}/set_1_test.txt", "w") as file:
            file.write(lines)
        with self.assertRaisesRegex(data.DataError, "changed since the cache was prepared"):
            self.fold()

    def test_dump_writes_plans_and_pixels(self):
        with open(self.folder + "/settings.json", "w") as file:
            json.dump(settings(), file)
        out = self.folder + "/dump"
        subprocess.run([sys.executable, "-m", "ferd_torch.data", "dump", "--cache", self.fixture.cache, "--fold", "1",
                        "--settings-json", self.folder + "/settings.json", "--epochs", "0,1", "--out", out],
                       check=True, cwd=ENGINE_ROOT)
        with open(out + "/loader.json") as file:
            described = json.load(file)
        fold = self.fold()
        self.assertEqual([epoch["plan"] for epoch in described["train"]["epochs"]], [fold.plan(0), fold.plan(1)])
        pixels = np.load(out + "/batches.npy")
        self.assertEqual(pixels.shape, (4 * (2 * fold.train_batch_count) + len(fold.test.clips), 4, 3, 8, 8))
        first, _ = next(iter(fold.train_batches(0)))
        np.testing.assert_array_equal(pixels[:4], first.numpy())


def write_file(path: str, content: "bytes | str") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(content.encode() if isinstance(content, str) else content)


class SingleSplitLayoutTests(unittest.TestCase):
    """FERV39k and RAF-DB as Swift's `DatasetIndex.load` reads them (Tests/FerdDataTests/SingleSplitLayoutTests.swift
    has the same cases), and `FoldData` on caches of them."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="ferd-torch-layouts-")

    def tearDown(self):
        shutil.rmtree(self.root)

    def make_ferv39k(self, train: str, test: str = "Argue/Happy/0001 Happy\n"):
        for clip, count in (("Action/Sad/0010", 3), ("War/Fear/0002", 5), ("Argue/Happy/0001", 2)):
            for f in range(count):
                write_file(f"{self.root}/2_ClipsforFaceCrop/{clip}/{f + 1:04d}.jpg", bytes(5 + f))
        write_file(f"{self.root}/4_setups/All_scenes/train_All.csv", train)
        write_file(f"{self.root}/4_setups/All_scenes/test_All.csv", test)

    def make_rafdb(self, labels: str):
        for name in ("train_00001", "train_00002", "test_0001"):
            write_file(f"{self.root}/basic/Image/aligned/{name}_aligned.jpg", bytes(7))
        write_file(f"{self.root}/basic/EmoLabel/list_patition_label.txt", labels)

    def load(self, layout: str, skip_bad: bool = False):
        return data._load_dataset(self.root, layout, None, skip_bad, [1])

    def test_ferv39k_tolerates_headers_separators_and_list_lines(self):
        self.make_ferv39k("path,label\nAction/Sad/0010,Sad\n/elsewhere/2_ClipsforFaceCrop/War/Fear/0002 5 6\n")
        [(fold, train, test)] = self.load("ferv39k")
        self.assertEqual(fold, 1)
        self.assertEqual([(clip.id, clip.label, len(clip.frames)) for clip in train],
                         [("Action/Sad/0010", 1, 3), ("War/Fear/0002", 6, 5)])
        self.assertEqual([(clip.id, clip.label) for clip in test], [("Argue/Happy/0001", 0)])
        self.assertTrue(train[0].frames[0].endswith("2_ClipsforFaceCrop/Action/Sad/0010/0001.jpg"))

    def test_ferv39k_unknown_class_names_the_line(self):
        self.make_ferv39k("Action/Sad/0010 Sad\nWar/Fear/0002 Scared\n")
        with self.assertRaisesRegex(data.DataError, r"train_All\.csv:2: unknown class name `Scared`. Fix: use one of"):
            self.load("ferv39k")
        [(_, train, _)] = self.load("ferv39k", skip_bad=True)
        self.assertEqual([clip.id for clip in train], ["Action/Sad/0010"])

    def test_ferv39k_class_must_agree_with_the_folder(self):
        self.make_ferv39k("Action/Sad/0010 Happy\n")
        with self.assertRaisesRegex(data.DataError, r"train_All\.csv:1: the class Happy disagrees with the clip's folder"):
            self.load("ferv39k")

    def test_ferv39k_missing_frames_name_the_line(self):
        self.make_ferv39k("Action/Sad/0010 Sad\nAction/Sad/0099 Sad\n")
        with self.assertRaisesRegex(data.DataError, r"train_All\.csv:2: clip folder .*Action/Sad/0099 does not exist"):
            self.load("ferv39k")

    def test_rafdb_maps_labels_by_name(self):
        self.make_rafdb("train_00001.jpg 1\ntrain_00002.jpg 4\ntest_0001.jpg 6\n")
        [(_, train, test)] = self.load("rafdb")
        # RAF-DB 1 Surprise, 4 Happiness, 6 Anger: ferd's Surprise 4, Happy 0, Angry 3 (by index they would be 0, 3, 5).
        self.assertEqual([(clip.id, clip.label) for clip in train], [("train_00001", 4), ("train_00002", 0)])
        self.assertEqual([(clip.id, clip.label) for clip in test], [("test_0001", 3)])
        self.assertEqual([len(clip.frames) for clip in train + test], [1, 1, 1])
        self.assertTrue(test[0].frames[0].endswith("basic/Image/aligned/test_0001_aligned.jpg"))
        self.assertEqual(len(data._distinct_clips(self.load("rafdb"))), 3)

    def test_rafdb_errors_name_the_line(self):
        for labels, expected in (("train_00001.jpg 8\n", r":1: label `8` is not in 1…7"),
                                 ("train_00001.jpg\n", r":1: expected `<train_\|test_><number>.jpg <label 1-7>`"),
                                 ("val_0001.jpg 3\n", r":1: expected"),
                                 ("train_00001.jpg 1\ntrain_00009.jpg 2\n", r":2: image .*train_00009_aligned.jpg does not exist")):
            self.make_rafdb(labels)
            with self.assertRaisesRegex(data.DataError, r"list_patition_label\.txt" + expected):
                self.load("rafdb")

    def test_single_split_has_fold_1_only(self):
        self.make_rafdb("train_00001.jpg 1\n")
        with self.assertRaisesRegex(data.DataError, "fold 2 does not exist: RAF-DB has one train/test split, fold 1"):
            data._load_dataset(self.root, "rafdb", None, False, [2])

    def test_sampler_follows_the_layout(self):
        ferv = data.sampler_for("ferv39k", 16, True)
        self.assertEqual((ferv.segments, ferv.frames_per_segment, ferv.reference_quirks), (8, 2, False))
        self.assertEqual(data.sampler_for("ferv39k", 7).frames_per_segment, 1)
        dfew = data.sampler_for("reorganised", 16, True)
        self.assertEqual((dfew.segments, dfew.frames_per_segment, dfew.reference_quirks), (16, 1, True))
        self.assertEqual(data.sampler_for("rafdb", 8).indices(1, "train", 0, 0, 0), [0] * 8)

    def cache_of(self, layout: str, size: int = 6) -> str:
        """A packed cache of the dataset in `self.root`, written as `ferd prepare` writes it (random frames)."""
        clips = data._distinct_clips(self.load(layout))
        cache = self.root + "/cache"
        os.makedirs(cache)
        generator, entries, offset = np.random.default_rng(1), [], 0
        with open(cache + "/frames.rgb", "wb") as file:
            for clip in clips:
                frames = generator.integers(0, 256, (len(clip.frames), size, size, 3), dtype=np.uint8)
                file.write(frames.tobytes())
                entries.append({"id": clip.id, "directory": data._relative_path(clip.directory, self.root),
                                "label": clip.label, "frameCount": len(clip.frames), "offset": offset,
                                "trainFolds": clip.train_folds, "testFolds": clip.test_folds,
                                "frameNames": "\n".join(path.rsplit("/", 1)[-1] for path in clip.frames)})
                offset += frames.nbytes
        index = {"format": "ferd-packed-cache", "version": 1, "size": size, "dataRoot": self.root, "layout": layout,
                 "skipBad": False, "folds": [1], "totalFrames": offset // (size * size * 3), "clips": entries,
                 "skipped": [], "digest": data.dataset_digest(clips, self.root, size)}
        write_file(cache + "/index.json", json.dumps(index))
        return cache

    def test_fold_data_on_a_ferv39k_cache_samples_pairs_of_frames(self):
        self.make_ferv39k("Action/Sad/0010 Sad\nWar/Fear/0002 Fear\n")
        fold = data.FoldData(self.cache_of("ferv39k"), 1, settings(frames=4, size=6, batch=2))
        self.assertEqual((fold.train.sampler.segments, fold.train.sampler.frames_per_segment), (2, 2))
        self.assertEqual(fold.test.indices(0, 0), [0, 1, 0, 1])  # 2 frames: both segments start at 0
        clips, labels = next(iter(fold.train_batches(0)))
        self.assertEqual((tuple(clips.shape), sorted(labels.tolist())), ((2, 4, 3, 6, 6), [1, 6]))
        with self.assertRaisesRegex(data.DataError, "fold 2 does not exist: FERV39k has one train/test split"):
            data.FoldData(self.root + "/cache", 2, settings(frames=4, size=6, batch=2))

    def test_fold_data_on_a_rafdb_cache_repeats_the_image(self):
        self.make_rafdb("train_00001.jpg 7\ntrain_00002.jpg 5\ntest_0001.jpg 2\n")
        cache = self.cache_of("rafdb")
        fold = data.FoldData(cache, 1, settings(frames=4, size=6, batch=2), reference_quirks=True)
        self.assertEqual([clip["id"] for clip in fold.train.clips], ["train_00001", "train_00002"])
        self.assertEqual([clip["label"] for clip in fold.train.clips], [2, 1])
        clips, labels = next(iter(fold.test_batches()))
        self.assertEqual(labels.tolist(), [6])
        self.assertTrue(all(torch.equal(clips[0, t], clips[0, 0]) for t in range(4)))
        write_file(self.root + "/basic/Image/aligned/test_0001_aligned.jpg", bytes(8))
        with self.assertRaisesRegex(data.DataError, "changed since the cache was prepared"):
            data.FoldData(cache, 1, settings(frames=4, size=6, batch=2))


if __name__ == "__main__":
    unittest.main()


class SyntheticCacheTests(unittest.TestCase):
    """`ferd_torch.synthetic`, which the GPU benchmark uses to make a DFEW-size cache."""

    def test_a_dfew_size_cache_keeps_its_pixel_pattern_past_the_uint16_range(self):
        # Clip n's frames are (x + y + 37·n + 3·frame + 85·channel) mod 256; at n ≥ 1,766 the sum passes 65,535,
        # which NumPy 2 refuses to add to a uint16 array (the GPU benchmark's 11,750 clips failed on it).
        with tempfile.TemporaryDirectory() as folder:
            synthetic.write_dataset(folder + "/data", 1800, 1)
            self.assertEqual(synthetic.write_cache(folder + "/data", folder + "/cache", 4, 1), 1800)
            with open(folder + "/cache/index.json") as file:
                index = json.load(file)
            pixels = np.fromfile(folder + "/cache/frames.rgb", dtype=np.uint8).reshape(1800, 4, 4, 3)
            ramp = np.add.outer(np.arange(4), np.arange(4))
            for entry in (index["clips"][0], index["clips"][1799]):
                number = entry["offset"] // (4 * 4 * 3)
                expected = np.stack([(ramp + 37 * number + 85 * channel) % 256 for channel in range(3)], axis=-1)
                np.testing.assert_array_equal(pixels[number], expected)
