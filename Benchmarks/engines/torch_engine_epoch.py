"""One epoch of the torch engine on CPU as a torch worker runs it (the trial spec on stdin, events on stdout),
with the settings `ferd train` used; prints one JSON line: epoch and training seconds, steps, data wait.

    python3 torch_engine_epoch.py --python PY --settings RUN/settings.json --cache CACHE --threads N --run DIR
"""

import argparse
import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def main():
    """Runs the engine and prints its epoch figures."""
    parser = argparse.ArgumentParser()
    for name in ("--python", "--settings", "--cache", "--run"):
        parser.add_argument(name, required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    settings = json.load(open(args.settings))
    os.makedirs(args.run, exist_ok=True)
    spec = {"contract": 1, "trial": {"id": 1, "attempt": 1, "fold": 1, "parameters": {}}, "settings": settings,
            "data": {"cache": os.path.abspath(args.cache), "root": "", "reference_quirks": False},
            "run_dir": os.path.abspath(args.run), "resume_from": None, "init_from": None, "device": "cpu",
            "options": {"precision": "fp32", "channels_last": False, "cudnn_benchmark": False, "compile": False,
                        "threads": args.threads, "prefetch": 4},
            "distributed": None, "progress_seconds": 10}
    with open(os.path.join(args.run, "engine.log"), "w") as log:
        done = subprocess.run([args.python, "-m", "ferd_torch"], input=json.dumps(spec), capture_output=False,
                              stdout=subprocess.PIPE, stderr=log, text=True,
                              env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "Engines", "torch")))
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    started = next(event for event in events if event["event"] == "started")
    epoch = next((event for event in events if event["event"] == "epoch"), None)
    if done.returncode != 0 or epoch is None:
        raise SystemExit(f"the engine failed ({done.returncode}): {events[-1:]}; see {args.run}/engine.log")
    model = settings["model"]
    preset = "paper" if model["imageSize"] == 112 and model["widths"][1] == 64 else "small"
    print(json.dumps({"engine": "torch", "torch": started.get("torch"), "preset": preset,
                      "epoch_seconds": epoch["seconds"], "train_seconds": epoch.get("train_seconds"),
                      "steps": epoch.get("steps"), "data_wait_seconds": epoch.get("data_wait_seconds")}))


if __name__ == "__main__":
    main()
