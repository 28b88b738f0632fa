"""The torch engine: trains one ferd trial as the Swift engine does (same model and state_dict keys, same loss, SGD,
schedule and data) and speaks the engine contract (docs/ENGINES.md). `python -m ferd_torch` runs `main`.

What matches the Swift `Trainer`: the loss (CE + λ·IAL + auxiliary CE of layer2/layer3 for GCA), torch.optim.SGD
(which ferd's SGD reproduces), the learning rate per epoch in float32, the mean of the step losses as the
training loss, evaluation in eval mode with argmax predictions into a confusion matrix, and, with several
members, the shard of each global batch per rank, gradients averaged over the members, batch-norm running
statistics averaged after each epoch's training, sharded evaluation with summed matrices. What is ferd's alone:
UAR, WAR and the best epoch are computed by the worker from the reported matrices.
"""

import os
import sys
import time

import torch

from . import __version__
from . import checkpoint
from . import distributed as parallel
from .contract import EngineSession, SpecError, validate_spec
from .data import DataError, FoldData
from .model import GenerateModel, Preset, TransformerSpec, total_loss


class EngineFailure(Exception):
    """Ends the run with a `failed` event of `kind`."""

    def __init__(self, reason, kind, retryable):
        super().__init__(reason)
        self.kind, self.retryable = kind, retryable


def preset_of(model):
    """ferd's `ModelConfiguration` JSON as the reference model's `Preset` (widths: layer1…layer4)."""
    def transformer(shape):
        return TransformerSpec(depth=shape["depth"], heads=shape["heads"], dim_head=shape["headDimension"],
                               mlp=shape["hiddenDimension"])
    return Preset(frames=model["frames"], image=model["imageSize"], widths=tuple(model["widths"][1:]),
                  reduction=model["reduction"], pos=transformer(model["spatialTransformer"]),
                  temporal=transformer(model["temporalTransformer"]))


def choose_device(spec, rank):
    """The torch device of this process: `cuda:<rank % visible GPUs>` or the CPU."""
    if spec.get("device", "cpu") != "cuda":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise EngineFailure(f"CUDA was requested but torch {torch.__version__} sees no GPU (no driver, or a CPU-only "
                            "build); install a CUDA build of torch or start the worker with --device cpu",
                            "device", retryable=False)
    return torch.device("cuda", rank % torch.cuda.device_count())


def is_out_of_memory(error):
    """Whether `error` is CUDA running out of memory (torch 1.13 raises a plain RuntimeError)."""
    return isinstance(error, getattr(torch.cuda, "OutOfMemoryError", ())) or "out of memory" in str(error)


class Engine:
    """One trial: model, optimiser, data and the epoch loop, reporting through an `EngineSession`."""

    def __init__(self, spec, session):
        self.spec, self.session = spec, session
        self.settings = spec["settings"]
        options = spec.get("options") or {}
        self.precision = options.get("precision", "fp32")
        self.rank, self.world = parallel.rank_and_size(spec)
        self.device = choose_device(spec, self.rank)
        if options.get("threads"):
            torch.set_num_threads(int(options["threads"]))
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = bool(options.get("cudnn_benchmark", True))
        if self.precision == "fp16" and self.device.type != "cuda":
            raise EngineFailure("precision fp16 needs a GPU (gradient scaling is CUDA-only); use fp32 or bf16 on CPUs",
                                "settings", retryable=False)
        torch.manual_seed(self.settings["seed"] % (1 << 63))
        model = self.settings["model"]
        self.model = GenerateModel(preset_of(model), model["attention"])
        if spec.get("init_from"):
            checkpoint.load_weights(spec["init_from"], self.model)
        self.model.to(self.device)
        if options.get("channels_last"):
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.settings["learningRate"],
                                         momentum=self.settings["momentum"], weight_decay=self.settings["weightDecay"])
        self.completed = checkpoint.load_resume(spec["resume_from"], self.model, self.optimizer) if spec.get("resume_from") else 0
        if self.world > 1:
            parallel.join(spec, self.device)
            parallel.broadcast_parameters(self.model)
        self.forward = self.model
        if options.get("compile"):
            if not hasattr(torch, "compile"):
                raise EngineFailure(f"torch.compile needs torch ≥ 2 (this is {torch.__version__}); set torch.compile: "
                                    "false or install a newer torch", "settings", retryable=False)
            self.forward = torch.compile(self.model)
        self.scaler = torch.cuda.amp.GradScaler() if self.precision == "fp16" else None
        data = spec["data"]
        self.data = FoldData(data["cache"], spec["trial"]["fold"], self.settings,
                             reference_quirks=bool(data.get("reference_quirks")), device=self.device, rank=self.rank,
                             world_size=self.world, prefetch=int(options.get("prefetch", 4)))
        if self.data.train_batch_count == 0:
            raise EngineFailure(f"the training split yields no batch of {self.settings['batchSize']} clips; lower the "
                                "batch or add clips", "data", retryable=False)

    def autocast(self):
        """The autocast context of the configured precision (a no-op for fp32)."""
        if self.precision == "fp32":
            return torch.autocast(self.device.type, enabled=False)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def run(self):
        """Trains the remaining epochs; returns normally after `done` or `stopped`."""
        session = self.session
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu"
        session.started(start_epoch=self.completed + 1, engine="ferd-torch", version=__version__,
                        torch=torch.__version__, device=str(self.device), device_name=name,
                        parameters=sum(p.numel() for p in self.model.parameters()))
        for epoch in range(self.completed + 1, self.settings["epochs"] + 1):
            started = time.monotonic()
            for group in self.optimizer.param_groups:
                group["lr"] = session.learning_rate(epoch)
            loss, steps = self.train_epoch(epoch)
            train_seconds = time.monotonic() - started
            data_wait = self.data.data_wait_seconds
            if self.world > 1:
                parallel.average_batch_norm_statistics(self.model)
            confusion = self.evaluate(epoch)
            if self.rank == 0:
                file = os.path.join(self.spec["run_dir"], f"engine-epoch-{epoch}.safetensors")
                checkpoint.write(file, self.model, self.optimizer, self.settings, epoch)
                session.checkpoint(epoch, file)
            session.epoch(epoch, train_loss=loss, confusion=confusion, learning_rate=session.learning_rate(epoch),
                          seconds=time.monotonic() - started, steps=steps, train_seconds=train_seconds,
                          data_wait_seconds=data_wait)
            if parallel.any_rank(self.world, session.stop_requested, self.device) and epoch < self.settings["epochs"]:
                session.stopped(epoch)
                return
        session.done()

    def train_epoch(self, epoch):
        """One epoch of SGD; returns the mean step loss (over the members) and the number of steps."""
        self.model.train()
        losses = []
        batches = self.data.train_batch_count
        weights = self.settings["loss"]
        auxiliary = tuple(weights.get("auxiliary", [0.05, 0.0]))
        for step, (clips, labels) in enumerate(self.data.train_batches(epoch - 1), start=1):
            try:
                self.optimizer.zero_grad(set_to_none=True)
                with self.autocast():
                    logits, aux2, aux3 = self.forward(clips)
                    loss = total_loss(logits.float(), aux2.float(), aux3.float(), labels, lam=weights["intensityAware"],
                                      aux_weights=auxiliary, use_aux=self.model.has_aux)["total"]
                value = loss.item()
                if value != value or value in (float("inf"), float("-inf")):
                    raise EngineFailure(f"the loss became {value} in epoch {epoch}, batch {step}; lower the learning "
                                        "rate", "diverged", retryable=False)
                if self.scaler is not None:
                    self.scaler.scale(loss).backward()
                    parallel.average_gradients(self.model, self.world)
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                else:
                    loss.backward()
                    parallel.average_gradients(self.model, self.world)
                    self.optimizer.step()
            except RuntimeError as error:
                if is_out_of_memory(error):
                    raise EngineFailure(
                        f"CUDA out of memory with batch {self.settings['batchSize']} ({clips.shape[0]} clips on this "
                        f"member, {self.precision}) in epoch {epoch}, batch {step}; lower batch, use torch.precision "
                        f"bf16, or a GPU with more memory", "out_of_memory", retryable=False) from None
                raise
            losses.append(value)
            self.session.progress(epoch, "train", step, batches, loss=value, force=step == 1)
        return parallel.mean_over_members(losses, self.world, self.device), len(losses)

    def evaluate(self, epoch):
        """The confusion matrix of the test set (summed over the members)."""
        self.model.eval()
        classes = self.settings["model"]["classes"]
        confusion = torch.zeros(classes, classes, dtype=torch.int64)
        batches = self.data.test_batch_count
        with torch.no_grad():
            for index, (clips, labels) in enumerate(self.data.test_batches(), start=1):
                if clips.shape[0]:
                    with self.autocast():
                        logits = self.forward(clips)[0]
                    predictions = logits.float().argmax(dim=1).cpu()
                    confusion += torch.bincount(labels.cpu() * classes + predictions,
                                                minlength=classes * classes).reshape(classes, classes)
                self.session.progress(epoch, "evaluate", index, batches)
        return parallel.sum_over_members(confusion, self.world, self.device).tolist()


def main():
    """Reads the spec, runs the trial, reports; exit status 0 after `done`/`stopped`, 1 after `failed`."""
    session = EngineSession.from_stdin()
    try:
        validate_spec(session.spec)
        Engine(session.spec, session).run()
    except SpecError as error:
        session.failed(str(error), kind="settings", retryable=False)
    except DataError as error:
        session.failed(str(error), kind="data", retryable=False)
    except checkpoint.CheckpointError as error:
        session.failed(str(error), kind="settings", retryable=False)
    except EngineFailure as failure:
        session.failed(str(failure), kind=failure.kind, retryable=failure.retryable)
    except parallel.DistributedError as error:
        session.failed(str(error), kind="distributed", retryable=True)
    except RuntimeError as error:
        if is_out_of_memory(error):
            session.failed(f"CUDA out of memory while setting up the trial ({error}); use a GPU with more memory or a "
                           "smaller model", kind="out_of_memory", retryable=False)
        else:
            session.failed(f"{type(error).__name__}: {error}", kind="internal", retryable=True)
    else:
        parallel.leave()
        return 0
    parallel.leave()
    sys.stdout.flush()
    return 1
