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
import math
import os
import signal
import sys
import time
import urllib.parse

import numpy as np

from . import CONTRACT_VERSION

PRECISIONS = ("fp32", "bf16", "fp16")
DEVICES = ("cpu", "cuda")
ATTENTIONS = ("gca", "se", "none")
# The methods this engine trains (settings.model.method), every one of ferd's ModelMethod.
METHODS = ("gca-ial", "scn", "ran", "former-dfer", "stt")
RAN_CROPS = ("fixed",)
STT_ATTENTIONS = ("space-time", "joint")
# settings.methodLoss's defaults (ferd's MethodLossSettings): SCN's and RAN's released code, STT as reconstructed.
METHOD_LOSS_DEFAULTS = {"scn": {"rankFraction": 0.7, "rankMargin": 0.15, "relabelMargin": 0.2, "relabelEpoch": 10},
                        "ran": {"margin": 0.02}, "stt": {"compactWeight": 1.0}}
SCHEDULES = ("step", "exponential", "multiStep", "constant")
FAILURE_KINDS = ("settings", "data", "device", "out_of_memory", "diverged", "distributed", "internal")
CLASSES = 7
SPEC_HELP = "send the spec a ferd worker sends (docs/ENGINES.md, \"The trial spec\")"


class SpecError(ValueError):
    """A trial spec that cannot be run: names the field and the fix."""

    def __init__(self, field, problem, fix):
        super().__init__(f"spec field '{field}' {problem}; {fix}")
        self.field = field


def _field(mapping, path):
    """The value at the dotted `path` of `mapping`, or a SpecError naming it."""
    value = mapping
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise SpecError(path, "is missing", SPEC_HELP)
        value = value[part]
    return value


def _is_tcp_address(value):
    """True for "tcp://HOST:PORT" (an IPv6 host in brackets) with a port in 1…65535."""
    if not isinstance(value, str):
        return False
    try:
        address = urllib.parse.urlsplit(value)
        return address.scheme == "tcp" and bool(address.hostname) and address.port is not None and address.port > 0
    except ValueError:
        return False


def _number(mapping, path, minimum=None, below=None, integer=False, positive=False, optional=None):
    """The number at `path`: finite, a whole number when `integer`, ≥ `minimum`, < `below`, > 0 when `positive`.
    With `optional` (the default value), a missing or null field gives that default."""
    if optional is not None and _get(mapping, path) is None:
        return optional
    value = _field(mapping, path)
    valid = isinstance(value, int) if integer else isinstance(value, (int, float)) and math.isfinite(value)
    if isinstance(value, bool) or not valid or (minimum is not None and value < minimum) \
            or (below is not None and value >= below) or (positive and value <= 0):
        wanted = ["a whole number" if integer else "a finite number"]
        if minimum is not None:
            wanted.append(f"≥ {minimum}")
        if positive:
            wanted.append("> 0")
        if below is not None:
            wanted.append(f"below {below}")
        raise SpecError(path, f"is {value!r}", "give " + " ".join(wanted))
    return value


def _choice(mapping, path, choices, optional=None):
    """The string at `path`, one of `choices` (or `optional` when it is missing or null)."""
    if optional is not None and _get(mapping, path) is None:
        return optional
    value = _field(mapping, path)
    if value not in choices:
        listed = choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
        raise SpecError(path, f"is {value!r}", "use " + listed)
    return value


def _flag(mapping, path):
    """The boolean at `path` (missing or null: False)."""
    value = _get(mapping, path)
    if value is not None and not isinstance(value, bool):
        raise SpecError(path, f"is {value!r}", "give true or false")
    return bool(value)


def _get(mapping, path):
    """The value at `path`, or None when any part of it is missing."""
    value = mapping
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def validate_settings(spec):
    """Checks `spec["settings"]` as ferd's `TrainingSettings.validate()` and `ModelConfiguration.validate()` do, so
    the torch engine accepts exactly the settings the Swift engine accepts; raises SpecError."""
    for name in ("epochs", "batchSize"):
        _number(spec, "settings." + name, minimum=1, integer=True)
    _number(spec, "settings.learningRate", positive=True)
    _number(spec, "settings.momentum", minimum=0, below=1)
    _number(spec, "settings.weightDecay", minimum=0)
    _number(spec, "settings.seed", minimum=0, below=1 << 64, integer=True)
    _choice(spec, "settings.bestBy", ("war", "uar"))
    per_segment = _number(spec, "settings.framesPerSegment", minimum=1, integer=True, optional=1)
    schedule = _field(spec, "settings.schedule")
    if not (isinstance(schedule, dict) and len(schedule) == 1 and next(iter(schedule)) in SCHEDULES):
        raise SpecError("settings.schedule", f"is {schedule!r}",
                        'use {"step": {"every": N, "factor": F}}, {"exponential": {"factor": F}}, '
                        '{"multiStep": {"milestones": [E, …], "factor": F}} or {"constant": {}}')
    kind = next(iter(schedule))
    if kind == "step":
        _number(spec, "settings.schedule.step.every", integer=True)
    if kind == "multiStep":
        milestones = _field(spec, "settings.schedule.multiStep.milestones")
        if not (isinstance(milestones, list) and all(isinstance(m, int) and not isinstance(m, bool) and m >= 0
                                                     for m in milestones)):
            raise SpecError("settings.schedule.multiStep.milestones", f"is {milestones!r}",
                            "give the 0-based epochs after which the rate is multiplied by factor, e.g. [12, 20, 32]")
    if kind != "constant":
        _number(spec, f"settings.schedule.{kind}.factor")
    _number(spec, "settings.loss.intensityAware")
    auxiliary = _field(spec, "settings.loss.auxiliary")
    if not (isinstance(auxiliary, list) and all(isinstance(w, (int, float)) and not isinstance(w, bool)
                                                and math.isfinite(w) for w in auxiliary)):
        raise SpecError("settings.loss.auxiliary", f"is {auxiliary!r}",
                        "give the weights of the layer2 and layer3 heads, e.g. [0.05, 0]")
    model = "settings.model"
    method = _choice(spec, model + ".method", METHODS, optional="gca-ial")
    frames = _number(spec, model + ".frames", minimum=2 if method == "gca-ial" else 1, integer=True)
    if frames % per_segment:
        raise SpecError("settings.framesPerSegment", f"is {per_segment}, which does not divide the {frames} frames",
                        "use 1 or a divisor of settings.model.frames")
    _number(spec, model + ".imageSize", minimum=16, integer=True)
    widths = _field(spec, model + ".widths")
    if not (isinstance(widths, list) and len(widths) == 5
            and all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths)):
        raise SpecError(model + ".widths", f"is {widths!r}", "give 5 positive channel counts (stem, layer1…layer4)")
    if _number(spec, model + ".classes", integer=True) != CLASSES:
        raise SpecError(model + ".classes", f"is {spec['settings']['model']['classes']}",
                        f"the torch engine trains DFEW's {CLASSES} classes")
    for transformer in ("spatialTransformer", "temporalTransformer"):
        depth = _number(spec, f"{model}.{transformer}.depth", minimum=0, integer=True)
        for name in ("heads", "headDimension", "hiddenDimension"):
            if depth or method == "gca-ial":
                _number(spec, f"{model}.{transformer}.{name}", minimum=1, integer=True)
    if method == "gca-ial":
        _validate_gca_ial(spec, widths)
    elif method == "ran":
        _choice(spec, model + ".ranCrops", RAN_CROPS, optional="fixed")
        _flag(spec, model + ".ranRecompute")
    elif method == "stt" and _get(spec, model + ".temporalTransformer.depth") == 0:
        raise SpecError(model + ".temporalTransformer.depth", "is 0, but STT's blocks are this transformer",
                        "give a depth of 1 or more (the paper's model has 4)")
    if method == "stt":
        _choice(spec, model + ".sttAttention", STT_ATTENTIONS, optional="space-time")
        _number(spec, model + ".dropPath", minimum=0, below=1, optional=0.1)
    _validate_method_loss(spec, method)


def _validate_gca_ial(spec, widths):
    """GCA+IAL's own fields: the stem equals layer1, `reduction` divides layer2/3, `attention`, `auxiliaryHeads`."""
    model = "settings.model"
    if widths[0] != widths[1]:
        raise SpecError(model + ".widths", f"has stem {widths[0]} ≠ layer1 {widths[1]}",
                        "make them equal (layer1 has an identity shortcut)")
    reduction = _number(spec, model + ".reduction", minimum=1, integer=True)
    if widths[2] % reduction or widths[3] % reduction:
        raise SpecError(model + ".reduction", f"is {reduction}, which does not divide the layer2 and layer3 widths "
                        f"{widths[2]}, {widths[3]}", "choose r dividing both")
    _choice(spec, model + ".attention", ATTENTIONS)
    _flag(spec, model + ".auxiliaryHeads")


def _validate_method_loss(spec, method):
    """`settings.methodLoss.<method>` (optional; missing fields take the defaults of docs/ENGINES.md)."""
    base = f"settings.methodLoss.{method}"
    if _get(spec, "settings.methodLoss") is not None and not isinstance(_get(spec, "settings.methodLoss"), dict):
        raise SpecError("settings.methodLoss", f"is {_get(spec, 'settings.methodLoss')!r}",
                        'give an object such as {"scn": {"rankFraction": 0.7}} or leave it out')
    defaults = METHOD_LOSS_DEFAULTS.get(method, {})
    if method == "scn":
        fraction = _number(spec, base + ".rankFraction", optional=defaults["rankFraction"])
        if not 0 < fraction < 1:
            raise SpecError(base + ".rankFraction", f"is {fraction!r}",
                            "give β between 0 and 1 (the high-importance share of the frames, SCN's 0.7)")
        _number(spec, base + ".rankMargin", minimum=0, optional=defaults["rankMargin"])
        _number(spec, base + ".relabelMargin", minimum=0, optional=defaults["relabelMargin"])
        _number(spec, base + ".relabelEpoch", minimum=1, integer=True, optional=defaults["relabelEpoch"])
    elif method == "ran":
        _number(spec, base + ".margin", minimum=0, optional=defaults["margin"])
    elif method == "stt":
        _number(spec, base + ".compactWeight", minimum=0, optional=defaults["compactWeight"])


def validate_spec(spec):
    """Checks what the torch engine needs of a spec; raises SpecError naming the first bad field and the fix.
    Required: `contract`, `trial.fold`, `settings`, `data.cache`, `run_dir` (an existing folder), `device`; the
    other fields may be missing or null and then take the defaults docs/ENGINES.md gives."""
    if not isinstance(spec, dict):
        raise SpecError("(spec)", "is not a JSON object", "write one JSON object on stdin")
    if spec.get("contract") != CONTRACT_VERSION:
        raise SpecError("contract", f"is {spec.get('contract')!r}, this engine speaks {CONTRACT_VERSION}",
                        "run matching versions of ferd and ferd_torch")
    _number(spec, "trial.fold", minimum=1, integer=True)
    validate_settings(spec)
    cache = _get(spec, "data.cache")
    if not isinstance(cache, str) or not cache:
        raise SpecError("data.cache", "is missing", "prepare the dataset with `ferd prepare` and start the "
                        "coordinator with --cache (the torch engine reads only packed caches)")
    _flag(spec, "data.reference_quirks")
    run_dir = _field(spec, "run_dir")
    if not isinstance(run_dir, str) or not os.path.isdir(run_dir):
        raise SpecError("run_dir", f"is {run_dir!r}, not an existing folder", "create the run folder first")
    for path in ("resume_from", "init_from"):
        value = spec.get(path)
        if value is not None and not (isinstance(value, str) and os.path.isfile(value)):
            raise SpecError(path, f"is {value!r}, not a file", "give the path of a safetensors file, or null")
    _choice(spec, "device", DEVICES)
    _choice(spec, "options.precision", PRECISIONS, optional="fp32")
    for name in ("channels_last", "cudnn_benchmark", "compile"):
        _flag(spec, "options." + name)
    _number(spec, "options.threads", minimum=0, integer=True, optional=0)
    _number(spec, "options.prefetch", minimum=1, integer=True, optional=4)
    _number(spec, "progress_seconds", minimum=0, optional=2.0)
    if spec.get("distributed") is not None:
        world = _number(spec, "distributed.world_size", minimum=1, integer=True)
        rank = _number(spec, "distributed.rank", minimum=0, integer=True)
        if rank >= world:
            raise SpecError("distributed.rank", f"is {rank} of {world}", "give a rank below world_size")
        if spec["settings"]["batchSize"] % world:
            raise SpecError("settings.batchSize", f"is {spec['settings']['batchSize']}, which cannot be split over "
                            f"{world} members", f"use a multiple of {world}")
        init_method = _field(spec, "distributed.init_method")
        if not _is_tcp_address(init_method):
            raise SpecError("distributed.init_method", f"is {init_method!r}", "give tcp://HOST:PORT")
        _choice(spec, "distributed.backend", ("gloo", "nccl"))
        _number(spec, "distributed.join_timeout_seconds", positive=True, optional=300)
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
    if kind == "multiStep":
        passed = sum(1 for milestone in parameters["milestones"] if milestone <= epoch - 1)
        return float(base * np.float32(parameters["factor"]) ** np.float32(passed))
    return float(base)


def _claim_stdout():
    """A private duplicate of stdout for the events; file descriptor 1 (and with it `print` and native code) is
    pointed at stderr, so nothing but events reaches the worker's pipe."""
    sys.stdout.flush()
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return events


class EngineSession:
    """One trial's conversation with the worker: the spec, the events, and SIGTERM (the first one sets
    `stop_requested`, so the script finishes its epoch and stops; a second one ends the process at once)."""

    def __init__(self, spec, output=None, handle_signals=True):
        self.spec = spec
        self.stop_requested = False
        self._output = output if output is not None else sys.stdout
        self._last_progress = None
        self._epoch_began = time.monotonic()
        progress = spec.get("progress_seconds") if isinstance(spec, dict) else None
        self._progress_seconds = 2.0 if progress is None else float(progress)
        if handle_signals:
            signal.signal(signal.SIGTERM, self._on_sigterm)

    @classmethod
    def from_stdin(cls, handle_signals=True):
        """Reads the spec (one JSON document) from stdin. Events then go to a private copy of stdout and stdout
        itself goes to stderr (the trial's log), so a stray `print` cannot break the event stream. A spec that is
        not JSON ends the process with a `failed` event (kind settings) and exit status 1."""
        text = sys.stdin.read()
        output = _claim_stdout()
        try:
            spec = json.loads(text)
        except ValueError as error:
            cls({}, output=output, handle_signals=False).failed(
                f"the trial spec on stdin is not JSON ({error})", kind="settings", retryable=False)
            raise SystemExit(1) from None
        return cls(spec, output=output, handle_signals=handle_signals)

    def _on_sigterm(self, *_):
        self.stop_requested = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def emit(self, event, **fields):
        """Writes one event line and flushes it."""
        self._output.write(json.dumps({"event": event, **fields}) + "\n")
        self._output.flush()

    def started(self, start_epoch=1, **info):
        """`started`: the model is built and the data opened; training begins with `start_epoch`. `info` adds
        fields such as `engine`, `version`, `torch`, `device`, `device_name`, `parameters`."""
        self._epoch_began = time.monotonic()
        self.emit("started", contract=CONTRACT_VERSION, start_epoch=start_epoch, **info)

    def progress(self, epoch, phase, batch, batches, loss=None, force=False):
        """`progress`, unless the last one is less than `progress_seconds` old (or `force`)."""
        now = time.monotonic()
        if not force and self._last_progress is not None and now - self._last_progress < self._progress_seconds:
            return
        self._last_progress = now
        fields = {"epoch": epoch, "phase": phase, "batch": batch, "batches": batches}
        if loss is not None:
            fields["loss"] = float(loss)
        self.emit("progress", **fields)

    def checkpoint(self, epoch, file):
        """`checkpoint`: the epoch's checkpoint is written (call before `epoch`)."""
        self.emit("checkpoint", epoch=epoch, file=file)

    def epoch(self, epoch, train_loss, confusion, learning_rate=None, seconds=None, **extra):
        """`epoch`: the epoch's mean training loss and its test confusion matrix (rows truth, columns prediction).
        `learning_rate` defaults to the schedule's, `seconds` to the time since `started` or the previous epoch;
        `extra` adds optional fields (`steps`, `train_seconds`, `data_wait_seconds`)."""
        now = time.monotonic()
        if seconds is None:
            seconds = now - self._epoch_began
        self._epoch_began = now
        rate = self.learning_rate(epoch) if learning_rate is None else learning_rate
        self.emit("epoch", epoch=epoch, train_loss=float(train_loss), learning_rate=float(rate),
                  seconds=float(seconds), confusion=[[int(count) for count in row] for row in confusion], **extra)

    def stopped(self, after_epoch):
        """`stopped`: SIGTERM honoured after `after_epoch` (the last reported epoch)."""
        self.emit("stopped", after_epoch=after_epoch)

    def done(self):
        """`done`: every epoch of `settings.epochs` is reported."""
        self.emit("done", epochs=self.spec["settings"]["epochs"])

    def failed(self, reason, kind="internal", retryable=True):
        """`failed`: the engine gives up; the worker fails the attempt with `reason` (say what failed and the fix)."""
        self.emit("failed", reason=reason, kind=kind if kind in FAILURE_KINDS else "internal", retryable=retryable)

    def learning_rate(self, epoch):
        """The learning rate of 1-based `epoch` under the spec's schedule."""
        return learning_rate(self.spec["settings"], epoch)
