"""Time PyTorch training steps of one method's model, for Benchmarks/methods/run.sh.

    python3 Benchmarks/methods/torch_step.py --configuration C.json --batch 2 --threads 2 --steps 3 [--warmup 1]
        [--device cuda] [--precision bf16]

C.json is ferd's ModelConfiguration JSON (``ferd-bench train-step --method M`` prints the one it times, so both
engines time the same model). A step is zero_grad + train-mode forward + the method's loss (ferd_torch.methods.losses
with the default settings.methodLoss) + backward + SGD (lr 1e-3, momentum 0.9, weight decay 0.1), as ferd-bench's.
On a GPU (``--device cuda``) each step ends with a synchronisation, and ``--precision bf16`` runs the forward and the
loss under bf16 autocast as the torch engine's ``precision: bf16`` does. Prints one JSON line.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Engines", "torch"))
from ferd_torch import methods  # noqa: E402

LOSS_SETTINGS = {"loss": {"intensityAware": 0.1, "auxiliary": [0.05, 0]}}


def variant(configuration):
    """The run's variant of its method for the table, as ferd-bench names it: RAN's recomputed regions."""
    return {"variant": "regions recomputed"} if configuration.get("ranRecompute") else {}


def main():
    """Builds the model, runs the warm-up and the timed steps, prints the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configuration", required=True, help="a file with ferd's ModelConfiguration JSON")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    options = parser.parse_args()
    with open(options.configuration) as file:
        configuration = json.load(file)
    torch.set_num_threads(options.threads)
    torch.manual_seed(0)
    method = methods.method_of(configuration)
    device = torch.device(options.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"torch {torch.__version__} sees no GPU (--device cuda)")
    model = methods.build(configuration).train().to(device)
    side = configuration["imageSize"]
    clips = torch.rand(options.batch, configuration["frames"], 3, side, side, device=device)
    targets = (torch.arange(options.batch) % configuration["classes"]).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=0.1)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=options.precision == "bf16")

    def step():
        optimizer.zero_grad()
        with autocast:
            loss = methods.losses(method, model(clips), targets, LOSS_SETTINGS)["total"]
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(options.warmup):
        step()
    times = []
    for _ in range(options.steps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    gpu = {}
    if device.type == "cuda":
        gpu = {"gpu": torch.cuda.get_device_name(device),
               "max_gpu_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)}
    print(json.dumps({"framework": "pytorch", "device": device.type, "precision": options.precision, **gpu,
                      "method": method, **variant(configuration), "batch": options.batch, "threads": options.threads,
                      "ms_per_step_median": round(statistics.median(times), 3),
                      "ms_per_step_min": round(min(times), 3), "parameters": methods.parameter_count(model),
                      "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "torch_version": torch.__version__}))


if __name__ == "__main__":
    main()
