"""ferd's data pipeline in PyTorch: the packed cache written by `ferd prepare`, read through a memory map, and
Swift's `ClipLoader` reproduced exactly (docs/DATA.md).

- The same clips in the same order as Swift's `FoldBatches` (the cache's fold lists; with reference quirks,
  clips shorter than T left out), for every layout (DFEW's, FERV39k's and RAF-DB's: `sampler_for` takes FERV39k in
  segments of 2 frames, RAF-DB's 1-frame clips repeat their image), the same batch plan (seeded shuffle, drop_last in training), the same frame
  indices (`ClipSampler`) and augmentation parameters (`ClipAugmentation`), drawn from the same `SplitMix64`
  streams (`ferd_torch.rng`).
- The pixels are computed on the target device with torch ops and are **bit-identical** to the Swift loader's
  (tolerance 0; `Tests/FerdRuntimeTests/LoaderParityTests.swift` checks it): PIL's antialiased bilinear resize
  (`BilinearResizer`: 22-bit fixed-point weights, a horizontal then a vertical pass, rounded and clipped to
  uint8 after each) runs as two batched matrix products whose matrices hold each clip's crop and resize weights,
  the weights split into three 8-bit pieces so that every product and sum is an integer below 2^24: exact in
  float32, also in TF32 or bfloat16 matmul modes, while the cached frames are under 128 times the model's size.
  Flip and rotation (Pillow's NEAREST `rotate` in 16.16 fixed point, zero fill) are one precomputed pixel map per
  clip, applied with a gather; x / 255 · brightness clamped to [0, 1] is a 256-entry float32 table per clip.
- `FoldData` prefetches: a background thread reads the next batches' frames from the memory map into pinned host
  memory, copies them to the GPU on a side stream and augments them there, `prefetch` batches ahead.
- Opening a cache checks what Swift's `PackedCache` checks (format, version, extent of every clip) and, as
  `FoldBatches` does, re-lists the dataset the cache was prepared from and compares its digest; every problem is a
  `DataError` naming the file and the fix.

`python3 -m ferd_torch.data dump ...` writes what the loader produces for the cross-language parity test.
"""

import argparse
import hashlib
import json
import math
import os
import queue
import re
import struct
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from . import rng

FORMAT_NAME = "ferd-packed-cache"
FORMAT_VERSION = 1
LAYOUTS = ("official", "reorganised", "lists", "ferv39k", "rafdb")
SINGLE_SPLIT_LAYOUTS = {"ferv39k": "FERV39k", "rafdb": "RAF-DB"}
INDEX_FILE = "index.json"
FRAMES_FILE = "frames.rgb"

_PRECISION_BITS = 22
_HALF = 1 << (_PRECISION_BITS - 1)


class DataError(Exception):
    """A problem with a data file: which file (and line), what is wrong and how to fix it (Swift's `DataError`)."""

    def __init__(self, file: str, problem: str, fix: str, line: "int | None" = None):
        self.file, self.problem, self.fix, self.line = file, problem, fix, line
        place = file if line is None else f"{file}:{line}"
        super().__init__(f"{place}: {problem}. Fix: {fix}")


# ---------------------------------------------------------------------------------------------------------------
# The packed cache


class PackedCache:
    """A cache written by `ferd prepare`: every frame of every clip as S×S×3 uint8 bytes in `frames.rgb`
    (memory-mapped here) and `index.json` listing the clips, their folds and the digest of the inputs."""

    def __init__(self, directory: str):
        """Opens the cache in `directory` with the checks of Swift's `PackedCache.init`."""
        self.directory = directory
        self.index_path = directory + "/" + INDEX_FILE
        try:
            with open(self.index_path, "rb") as file:
                data = file.read()
        except OSError:
            raise DataError(self.index_path, "no packed cache here (index.json is missing)",
                            f"run `ferd prepare --data <dataset> --out {directory}` first") from None
        rebuild = f"re-run `ferd prepare --out {directory}` to rebuild the cache"
        try:
            index = json.loads(data)
            _require(index, ("format", "version", "size", "dataRoot", "layout", "skipBad", "folds", "digest",
                             "totalFrames", "clips", "skipped"), "the index")
            for number, clip in enumerate(index["clips"]):
                _require(clip, ("id", "directory", "label", "frameCount", "offset", "trainFolds", "testFolds",
                                "frameNames"), f"clip {number}")
        except (ValueError, TypeError) as error:
            raise DataError(self.index_path, f"unreadable cache index ({error})", rebuild) from None
        if index["format"] != FORMAT_NAME or index["version"] != FORMAT_VERSION or index["layout"] not in LAYOUTS:
            raise DataError(self.index_path, f"cache format {index['format']} v{index['version']} is not supported",
                            f"re-run `ferd prepare --out {directory}` with this version of ferd")
        self.frames_path = directory + "/" + FRAMES_FILE
        try:
            length = os.path.getsize(self.frames_path)
            self._frames = np.memmap(self.frames_path, dtype=np.uint8, mode="r") if length else np.zeros(0, np.uint8)
        except OSError as error:
            raise DataError(self.frames_path, f"cannot open the cache's frames file ({error.strerror})",
                            "re-run ferd prepare to rebuild the cache") from None
        self.size = index["size"]
        frame_bytes = self.size * self.size * 3
        for clip in index["clips"]:
            end = clip["offset"] + clip["frameCount"] * frame_bytes
            if clip["offset"] < 0 or clip["frameCount"] < 1 or end > length:
                raise DataError(self.frames_path, f"clip {clip['id']} lies outside the frames file (truncated cache?)",
                                rebuild)
        self.data_root = index["dataRoot"]
        self.layout = index["layout"]
        self.digest = index["digest"]
        self.clips = index["clips"]
        self._index = index

    def fold(self, number: int) -> "tuple[list[dict], list[dict]] | None":
        """The train and test clips of fold `number` in the cache's order (sorted by id), or None if the cache does
        not hold that fold. Each clip is its `index.json` entry."""
        if number not in self._index["folds"]:
            return None
        return ([clip for clip in self.clips if number in clip["trainFolds"]],
                [clip for clip in self.clips if number in clip["testFolds"]])

    @property
    def folds(self) -> "list[int]":
        """The folds (1…5) the cache holds."""
        return list(self._index["folds"])

    def frames(self, clip: dict) -> np.ndarray:
        """The frames of `clip` as a read-only (frameCount, S, S, 3) uint8 view of the memory map."""
        frame_bytes = self.size * self.size * 3
        start = clip["offset"]
        return self._frames[start:start + clip["frameCount"] * frame_bytes].reshape(
            clip["frameCount"], self.size, self.size, 3)

    @property
    def prepare_command(self) -> str:
        """The command that rebuilds this cache."""
        command = (f"ferd prepare --data {self.data_root} --out {self.directory} --size {self.size} "
                   f"--layout {self.layout}")
        return command + (" --skip-bad" if self._index["skipBad"] else "")

    def verify_dataset(self) -> None:
        """Re-lists the dataset at the cache's data root as `ferd prepare` did and raises a `DataError` if its digest
        differs from the one the cache was prepared with (Swift's `PackedCache.verifyDataset`)."""
        root = self.data_root[:-1] if self.data_root.endswith("/") and len(self.data_root) > 1 else self.data_root
        folds = _load_dataset(root, self.layout, self._index.get("officialClips"), self._index["skipBad"],
                              self._index["folds"])
        now = dataset_digest(_distinct_clips(folds), root, self.size)
        if now != self.digest:
            raise DataError(self.index_path,
                            f"the dataset at {root} changed since the cache was prepared "
                            f"(digest {self.digest[:12]} then, {now[:12]} now)",
                            f"re-run `{self.prepare_command}`")


def _require(mapping, keys, where: str) -> None:
    if not isinstance(mapping, dict):
        raise ValueError(f"{where} is not an object")
    missing = [key for key in keys if key not in mapping]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")


# ---------------------------------------------------------------------------------------------------------------
# The dataset as `ferd prepare` lists it (Swift's DatasetIndex.load, FoldBuilder, FrameListing, DatasetDigest)


@dataclass
class _Clip:
    id: str
    directory: str
    frames: "list[str]"
    label: int
    train_folds: "list[int]"
    test_folds: "list[int]"


@dataclass
class _SplitEntry:
    id: str
    directory: str
    label: int
    file: str
    line: int
    frame: "str | None" = None


def _swift_int(text: str) -> "int | None":
    """Swift's `Int(text)`: an optional sign and ASCII digits, nothing else."""
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None


def _zero_padded(value: int) -> str:
    digits = str(value)
    return "0" * max(0, 5 - len(digits)) + digits


def _last_component(path: str) -> str:
    stripped = path.rstrip("/")
    return stripped.rsplit("/", 1)[-1] if stripped else path[:1]


def _split_text(file: str) -> str:
    try:
        with open(file, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        raise DataError(file, "split file is missing or unreadable",
                        "check the dataset root, or pass the layout explicitly with --layout") from None
    return text[1:] if text.startswith("\ufeff") else text


def _lines(text: str) -> "list[tuple[int, str]]":
    """Non-blank lines (any newline) with their 1-based numbers, trimmed."""
    parts = re.split("\r\n|[\n\r\v\f\x85\u2028\u2029]", text)
    return [(number + 1, line.strip()) for number, line in enumerate(parts) if line.strip()]


def _parse_csv(file: str, clip_root: str):
    """A DFEW `video_name,label` CSV (labels 1…7); clip folders are `clip_root/<5-digit id>` or the plain id."""
    rows = _lines(_split_text(file))
    if not rows:
        raise DataError(file, "empty split file", "restore the file from the dataset release", line=1)
    number, header = rows[0]
    if [column.strip().lower() for column in header.split(",") if column] != ["video_name", "label"]:
        raise DataError(file, f"expected the columns `video_name,label`, found `{header}`",
                        "use DFEW's single-label split CSVs (header `video_name,label`, label 1-7)", line=number)
    entries, problems = [], []
    for number, text in rows[1:]:
        fields = [field.strip() for field in text.split(",")]
        first = _swift_int(fields[0])
        clip_id = _zero_padded(first) if first is not None else text
        if len(fields) != 2 or first is None or first < 0:
            problems.append((clip_id, DataError(file, f"expected `<video number>,<label>`, found `{text}`",
                                                "fix or delete this line", line=number)))
            continue
        label = _swift_int(fields[1])
        if label is None or not 1 <= label <= 7:
            problems.append((clip_id, DataError(file, f"label `{fields[1]}` is not in 1…7",
                                                "use DFEW labels 1 Happy … 7 Fear, or drop this clip", line=number)))
            continue
        padded, plain = clip_root + "/" + _zero_padded(first), clip_root + "/" + str(first)
        directory = padded if os.path.exists(padded) or not os.path.exists(plain) else plain
        entries.append(_SplitEntry(_zero_padded(first), directory, label - 1, file, number))
    return entries, problems


def _parse_list(file: str, root: str):
    """A reference-code list: `<clip path> <num_frames> <label 0-6>` per line."""
    entries, problems = [], []
    for number, text in _lines(_split_text(file)):
        fields = [field for field in re.split("[ \t]", text) if field]
        clip_id = _last_component(fields[0]) if fields else text
        if len(fields) != 3 or _swift_int(fields[1]) is None:
            problems.append((clip_id, DataError(
                file, f"expected `<clip path> <num_frames> <label 0-6>`, found `{text}`", "fix or delete this line",
                line=number)))
            continue
        label = _swift_int(fields[2])
        if label is None or not 0 <= label <= 6:
            problems.append((clip_id, DataError(file, f"label `{fields[2]}` is not in 0…6",
                                                "list files use 0 Happy … 6 Fear; fix or drop this clip",
                                                line=number)))
            continue
        entries.append(_SplitEntry(clip_id, _resolve(fields[0], root), label, file, number))
    return entries, problems


def _resolve(path: str, root: str) -> str:
    trimmed = path[:-1] if path.endswith("/") else path
    if not trimmed.startswith("/"):
        return root + "/" + trimmed
    if os.path.exists(trimmed):
        return trimmed
    parts = [part for part in trimmed.split("/") if part]
    anchors = [i for i, part in enumerate(parts) if part in ("Clip", "data")]
    if anchors:
        relative = root + "/" + "/".join(parts[anchors[-1]:])
        if os.path.exists(relative):
            return relative
    return trimmed


# Swift's `Emotion(name:)`: ferd's class names and the noun forms other datasets use, case-insensitive.
_EMOTION_NAMES = {"happy": 0, "happiness": 0, "sad": 1, "sadness": 1, "neutral": 2, "angry": 3, "anger": 3,
                  "surprise": 4, "surprised": 4, "disgust": 5, "disgusted": 5, "fear": 6, "fearful": 6}
_CLASS_NAMES = ["Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear"]
FERV39K_FRAMES = "2_ClipsforFaceCrop"
FERV39K_SETUP = "4_setups/All_scenes"
RAFDB_LABEL_FILE = "EmoLabel/list_patition_label.txt"
RAFDB_IMAGES = "Image/aligned"
# RAF-DB's labels 1…7, mapped onto ferd's classes by name.
RAFDB_NAMES = ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral"]


def _ferv39k_label(fields: "list[str]", folder: str):
    """Swift's `FERV39kSplits.classOf`: (label, None) or (None, (problem, fix))."""
    names = f"use one of {', '.join(_CLASS_NAMES)}, or drop this line"
    if len(fields) == 1:
        label = _EMOTION_NAMES.get(folder.lower())
        return (label, None) if label is not None else (
            None, (f"unknown class name `{folder}` in the clip path and no class given", names))
    if len(fields) == 2:
        label = _EMOTION_NAMES.get(fields[1].lower())
        return (label, None) if label is not None else (None, (f"unknown class name `{fields[1]}`", names))
    named = _EMOTION_NAMES.get(fields[2].lower())
    if named is not None:
        return named, None
    index = _swift_int(fields[2])
    if _swift_int(fields[1]) is None or index is None or not 0 <= index <= 6:
        return None, (f"expected `<clip path> <num_frames> <label 0-6>` or a class name, found `{' '.join(fields)}`",
                      "list lines use 0 Happy … 6 Fear; fix or drop this line")
    return index, None


def _parse_ferv39k(file: str, root: str):
    """Swift's `FERV39kSplits.parse`: `Scene/Emotion/clip [class]` lines (or Former-DFER list lines), an optional
    header; clips in `root/2_ClipsforFaceCrop/<last three path components>`."""
    entries, problems = [], []
    for position, (number, text) in enumerate(_lines(_split_text(file))):
        fields = [field for field in re.split("[,; 	]", text) if field]
        if position == 0 and fields and "/" not in fields[0]:
            continue
        parts = [part for part in fields[0].split("/") if part] if fields else []
        clip_id = "/".join(parts[-3:]) if len(parts) >= 3 else text
        if not 1 <= len(fields) <= 3 or len(parts) < 3:
            problems.append((clip_id, DataError(
                file, "expected `<Scene>/<Emotion>/<clip> <Emotion>` (or `<clip path> <num_frames> <label 0-6>`), "
                      f"found `{text}`", "fix or delete this line", line=number)))
            continue
        folder = parts[-2]
        label, problem = _ferv39k_label(fields, folder)
        if problem is not None:
            problems.append((clip_id, DataError(file, problem[0], problem[1], line=number)))
            continue
        named = _EMOTION_NAMES.get(folder.lower())
        if named is not None and named != label:
            problems.append((clip_id, DataError(
                file, f"the class {_CLASS_NAMES[label]} disagrees with the clip's folder `{folder}`",
                "correct the class or the path, or drop this line", line=number)))
            continue
        entries.append(_SplitEntry(clip_id, f"{root}/{FERV39K_FRAMES}/{clip_id}", label, file, number))
    return entries, problems


def _rafdb_basic(root: str) -> "str | None":
    """RAF-DB's `basic` folder: `root/basic`, or `root` itself when it holds `EmoLabel/`."""
    return next((folder for folder in (root + "/basic", root) if os.path.exists(folder + "/" + RAFDB_LABEL_FILE)),
                None)


def _parse_rafdb(file: str, basic: str):
    """Swift's `RAFDBLabels.parse`: `<train_|test_><number>.jpg <label 1-7>` lines; ((train entries, problems),
    (test entries, problems)), each image a 1-frame clip in `basic/Image/aligned`."""
    train, test = ([], []), ([], [])
    images = basic + "/" + RAFDB_IMAGES
    mapping = ", ".join(f"{number} {name}" for number, name in enumerate(RAFDB_NAMES, 1))
    for number, text in _lines(_split_text(file)):
        fields = [field for field in re.split("[ 	]", text) if field]
        name = fields[0] if fields else text
        stem = _delete_extension(name)
        is_train, is_test = stem.startswith("train_"), stem.startswith("test_")
        if len(fields) != 2 or not (is_train or is_test) or stem == name:
            (test if is_test else train)[1].append((stem, DataError(
                file, f"expected `<train_|test_><number>.jpg <label 1-7>`, found `{text}`", "fix or delete this line",
                line=number)))
            continue
        label = _swift_int(fields[1])
        split = train if is_train else test
        if label is None or not 1 <= label <= 7:
            split[1].append((stem, DataError(file, f"label `{fields[1]}` is not in 1…7",
                                             f"RAF-DB labels are {mapping}; fix or drop this line", line=number)))
            continue
        split[0].append(_SplitEntry(stem, images, _EMOTION_NAMES[RAFDB_NAMES[label - 1].lower()], file, number,
                                    frame=f"{images}/{stem}_aligned.jpg"))
    return train, test


def _delete_extension(name: str) -> str:
    """`NSString.deletingPathExtension` for a file name: drops the last `.ext` unless the name starts with it."""
    dot = name.rfind(".")
    return name[:dot] if dot > 0 and "/" not in name[dot:] else name


def _frame_number(name: str) -> int:
    stem = next((part for part in name.split(".") if part), name)
    runs = re.findall("[0-9]+", stem)
    return int(runs[-1][-18:]) if runs else -1


def _list_frames(directory: str) -> "list[str] | None":
    """The `.jpg`/`.jpeg` files of a clip folder in playback order, or None if the folder does not exist."""
    if not os.path.isdir(directory):
        return None
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    images = [name for name in names if name.lower().endswith((".jpg", ".jpeg"))]
    return [directory + "/" + name for name in sorted(images, key=lambda name: (_frame_number(name), name))]


def _check_folds(layout: str, root: str, folds: "list[int]") -> None:
    """Swift's `DatasetLayout.checkFolds`: DFEW has folds 1…5, FERV39k and RAF-DB their single split as fold 1."""
    dataset = SINGLE_SPLIT_LAYOUTS.get(layout)
    for fold in folds:
        if dataset is not None and fold != 1:
            raise DataError(root, f"fold {fold} does not exist: {dataset} has one train/test split, fold 1",
                            "use fold 1 (`--fold 1`, or `folds: [1]` in an experiment)")
        if dataset is None and not 1 <= fold <= 5:
            raise DataError(root, f"fold {fold} does not exist", "choose folds 1…5")


def _split_files(layout: str, root: str, official_clips: "str | None", folds: "list[int]"):
    if layout == "official":
        split = root + "/EmoLabel_DataSplit"
        candidates = [official_clips] if official_clips else ["clip_224x224", "clip_224x224_16f", "original"]
        clip_root = next((root + "/Clip/" + name for name in candidates if os.path.exists(root + "/Clip/" + name)),
                         None)
        if clip_root is None:
            raise DataError(root + "/Clip", f"none of the frame folders {', '.join(candidates)} exists",
                            "extract the frame archive into Clip/, or name the folder with --official-clips")
        return clip_root, {fold: (f"{split}/train(single-labeled)/set_{fold}.csv",
                                  f"{split}/test(single-labeled)/set_{fold}.csv") for fold in folds}
    if layout == "reorganised":
        return root + "/data", {fold: (f"{root}/label/single_trainset_{fold}.csv",
                                       f"{root}/label/single_testset_{fold}.csv") for fold in folds}
    folder = next((candidate for candidate in (root, root + "/annotation")
                   if os.path.exists(candidate + "/set_1_train.txt")), root)
    return root, {fold: (f"{folder}/set_{fold}_train.txt", f"{folder}/set_{fold}_test.txt") for fold in folds}


class _FoldBuilder:
    """Swift's `FoldBuilder`: checks every listed clip; with `skip_bad` a bad clip is left out, else raised."""

    def __init__(self, skip_bad: bool):
        self.skip_bad = skip_bad
        self._frames: "dict[str, list[str] | None]" = {}

    def fold(self, train, test):
        test_entries = self._unique(test)
        test_by_id = {}
        for entry in test_entries:
            test_by_id.setdefault(entry.id, entry)
        train_entries = []
        for entry in self._unique(train):
            other = test_by_id.get(entry.id)
            if other is not None:
                self._report(DataError(
                    entry.file, f"clip {entry.id} is also in the test split ({other.file}:{other.line})",
                    "remove it from one of the two files; with --skip-bad it is dropped from train", line=entry.line))
            else:
                train_entries.append(entry)
        return self._records(train_entries), self._records(test_entries)

    def _unique(self, parsed):
        entries, problems = parsed
        for _, problem in problems:
            self._report(problem)
        seen, result = {}, []
        for entry in entries:
            if entry.id in seen:
                self._report(DataError(
                    entry.file, f"clip {entry.id} is listed twice (first on line {seen[entry.id].line})",
                    "delete the duplicate line", line=entry.line))
                continue
            seen[entry.id] = entry
            result.append(entry)
        return result

    def _records(self, entries):
        result = []
        for entry in entries:
            if entry.frame is not None:
                if os.path.isfile(entry.frame):
                    result.append(_Clip(entry.id, entry.directory, [entry.frame], entry.label, [], []))
                else:
                    self._report(DataError(
                        entry.file, f"image {entry.frame} does not exist",
                        "extract the aligned faces (basic/Image/aligned) there, or run with --skip-bad to leave it out",
                        line=entry.line))
                continue
            if entry.directory not in self._frames:
                self._frames[entry.directory] = _list_frames(entry.directory)
            frames = self._frames[entry.directory]
            if frames is None:
                self._report(DataError(entry.file, f"clip folder {entry.directory} does not exist",
                                       "extract the clip's frames there, or run with --skip-bad to leave it out",
                                       line=entry.line))
            elif not frames:
                self._report(DataError(entry.file, f"clip folder {entry.directory} has no .jpg frames",
                                       "re-extract the clip's frames, or run with --skip-bad to leave it out",
                                       line=entry.line))
            else:
                result.append(_Clip(entry.id, entry.directory, frames, entry.label, [], []))
        return result

    def _report(self, error: DataError) -> None:
        if not self.skip_bad:
            raise error


def _load_dataset(root: str, layout: str, official_clips: "str | None", skip_bad: bool, folds: "list[int]"):
    """The folds of the dataset at `root` as (number, train clips, test clips), as Swift's `DatasetIndex.load`."""
    _check_folds(layout, root, folds)
    builder = _FoldBuilder(skip_bad)
    if layout == "ferv39k":
        setup = f"{root}/{FERV39K_SETUP}"
        return [(fold, *builder.fold(_parse_ferv39k(setup + "/train_All.csv", root),
                                     _parse_ferv39k(setup + "/test_All.csv", root))) for fold in folds]
    if layout == "rafdb":
        basic = _rafdb_basic(root) or root + "/basic"
        return [(fold, *builder.fold(*_parse_rafdb(basic + "/" + RAFDB_LABEL_FILE, basic))) for fold in folds]
    clip_root, files = _split_files(layout, root, official_clips, folds)
    result = []
    for fold in folds:
        train, test = files[fold]
        if layout == "lists":
            parsed = _parse_list(train, root), _parse_list(test, root)
        else:
            parsed = _parse_csv(train, clip_root), _parse_csv(test, clip_root)
        result.append((fold, *builder.fold(*parsed)))
    return result


def _distinct_clips(folds) -> "list[_Clip]":
    """Every distinct clip (by folder and first frame: RAF-DB's images share a folder) with its folds, sorted by id
    then folder (Swift's `distinctClips`)."""
    by_key: "dict[tuple[str, str], _Clip]" = {}
    for number, train, test in folds:
        for records, is_train in ((train, True), (test, False)):
            for record in records:
                key = (record.directory, record.frames[0] if record.frames else "")
                clip = by_key.setdefault(key, _Clip(record.id, record.directory, record.frames, record.label, [], []))
                (clip.train_folds if is_train else clip.test_folds).append(number)
    clips = sorted(by_key.values(), key=lambda clip: (clip.id, clip.directory))
    for a, b in zip(clips, clips[1:]):
        if a.id == b.id:
            raise DataError(b.directory, f"clip id {a.id} names two folders ({a.directory} and {b.directory})",
                            "rename one of the folders so that clip ids are unique")
    return clips


def _relative_path(path: str, root: str) -> str:
    return path[len(root) + 1:] if path.startswith(root + "/") else path


def dataset_digest(clips: "list[_Clip]", root: str, size: int) -> str:
    """Swift's `DatasetDigest.compute`: SHA-256 over the size and, per clip, its id, folder, label, folds and each
    frame's name, size and modification time (nanoseconds)."""
    def field(hash_, text: str) -> None:
        hash_.update(text.encode() + b"\0")

    def swift_list(values) -> str:
        return "[" + ", ".join(str(value) for value in values) + "]"

    total = hashlib.sha256()
    field(total, f"ferd-packed-cache v{FORMAT_VERSION} size {size}")
    for clip in clips:
        per_clip = hashlib.sha256()
        field(per_clip, clip.id)
        field(per_clip, _relative_path(clip.directory, root))
        field(per_clip, f"label {clip.label} train {swift_list(clip.train_folds)} test {swift_list(clip.test_folds)}")
        stamps = []
        for path in clip.frames:
            try:
                info = os.stat(path)
                stamp = (info.st_size, info.st_mtime_ns)
            except OSError:
                stamp = (-1, -1)
            stamps.append(f"{path.rsplit('/', 1)[-1]}\0{stamp[0]}\0{stamp[1]}\0")
        per_clip.update("".join(stamps).encode())
        field(total, per_clip.hexdigest())
    return total.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Sampling and augmentation parameters (Swift's ClipSampler, ClipAugmentation)


def sampler_for(layout: str, frames: int, reference_quirks: bool = False, frames_per_segment: int = 1) -> "ClipSampler":
    """Swift's `DatasetLayout.sampler`: T = `frames` in segments of `frames_per_segment` frames when the settings
    ask for more than 1 (Former-DFER's and STT's 8×2), else as the dataset says: 2 for FERV39k (1 when T is odd),
    1 otherwise; the reference quirks apply to DFEW's layouts only."""
    if frames_per_segment > 1:
        per_segment = frames_per_segment
    else:
        per_segment = 2 if layout == "ferv39k" and frames % 2 == 0 else 1
    return ClipSampler(frames // per_segment, per_segment, reference_quirks and layout not in SINGLE_SPLIT_LAYOUTS)


class ClipSampler:
    """Swift's `ClipSampler`: T = U·V frames of a clip, U segments of V consecutive frames; a random start per
    segment in training, the middle in testing; `reference_quirks` reproduces `dataset_DFEW.py` exactly."""

    def __init__(self, segments: int, frames_per_segment: int = 1, reference_quirks: bool = False):
        if segments <= 0 or frames_per_segment <= 0:
            raise ValueError("segments and frames_per_segment must be positive")
        self.segments = segments
        self.frames_per_segment = frames_per_segment
        self.reference_quirks = reference_quirks

    @property
    def length(self) -> int:
        """T = U·V."""
        return self.segments * self.frames_per_segment

    def accepts(self, frame_count: int) -> bool:
        """Whether a clip of `frame_count` frames is used (the reference drops clips shorter than T)."""
        return frame_count >= (self.length if self.reference_quirks else 1)

    def indices(self, frame_count: int, mode: str, seed: int, epoch: int, clip: int) -> "list[int]":
        """The T frame indices of the clip at position `clip` in `epoch` (`mode` "train" or "test")."""
        if frame_count <= 0:
            raise ValueError("a clip needs at least one frame")
        stream = rng.generator(seed, rng.PURPOSE_SAMPLING, epoch, clip)
        starts = (self._reference_starts if self.reference_quirks else self._even_starts)(frame_count, mode, stream)
        result = []
        for start in starts:
            p = start
            for _ in range(self.frames_per_segment):
                result.append(min(p, frame_count - 1))
                if p < frame_count - 1:
                    p += 1
        return result

    def _reference_starts(self, n: int, mode: str, stream: rng.SplitMix64) -> "list[int]":
        u, v = self.segments, self.frames_per_segment
        if mode == "train":
            seg = (n - v + 1) // u
            if seg > 0:
                return [i * seg + stream.integer_below(seg) for i in range(u)]
            if n > u:
                return sorted(stream.integer_below(n - v + 1) for _ in range(u))
            return [0] * u
        if n <= u + v - 1:
            return [0] * u
        tick = float(n - v + 1) / float(u)
        return [int(tick / 2 + tick * float(i)) for i in range(u)]

    def _even_starts(self, n: int, mode: str, stream: rng.SplitMix64) -> "list[int]":
        u = self.segments
        starts = max(n - self.frames_per_segment + 1, 1)
        if mode == "train":
            result = []
            for i in range(u):
                low = i * starts // u
                high = max(low + 1, (i + 1) * starts // u)
                result.append(low + stream.integer_below(high - low))
            return result
        return [(2 * i + 1) * starts // (2 * u) for i in range(u)]


@dataclass(frozen=True)
class AugmentationParameters:
    """The random choices of one clip's training augmentation (Swift's `AugmentationParameters`).

    `crop` is `("sized", x, y, width, height)`: crop that box, resize it to S×S; or `("scaled", width, height, x, y)`:
    resize the frame to width×height (shorter side S), take the S×S box at (x, y). `brightness` is a float32 value."""

    crop: tuple
    flip: bool
    brightness: float
    angle: float


@dataclass(frozen=True)
class ClipAugmentation:
    """Swift's `ClipAugmentation` with its defaults (the reference's `video_transform.py`): GroupRandomSizedCrop(S)
    in `crop_attempts` tries, horizontal flip, brightness U(0.4, 1.6), rotation U(−4°, 4°), one draw per clip."""

    size: int
    crop_attempts: int = 10

    AREA = (0.85, 1.0)
    ASPECT = (3.0 / 5, 5.0 / 3)
    FLIP_PROBABILITY = 0.5
    BRIGHTNESS = 0.6
    MAX_ROTATION = 4.0

    def parameters(self, width: int, height: int, seed: int, epoch: int, clip: int) -> AugmentationParameters:
        """The parameters of the clip at position `clip` in `epoch` for frames of `width × height`."""
        stream = rng.generator(seed, rng.PURPOSE_AUGMENTATION, epoch, clip)
        crop = self._crop(width, height, stream)
        flip = stream.uniform_double() < self.FLIP_PROBABILITY
        brightness = float(np.float32(stream.uniform_double(max(0.0, 1 - self.BRIGHTNESS), 1 + self.BRIGHTNESS)))
        angle = stream.uniform_double(-self.MAX_ROTATION, self.MAX_ROTATION)
        return AugmentationParameters(crop, flip, brightness, angle)

    def _crop(self, width: int, height: int, stream: rng.SplitMix64) -> tuple:
        area = float(width * height)
        for _ in range(self.crop_attempts):
            target = stream.uniform_double(*self.AREA) * area
            aspect = stream.uniform_double(*self.ASPECT)
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if stream.uniform_double() < 0.5:
                w, h = h, w
            if 0 < w <= width and 0 < h <= height:
                x = stream.integer_in(0, width - w)
                y = stream.integer_in(0, height - h)
                return ("sized", x, y, w, h)
        scaled_width, scaled_height = shorter_side(width, height, self.size)
        x = stream.integer_in(0, scaled_width - self.size)
        y = stream.integer_in(0, scaled_height - self.size)
        return ("scaled", scaled_width, scaled_height, x, y)


def shorter_side(width: int, height: int, size: int) -> "tuple[int, int]":
    """torchvision's `Resize(size)`: the shorter side becomes `size`, the longer `int(size · long / short)`."""
    if width <= height:
        return size, int(float(size * height) / float(width))
    return int(float(size * width) / float(height)), size


# ---------------------------------------------------------------------------------------------------------------
# The pixel transform: host-side geometry per clip, device-side batched application


@lru_cache(maxsize=None)
def resize_weights(input_size: int, output_size: int) -> np.ndarray:
    """PIL's bilinear (triangle, antialiased) weights of one axis as Swift's `ResampleAxis` computes them: an
    (input_size, output_size) int64 matrix of 22-bit fixed-point coefficients (read-only, cached)."""
    scale = float(input_size) / float(output_size)
    support = max(scale, 1.0)
    inverse = 1.0 / support
    matrix = np.zeros((input_size, output_size), dtype=np.int64)
    for out in range(output_size):
        center = (out + 0.5) * scale
        first = max(int(center - support + 0.5), 0)
        count = min(int(center + support + 0.5), input_size) - first
        kernel = [max(0.0, 1.0 - abs((tap + first - center + 0.5) * inverse)) for tap in range(count)]
        total = 0.0
        for weight in kernel:  # in order, as Swift adds them (Python ≥ 3.12's sum() compensates)
            total += weight
        for tap, weight in enumerate(kernel):
            k = weight / total if total != 0 else weight
            scaled = k * float(1 << _PRECISION_BITS)
            matrix[first + tap, out] = int(scaled - 0.5 if k < 0 else scaled + 0.5)
    matrix.setflags(write=False)
    return matrix


def _round15(value: float) -> float:
    return round(value * 1e15) / 1e15


def _wrap32(values: np.ndarray) -> np.ndarray:
    return ((values + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def rotation_sources(width: int, height: int, degrees: float) -> np.ndarray:
    """For each pixel of a `width × height` image rotated by Pillow's `rotate(degrees, NEAREST)` (counter-clockwise
    about the centre), the flat index of its source pixel, or −1 for the zero fill: Pillow's 15-digit rounded matrix
    walked in 16.16 fixed point as `affine_fixed` does (Swift's `FrameTransform.rotationSources`)."""
    if math.fmod(degrees, 360) == 0:
        return np.arange(width * height, dtype=np.int32)
    radians = -degrees * math.pi / 180
    a, b = _round15(math.cos(radians)), _round15(math.sin(radians))
    d, e = _round15(-math.sin(radians)), _round15(math.cos(radians))
    center_x, center_y = width / 2, height / 2
    c = a * -center_x + b * -center_y + 0.0 + center_x
    f = d * -center_x + e * -center_y + 0.0 + center_y

    def fix(value: float) -> int:
        return int(_wrap32(np.array(math.floor(value * 65536 + 0.5), dtype=np.int64)))

    a0, a1, a3, a4 = fix(a), fix(b), fix(d), fix(e)
    a2, a5 = fix(c + a * 0.5 + b * 0.5), fix(f + d * 0.5 + e * 0.5)
    ys, xs = np.meshgrid(np.arange(height, dtype=np.int64), np.arange(width, dtype=np.int64), indexing="ij")
    source_x = _wrap32(a2 + ys * a1 + xs * a0) >> 16
    source_y = _wrap32(a5 + ys * a4 + xs * a3) >> 16
    inside = (source_x >= 0) & (source_x < width) & (source_y >= 0) & (source_y < height)
    return np.where(inside, source_y * width + source_x, -1).astype(np.int32).reshape(-1)


def pixel_map(size: int, flip: bool, degrees: float) -> np.ndarray:
    """The source pixel of each output pixel after a horizontal flip (if `flip`), then the rotation; −1 for fill."""
    sources = rotation_sources(size, size, degrees)
    if not flip:
        return sources
    mirrored = (sources // size) * size + (size - 1 - sources % size)
    return np.where(sources >= 0, mirrored, -1).astype(np.int32)


def value_table(brightness: float) -> np.ndarray:
    """`min(max((b / 255) · brightness, 0), 1)` in float32 for every byte b (torchvision's float path)."""
    values = (np.arange(256, dtype=np.float32) / np.float32(255)) * np.float32(brightness)
    return np.minimum(np.maximum(values, np.float32(0)), np.float32(1))


def _axis_matrix(source: int, size: int, crop: "tuple[int, int] | None" = None,
                 scaled: "tuple[int, int] | None" = None) -> np.ndarray:
    """The (source, size) weights of one axis: a resize of the whole axis, of the `crop` (start, length) span, or to
    the `scaled` (length, start) axis of which `size` samples are kept."""
    if crop is not None:
        start, length = crop
        matrix = np.zeros((source, size), dtype=np.int64)
        matrix[start:start + length] = resize_weights(length, size)
        return matrix
    if scaled is not None:
        length, start = scaled
        return resize_weights(source, length)[:, start:start + size]
    return resize_weights(source, size)


def _pieces(matrix: np.ndarray) -> np.ndarray:
    """A weight matrix as three 8-bit pieces side by side, (rows, 3·columns) uint8: w = p₂·2¹⁶ + p₁·2⁸ + p₀
    (p₂ ≤ 64 since w ≤ 2²²)."""
    return np.concatenate([matrix >> 16, (matrix >> 8) & 255, matrix & 255], axis=1).astype(np.uint8)


def clip_geometry(parameters: "AugmentationParameters | None", width: int, height: int, size: int):
    """The per-clip inputs of the device transform for frames of `width × height` and output S = `size`: the
    horizontal and vertical weight pieces ((width, 3S) and (height, 3S) uint8), the pixel map ((S·S,) int64, S·S for
    the zero fill) and the value table ((256,) float32). `parameters` None is the test transform."""
    if parameters is None:
        horizontal, vertical = _axis_matrix(width, size), _axis_matrix(height, size)
        sources, table = np.arange(size * size, dtype=np.int64), value_table(1.0)
    else:
        kind, *box = parameters.crop
        if kind == "sized":
            x, y, w, h = box
            if x < 0 or y < 0 or x + w > width or y + h > height:
                raise ValueError(f"crop box {box} lies outside the {width}×{height} frame")
            horizontal, vertical = _axis_matrix(width, size, crop=(x, w)), _axis_matrix(height, size, crop=(y, h))
        else:
            w, h, x, y = box
            if x < 0 or y < 0 or x + size > w or y + size > h:
                raise ValueError(f"crop box at ({x}, {y}) lies outside the scaled {w}×{h} frame")
            horizontal, vertical = _axis_matrix(width, size, scaled=(w, x)), _axis_matrix(height, size, scaled=(h, y))
        sources = pixel_map(size, parameters.flip, parameters.angle).astype(np.int64)
        sources[sources < 0] = size * size
        table = value_table(parameters.brightness)
    return _pieces(horizontal), _pieces(vertical), sources, table


def _combine(products: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """Adds the three pieces' exact integer products along `dim`, rounds and clips to 0…255 as PIL's `clip8`."""
    high, middle, low = products.to(torch.int32).split(size, dim=dim)
    return ((high * 65536 + middle * 256 + low + _HALF) >> _PRECISION_BITS).clamp_(0, 255)


def apply_geometry(frames: torch.Tensor, horizontal: torch.Tensor, vertical: torch.Tensor, maps: torch.Tensor,
                   tables: torch.Tensor) -> torch.Tensor:
    """The batched device transform: `frames` (B, T, H, W, 3) uint8 with the per-clip `clip_geometry` outputs
    stacked on a leading B axis, all on one device; returns (B, T, 3, S, S) float32 in [0, 1]. (The two resize
    passes also give non-square outputs: width and height are the pieces' column counts / 3, each map then has
    one entry per output pixel.)"""
    batch, length, height, width, _ = frames.shape
    out_width, out_height = horizontal.shape[2] // 3, vertical.shape[2] // 3
    planes = frames.permute(0, 1, 4, 2, 3).to(torch.float32).reshape(batch, length * 3 * height, width)
    rows = _combine(torch.bmm(planes, horizontal.to(torch.float32)), 2, out_width)
    rows = rows.to(torch.float32).reshape(batch, length * 3, height, out_width)
    resized = _combine(torch.matmul(vertical.to(torch.float32).transpose(1, 2).unsqueeze(1), rows), 2, out_height)
    pixels = out_height * out_width
    resized = resized.reshape(batch, length * 3, pixels)
    padded = torch.cat([resized, resized.new_zeros(batch, length * 3, 1)], dim=2)
    moved = torch.gather(padded, 2, maps.unsqueeze(1).expand(batch, length * 3, pixels))
    values = torch.gather(tables.unsqueeze(1).expand(batch, length * 3, 256), 2, moved.to(torch.int64))
    return values.reshape(batch, length, 3, out_height, out_width)


def transform_clips(frames: torch.Tensor, parameters: "list[AugmentationParameters | None]", size: int) -> torch.Tensor:
    """Transforms uint8 clips (B, T, H, W, 3) on their device, clip b with `parameters[b]` (None: the test
    transform), into (B, T, 3, S, S) float32, exactly as Swift's `FrameTransform`."""
    height, width = frames.shape[2], frames.shape[3]
    pieces = [clip_geometry(p, width, height, size) for p in parameters]
    stacked = [torch.from_numpy(np.stack([piece[i] for piece in pieces])).to(frames.device) for i in range(4)]
    return apply_geometry(frames, *stacked)


# ---------------------------------------------------------------------------------------------------------------
# Loaders


class ClipLoader:
    """One split of a fold as Swift's `ClipLoader` over a packed cache sees it: the clips in use, the batch plan and
    each clip's frame indices and augmentation parameters; `host_batch` reads and prepares a batch on the host."""

    def __init__(self, cache: PackedCache, clips: "list[dict]", mode: str, sampler: ClipSampler, size: int,
                 batch_size: int, seed: int):
        self.cache = cache
        self.clips = [clip for clip in clips if sampler.accepts(clip["frameCount"])]
        self.dropped = [clip for clip in clips if not sampler.accepts(clip["frameCount"])]
        self.mode = mode
        self.sampler = sampler
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.augmentation = ClipAugmentation(size) if mode == "train" else None
        # The label of each clip in use, by its place; SCN's relabelling (relabel.py) replaces some in training.
        self.labels = [clip["label"] for clip in self.clips]

    @property
    def shuffled(self) -> bool:
        """Training shuffles the clips every epoch and drops the last incomplete batch; testing does neither."""
        return self.mode == "train"

    @property
    def batch_count(self) -> int:
        """Batches per epoch."""
        if self.shuffled:
            return len(self.clips) // self.batch_size
        return (len(self.clips) + self.batch_size - 1) // self.batch_size

    def batch_plan(self, epoch: int) -> "list[list[int]]":
        """The clip positions of each batch of `epoch` (Swift's `batchPlan(epoch:)`)."""
        order = list(range(len(self.clips)))
        if self.shuffled:
            order = rng.generator(self.seed, rng.PURPOSE_SHUFFLE, epoch, 0).permutation(len(self.clips))
        size = self.batch_size
        return [order[b * size:(b + 1) * size] for b in range(self.batch_count)]

    def indices(self, position: int, epoch: int) -> "list[int]":
        """The frame indices of the clip at `position` in `epoch`."""
        return self.sampler.indices(self.clips[position]["frameCount"], self.mode, self.seed, epoch, position)

    def parameters(self, position: int, epoch: int) -> "AugmentationParameters | None":
        """The augmentation parameters of the clip at `position` in `epoch` (None in testing)."""
        if self.augmentation is None:
            return None
        side = self.cache.size
        return self.augmentation.parameters(side, side, self.seed, epoch, position)

    def host_batch(self, positions: "list[int]", epoch: int, pin: bool) -> "tuple[torch.Tensor, ...]":
        """The batch of the clips at `positions` on the host, ready for `apply_geometry`: frames (B, T, S₀, S₀, 3)
        uint8, the geometry of `clip_geometry` stacked, and the labels; in pinned memory when `pin`."""
        count, length, side, size = len(positions), self.sampler.length, self.cache.size, self.size

        def empty(shape, dtype):
            return torch.empty(shape, dtype=dtype, pin_memory=pin)

        frames = empty((count, length, side, side, 3), torch.uint8)
        horizontal, vertical = empty((count, side, 3 * size), torch.uint8), empty((count, side, 3 * size), torch.uint8)
        maps, tables = empty((count, size * size), torch.int64), empty((count, 256), torch.float32)
        labels = empty((count,), torch.int64)
        views = [tensor.numpy() for tensor in (frames, horizontal, vertical, maps, tables, labels)]
        for i, position in enumerate(positions):
            clip = self.clips[position]
            np.take(self.cache.frames(clip), self.indices(position, epoch), axis=0, out=views[0][i], mode="clip")
            geometry = clip_geometry(self.parameters(position, epoch), side, side, size)
            for view, value in zip(views[1:5], geometry):
                view[i] = value
            views[5][i] = self.labels[position]
        return frames, horizontal, vertical, maps, tables, labels


def _setting(settings: dict, *path: str):
    value = settings
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise ValueError(f"settings.{'.'.join(path)} is missing")
        value = value[key]
    return value


class FoldData:
    """The training and test batches of one fold from a packed cache, as Swift's `FoldBatches` builds them for a
    trial: T = model.frames from T / V segments of V = `framesPerSegment` (missing: 1) consecutive frames,
    S = model.imageSize, batches of `batchSize`, `seed` for every random choice. With
    `world_size` k > 1, rank r takes places r, r + k, … of every global batch (Swift's `ClipShard`); a rank may get
    an empty part of the last test batch and then receives a batch of 0 clips, which the caller skips.

    Batches are produced `prefetch` ahead by a background thread: frames from the memory map into pinned memory,
    copied to the device on a side stream (CUDA) and transformed there. `data_wait_seconds` is the time the consumer
    has waited for batches since the last `train_batches` call began."""

    def __init__(self, cache_dir: str, fold: int, settings: dict, reference_quirks: bool = False,
                 device: torch.device = torch.device("cpu"), rank: int = 0, world_size: int = 1, prefetch: int = 4):
        frames, size = _setting(settings, "model", "frames"), _setting(settings, "model", "imageSize")
        batch_size, seed = _setting(settings, "batchSize"), _setting(settings, "seed")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} of {world_size} does not exist")
        if batch_size % world_size != 0:
            raise DataError("<batch size>",
                            f"a batch of {batch_size} clips cannot be split evenly over {world_size} workers",
                            f"use a batch size that is a multiple of {world_size}")
        self.cache = PackedCache(cache_dir)
        self.cache.verify_dataset()
        _check_folds(self.cache.layout, self.cache.data_root, [fold])
        split = self.cache.fold(fold)
        if split is None:
            raise DataError(cache_dir, f"the packed cache has no fold {fold} (it holds folds {self.cache.folds})",
                            f"re-run `{self.cache.prepare_command}`")
        sampler = sampler_for(self.cache.layout, frames, reference_quirks, settings.get("framesPerSegment") or 1)
        self.train = ClipLoader(self.cache, split[0], "train", sampler, size, batch_size, seed)
        self.test = ClipLoader(self.cache, split[1], "test", sampler, size, batch_size, seed)
        self.device = torch.device(device)
        self.rank, self.world_size, self.prefetch = rank, world_size, max(1, prefetch)
        self.train_batch_count = self.train.batch_count
        self.test_batch_count = self.test.batch_count
        self.data_wait_seconds = 0.0
        self._cuda = self.device.type == "cuda"
        self._stream = torch.cuda.Stream(self.device) if self._cuda else None

    def plan(self, epoch: int) -> "list[list[int]]":
        """The global training batch plan of `epoch` (Swift's `batchPlan(epoch:)`), clip positions per batch."""
        return self.train.batch_plan(epoch)

    def train_batches(self, epoch: int):
        """This rank's training batches of `epoch` (0-based) as (clips, labels) on the device: clips float32
        (b, T, 3, S, S) in [0, 1], labels int64 (b,)."""
        self.data_wait_seconds = 0.0
        return self._batches(self.train, epoch)

    def test_batches(self):
        """This rank's test batches, in order, unaugmented, the last one possibly smaller."""
        return self._batches(self.test, 0)

    def _batches(self, loader: ClipLoader, epoch: int):
        plan = [positions[self.rank::self.world_size] for positions in loader.batch_plan(epoch)]
        items: "queue.Queue" = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        producer = threading.Thread(target=self._produce, args=(loader, plan, epoch, items, stop),
                                    name="ferd_torch.data", daemon=True)
        producer.start()
        try:
            for _ in plan:
                started = time.monotonic()
                item = items.get()
                self.data_wait_seconds += time.monotonic() - started
                if isinstance(item, BaseException):
                    raise item
                clips, labels, ready = item
                if ready is not None:
                    current = torch.cuda.current_stream(self.device)
                    current.wait_event(ready)
                    clips.record_stream(current)
                    labels.record_stream(current)
                yield clips, labels
        finally:
            stop.set()
            producer.join()

    def _produce(self, loader: ClipLoader, plan, epoch: int, items: "queue.Queue", stop: threading.Event) -> None:
        """The background thread: builds each batch of `plan` on the device and queues it (or the error)."""
        def put(item) -> bool:
            while not stop.is_set():
                try:
                    items.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    pass
            return False

        try:
            for positions in plan:
                if stop.is_set() or not put(self._device_batch(loader, positions, epoch)):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            put(error)

    def _device_batch(self, loader: ClipLoader, positions: "list[int]", epoch: int):
        size, length = loader.size, loader.sampler.length
        if not positions:
            return (torch.zeros((0, length, 3, size, size), device=self.device),
                    torch.zeros((0,), dtype=torch.int64, device=self.device), None)
        host = loader.host_batch(positions, epoch, pin=self._cuda)
        if not self._cuda:
            return apply_geometry(*host[:5]), host[5], None
        with torch.cuda.device(self.device), torch.cuda.stream(self._stream):
            frames, horizontal, vertical, maps, tables, labels = (
                tensor.to(self.device, non_blocking=True) for tensor in host)
            clips = apply_geometry(frames, horizontal, vertical, maps, tables)
            ready = torch.cuda.Event()
            ready.record(self._stream)
        return clips, labels, ready


# ---------------------------------------------------------------------------------------------------------------
# python3 -m ferd_torch.data dump: what the loader produces, for Tests/FerdRuntimeTests/LoaderParityTests.swift


def _double_bits(value: float) -> str:
    return "%016x" % struct.unpack("<Q", struct.pack("<d", value))[0]


def _describe(parameters: AugmentationParameters) -> dict:
    return {"crop": list(parameters.crop), "flip": parameters.flip,
            "brightness_bits": int(np.float32(parameters.brightness).view(np.uint32)),
            "angle_bits": _double_bits(parameters.angle)}


def dump(cache: str, fold: int, settings: dict, epochs: "list[int]", out: str, reference_quirks: bool = False,
         rank: int = 0, world_size: int = 1) -> None:
    """Writes `out/loader.json` (clip ids, labels, this rank's batch plans, every clip's frame indices and
    augmentation parameters per epoch) and `out/batches.npy` (this rank's training batches of each epoch in
    `epochs`, then its test batches, concatenated along the clip axis)."""
    data = FoldData(cache, fold, settings, reference_quirks, rank=rank, world_size=world_size)
    pixels = []
    description = {"train": {"clips": [clip["id"] for clip in data.train.clips], "epochs": []},
                   "test": {"clips": [clip["id"] for clip in data.test.clips]}}
    for epoch in epochs:
        labels = []
        for clips, batch_labels in data.train_batches(epoch):
            labels.append(batch_labels.tolist())
            pixels.append(clips.cpu().numpy())
        plan = [positions[rank::world_size] for positions in data.train.batch_plan(epoch)]
        description["train"]["epochs"].append({
            "epoch": epoch, "plan": plan, "labels": labels,
            "indices": [data.train.indices(p, epoch) for p in range(len(data.train.clips))],
            "parameters": [_describe(data.train.parameters(p, epoch)) for p in range(len(data.train.clips))]})
    labels = []
    for clips, batch_labels in data.test_batches():
        labels.append(batch_labels.tolist())
        pixels.append(clips.cpu().numpy())
    plan = [positions[rank::world_size] for positions in data.test.batch_plan(0)]
    description["test"].update({"plan": plan, "labels": labels,
                                "indices": [data.test.indices(p, 0) for p in range(len(data.test.clips))]})
    os.makedirs(out, exist_ok=True)
    np.save(out + "/batches.npy", np.concatenate(pixels, axis=0))
    with open(out + "/loader.json", "w") as file:
        json.dump(description, file)


def main(arguments: "list[str] | None" = None) -> int:
    """`python3 -m ferd_torch.data dump --cache DIR --fold K --settings-json FILE --epochs 0,1 --out DIR`."""
    parser = argparse.ArgumentParser(prog="python3 -m ferd_torch.data",
                                     description="ferd's torch data pipeline: dump what the loader produces")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("dump", help="write the loader's plans, indices, parameters and pixels")
    command.add_argument("--cache", required=True, help="a folder written by `ferd prepare`")
    command.add_argument("--fold", type=int, required=True)
    command.add_argument("--settings-json", required=True, help="a file with ferd's TrainingSettings JSON")
    command.add_argument("--epochs", default="0", help="comma-separated 0-based epochs (default 0)")
    command.add_argument("--out", required=True, help="the folder for loader.json and batches.npy")
    command.add_argument("--reference-quirks", action="store_true")
    command.add_argument("--rank", type=int, default=0)
    command.add_argument("--world-size", type=int, default=1)
    options = parser.parse_args(arguments)
    with open(options.settings_json) as file:
        settings = json.load(file)
    try:
        dump(options.cache, options.fold, settings, [int(e) for e in options.epochs.split(",")], options.out,
             options.reference_quirks, options.rank, options.world_size)
    except DataError as error:
        parser.exit(1, f"ferd_torch.data: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
