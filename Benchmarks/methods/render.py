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


def main():
    """Medians per method, batch and engine over the rounds; one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw")
    parser.add_argument("out")
    parser.add_argument("--started", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--swift", required=True)
    parser.add_argument("--load", required=True, help="the load averages (1, 5, 15 min) when the run began")
    options = parser.parse_args()
    with open(options.raw) as file:
        runs = [json.loads(line) for line in file if line.strip()]
    times, fastest, ratios, errors, facts = defaultdict(list), defaultdict(list), defaultdict(list), {}, {}
    by_round = {}
    order = []
    for run in runs:
        key = (run["method"], run["batch"])
        if key not in order:
            order.append(key)
        if "error" in run:
            errors[key + (run["framework"],)] = run["error"]
            continue
        times[key + (run["framework"],)].append(run["ms_per_step_median"])
        fastest[key + (run["framework"],)].append(run["ms_per_step_min"])
        by_round[key + (run["framework"], run["round"])] = run["ms_per_step_median"]
        facts.setdefault(key, {}).update({name: run[name] for name in ("parameters", "threads", "gflop_per_step")
                                          if name in run})
        if run["framework"] == "pytorch":
            facts["torch"] = run["torch_version"]

    def cell(key):
        values = times.get(key)
        if values:
            return f"{statistics.median(values) / 1000:.2f} s", statistics.median(values)
        return ("not run: " + errors[key] if key in errors else "—"), None

    for (method, batch, framework, round_), value in by_round.items():
        other = by_round.get((method, batch, "pytorch", round_))
        if framework == "ferd" and other:
            ratios[(method, batch)].append(value / other)
    rows = []
    for method, batch in order:
        swift_text, swift = cell((method, batch, "ferd"))
        torch_text, torch = cell((method, batch, "pytorch"))
        ratio = f"{swift / torch:.2f}" if swift and torch else "—"
        per_round = ratios.get((method, batch))
        spread = (f"{statistics.median(per_round):.2f} ({min(per_round):.2f}–{max(per_round):.2f})"
                  if per_round else "—")
        quickest = [fastest.get((method, batch, framework)) for framework in ("ferd", "pytorch")]
        best = " / ".join(f"{min(values) / 1000:.2f} s" if values else "—" for values in quickest)
        parameters = facts.get((method, batch), {}).get("parameters")
        rounds = max(len(times.get((method, batch, "ferd"), [])), len(times.get((method, batch, "pytorch"), [])))
        count = f"{parameters:,}" if parameters else "—"
        gflop = facts.get((method, batch), {}).get("gflop_per_step")
        work = f"{gflop:.0f}" if gflop else "—"
        rows.append(f"| {METHOD_NAMES.get(method, method)} | {count} | {work} | {batch} | {swift_text} | "
                    f"{torch_text} | {ratio} | {spread} | {best} | {rounds} |")
    text = f"""# Method benchmarks: one training step per method, Swift engine and PyTorch

Step time (train-mode forward, the method's loss, backward and an SGD update with momentum and weight decay) of
every method's model at its paper size (16 frames of 112², ResNet-18 widths; GCA+IAL its reference model), in
ferd's Swift engine (`ferd-bench train-step --method`) and in PyTorch on the same configuration
(`Benchmarks/methods/torch_step.py`, the torch engine's models). Each run times its steps after one warm-up step and
reports their median; the runs of the two engines alternate (which goes first changes every round) and the table
gives the median over the rounds. The machine is shared with other work, so the figures are noisy: compare the two
engines in one row rather than rows of different runs.

- Date: {options.started}
- Machine: {machine()}
- Swift: {options.swift}; PyTorch {facts.get("torch", "—")} (CPU)
- Command: `{options.command}`
- Load average (1, 5, 15 min) when the run began: {options.load} on {os.cpu_count()} cores

| Method | Parameters | GFLOP/step | Batch | Swift engine | PyTorch | Swift / PyTorch | Swift / PyTorch per round: median (range) | Fastest step Swift / PyTorch | Rounds |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

"Swift engine" and "PyTorch" are the medians over the rounds of each run's median step; the per-round ratio
compares the two runs of one round, which ran back to back under similar load; the fastest step is the quickest
single step of either engine in the whole run, the least disturbed by the machine's other work.
GFLOP/step counts the GEMMs of ferd's step (2·m·n·k per sgemm, forward and backward; element-wise work not counted);
RAN runs its ResNet-18 on 8 regions of every frame, hence 8× SCN's work.
The paper batches (GCA+IAL 40, SCN 64, RAN 32, Former-DFER 32, STT 32 clips) take minutes per step on a few CPU
cores, so the recorded run uses batch 2; `BATCHES="2 32"` adds a larger batch where memory and time allow.
Raw results: `Benchmarks/methods/last-run.jsonl`.
"""
    with open(options.out, "w") as file:
        file.write(text)


if __name__ == "__main__":
    main()
