"""Write a parity case (weights, inputs, expected outputs) for the Swift model.

    python3 make_parity_case.py --preset small --batch 2 --seed 0 --out DIR

DIR/weights.safetensors   full state_dict: F32, num_batches_tracked as I64
DIR/input.safetensors     "clips" F32 (B,T,3,H,W) in [0,1], "targets" I64 (B,)
DIR/expected.safetensors  "eval.logits"; "train.{logits,aux2,aux3}";
                          each also as "f64.<key>": the same case computed in float64;
                          "train.loss.{ce,ial,aux2,aux3,total}" (shape [1]);
                          "grad.<param key>" for every parameter with a gradient;
                          "running.<bn key>" BN running stats after the train forward
The train case is one train-mode forward plus backward of total_loss
(lambda 0.1, aux weights 0.05/0) from the same weights as the eval case.
"""

import argparse
import copy
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Engines", "torch"))
from ferd_torch.model import ATTENTIONS, NUM_CLASSES, PRESETS, GenerateModel, total_loss  # noqa: E402
from ferd_torch.safetensors_io import load_file, save_file  # noqa: E402


def randomise_batchnorm(model):
    """Perturb BN affine params and running stats so eval-mode BN is non-trivial."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.8, 1.2)
                mod.bias.normal_(0.0, 0.1)
                mod.running_mean.normal_(0.0, 0.1)
                mod.running_var.uniform_(0.5, 1.5)


def run_case(model, clips, targets):
    """Eval-mode logits, then one train-mode forward and backward of the total loss."""
    expected = {}
    model.eval()
    with torch.no_grad():
        expected["eval.logits"] = model(clips)[0]
    model.train()
    logits, aux2, aux3 = model(clips)
    losses = total_loss(logits, aux2, aux3, targets, lam=0.1, aux_weights=(0.05, 0.0),
                        use_aux=model.has_aux)
    losses["total"].backward()
    expected["train.logits"] = logits.detach()
    expected["train.aux2"] = aux2.detach()
    expected["train.aux3"] = aux3.detach()
    for name, value in losses.items():
        expected[f"train.loss.{name}"] = value.detach().reshape(1)
    for name, param in model.named_parameters():
        if param.grad is not None:
            expected[f"grad.{name}"] = param.grad
    for name, buf in model.named_buffers():
        if name.endswith(("running_mean", "running_var")):
            expected[f"running.{name}"] = buf
    return expected


def save_checked(tensors, path, metadata):
    """Write tensors and read them back, asserting a bit-exact round trip."""
    save_file(tensors, path, metadata)
    back = load_file(path)
    assert list(back) == list(tensors), path
    for name, t in tensors.items():
        b = back[name]
        assert b.dtype == t.dtype and b.shape == t.shape and torch.equal(b, t), f"{path}: {name}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="small")
    ap.add_argument("--attention", choices=ATTENTIONS, default="gca")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    start = time.time()
    torch.manual_seed(args.seed)
    model = GenerateModel(args.preset, attention=args.attention)
    randomise_batchnorm(model)
    p = model.preset
    clips = torch.rand(args.batch, p.frames, 3, p.image, p.image)
    targets = torch.randint(0, NUM_CLASSES, (args.batch,), dtype=torch.int64)

    os.makedirs(args.out, exist_ok=True)
    meta = {"preset": args.preset, "attention": args.attention, "batch": str(args.batch),
            "seed": str(args.seed), "torch": torch.__version__}
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    save_checked(weights, os.path.join(args.out, "weights.safetensors"), meta)
    save_checked({"clips": clips, "targets": targets},
                 os.path.join(args.out, "input.safetensors"), meta)

    exact_model = copy.deepcopy(model).double()
    expected = run_case(model, clips, targets)
    # The same case in float64: the exact answer both float32 implementations are measured against.
    # Train-mode gradients of this network are ill-conditioned (ReLU/max-pool decisions and batch
    # statistics flip under float32 rounding), so PyTorch's own float32 gradients differ from float64
    # by up to a few percent in layer4; the Swift test holds ferd to PyTorch's float32 accuracy.
    exact = run_case(exact_model, clips.double(), targets)
    expected.update({f"f64.{k}": v for k, v in exact.items()})
    save_checked({k: v.detach().float() for k, v in expected.items()},
                 os.path.join(args.out, "expected.safetensors"), meta)
    losses = {k[len("train.loss."):]: v for k, v in expected.items() if k.startswith("train.loss.")}

    n_grad = sum(k.startswith("grad.") for k in expected)
    n_run = sum(k.startswith("running.") for k in expected)
    print(f"preset={args.preset} attention={args.attention} batch={args.batch} seed={args.seed} "
          f"T={p.frames} image={p.image} params={sum(q.numel() for q in model.parameters()):,}")
    print(f"targets={targets.tolist()}")
    print(f"eval.logits[0]={[round(v, 5) for v in expected['eval.logits'][0].tolist()]}")
    print("train.loss " + " ".join(f"{k}={v.item():.6f}" for k, v in losses.items()))
    worst = max((((expected[k] - expected["f64." + k]).abs().max() / expected["f64." + k].abs().max()).item(), k)
                for k in expected if k.startswith("grad.") and expected["f64." + k].abs().max() > 0)
    print(f"largest float32-vs-float64 gradient difference in PyTorch itself: {worst[0]:.2e} ({worst[1]})")
    print(f"{n_grad} gradients, {n_run} running-stat tensors -> {args.out} "
          f"({time.time() - start:.1f}s)")


if __name__ == "__main__":
    main()
