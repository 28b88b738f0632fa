"""Checkpoints in ferd's format (docs/ENGINES.md, "Checkpoints"): the model's `state_dict` under the reference
key names (float32; `num_batches_tracked` int64), the SGD momentum as `optimizer.momentum.<parameter>` (float32,
flattened, only for parameters that have one) and metadata. The worker turns the engine's checkpoint into the
Swift trainer's `resume.safetensors` and `best.safetensors`, so a resume file of either engine loads here."""

import json
import os

import torch

from .safetensors_io import load_file, load_metadata, save_file

MOMENTUM_PREFIX = "optimizer.momentum."
OPTIMIZER_PREFIX = "optimizer."
DATA_PARALLEL_PREFIX = "module."
LISTED = 8


class CheckpointError(ValueError):
    """A weights or resume file that does not fit the model: names the file, the keys and the fix."""


def write(path, model, optimizer, settings, epoch, metadata=None):
    """Writes the epoch's checkpoint atomically: `<path>.partial`, flushed to the disk, then renamed to `path`;
    `metadata` adds entries (SCN: `ferd.labels`)."""
    tensors = {name: value.detach().to("cpu", torch.float32 if value.is_floating_point() else torch.int64)
               for name, value in model.state_dict().items()}
    names = {id(parameter): name for name, parameter in model.named_parameters()}
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            buffer = optimizer.state.get(parameter, {}).get("momentum_buffer")
            if buffer is not None:
                tensors[MOMENTUM_PREFIX + names[id(parameter)]] = buffer.detach().float().cpu().reshape(-1)
    temporary = path + ".partial"
    written = {"ferd.settings": json.dumps(settings, sort_keys=True), "ferd.epoch": str(epoch)}
    save_file(tensors, temporary, metadata=dict(metadata or {}, **written))
    with open(temporary, "rb") as file:
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _listed(names):
    """Up to LISTED names, and how many more there are."""
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def _read_weights(path):
    """The file's tensors by their names with a DataParallel `module.` prefix dropped."""
    try:
        stored = load_file(path)
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: cannot read it as safetensors ({error}); give a file written by ferd or "
                              "by the reference code's state_dict") from None
    return {name[len(DATA_PARALLEL_PREFIX):] if name.startswith(DATA_PARALLEL_PREFIX) else name: value
            for name, value in stored.items()}


def _misshaped(weights, expected, names):
    """'name (file shape) (the model's shape)' of each of `names` whose shapes differ."""
    return [f"{name} {tuple(weights[name].shape)} (the model's {tuple(expected[name].shape)})"
            for name in sorted(names) if tuple(expected[name].shape) != tuple(weights[name].shape)]


def load_weights(path, model):
    """Loads a weights file into `model` strictly, as ferd's `ParameterStore.load` does: reference `state_dict`
    keys (a DataParallel `module.` prefix is dropped, `optimizer.*` entries are left for `load_resume`), every
    model key present with its shape and no other key. Returns the file's tensors by their stripped names."""
    stored = _read_weights(path)
    weights = {name: value for name, value in stored.items() if not name.startswith(OPTIMIZER_PREFIX)}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    misshaped = _misshaped(weights, expected, set(expected) & set(weights))
    problems = [f"{label} {_listed(names)}" for label, names in
                (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshaped)) if names]
    if problems:
        raise CheckpointError(f"{path} does not fit the model ({'; '.join(problems)}); use weights of the same model "
                              "configuration (method, frames, imageSize, widths, reduction, attention, transformers)")
    model.load_state_dict({name: weights[name].to(expected[name].dtype) for name in expected})
    return stored


def load_initial(path, model, backbone=None):
    """Loads `init_from` into `model`. `backbone` maps torchvision's ResNet names to the model's (``{"conv1.":
    "features.0.", …}``; None when the method has no ResNet backbone). A file that holds every model key outside the
    backbone is a whole model's checkpoint and loads strictly (`load_weights`). Any other file loads as ferd's Swift
    `ExpressionModels.initialise` loads it: each of its tensors whose name — as it is, else renamed from torchvision's —
    and shape match a model entry is copied, the rest of the model keeps its initialisation. Returns None after a
    strict load, else the report ``{"file", "loaded", "missing", "unused", "mismatched"}``: how many tensors were
    loaded, the model's keys the file gave no value for, the file's keys that name no model entry (e.g. torchvision's
    ``fc``) and the entries whose shapes differ (left initialised)."""
    expected = model.state_dict()
    prefixes = tuple((backbone or {}).values())
    head = {name for name in expected if not name.startswith(prefixes)} if prefixes else set(expected)
    stored = _read_weights(path)
    weights = {name: value for name, value in stored.items() if not name.startswith(OPTIMIZER_PREFIX)}
    if not prefixes or head <= set(weights):
        load_weights(path, model)
        return None
    loaded, unused, mismatched = {}, [], []
    for name, value in weights.items():
        source = next((old for old in backbone if name.startswith(old)), None)
        target = name if name in expected or source is None else backbone[source] + name[len(source):]
        if target not in expected:
            unused.append(name)
        elif tuple(value.shape) != tuple(expected[target].shape):
            mismatched.append(f"{target}: file {tuple(value.shape)}, model {tuple(expected[target].shape)}")
        else:
            loaded[target] = value
    if not loaded:
        raise CheckpointError(f"{path} holds no weight of the model ({_listed(sorted(weights))}"
                              f"{'; wrong shape ' + _listed(mismatched) if mismatched else ''}); give a checkpoint of "
                              "the same method or a ResNet-18 backbone of the model's widths (torchvision's names or "
                              "the method's)")
    state = dict(expected)
    state.update({name: value.to(expected[name].dtype) for name, value in loaded.items()})
    model.load_state_dict(state)
    return {"file": path, "loaded": len(loaded), "missing": [name for name in expected if name not in loaded],
            "unused": sorted(unused), "mismatched": sorted(mismatched)}


def load_resume(path, model, optimizer):
    """Loads a resume checkpoint — weights, the momentum of the parameters that have one, `ferd.history` — into
    `model` and `optimizer` (an SGD over `model.parameters()`); returns the number of epochs it holds."""
    stored = load_weights(path, model)
    try:
        history = json.loads(load_metadata(path).get("ferd.history", "null"))
    except ValueError as error:
        raise CheckpointError(f"{path}: its ferd.history metadata is not JSON ({error}); resume from a "
                              "resume.safetensors that ferd wrote") from None
    if not isinstance(history, list):
        raise CheckpointError(f"{path} is not a ferd resume checkpoint (no ferd.history list in its metadata); "
                              "resume from the worker's resume.safetensors, or give the file as init_from")
    parameters = dict(model.named_parameters())
    momentum = {name[len(MOMENTUM_PREFIX):]: value for name, value in stored.items() if name.startswith(MOMENTUM_PREFIX)}
    strangers = sorted(set(momentum) - set(parameters))
    if strangers:
        raise CheckpointError(f"{path} holds momentum for {_listed(strangers)}, which the model does not have; the "
                              "checkpoint belongs to another model")
    for name, values in momentum.items():
        parameter = parameters[name]
        if values.numel() != parameter.numel():
            raise CheckpointError(f"{path}: the momentum of {name} has {values.numel()} values, the parameter "
                                  f"{parameter.numel()}; the checkpoint belongs to another model")
        optimizer.state[parameter]["momentum_buffer"] = (
            values.to(parameter.device, torch.float32).reshape(parameter.shape).clone())
    return len(history)



def load_labels(path):
    """The SCN label store of a resume checkpoint (its `ferd.labels` metadata text), or None when it has none."""
    return load_metadata(path).get("ferd.labels")
