"""Writes docs/METHOD-BENCHMARKS.md from the JSON lines of Benchmarks/methods/run.sh.

    python3 Benchmarks/methods/render.py RAW.jsonl OUT.md --started DATE --command COMMAND --swift VERSION --load LOAD
"""

import argparse
import json
import os
import platform
import statistics
from collections import defaultdict

METHOD_NAMES = {"gca-ial": "GCA+IAL (Li et al., AAAI 2023)", "scn": "SCN (Wang et al., CVPR 2020)",
                "ran": "RAN (Wang et al., IEEE TIP 2020)", "former-dfer": "Former-DFER (Zhao and Liu, ACM MM 2021)",
                "stt": "STT (Ma, Sun, Li, 2022; ferd's reconstruction)"}


def machine():
    """The CPU model and the core count."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as file:
            model = next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores visible, {platform.system()} {platform.release()}"


def engine_of(run):
    """The column a run belongs to: ferd, pytorch (CPU), pytorch-cuda-fp32 or pytorch-cuda-bf16."""
    device = run.get("device", "cpu")
    if run["framework"] == "ferd" or device == "cpu":
        return run["framework"]
    return f"pytorch-{device}-{run.get('precision', 'fp32')}"


def duration(milliseconds):
    """Seconds with two decimals, or milliseconds below a second (a GPU step)."""
    return f"{milliseconds / 1000:.2f} s" if milliseconds >= 1000 else f"{milliseconds:.1f} ms"


GPU_COLUMNS = (("pytorch-cuda-fp32", "PyTorch GPU fp32"), ("pytorch-cuda-bf16", "PyTorch GPU bf16"))


def main():
    """Medians per method, batch and engine over the rounds; one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw")
    parser.add_argument("out")
    parser.add_argument("--started", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--swift", required=True)
    parser.add_argument("--load", required=True, help="the load averages (1, 5, 15 min) when the run began")
    parser.add_argument("--machine", help="the machine in words, when the runs were made elsewhere (default: this one)")
    parser.add_argument("--note", default="", help="a paragraph to add under the table")
    options = parser.parse_args()
    with open(options.raw) as file:
        runs = [json.loads(line) for line in file if line.strip()]
    times, fastest, ratios, errors, facts, memory = (defaultdict(list), defaultdict(list), defaultdict(list), {}, {},
                                                     defaultdict(list))
    by_round = {}
    order = []
    for run in runs:
        key = (run["method"] + (f", {run['variant']}" if run.get("variant") else ""), run["batch"])
        engine = engine_of(run)
        if key not in order:
            order.append(key)
        if "error" in run:
            errors[key + (engine,)] = run["error"]
            continue
        times[key + (engine,)].append(run["ms_per_step_median"])
        fastest[key + (engine,)].append(run["ms_per_step_min"])
        memory[key + (engine,)].append(run.get("max_gpu_mib", run.get("max_rss_mib")))
        by_round[key + (engine, run["round"])] = run["ms_per_step_median"]
        facts.setdefault(key, {}).update({name: run[name] for name in ("parameters", "threads", "gflop_per_step")
                                          if name in run})
        if run["framework"] == "pytorch":
            facts["torch"] = run["torch_version"]
        if "gpu" in run:
            facts["gpu"] = run["gpu"]
    gpu_columns = [(engine, title) for engine, title in GPU_COLUMNS
                   if any(key[2] == engine for key in list(times) + list(errors))]

    def cell(key):
        values = times.get(key)
        if values:
            return duration(statistics.median(values)), statistics.median(values)
        return ("not run: " + errors[key] if key in errors else "—"), None

    def peak(key):
        values = [value for value in memory.get(key, []) if value is not None]
        return f"{max(values) / 1024:.1f}" if values else "—"

    for (method, batch, engine, round_), value in by_round.items():
        other = by_round.get((method, batch, "pytorch", round_))
        if engine == "ferd" and other:
            ratios[(method, batch)].append(value / other)
    rows = []
    for method, batch in order:
        swift_text, swift = cell((method, batch, "ferd"))
        torch_text, torch = cell((method, batch, "pytorch"))
        ratio = f"{swift / torch:.2f}" if swift and torch else "—"
        per_round = ratios.get((method, batch))
        spread = (f"{statistics.median(per_round):.2f} ({min(per_round):.2f}–{max(per_round):.2f})"
                  if per_round else "—")
        quickest = [fastest.get((method, batch, engine)) for engine in ("ferd", "pytorch")]
        best = " / ".join(duration(min(values)) if values else "—" for values in quickest)
        rss = f"{peak((method, batch, 'ferd'))} / {peak((method, batch, 'pytorch'))}"
        gpu = "".join(f" {cell((method, batch, engine))[0]} |" for engine, _ in gpu_columns)
        if gpu_columns:
            gpu += " " + " / ".join(peak((method, batch, engine)) for engine, _ in gpu_columns) + " |"
        parameters = facts.get((method, batch), {}).get("parameters")
        rounds = max(len(times.get((method, batch, engine), [])) for engine in ("ferd", "pytorch"))
        count = f"{parameters:,}" if parameters else "—"
        gflop = facts.get((method, batch), {}).get("gflop_per_step")
        work = f"{gflop:.0f}" if gflop else "—"
        base, _, variant = method.partition(", ")
        name = METHOD_NAMES.get(base, base) + (f", {variant}" if variant else "")
        rows.append(f"| {name} | {count} | {work} | {batch} | {swift_text} | "
                    f"{torch_text} | {ratio} | {spread} | {best} | {rss} |{gpu} {rounds} |")
    gpu_header = "".join(f" {title} |" for _, title in gpu_columns)
    if gpu_columns:
        gpu_header += " GPU memory GiB (" + " / ".join(title.split()[-1] for _, title in gpu_columns) + ") |"
    gpu_rule = "---:|" * (len(gpu_columns) + 1 if gpu_columns else 0)
    gpu_line = (f"- GPU: {facts.get('gpu', '—')}; the GPU columns time the same PyTorch step on it (fp32, and bf16 "
                "autocast as the torch engine's `precision: bf16`), each step ended by a synchronisation; GPU memory "
                "is torch's peak allocation\n" if gpu_columns else "")
    text = f"""# Method benchmarks: one training step per method, Swift engine and PyTorch

Step time (train-mode forward, the method's loss, backward and an SGD update with momentum and weight decay) of
every method's model at its paper size (16 frames of 112², ResNet-18 widths; GCA+IAL its reference model), in
ferd's Swift engine (`ferd-bench train-step --method`) and in PyTorch on the same configuration
(`Benchmarks/methods/torch_step.py`, the torch engine's models). Each run times its steps after one warm-up step and
reports their median; the runs of the two engines alternate (which goes first changes every round) and the table
gives the median over the rounds. Compare the engines in one row rather than rows of different runs: a shared
machine is noisy.

- Date: {options.started}
- Machine: {options.machine or machine()}
- Swift: {options.swift}; PyTorch {facts.get("torch", "—")}
{gpu_line}- Command: `{options.command}`
- Load average (1, 5, 15 min) when the run began: {options.load}

| Method | Parameters | GFLOP/step | Batch | Swift engine (CPU) | PyTorch (CPU) | Swift / PyTorch | Swift / PyTorch per round: median (range) | Fastest step Swift / PyTorch | Peak RSS GiB Swift / PyTorch |{gpu_header} Rounds |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|{gpu_rule}---:|
{chr(10).join(rows)}

"Swift engine" and "PyTorch (CPU)" are the medians over the rounds of each run's median step, on the same cores with
the same thread count; the per-round ratio compares the two runs of one round, which ran back to back; the fastest
step is the quickest single step of either engine in the whole run, the least disturbed by other work. Peak RSS is
each process's maximum resident memory.
GFLOP/step counts the GEMMs of ferd's step (2·m·n·k per sgemm, forward and backward; element-wise work not counted);
RAN runs its ResNet-18 on 8 regions of every frame, hence 8× SCN's work.
`BATCHES=paper` runs each method at its paper batch (GCA+IAL 40, SCN 64, RAN 32, Former-DFER 32, STT 32 clips);
a paper batch needs tens of GiB for RAN (a few with `RAN_RECOMPUTE=1`) and minutes per step on a few cores
(docs/METHOD-BENCHMARKS-PAPER.md).
Raw results: `{options.raw}`.
{options.note}"""
    with open(options.out, "w") as file:
        file.write(text)


if __name__ == "__main__":
    main()
