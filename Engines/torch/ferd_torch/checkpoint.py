"""Checkpoints in ferd's format (docs/ENGINES.md, "Checkpoints"): the model's `state_dict` under the reference
key names (float32; `num_batches_tracked` int64), the SGD momentum as `optimizer.momentum.<parameter>` (float32,
flattened, only for parameters that have one) and metadata. The worker turns the engine's checkpoint into the
Swift trainer's `resume.safetensors` and `best.safetensors`, so a resume file of either engine loads here."""

import json
import os

import torch

from .safetensors_io import load_file, load_metadata, save_file

MOMENTUM_PREFIX = "optimizer.momentum."


class CheckpointError(ValueError):
    """A weights or resume file that does not fit the model: names the file, the keys and the fix."""


def write(path, model, optimizer, settings, epoch):
    """Writes the epoch's checkpoint atomically (temporary file, then rename)."""
    tensors = {name: value.detach().to("cpu", torch.int64 if not value.is_floating_point() else torch.float32)
               for name, value in model.state_dict().items()}
    names = {id(parameter): name for name, parameter in model.named_parameters()}
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            buffer = optimizer.state.get(parameter, {}).get("momentum_buffer")
            if buffer is not None:
                tensors[MOMENTUM_PREFIX + names[id(parameter)]] = buffer.detach().float().cpu().reshape(-1)
    temporary = path + ".partial"
    save_file(tensors, temporary, metadata={"ferd.settings": json.dumps(settings, sort_keys=True), "ferd.epoch": str(epoch)})
    os.replace(temporary, path)


def load_weights(path, model):
    """Loads a weights file (reference `state_dict` keys; `optimizer.*` entries ignored) into `model`; every model
    key must be present with its shape, and no other key may be there."""
    try:
        stored = load_file(path)
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: cannot read it as safetensors ({error}); give a file written by ferd or "
                              "the reference code's state_dict") from None
    weights = {name: value for name, value in stored.items() if not name.startswith("optimizer.")}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    misshaped = sorted(name for name in set(expected) & set(weights) if tuple(expected[name].shape) != tuple(weights[name].shape))
    if missing or unexpected or misshaped:
        details = "; ".join(part for part in (
            f"missing {', '.join(missing[:8])}" if missing else "",
            f"unexpected {', '.join(unexpected[:8])}" if unexpected else "",
            f"wrong shape {', '.join(f'{n} {tuple(weights[n].shape)} (model {tuple(expected[n].shape)})' for n in misshaped[:8])}"
            if misshaped else "") if part)
        raise CheckpointError(f"{path} does not fit the model ({details}); use weights of the same preset and attention")
    model.load_state_dict({name: weights[name].to(expected[name].dtype) for name in expected})
    return stored


def load_resume(path, model, optimizer):
    """Loads a resume checkpoint (weights, momentum, `ferd.history`) and returns the number of epochs it holds."""
    stored = load_weights(path, model)
    metadata = load_metadata(path)
    if "ferd.history" not in metadata:
        raise CheckpointError(f"{path} is not a ferd resume checkpoint (no ferd.history metadata); "
                              "resume from the worker's resume.safetensors")
    history = json.loads(metadata["ferd.history"])
    for name, parameter in model.named_parameters():
        momentum = stored.get(MOMENTUM_PREFIX + name)
        if momentum is not None:
            if momentum.numel() != parameter.numel():
                raise CheckpointError(f"{path}: momentum of {name} has {momentum.numel()} values, the parameter "
                                      f"{parameter.numel()}; the checkpoint belongs to another model")
            optimizer.state[parameter]["momentum_buffer"] = momentum.reshape(parameter.shape).to(parameter.device).clone()
    return len(history)
