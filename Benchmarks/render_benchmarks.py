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
          "the machine is shared, so absolute times vary between runs.\n")
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
          "element-wise work is not counted. Frames: paper 32 × 112×112, small 16 × 56×56.\n")
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


if __name__ == "__main__":
    main()
