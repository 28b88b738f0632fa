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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--threads", type=int, required=True)
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.results) if line.strip()]
    sgemm = next(r for r in rows if r.get("benchmark") == "sgemm")
    peak = sgemm["gflops_peak"]
    ferd = {r["preset"]: r for r in rows if r.get("framework") == "ferd"}
    torch = {r["preset"]: r for r in rows if r.get("framework") == "pytorch"}

    print("# Benchmarks\n")
    print(f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"- Machine: {machine()}")
    print(f"- Command: `make bench` (Benchmarks/run-benchmarks.sh, THREADS={args.threads}); "
          f"PyTorch {next(iter(torch.values()))['torch_version'] if torch else 'absent'}, same run")
    print("- Every figure comes from one run of the script, so ratios compare like with like; "
          "the machine is shared, so absolute times vary between runs.")
    print("- The same script also writes [CLUSTER-BENCHMARKS.md](CLUSTER-BENCHMARKS.md) (the coordinator with "
          "simulated workers), [COLLECTIVE-BENCHMARKS.md](COLLECTIVE-BENCHMARKS.md) (gradient exchange of "
          "data-parallel gangs, measured and projected scaling) and [ENGINE-BENCHMARKS.md](ENGINE-BENCHMARKS.md) "
          "(the Swift and PyTorch engines on CPU), each with its own date, machine and command; "
          "[GPU-BENCHMARKS.md](GPU-BENCHMARKS.md) comes from `Benchmarks/gpu/run.sh` on a GPU box.\n")
    print(f"OpenBLAS `sgemm` peak ({sgemm['size']}² matrices, {sgemm['threads']} threads): "
          f"**{peak:.1f} GFLOP/s** (median {sgemm['gflops_median']:.1f}).\n")
    print("## Training step (forward + backward + SGD update), batch of 2 clips\n")
    print("| preset | ferd ms/step | PyTorch ms/step | ferd / PyTorch | model GFLOP/step (counted) "
          "| ferd GFLOP/s | % of sgemm peak | conv layers GFLOP/s | conv % of peak | ferd max RSS MiB | PyTorch max RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for preset, r in ferd.items():
        t = torch.get(preset, {})
        tms = t.get("ms_per_step_median")
        ratio = f"{r['ms_per_step_median'] / tms:.2f}" if tms else "–"
        print(f"| {preset} | {r['ms_per_step_median']:.0f} (min {r['ms_per_step_min']:.0f}) | "
              f"{tms:.0f} (min {t['ms_per_step_min']:.0f}) | {ratio} | {r['gflop_per_step']:.2f} | "
              f"{r['gflops_achieved']:.1f} | {100 * r['gflops_achieved'] / peak:.0f}% | "
              f"{r['conv_gflops']:.1f} | {100 * r['conv_gflops'] / peak:.0f}% | {r['max_rss_mib']:.0f} | "
              f"{t.get('max_rss_mib', float('nan')):.0f} |" if tms else
              f"| {preset} | {r['ms_per_step_median']:.0f} | – | – | {r['gflop_per_step']:.2f} | "
              f"{r['gflops_achieved']:.1f} | {100 * r['gflops_achieved'] / peak:.0f}% | {r['conv_gflops']:.1f} | "
              f"{100 * r['conv_gflops'] / peak:.0f}% | {r['max_rss_mib']:.0f} | – |")
    print("\nGFLOP/step counts every GEMM the step issues (2·m·n·k per `cblas_sgemm`), forward and backward; "
          "element-wise work is not counted. Frames: paper 16 × 112×112, small 8 × 56×56 (the presets' T and S).\n")
    for preset, r in ferd.items():
        print(f"## Where the time goes: {preset} preset (ferd, one profiled step)\n")
        print("| section | forward ms | backward ms | GFLOP | conv GFLOP/s |")
        print("|---|---|---|---|---|")
        order = ["stem", "layer1", "layer2 (GCA)", "layer3 (GCA)", "DSF dynamic (layer4)",
                 "DSF static (patch embedding + transformer)", "temporal transformer + classifier", "loss", "optimizer"]
        sections = sorted(r["sections"], key=lambda s: order.index(s["section"]) if s["section"] in order else 99)
        for s in sections:
            conv = f"{s['conv_gflops_per_s']:.1f}" if s["conv_gflops_per_s"] else "–"
            print(f"| {s['section']} | {s['forward_ms']:.1f} | {s['backward_ms']:.1f} | {s['gflop']:.2f} | {conv} |")
        print()
    loader = next((r for r in rows if r.get("benchmark") == "loader"), None)
    if loader:
        render_loader(loader)
    ablation = [r for r in rows if r.get("benchmark") == "ablation"]
    if ablation:
        render_ablation(ablation)


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
