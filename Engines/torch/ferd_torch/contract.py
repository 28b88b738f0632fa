"""The engine contract (docs/ENGINES.md, version 1) from the engine's side: the trial spec read from stdin and
the events written to stdout. `EngineSession` is all a training script needs to join a ferd sweep; the torch
engine itself uses it too, so there is one implementation of the events.

    from ferd_torch.contract import EngineSession
    session = EngineSession.from_stdin()
    session.started(start_epoch=1)
    for epoch in range(1, session.spec["settings"]["epochs"] + 1):
        loss = train_one_epoch(lr=session.learning_rate(epoch))
        session.epoch(epoch, train_loss=loss, confusion=evaluate())
        if session.stop_requested:
            session.stopped(epoch)
            break
    else:
        session.done()
"""

import json
import signal
import sys
import time

import numpy as np

from . import CONTRACT_VERSION

PRECISIONS = ("fp32", "bf16", "fp16")
DEVICES = ("cpu", "cuda")
FAILURE_KINDS = ("settings", "data", "device", "out_of_memory", "diverged", "distributed", "internal")


class SpecError(ValueError):
    """A trial spec that cannot be run: names the field and the fix."""

    def __init__(self, field, problem, fix):
        super().__init__(f"spec field '{field}': {problem}; {fix}")
        self.field = field


def _field(mapping, path):
    """The value at the dotted `path` of `mapping`, or a SpecError naming it."""
    value = mapping
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise SpecError(path, "is missing", "send the spec a ferd worker sends (docs/ENGINES.md)")
        value = value[part]
    return value


def _number(mapping, path, minimum=None, integer=False):
    value = _field(mapping, path)
    valid = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not valid or (minimum is not None and value < minimum):
        kind = "a whole number" if integer else "a number"
        raise SpecError(path, f"is {value!r}", f"give {kind}" + (f" ≥ {minimum}" if minimum is not None else ""))
    return value


def validate_spec(spec):
    """Checks what the torch engine needs of a spec; raises SpecError naming the first bad field."""
    if not isinstance(spec, dict):
        raise SpecError("(spec)", "is not a JSON object", "write one JSON object on stdin")
    if spec.get("contract") != CONTRACT_VERSION:
        raise SpecError("contract", f"is {spec.get('contract')!r}, this engine speaks {CONTRACT_VERSION}",
                        "run matching versions of ferd and ferd_torch")
    for path in ("settings.epochs", "settings.batchSize", "settings.model.frames", "settings.model.imageSize",
                 "settings.model.reduction", "settings.model.classes", "trial.fold"):
        _number(spec, path, minimum=1, integer=True)
    for path in ("settings.learningRate", "settings.momentum", "settings.weightDecay", "settings.loss.intensityAware"):
        _number(spec, path, minimum=0)
    _number(spec, "settings.seed", minimum=0, integer=True)
    widths = _field(spec, "settings.model.widths")
    if not (isinstance(widths, list) and len(widths) == 5 and all(isinstance(w, int) and w > 0 for w in widths)):
        raise SpecError("settings.model.widths", f"is {widths!r}", "give 5 positive channel counts (stem, layer1…4)")
    if widths[0] != widths[1]:
        raise SpecError("settings.model.widths", f"stem {widths[0]} ≠ layer1 {widths[1]}", "make them equal")
    if _field(spec, "settings.model.attention") not in ("gca", "se", "none"):
        raise SpecError("settings.model.attention", f"is {spec['settings']['model']['attention']!r}", "use gca, se or none")
    if spec["settings"]["model"]["classes"] != 7:
        raise SpecError("settings.model.classes", f"is {spec['settings']['model']['classes']}", "the model has 7 classes")
    schedule = _field(spec, "settings.schedule")
    if not (isinstance(schedule, dict) and len(schedule) == 1 and next(iter(schedule)) in ("step", "exponential", "constant")):
        raise SpecError("settings.schedule", f"is {schedule!r}",
                        'use {"step": {"every": N, "factor": F}}, {"exponential": {"factor": F}} or {"constant": {}}')
    if _field(spec, "settings.bestBy") not in ("war", "uar"):
        raise SpecError("settings.bestBy", f"is {spec['settings']['bestBy']!r}", "use war or uar")
    if not isinstance(_field(spec, "run_dir"), str):
        raise SpecError("run_dir", "is not a path", "give the run folder")
    if spec.get("device", "cpu") not in DEVICES:
        raise SpecError("device", f"is {spec.get('device')!r}", "use cpu or cuda")
    options = spec.get("options") or {}
    if options.get("precision", "fp32") not in PRECISIONS:
        raise SpecError("options.precision", f"is {options.get('precision')!r}", "use fp32, bf16 or fp16")
    distributed = spec.get("distributed")
    if distributed is not None:
        world = _number(spec, "distributed.world_size", minimum=1, integer=True)
        rank = _number(spec, "distributed.rank", minimum=0, integer=True)
        if rank >= world:
            raise SpecError("distributed.rank", f"is {rank} of {world}", "give a rank below world_size")
        if spec["settings"]["batchSize"] % world:
            raise SpecError("settings.batchSize", f"{spec['settings']['batchSize']} clips cannot be split over {world} members",
                            f"use a multiple of {world}")
        _field(spec, "distributed.init_method")
        if distributed.get("backend") not in ("gloo", "nccl"):
            raise SpecError("distributed.backend", f"is {distributed.get('backend')!r}", "use gloo or nccl")
    cache = (spec.get("data") or {}).get("cache")
    if not isinstance(cache, str):
        raise SpecError("data.cache", "is missing", "prepare the dataset with `ferd prepare` and give the coordinator --cache")
    return spec


def learning_rate(settings, epoch):
    """The learning rate of 1-based `epoch`, in float32 as ferd's `LearningRateSchedule.rate(base:epoch:)`."""
    base = np.float32(settings["learningRate"])
    kind, parameters = next(iter(settings["schedule"].items()))
    if kind == "step":
        exponent = (epoch - 1) // max(1, int(parameters["every"]))
        return float(base * np.float32(parameters["factor"]) ** np.float32(exponent))
    if kind == "exponential":
        return float(base * np.float32(parameters["factor"]) ** np.float32(epoch - 1))
    return float(base)


class EngineSession:
    """One trial's conversation with the worker: the spec, the events, and SIGTERM (finish the epoch, then stop;
    a second SIGTERM stops at once)."""

    def __init__(self, spec, output=None, handle_signals=True):
        self.spec = spec
        self.stop_requested = False
        self._output = output or sys.stdout
        self._last_progress = 0.0
        progress = spec.get("progress_seconds") if isinstance(spec, dict) else None
        self._progress_seconds = 2.0 if progress is None else float(progress)
        if handle_signals:
            signal.signal(signal.SIGTERM, self._on_sigterm)

    @classmethod
    def from_stdin(cls, **options):
        """Reads the spec (one JSON document) from stdin."""
        text = sys.stdin.read()
        try:
            spec = json.loads(text)
        except ValueError as error:
            session = cls({}, **options)
            session.failed(f"the trial spec on stdin is not JSON ({error})", kind="settings", retryable=False)
            raise SystemExit(1) from None
        return cls(spec, **options)

    def _on_sigterm(self, *_):
        if self.stop_requested:
            raise SystemExit(143)
        self.stop_requested = True

    def emit(self, event, **fields):
        """Writes one event line and flushes it."""
        self._output.write(json.dumps({"event": event, **fields}) + "\n")
        self._output.flush()

    def started(self, start_epoch=1, **info):
        """`started`: the model is built and the data opened; training begins with `start_epoch`."""
        self.emit("started", contract=CONTRACT_VERSION, start_epoch=start_epoch, **info)

    def progress(self, epoch, phase, batch, batches, loss=None, force=False):
        """`progress`, at most every `progress_seconds` unless `force`."""
        now = time.monotonic()
        if not force and now - self._last_progress < self._progress_seconds:
            return
        self._last_progress = now
        fields = {"epoch": epoch, "phase": phase, "batch": batch, "batches": batches}
        if loss is not None:
            fields["loss"] = loss
        self.emit("progress", **fields)

    def checkpoint(self, epoch, file):
        """`checkpoint`: the epoch's checkpoint is written (call before `epoch`)."""
        self.emit("checkpoint", epoch=epoch, file=file)

    def epoch(self, epoch, train_loss, confusion, learning_rate=None, seconds=None, **extra):
        """`epoch`: the epoch's mean training loss and its test confusion matrix (rows truth, columns prediction)."""
        self.emit("epoch", epoch=epoch, train_loss=float(train_loss),
                  learning_rate=float(learning_rate if learning_rate is not None else self.learning_rate(epoch)),
                  seconds=float(seconds or 0.0), confusion=[[int(count) for count in row] for row in confusion], **extra)

    def stopped(self, after_epoch):
        """`stopped`: SIGTERM honoured after `after_epoch`."""
        self.emit("stopped", after_epoch=after_epoch)

    def done(self):
        """`done`: every epoch is reported."""
        self.emit("done", epochs=self.spec["settings"]["epochs"])

    def failed(self, reason, kind="internal", retryable=True):
        """`failed`: the engine gives up; the worker fails the attempt with `reason`."""
        self.emit("failed", reason=reason, kind=kind if kind in FAILURE_KINDS else "internal", retryable=retryable)

    def learning_rate(self, epoch):
        """The learning rate of 1-based `epoch` under the spec's schedule."""
        return learning_rate(self.spec["settings"], epoch)
