"""Time one PyTorch training step (or eval forward) of the reference GCA+IAL model.

    python3 torch_train_step.py --preset paper --batch 2 --threads 2 --steps 5 [--warmup 1]
                                [--forward-only] [--profile] [--attention gca|se|none]

A training step is zero_grad + train-mode forward + total_loss (lambda 0.1, aux
weights 0.05/0) + backward + SGD(lr 1e-3, momentum 0.9, weight_decay 0.1).
``--forward-only`` times an eval-mode forward under no_grad instead. Prints one
JSON line on stdout; ``--profile`` also prints per-stage and per-op tables
(one extra profiled step, sorted by self CPU time) to stderr.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Engines", "torch"))
from ferd_torch.model import ATTENTIONS, NUM_CLASSES, PRESETS, GenerateModel, total_loss  # noqa: E402

ATTENTION_LAYERS = ("layer1", "layer2", "layer3")


def make_step(model, clips, targets, forward_only):
    """Return a zero-argument callable running one step."""
    if forward_only:
        model.eval()

        def step():
            with torch.no_grad():
                model(clips)
        return step

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=0.1)

    def step():
        opt.zero_grad()
        logits, aux2, aux3 = model(clips)
        total_loss(logits, aux2, aux3, targets, use_aux=model.has_aux)["total"].backward()
        opt.step()
    return step


def label_stages(model):
    """Wrap each stage's forward in a profiler range named ``stage::<name>``.

    Stages are the children of ``s_former`` (layer1-3 by their blocks, which the
    backbone calls directly) and ``fc_f``.
    """
    def enter(mod, _inputs):
        mod._stage_range = torch.autograd.profiler.record_function(f"stage::{mod._stage_name}")
        mod._stage_range.__enter__()

    def leave(mod, _inputs, _output):
        mod._stage_range.__exit__(None, None, None)

    stages = [(n, m) for n, m in model.s_former.named_children() if n not in ATTENTION_LAYERS]
    stages += [(f"{n}.{i}", blk) for n in ATTENTION_LAYERS
               for i, blk in enumerate(getattr(model.s_former, n))]
    for name, mod in stages + [("fc_f", model.fc_f)]:
        mod._stage_name = name
        mod.register_forward_pre_hook(enter)
        mod.register_forward_hook(leave)


def profile(model, step):
    """Profile one step and print stage and op tables to stderr."""
    label_stages(model)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        step()
    events = prof.key_averages()
    stages = sorted((e for e in events if e.key.startswith("stage::")),
                    key=lambda e: e.cpu_time_total, reverse=True)
    print("forward time per stage (backward ops are in the op table):", file=sys.stderr)
    for e in stages:
        print(f"  {e.key[7:]:<22} {e.cpu_time_total / 1000:9.2f} ms", file=sys.stderr)
    print(events.table(sort_by="self_cpu_time_total", row_limit=30), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="paper")
    ap.add_argument("--attention", choices=ATTENTIONS, default="gca")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--forward-only", action="store_true")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = GenerateModel(args.preset, attention=args.attention)
    p = model.preset
    clips = torch.rand(args.batch, p.frames, 3, p.image, p.image)
    targets = torch.randint(0, NUM_CLASSES, (args.batch,))
    step = make_step(model, clips, targets, args.forward_only)

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    if args.profile:
        profile(model, step)

    print(json.dumps({
        "framework": "pytorch",
        "preset": args.preset,
        "attention": args.attention,
        "mode": "forward" if args.forward_only else "train",
        "batch": args.batch,
        "threads": args.threads,
        "steps": args.steps,
        "ms_per_step_median": round(statistics.median(times), 3),
        "ms_per_step_min": round(min(times), 3),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch_version": torch.__version__,
    }))


if __name__ == "__main__":
    main()
