"""Time one PyTorch training step (or eval forward) of the reference GCA+IAL model.

    python3 torch_train_step.py --preset paper --batch 2 --threads 2 --steps 5 [--warmup 1]
                                [--forward-only] [--profile] [--sections] [--attention gca|se|none]

A training step is zero_grad + train-mode forward + total_loss (lambda 0.1, aux
weights 0.05/0) + backward + SGD(lr 1e-3, momentum 0.9, weight_decay 0.1).
``--forward-only`` times an eval-mode forward under no_grad instead. Prints one
JSON line on stdout; ``--profile`` also prints per-stage and per-op tables
(one extra profiled step, sorted by self CPU time) to stderr. ``--sections``
times one extra step by the sections of ferd's profiler (SectionTimer) and
adds them to the JSON line.
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


def cpu_seconds():
    """CPU seconds (user + system, all threads) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
    step.optimizer = opt
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


class SectionTimer:
    """Forward and backward wall-clock time of ferd's profiler sections in one training step.

    A section runs from the forward pre-hook of its first module to the forward hook of its last
    one. Its backward runs from the moment autograd has the gradient of the section's output (a
    tensor hook on that output) to the moment it has the gradient of the section's input (a tensor
    hook on the input; for the stem, whose input needs no gradient, the end of ``backward()``).
    Autograd runs a section's backward nodes together, since they come after the next section's
    in creation order; the small element-wise glue between sections is in no section.
    """

    def __init__(self, model):
        self.marks = {}
        b = model.s_former
        blocks = [b.layer1[0], b.layer2[0], b.layer3[0]]
        self.sections = [
            ("stem", b.conv1, blocks[0], True),
            ("layer1", blocks[0], blocks[0], False),
            ("layer2 (GCA)", blocks[1], blocks[1], False),
            ("layer3 (GCA)", blocks[2], blocks[2], False),
            ("DSF dynamic (layer4)", b.layer4, b.layer4, False),
            ("DSF static (patch embedding + transformer)", b.patch_embedding, b.pos_transformer, False),
            ("temporal transformer + classifier", b.temporal_transformer, model.fc_f, False),
        ]
        for name, first, last, ends_before_last in self.sections:
            first.register_forward_pre_hook(self._enter(name))
            if ends_before_last:
                last.register_forward_pre_hook(self._leave_before(name))
            else:
                last.register_forward_hook(self._leave(name))

    def _mark(self, key):
        self.marks[key] = time.perf_counter()

    def _enter(self, name):
        def hook(_mod, inputs):
            self._mark((name, "forward", 0))
            x = inputs[0]
            if x.requires_grad:
                x.register_hook(lambda g: self._mark((name, "backward", 1)))
        return hook

    def _leave_output(self, name, output):
        self._mark((name, "forward", 1))
        out = output[0] if isinstance(output, tuple) else output
        out.register_hook(lambda g: self._mark((name, "backward", 0)))

    def _leave(self, name):
        return lambda _mod, _inputs, output: self._leave_output(name, output)

    def _leave_before(self, name):
        return lambda _mod, inputs: self._leave_output(name, inputs[0])

    def step(self, model, clips, targets, opt):
        """One timed training step; returns the section rows (ms) in ferd's JSON format."""
        self.marks = {}
        opt.zero_grad()
        logits, aux2, aux3 = model(clips)
        start = time.perf_counter()
        loss = total_loss(logits, aux2, aux3, targets, use_aux=model.has_aux)["total"]
        loss_ms = (time.perf_counter() - start) * 1000
        loss.backward()
        backward_end = time.perf_counter()
        start = time.perf_counter()
        opt.step()
        rows = [{"section": "loss", "forward_ms": loss_ms, "backward_ms": 0},
                {"section": "optimizer", "forward_ms": (time.perf_counter() - start) * 1000, "backward_ms": 0}]
        for name, *_ in self.sections:
            m = self.marks
            rows.append({"section": name,
                         "forward_ms": (m[(name, "forward", 1)] - m[(name, "forward", 0)]) * 1000,
                         "backward_ms": (m.get((name, "backward", 1), backward_end) - m[(name, "backward", 0)]) * 1000})
        return rows


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
    ap.add_argument("--sections", action="store_true", help="time one more step by ferd's profiler sections")
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
    cpu_start = cpu_seconds()
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    cpu_ms = (cpu_seconds() - cpu_start) / args.steps * 1000
    if args.profile:
        profile(model, step)
    sections = {}
    if args.sections and not args.forward_only:
        sections["sections"] = SectionTimer(model).step(model, clips, targets, step.optimizer)

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
        "cpu_ms_per_step": round(cpu_ms, 3),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch_version": torch.__version__,
        **sections,
    }))


if __name__ == "__main__":
    main()
