"""One training step's numbers of the torch model, for the cross-engine tests (Tests/FerdRuntimeTests/Engines/
CrossEngineTests.swift): the Swift engine and this one, given the same weights and batch, must agree.

    python3 -m ferd_torch.crosscheck --settings S.json --weights W.safetensors --batch B.safetensors --out O.safetensors

S.json: ferd's TrainingSettings JSON (``model`` with its ``method``, ``loss``, ``methodLoss``); W: the model's weights
under its state_dict keys (strict, as init_from loads a whole model); B: ``clips`` F32 (B,T,3,S,S) in [0,1] and
``targets`` I64 (B,). O gets, from one train-mode forward and backward of the method's loss: ``logits``, ``aux.<i>``
(GCA+IAL's heads), ``importance`` (SCN), ``region_attention`` (RAN), ``loss.<part>`` (shape [1]; the parts of
methods.losses, ``total`` among them) and ``grad.<parameter>`` for every parameter that gets a gradient; with
``--float64`` each of these also as ``f64.<name>``, the same step in float64, against which float32 results are
judged (train-mode gradients are ill-conditioned in float32: see Tests/FerdModelsTests/ParityTests.swift). STT's
``dropPath`` must be 0 in S.json: the engines draw their drop-path masks from different generators.
"""

import argparse
import json

import torch

from . import checkpoint, methods
from .safetensors_io import load_file, save_file


def step(settings, weights, clips, targets, dtype):
    """One train-mode forward and backward in `dtype`: {name: tensor} as the module docstring lists them."""
    configuration = settings["model"]
    method = methods.method_of(configuration)
    model = methods.build(configuration)
    checkpoint.load_weights(weights, model)
    model.to(dtype).train()
    output = model(clips.to(dtype))
    parts = methods.losses(method, output, targets, settings)
    parts["total"].backward()
    results = {"logits": output.logits}
    results.update({f"aux.{index}": head for index, head in enumerate(output.auxiliary)})
    if output.importance is not None:
        results["importance"] = output.importance
    if output.region_attention is not None:
        results["region_attention"] = output.region_attention
    results.update({f"loss.{name}": value.reshape(1) for name, value in parts.items()})
    results.update({f"grad.{name}": parameter.grad for name, parameter in model.named_parameters()
                    if parameter.grad is not None})
    return {name: value.detach().contiguous() for name, value in results.items()}


def main(arguments=None):
    """Runs the step (and the float64 one with --float64) and writes the results."""
    parser = argparse.ArgumentParser(prog="python3 -m ferd_torch.crosscheck",
                                     description="one training step of the torch model, for the cross-engine tests")
    parser.add_argument("--settings", required=True, help="a file with ferd's TrainingSettings JSON")
    parser.add_argument("--weights", required=True, help="the model's weights (safetensors, state_dict keys)")
    parser.add_argument("--batch", required=True, help="safetensors with clips (F32) and targets (I64)")
    parser.add_argument("--out", required=True, help="the safetensors file for the results")
    parser.add_argument("--float64", action="store_true", help="also the same step in float64, as f64.<name>")
    options = parser.parse_args(arguments)
    with open(options.settings) as file:
        settings = json.load(file)
    batch = load_file(options.batch)
    clips, targets = batch["clips"].float(), batch["targets"].long()
    torch.manual_seed(0)
    results = {name: value.float() for name, value in
               step(settings, options.weights, clips, targets, torch.float32).items()}
    if options.float64:
        results.update({"f64." + name: value for name, value in
                        step(settings, options.weights, clips, targets, torch.float64).items()})
    save_file(results, options.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
