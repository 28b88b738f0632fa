"""The torch engine on a GPU box: two paper-preset DFEW-size epochs in fp32 and bf16, the loader on its own, and a
2-GPU data-parallel epoch when two GPUs are visible; writes docs/GPU-BENCHMARKS.md. Run by Benchmarks/gpu/run.sh.

Everything goes through the engine as a worker runs it (`python -m ferd_torch` with a trial spec on stdin, events
on stdout), on a synthetic cache the size of DFEW's fold 1 (`ferd_torch.synthetic`). GPU busy is what
`nvidia-smi` reports (sampled every 0.2 s during the epoch's training); data wait is the time the training loop
waited for batches, as the engine reports it.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import threading
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Engines", "torch"))
from ferd_torch.data import FoldData  # noqa: E402

CLIPS = 11750  # about DFEW's size (11,697 clips); fold 1 trains on 80% of them
PAPER = {"frames": 16, "imageSize": 112, "widths": [64, 64, 128, 256, 256], "reduction": 16, "attention": "gca",
         "classes": 7, "spatialTransformer": {"depth": 2, "heads": 4, "headDimension": 32, "hiddenDimension": 256},
         "temporalTransformer": {"depth": 2, "heads": 4, "headDimension": 32, "hiddenDimension": 512}}
SMALL = {"frames": 8, "imageSize": 56, "widths": [16, 16, 32, 64, 64], "reduction": 16, "attention": "gca",
         "classes": 7, "spatialTransformer": {"depth": 2, "heads": 2, "headDimension": 16, "hiddenDimension": 64},
         "temporalTransformer": {"depth": 2, "heads": 2, "headDimension": 16, "hiddenDimension": 128}}


def settings(model, batch):
    """The reference training settings (SGD 1e-3, momentum 0.9, weight decay 0.1, step schedule), two epochs: the
    first carries the start-up (CUDA context, lazily loaded kernels, cuDNN's autotuning of each new shape), the second
    is the steady state."""
    return {"model": model, "epochs": 2, "batchSize": batch, "learningRate": 0.001, "momentum": 0.9,
            "weightDecay": 0.1, "schedule": {"step": {"every": 7, "factor": 0.5}},
            "loss": {"intensityAware": 0.1, "auxiliary": [0.05, 0]}, "bestBy": "war", "seed": 1}


class GPUSampler:
    """Samples `nvidia-smi` utilisation in the background; `mean()` is the average over the samples taken."""

    def __init__(self):
        self.samples, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                text = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                      capture_output=True, text=True, timeout=5).stdout
                self.samples.append([float(value) for value in text.split()])
            except (OSError, ValueError, subprocess.TimeoutExpired):
                return
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def mean(self):
        """Mean utilisation (%) per GPU, or None without nvidia-smi."""
        if not self.samples:
            return None
        return [sum(column) / len(column) for column in zip(*self.samples)]


def run_engine(spec, work, environment=None, ranks=1):
    """Runs the engine (`ranks` processes for a data-parallel spec) and returns rank 0's events."""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "Engines", "torch"), **(environment or {}))
    processes = []
    for rank in range(ranks):
        rank_spec = dict(spec, run_dir=os.path.join(work, f"rank-{rank}"))
        os.makedirs(rank_spec["run_dir"], exist_ok=True)
        if ranks > 1:
            rank_spec["distributed"] = dict(spec["distributed"], rank=rank)
        process = subprocess.Popen([sys.executable, "-m", "ferd_torch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=open(os.path.join(rank_spec["run_dir"], "engine.log"), "w"), env=env, text=True)
        process.stdin.write(json.dumps(rank_spec))
        process.stdin.close()
        processes.append(process)
    events = [json.loads(line) for line in processes[0].stdout if line.strip()]
    for rank, process in enumerate(processes):
        if process.wait() != 0:
            log = open(os.path.join(work, f"rank-{rank}", "engine.log")).read()[-3000:]
            raise RuntimeError(f"the engine (rank {rank}) failed: {events[-1:]}\n{log}")
    return events


def epoch(cache, work, model, batch, device, precision, channels_last, ranks=1):
    """Two training epochs of fold 1, each with its evaluation; the second epoch's event with the first's training
    seconds (`first_train_seconds`) and the GPU utilisation over both added."""
    spec = {"contract": 1, "trial": {"id": 1, "attempt": 1, "fold": 1, "parameters": {}},
            "settings": settings(model, batch), "data": {"cache": cache, "root": "", "reference_quirks": False},
            "resume_from": None, "init_from": None, "device": device,
            "options": {"precision": precision, "channels_last": channels_last, "cudnn_benchmark": True,
                        "compile": False, "threads": 0, "prefetch": 6},
            "distributed": None, "progress_seconds": 5}
    if ranks > 1:
        spec["distributed"] = {"rank": 0, "world_size": ranks, "init_method": "tcp://127.0.0.1:29517",
                               "backend": "nccl" if device == "cuda" else "gloo"}
    with GPUSampler() as sampler:
        events = run_engine(spec, os.path.join(work, f"{precision}-{ranks}"), ranks=ranks)
    first, result = [event for event in events if event["event"] == "epoch"][:2]
    result["first_train_seconds"] = first.get("train_seconds", first["seconds"])
    result["gpu_utilisation"] = sampler.mean()
    return result


def loader_rate(cache, model, batch, device, batches):
    """Clips per second the loader delivers on its own (training batches, augmentation on the device)."""
    data = FoldData(cache, 1, settings(model, batch), device=torch.device(device), prefetch=6)
    count, started = 0, None
    for number, (clips, _) in enumerate(data.train_batches(0)):
        if number == 1:
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.monotonic()
        elif number > 1:
            count += clips.shape[0]
        if number > batches:
            break
    if device == "cuda":
        torch.cuda.synchronize()
    return count / (time.monotonic() - started)


def machine():
    """The GPUs, driver, CPU and torch of this box in words."""
    gpus = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) or "no GPU"
    try:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True).stdout.split("\n")[0]
    except OSError:
        driver = "unknown"
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return (f"{gpus} (driver {driver}); {cpu}, {os.cpu_count()} cores; torch {torch.__version__} "
            f"(CUDA {torch.version.cuda}); Python {platform.python_version()}")


def main():
    """Measures and writes the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True, help="the Markdown file to write")
    parser.add_argument("--clips", type=int, default=CLIPS, help="fold 1 trains on 80%% of them")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on CPU: checks the script, measures nothing")
    args = parser.parse_args()
    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit(f"torch {torch.__version__} sees no GPU; run this on a GPU box (or with --smoke to check the script)")
    model, size, batch = (SMALL, 56, 4) if args.smoke else (PAPER, 112, 40)
    clips = 40 if args.smoke else args.clips
    started = time.monotonic()
    made = json.loads(subprocess.run([sys.executable, "-m", "ferd_torch.synthetic", "--out", args.work,
                                      "--clips", str(clips), "--frames", "16", "--size", str(size)], check=True,
                                     capture_output=True, text=True,
                                     env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "Engines", "torch"))).stdout)
    cache, train_clips = made["cache"], clips - len(range(0, clips, 5))
    rows = []
    for precision, channels_last in (("fp32", False), ("bf16", False), ("bf16", True)):
        if args.smoke and precision == "bf16" and channels_last:
            continue
        result = epoch(cache, args.work, model, batch, device, precision, channels_last)
        rows.append((precision, channels_last, result))
        print(json.dumps({"precision": precision, "channels_last": channels_last, **result}), flush=True)
    rate = loader_rate(cache, model, batch, device, batches=3 if args.smoke else 60)
    parallel = None
    if device == "cuda" and torch.cuda.device_count() >= 2:
        parallel = epoch(cache, args.work, model, batch, device, "bf16", False, ranks=2)
    command = "Benchmarks/gpu/run.sh" + (f" --clips {args.clips}" if args.clips != CLIPS else "") + \
        (" --smoke" if args.smoke else "")
    lines = ["# GPU benchmarks: the torch engine", "",
             f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- Machine: {machine()}",
             f"- Command: `{command}` ({time.monotonic() - started:.0f} s in all)",
             f"- Data: synthetic packed cache, {made['clips']} clips × 16 frames at {size}², fold 1: {train_clips} "
             f"training clips; {'small' if args.smoke else 'paper'} preset, batch {batch}, SGD as the reference code.",
             "- Target (issue 12): a paper-preset epoch of ~9,400 clips in ≤ 10 s with bf16; the loader ≥ 2× what "
             "the step consumes.", "",
             "| precision | channels_last | epoch 1 train s (start-up included) | epoch 2 train s | clips/s (epoch 2) "
             "| ms/step (epoch 2) | epoch 2 s (train + test) | data wait s (epoch 2) | GPU busy (nvidia-smi, both) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for precision, channels_last, result in rows:
        train_seconds = result.get("train_seconds", result["seconds"])
        busy = result["gpu_utilisation"]
        lines.append(f"| {precision} | {'yes' if channels_last else 'no'} | {result['first_train_seconds']:.1f} | "
                     f"{train_seconds:.1f} | {train_clips / train_seconds:.0f} | "
                     f"{1000 * train_seconds / result['steps']:.0f} | {result['seconds']:.1f} | "
                     f"{result.get('data_wait_seconds', float('nan')):.2f} | "
                     f"{'–' if busy is None else ', '.join(f'{value:.0f}%' for value in busy)} |")
    fastest = min(result.get("train_seconds", result["seconds"]) for _, _, result in rows)
    lines += ["", f"Loader alone (training batches, augmentation on the device): **{rate:.0f} clips/s**, "
              f"{rate / (train_clips / fastest):.1f}× what the fastest step above consumes."]
    if parallel is not None:
        seconds = parallel.get("train_seconds", parallel["seconds"])
        lines += ["", f"2 GPUs, one trial (torch.distributed, NCCL, bf16): {seconds:.1f} s for epoch 2's training, "
                      f"{train_clips / seconds:.0f} clips/s."]
    else:
        lines += ["", "Fewer than 2 GPUs visible: the data-parallel epoch was not measured."]
    with open(args.out, "w") as file:
        file.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
