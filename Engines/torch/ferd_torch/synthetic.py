"""A synthetic packed cache for the engine's tests and for benchmarking on a box without Swift.

    python3 -m ferd_torch.synthetic --out DIR --clips 11750 --frames 16 --size 112

writes DIR/data (DFEW's re-organised layout: `label/single_{train,test}set_1.csv` and one placeholder file per
frame under `data/<id>/`) and DIR/cache, a packed cache of those clips in ferd's format (`index.json`,
`frames.rgb`) whose digest matches the placeholders, so the engine opens it exactly as it opens a cache made by
`ferd prepare`. The pixels are cheap patterns (a per-clip gradient that drifts from frame to frame), not faces:
this cache measures speed, not learning. Fold 1 only, 80 % train / 20 % test.
"""

import argparse
import json
import os
import time

import numpy as np

from . import data


def write_dataset(root, clips, frames):
    """The re-organised layout with empty frame files; returns the clip ids and labels."""
    os.makedirs(root + "/label", exist_ok=True)
    ids = [f"{number:05d}" for number in range(1, clips + 1)]
    labels = [number % 7 for number in range(clips)]
    for clip_id in ids:
        folder = f"{root}/data/{clip_id}"
        os.makedirs(folder, exist_ok=True)
        for frame in range(1, frames + 1):
            open(f"{folder}/{clip_id}_{frame:05d}.jpg", "wb").close()
    test = set(range(0, clips, 5))
    for kind, members in (("train", [i for i in range(clips) if i not in test]), ("test", sorted(test))):
        with open(f"{root}/label/single_{kind}set_1.csv", "w") as file:
            file.write("video_name,label\n")
            file.writelines(f"{i + 1},{labels[i] + 1}\n" for i in members)
    return ids, labels


def write_cache(root, cache, size, frames):
    """The packed cache of the dataset at `root`, in the format and with the digest `ferd prepare` writes."""
    folds = data._load_dataset(root, "reorganised", None, False, [1])
    clips = data._distinct_clips(folds)
    os.makedirs(cache, exist_ok=True)
    frame_bytes = size * size * 3
    ramp = np.add.outer(np.arange(size), np.arange(size)).astype(np.uint16)
    entries = []
    with open(cache + "/frames.rgb.partial", "wb") as file:
        for number, clip in enumerate(clips):
            base = (ramp + 37 * number % 256) % 256
            pixels = np.stack([(base + 3 * f + channel * 85) % 256 for f in range(frames) for channel in range(3)])
            file.write(pixels.reshape(frames, 3, size, size).transpose(0, 2, 3, 1).astype(np.uint8).tobytes())
            entries.append({"id": clip.id, "directory": data._relative_path(clip.directory, root), "label": clip.label,
                            "frameCount": frames, "offset": number * frames * frame_bytes,
                            "trainFolds": clip.train_folds, "testFolds": clip.test_folds,
                            "frameNames": "\n".join(path.rsplit("/", 1)[-1] for path in clip.frames)})
    os.replace(cache + "/frames.rgb.partial", cache + "/frames.rgb")
    index = {"format": data.FORMAT_NAME, "version": data.FORMAT_VERSION, "size": size, "dataRoot": root,
             "layout": "reorganised", "skipBad": False, "folds": [1],
             "digest": data.dataset_digest(clips, root, size), "totalFrames": frames * len(clips),
             "clips": entries, "skipped": []}
    with open(cache + "/index.json", "w") as file:
        json.dump(index, file, sort_keys=True)
    return len(clips)


def main():
    """Writes the dataset and the cache and prints one JSON line with what it wrote."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--clips", type=int, default=11750)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    args = parser.parse_args()
    root, cache = os.path.abspath(args.out + "/data"), os.path.abspath(args.out + "/cache")
    started = time.monotonic()
    write_dataset(root, args.clips, args.frames)
    count = write_cache(root, cache, args.size, args.frames)
    print(json.dumps({"clips": count, "frames": args.frames, "size": args.size, "cache": cache,
                      "seconds": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
