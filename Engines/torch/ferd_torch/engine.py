"""The torch engine: trains one ferd trial as the Swift engine does (same model and state_dict keys, same loss, SGD,
schedule and data) and speaks the engine contract (docs/ENGINES.md). `python -m ferd_torch` runs `main`.

What matches the Swift `Trainer`: the model and loss of `settings.model.method` (methods.py; GCA+IAL: CE + λ·IAL +
auxiliary CE of layer2/layer3), SCN's relabelling (relabel.py), torch.optim.SGD
(which ferd's SGD reproduces), the learning rate per epoch in float32, the mean of the step losses as the
training loss, evaluation in eval mode with argmax predictions into a confusion matrix, and, with several
members, the shard of each global batch per rank, gradients averaged over the members, batch-norm running
statistics averaged after each epoch's training, sharded evaluation with summed matrices. What is ferd's alone:
UAR, WAR and the best epoch are computed by the worker from the reported matrices.
"""

import logging
import math
import os
import sys
import time

import torch

from . import __version__
from . import checkpoint, methods
from . import distributed as parallel
from .contract import EngineSession, SpecError, validate_spec
from .data import DataError, FoldData
from .relabel import Relabeller

log = logging.getLogger("ferd_torch")


class EngineFailure(Exception):
    """Ends the run with a `failed` event of `kind`."""

    def __init__(self, reason, kind, retryable):
        super().__init__(reason)
        self.kind, self.retryable = kind, retryable


def choose_device(spec, rank):
    """The torch device of this process: `cuda:<rank % visible GPUs>` or the CPU."""
    if spec["device"] != "cuda":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise EngineFailure(f"CUDA was requested but torch {torch.__version__} sees no GPU (no driver, no visible "
                            "device, or a CPU-only build of torch); install a CUDA build of torch "
                            "(https://pytorch.org/get-started/locally/) or start the worker with --device cpu",
                            "device", retryable=False)
    return torch.device("cuda", rank % torch.cuda.device_count())


def is_out_of_memory(error):
    """Whether `error` is the GPU (or the host) running out of memory; torch 1.13 raises a plain RuntimeError."""
    out_of_memory = getattr(torch.cuda, "OutOfMemoryError", None)
    if out_of_memory is not None and isinstance(error, out_of_memory):
        return True
    return any(text in str(error) for text in ("out of memory", "can't allocate memory"))


def gradient_scaler():
    """fp16's gradient scaler (`torch.amp.GradScaler` where it exists, torch.cuda.amp's before torch 2.3)."""
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


class Engine:
    """One trial: model, optimiser, data and the epoch loop, reporting through an `EngineSession`. `activity` says
    what the engine is doing, for the message when memory runs out."""

    def __init__(self, spec, session):
        self.spec, self.session = spec, session
        self.settings = spec["settings"]
        self.options = spec.get("options") or {}
        self.precision = self.options.get("precision") or "fp32"
        self.rank, self.world = parallel.rank_and_size(spec)
        self.device = torch.device("cpu")
        self.activity = "starting"

    def run(self):
        """Sets the trial up and trains the remaining epochs; returns after `done` or `stopped`."""
        try:
            self.prepare()
            self.train()
        except RuntimeError as error:
            if not is_out_of_memory(error):
                raise
            raise EngineFailure(
                f"{self.device} ran out of memory while {self.activity} (batch {self.settings['batchSize']}, "
                f"precision {self.precision}): {str(error).splitlines()[0]}; use a smaller batch, precision bf16 or "
                "fp16, or a device with more memory", "out_of_memory", retryable=False) from None

    def prepare(self):
        """Builds the model (random, `init_from` or `resume_from`), the optimiser and the data; joins the gang."""
        self.activity = "building the model"
        self.device = choose_device(self.spec, self.rank)
        if self.options.get("threads"):
            torch.set_num_threads(int(self.options["threads"]))
        if self.precision == "fp16" and self.device.type != "cuda":
            raise EngineFailure("precision fp16 needs a GPU (gradient scaling is CUDA-only); use fp32 or bf16 on "
                                "CPUs", "settings", retryable=False)
        if self.precision == "bf16" and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise EngineFailure(f"{torch.cuda.get_device_name(self.device)} does not support bfloat16; use precision "
                                "fp16 or fp32", "settings", retryable=False)
        if self.options.get("compile") and not hasattr(torch, "compile"):
            raise EngineFailure(f"torch.compile needs torch ≥ 2 (this is {torch.__version__}); set compile: false "
                                "under torch: in the experiment, or install torch ≥ 2", "settings", retryable=False)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = self.options.get("cudnn_benchmark", True) is not False
        torch.manual_seed(self.settings["seed"])
        configuration = self.settings["model"]
        self.method = methods.method_of(configuration)
        self.model = methods.build(configuration)
        self.init_report = None
        if self.spec.get("init_from"):
            self.init_report = checkpoint.load_initial(self.spec["init_from"], self.model,
                                                       methods.BACKBONES.get(self.method))
        self.model.to(self.device)
        if self.options.get("channels_last"):
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.settings["learningRate"],
                                         momentum=self.settings["momentum"], weight_decay=self.settings["weightDecay"])
        self.completed = 0
        if self.spec.get("resume_from"):
            self.completed = checkpoint.load_resume(self.spec["resume_from"], self.model, self.optimizer)
        if self.world > 1:
            self.activity = "joining the other members"
            parallel.join(self.spec, self.device)
            parallel.broadcast_state(self.model)
        self.forward = torch.compile(self.model) if self.options.get("compile") else self.model
        self.scaler = gradient_scaler() if self.precision == "fp16" else None
        self.activity = "opening the data"
        data = self.spec["data"]
        self.data = FoldData(data["cache"], self.spec["trial"]["fold"], self.settings,
                             reference_quirks=bool(data.get("reference_quirks")), device=self.device, rank=self.rank,
                             world_size=self.world, prefetch=int(self.options.get("prefetch") or 4))
        if self.data.train_batch_count == 0:
            raise EngineFailure(f"the training split of fold {self.spec['trial']['fold']} yields no batch of "
                                f"{self.settings['batchSize']} clips; lower the batch size or add clips", "data",
                                retryable=False)
        self.relabeller = None
        if self.method == "scn":
            scn = methods.method_loss(self.settings, "scn")
            self.relabeller = Relabeller(self.data.train, scn["relabelMargin"], scn["relabelEpoch"],
                                         configuration["classes"], self.world, self.device)
            stored = checkpoint.load_labels(self.spec["resume_from"]) if self.spec.get("resume_from") else None
            if stored is not None:
                try:
                    self.relabeller.restore(stored)
                except ValueError as error:
                    raise checkpoint.CheckpointError(f"{self.spec['resume_from']}: {error}; resume from a checkpoint "
                                                     "that ferd wrote") from None

    def autocast(self):
        """The autocast context of the configured precision (disabled for fp32)."""
        if self.precision == "fp32":
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=torch.bfloat16 if self.precision == "bf16" else torch.float16)

    def train(self):
        """The epochs after the resumed ones; a stop asked for by any member ends the run before the next epoch."""
        session = self.session
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu"
        parameters = sum(p.numel() for p in self.model.parameters())
        epochs = self.settings["epochs"]
        extra = {"init_from": self.init_report} if self.init_report else {}
        session.started(start_epoch=self.completed + 1, engine="ferd-torch", version=__version__,
                        torch=torch.__version__, device=str(self.device), device_name=name, parameters=parameters,
                        method=self.method, **extra)
        log.info("torch %s on %s (%s), %s with %d parameters, %s precision; %d training and %d test batches per "
                 "epoch; epochs %d–%d", torch.__version__, self.device, name, self.method, parameters, self.precision,
                 self.data.train_batch_count, self.data.test_batch_count, self.completed + 1, epochs)
        if self.init_report:
            report = self.init_report
            log.info("init_from %s is not a whole model: %d tensors loaded; %d model tensors keep their "
                     "initialisation (%s); %d of its tensors name none of the model's (%s); %d have another shape "
                     "(%s)", report["file"], report["loaded"], len(report["missing"]), ", ".join(report["missing"]),
                     len(report["unused"]), ", ".join(report["unused"]), len(report["mismatched"]),
                     ", ".join(report["mismatched"]))
        for epoch in range(self.completed + 1, epochs + 1):
            if parallel.any_rank(self.world, session.stop_requested, self.device):
                log.info("stopping after epoch %d as asked (SIGTERM)", epoch - 1)
                session.stopped(epoch - 1)
                return
            began = time.monotonic()
            rate = session.learning_rate(epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = rate
            loss, steps = self.train_epoch(epoch)
            train_seconds, data_wait = time.monotonic() - began, self.data.data_wait_seconds
            if self.world > 1:
                parallel.average_batch_norm_statistics(self.model)
            confusion = self.evaluate(epoch)
            labels = self.relabeller.metadata() if self.relabeller else None
            if self.rank == 0:
                file = os.path.join(self.spec["run_dir"], f"engine-epoch-{epoch}.safetensors")
                checkpoint.write(file, self.model, self.optimizer, self.settings, epoch,
                                 metadata={"ferd.labels": labels} if labels else None)
                session.checkpoint(epoch, file)
            seconds = time.monotonic() - began
            relabelled = self.relabeller is not None and self.relabeller.active(epoch)
            relabels = {"relabels": self.relabeller.report()} if relabelled else {}
            session.epoch(epoch, train_loss=loss, confusion=confusion, learning_rate=rate, seconds=seconds,
                          steps=steps, train_seconds=train_seconds, data_wait_seconds=data_wait, **relabels)
            log.info("epoch %d/%d: train loss %.6f, lr %g, %.1f s (training %.1f s, %.1f s of it waiting for data)",
                     epoch, epochs, loss, rate, seconds, train_seconds, data_wait)
        session.done()

    def train_epoch(self, epoch):
        """One epoch of SGD; returns the mean over the steps of the members' mean step loss, and the step count."""
        self.model.train()
        losses = []
        batches = self.data.train_batch_count
        plan = self.data.plan(epoch - 1)
        relabelling = self.relabeller is not None and self.relabeller.active(epoch)
        if self.relabeller:
            self.relabeller.begin_epoch()
        for step, (clips, labels) in enumerate(self.data.train_batches(epoch - 1), start=1):
            self.activity = f"training epoch {epoch}, batch {step} ({clips.shape[0]} clips on this member)"
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                output = self.forward(clips).to_float32()
                loss = methods.losses(self.method, output, labels, self.settings)["total"]
            (loss if self.scaler is None else self.scaler.scale(loss)).backward()
            value = parallel.average_gradients(self.model, self.world, loss.detach())
            if not math.isfinite(value):
                raise EngineFailure(f"the loss became {value} in epoch {epoch}, batch {step}; lower the learning rate "
                                    f"({self.settings['learningRate']})", "diverged", retryable=False)
            if self.scaler is None:
                self.optimizer.step()
            else:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            if relabelling:
                self.relabeller.step(plan[step - 1][self.rank::self.world], output.logits, labels)
            losses.append(value)
            self.session.progress(epoch, "train", step, batches, loss=value, force=step == 1)
        return sum(losses) / len(losses), len(losses)

    def evaluate(self, epoch):
        """The confusion matrix of the test set (summed over the members), rows truth, columns prediction."""
        self.model.eval()
        classes = self.settings["model"]["classes"]
        confusion = torch.zeros(classes, classes, dtype=torch.int64)
        batches = self.data.test_batch_count
        with torch.no_grad():
            for index, (clips, labels) in enumerate(self.data.test_batches(), start=1):
                self.activity = f"evaluating epoch {epoch}, batch {index} ({clips.shape[0]} clips on this member)"
                if clips.shape[0]:
                    with self.autocast():
                        logits = self.forward(clips).logits
                    predictions = logits.float().argmax(dim=1).cpu()
                    confusion += torch.bincount(labels.cpu() * classes + predictions,
                                                minlength=classes * classes).reshape(classes, classes)
                self.session.progress(epoch, "evaluate", index, batches)
        return parallel.sum_over_members(confusion, self.world, self.device).tolist()


def main():
    """Reads the spec, runs the trial, reports; exit status 0 after `done`/`stopped`, 1 after `failed`."""
    session = EngineSession.from_stdin()
    member = session.spec.get("distributed") if isinstance(session.spec, dict) else None
    rank = member.get("rank", 0) if isinstance(member, dict) else 0
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"%(asctime)s ferd_torch[rank {rank}] %(levelname)s: %(message)s")
    try:
        validate_spec(session.spec)
        Engine(session.spec, session).run()
        return 0
    except SpecError as error:
        failure = EngineFailure(str(error), "settings", retryable=False)
    except DataError as error:  # this worker's cache: another worker's may be whole
        failure = EngineFailure(str(error), "data", retryable=True)
    except checkpoint.CheckpointError as error:
        failure = EngineFailure(str(error), "settings", retryable=False)
    except parallel.DistributedError as error:
        failure = EngineFailure(str(error), "distributed", retryable=True)
    except EngineFailure as error:
        failure = error
    except Exception as error:  # a bug or an unforeseen torch error: the traceback goes to the log
        log.exception("internal error")
        failure = EngineFailure(f"{type(error).__name__}: {error} (traceback in the engine log)", "internal",
                                retryable=True)
    finally:
        parallel.leave()
    log.error("%s: %s", failure.kind, failure)
    session.failed(str(failure), kind=failure.kind, retryable=failure.retryable)
    return 1
