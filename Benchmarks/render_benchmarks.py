"""Render Benchmarks/out/results.jsonl (written by run-benchmarks.sh) as docs/BENCHMARKS.md."""

import argparse
import datetime
import json
import platform
import subprocess


def machine():
    """CPU model, cores and memory of this machine."""
    model = "unknown CPU"
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return f"{model}, {cores} cores, {mem_kib / 1024 / 1024:.0f} GiB, {platform.system()} {platform.release()}"


ORDER = ["stem", "layer1", "layer2 (GCA)", "layer3 (GCA)", "DSF dynamic (layer4)",
         "DSF static (patch embedding + transformer)", "temporal transformer + classifier", "loss", "optimizer"]


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--command", default="make bench (Benchmarks/run-benchmarks.sh)")
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.results) if line.strip()]
    sgemm = next(r for r in rows if r.get("benchmark") == "sgemm")
    peak = sgemm["gflops_peak"]
    # Runs of each engine per (preset, batch), in round order; the engines are ferd and each torch version.
    runs = {}
    for r in rows:
        if r.get("mode", "train") != "train" or r.get("framework") not in ("ferd", "pytorch"):
            continue
        engine = "ferd" if r["framework"] == "ferd" else r["torch_version"]
        runs.setdefault((r["preset"], r["batch"]), {}).setdefault(engine, []).append(r)
    torches = sorted({e for by in runs.values() for e in by if e != "ferd"}, key=lambda v: [int(x) for x in v.split("+")[0].split(".")[:2] if x.isdigit()])

    print("# Benchmarks\n")
    print(f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"- Machine: {machine()}")
    print(f"- Command: `{args.command}` (THREADS={args.threads}, ROUNDS={args.rounds}); "
          f"PyTorch {' and '.join(torches) if torches else 'absent'} (Debian's python3-torch and the CPU wheel from PyPI "
          "in .build/venv-torch), same run")
    print("- Every figure comes from one run of the script. The training steps run round by round, each configuration "
          "in ferd and then in each PyTorch, so that load on the shared machine hits all three alike; a ratio is taken "
          "within each round (ferd's median step over PyTorch's) and the table shows the rounds' ratios and their median. "
          "Absolute times vary between runs.")
    print("- The same script also writes [CLUSTER-BENCHMARKS.md](CLUSTER-BENCHMARKS.md) (the coordinator with "
          "simulated workers), [COLLECTIVE-BENCHMARKS.md](COLLECTIVE-BENCHMARKS.md) (gradient exchange of "
          "data-parallel gangs, measured and projected scaling, and the cost of CURVE encryption) and "
          "[ENGINE-BENCHMARKS.md](ENGINE-BENCHMARKS.md) (the Swift and PyTorch engines on CPU), each with its own date, "
          "machine and command; [GPU-BENCHMARKS.md](GPU-BENCHMARKS.md) comes from `Benchmarks/gpu/run.sh` on a GPU box. "
          "Early stopping measured against a full sweep (`Benchmarks/sweeps/run.sh`) is in [SWEEPS.md](SWEEPS.md#measured), "
          "and the demo's time and scores in [DEMO.md](DEMO.md#measured); both give their date, machine and command.")
    print("- Every method (GCA+IAL, SCN, RAN, Former-DFER, STT): one training step in the Swift engine and in PyTorch, "
          "[METHOD-BENCHMARKS.md](METHOD-BENCHMARKS.md) (`Benchmarks/methods/run.sh`, its own date, machine and command); "
          "at each method's paper batch, on 2 cores and on a 16-core box beside PyTorch on its CPU and on an H200, "
          "[METHOD-BENCHMARKS-PAPER.md](METHOD-BENCHMARKS-PAPER.md) (`BATCHES=paper`).\n")
    print(f"OpenBLAS `sgemm` peak ({sgemm['size']}² matrices, {sgemm['threads']} threads): "
          f"**{peak:.1f} GFLOP/s** (median {sgemm['gflops_median']:.1f}).\n")
    render_steps(runs, torches, peak)
    for (preset, batch), by in runs.items():
        render_sections(preset, batch, by, torches)
    conv = next((r for r in rows if r.get("benchmark") == "conv-layers"), None)
    if conv:
        render_conv(conv, peak)
    loader = next((r for r in rows if r.get("benchmark") == "loader"), None)
    if loader:
        render_loader(loader)
    ablation = [r for r in rows if r.get("benchmark") == "ablation"]
    if ablation:
        render_ablation(ablation)


def render_steps(runs, torches, peak):
    """The step-time table (ferd and each torch, with the per-round ratios) and ferd's throughput table."""
    print("## Training step (forward + backward + SGD update)\n")
    head = " | ".join(f"PyTorch {t} ms/step" for t in torches)
    ratios = " | ".join(f"ferd ÷ PyTorch {t.split('+')[0]}" for t in torches)
    print(f"| preset | batch | ferd ms/step | {head} | {ratios} |")
    print("|---|---|---|" + "---|" * (2 * len(torches)))
    for (preset, batch), by in runs.items():
        ferd = by["ferd"]
        cells = [f"{preset}", f"{batch}", ", ".join(f"{r['ms_per_step_median']:.0f}" for r in ferd)]
        for t in torches:
            cells.append(", ".join(f"{r['ms_per_step_median']:.0f}" for r in by.get(t, [])) or "–")
        for t in torches:
            pairs = [f["ms_per_step_median"] / r["ms_per_step_median"] for f, r in zip(ferd, by.get(t, []))]
            cells.append(f"**{median(pairs):.2f}** ({', '.join(f'{x:.2f}' for x in pairs)})" if pairs else "–")
        print("| " + " | ".join(cells) + " |")
    print("\nEach time is the median of the run's timed steps, one per round, in round order; a ratio below 1 means "
          "ferd is faster. Frames: paper 16 × 112×112, small 8 × 56×56 per clip (the presets' T and S).\n")
    print("| preset | batch | model GFLOP/step (counted) | ferd GFLOP/s | % of sgemm peak | conv layers GFLOP/s "
          "| conv % of peak | ferd CPU ms/step | ferd max RSS MiB | " + " | ".join(f"PyTorch {t} max RSS MiB" for t in torches) + " |")
    print("|---|---|---|---|---|---|---|---|---|" + "---|" * len(torches))
    for (preset, batch), by in runs.items():
        r = by["ferd"][-1]
        rss = [f"{max(x['max_rss_mib'] for x in by[t]):.0f}" if t in by else "–" for t in torches]
        print(f"| {preset} | {batch} | {r['gflop_per_step']:.2f} | {r['gflops_achieved']:.1f} | "
              f"{100 * r['gflops_achieved'] / peak:.0f}% | {r['conv_gflops']:.1f} | {100 * r['conv_gflops'] / peak:.0f}% | "
              f"{r.get('cpu_ms_per_step', float('nan')):.0f} | {max(x['max_rss_mib'] for x in by['ferd']):.0f} | "
              + " | ".join(rss) + " |")
    print("\nGFLOP/step counts the direct convolution's and every other GEMM's FLOPs (2·m·n·k), forward and backward, "
          "from the last round; element-wise work is not counted. The Winograd convolutions do 2.25× fewer "
          "multiplications than they are credited with, so their GFLOP/s are effective rates and can exceed the "
          "sgemm peak.\n")


def render_sections(preset, batch, by, torches):
    """Forward and backward ms per section for ferd and each torch (the last round's profiled step)."""
    ferd = by["ferd"][-1]
    torch = {t: {s["section"]: s for s in by[t][-1].get("sections", [])} for t in torches if t in by}
    print(f"## Where the time goes: {preset} preset, batch {batch} (one profiled step each, last round)\n")
    head = " | ".join(f"PyTorch {t.split('+')[0]} forward | PyTorch {t.split('+')[0]} backward" for t in torch)
    print(f"| section | ferd forward ms | ferd backward ms | {head} | GFLOP | ferd conv GFLOP/s |")
    print("|---|---|---|" + "---|---|" * len(torch) + "---|---|")
    sections = sorted(ferd["sections"], key=lambda s: ORDER.index(s["section"]) if s["section"] in ORDER else 99)
    for s in sections:
        cells = [s["section"], f"{s['forward_ms']:.1f}", f"{s['backward_ms']:.1f}"]
        for t in torch:
            ts = torch[t].get(s["section"])
            cells += [f"{ts['forward_ms']:.1f}", f"{ts['backward_ms']:.1f}"] if ts else ["–", "–"]
        cells += [f"{s['gflop']:.2f}", f"{s['conv_gflops_per_s']:.1f}" if s["conv_gflops_per_s"] else "–"]
        print("| " + " | ".join(cells) + " |")
    print("\nferd times its sections with its profiler (Profiler.section; the backward of an operation is charged "
          "to the section that recorded it). PyTorch's come from `torch_train_step.py --sections`: module hooks "
          "time each section's forward, and gradient hooks on the section's output and input time its backward "
          "(from the moment autograd has the output's gradient to the moment it has the input's). The small "
          "element-wise glue between sections is in no section in either engine.\n")


def render_conv(r, peak):
    """The paper model's 3×3 convolutions one by one."""
    print(f"## The paper model's 3×3 convolutions, batch 2 ({r['threads']} threads)\n")
    print("| layer | frames × C_in × side → C_out, stride | kernel | forward ms | forward GFLOP/s | % of peak "
          "| backward ms | backward GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|---|---|---|")
    for l in r["layers"]:
        print(f"| {l['layer']} | {l['frames']} × {l['in']} × {l['side']}² → {l['out']}, /{l['stride']} | {l['kernel']} | "
              f"{l['forward_ms']:.1f} | {l['forward_gflops']:.1f} | {100 * l['forward_gflops'] / peak:.0f}% | "
              f"{l['backward_ms']:.1f} | {l['backward_gflops']:.1f} | {100 * l['backward_gflops'] / peak:.0f}% |")
    print("\nEach layer alone on random data with the kernel the model uses (`FerdBench conv-layers`, median of 3): "
          "GFLOP/s are the direct convolution's FLOPs (2 · outputs · C_in · 9 per pass; the backward does two passes, "
          "input and weight gradients, except the stem's first convolution, whose input needs none) over the time. "
          "The backward time includes the backward of the product with a fixed projection (one element-wise pass).\n")


def render_loader(r):
    """Loader clips/s against the small preset's training step."""
    step = r["train_clips_per_s"]
    print(f"## Data loader vs. training step (small preset, T={r['frames']}, S={r['size']}, batch {r['batch']})\n")
    print(f"Training mode with augmentation (crop, flip, brightness, rotation), {r['threads']} loader workers, "
          f"the {r['train_clips']} training clips of fold 1 of a balanced synthetic set "
          f"({r['source_frames']} frames of {r['source_size']}×{r['source_size']} JPEGs per clip), one epoch after "
          f"a warm-up batch. The train step is forward + backward + SGD of the small preset on a batch of "
          f"{r['batch']} ({r['train_step_ms']:.0f} ms/step, {r['threads']} threads).\n")
    print("| source | clips/s | × train step's consumption |")
    print("|---|---|---|")
    for name, key in (("JPEG folders (decode + resize)", "jpeg_clips_per_s"), ("packed cache (`ferd prepare`)", "cache_clips_per_s")):
        print(f"| {name} | {r[key]:.0f} | {r[key] / step:.1f}× |")
    print(f"| train step consumes | {step:.0f} | 1× |\n")
    slowest = min(r["jpeg_clips_per_s"], r["cache_clips_per_s"])
    verdict = ("No: even the slower source delivers" if slowest > step else "Yes: the slower source delivers only")
    print(f"Can the loader starve the model? {verdict} {slowest / step:.1f}× what the step consumes. Both run on the "
          "same cores during training (the loader prefetches on its own thread), so the loader's share of the CPU is "
          f"about {100 * step / r['cache_clips_per_s']:.0f}% of an epoch with the cache and "
          f"{100 * step / r['jpeg_clips_per_s']:.0f}% from JPEGs. For reference, `ferd synth` wrote "
          f"{r['synth_clips_per_s']:.0f} clips/s and `ferd prepare` packed {r['prepare_frames_per_s']:.0f} frames/s "
          "in this run (small set, so fixed costs weigh in).\n")


def render_ablation(runs):
    """Epoch time on the synthetic set and the λ ablation table."""
    first = runs[0]
    epochs = len(first["epochs"])
    print(f"## Small preset on {first['clips']:,} synthetic clips: epoch time and λ ablation\n")
    print(f"`ferd synth --clips {first['clips']} --size 64 --balanced` ({first['synth_seconds']:.1f} s), "
          f"`ferd prepare --size 56` ({first['prepare_seconds']:.1f} s), then `ferd train --preset small --fold 1 "
          f"--epochs {epochs} --batch 8 --lr 0.01 --lambda λ` (packed cache, step schedule ×0.5 every 7 epochs). "
          f"Fold 1: {first['clips'] - first['test_clips']} training and {first['test_clips']} test clips. "
          f"N = {epochs} epochs per run to keep `make bench` under about 15 minutes; fold 1 only (all 5 folds would "
          "take 5× as long). An epoch's time includes evaluating the test set.\n")
    print("| λ | mean s/epoch (train + test) | UAR after N | WAR after N | best UAR (epoch) | best WAR (epoch) | final train loss |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        e = r["epochs"]
        last = e[-1]
        bu = max(e, key=lambda x: x["uar"])
        bw = max(e, key=lambda x: x["war"])
        mean = sum(x["seconds"] for x in e) / len(e)
        print(f"| {r['lambda']:g} | {mean:.1f} | {100 * last['uar']:.1f}% | {100 * last['war']:.1f}% | "
              f"{100 * bu['uar']:.1f}% ({bu['epoch']}) | {100 * bw['war']:.1f}% ({bw['epoch']}) | {last['train_loss']:.3f} |")
    print("\nUAR per epoch:\n")
    print("| λ | " + " | ".join(str(x["epoch"]) for x in first["epochs"]) + " |")
    print("|---|" + "---|" * epochs)
    for r in runs:
        print(f"| {r['lambda']:g} | " + " | ".join(f"{100 * x['uar']:.1f}" for x in r["epochs"]) + " |")
    n = first["test_clips"]
    print(f"\nOne run per λ on one fold with a fixed seed (seed 0). With {n} test clips the binomial standard error "
          f"of an accuracy near 45% is about {100 * (0.45 * 0.55 / n) ** 0.5:.1f} points, so differences of a few "
          "points between the rows are not significant: the table shows that both settings learn the synthetic "
          "classes (chance is 14.3%, 7 balanced classes), not that one is better. Epoch times vary with the load "
          "on the shared machine.\n")


if __name__ == "__main__":
    main()
