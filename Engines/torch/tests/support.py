"""What the engine tests share: a tiny model, a tiny packed cache, specs, and the engine run as a worker runs it.

The test modules import it as `tests.support`, which works both for `python3 -m unittest discover -s tests` and for
`-s tests -t .` run from Engines/torch."""

import json
import os
import subprocess
import sys
import tempfile

from ferd_torch import synthetic
from ferd_torch.model import GenerateModel, Preset

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE = [sys.executable, "-m", "ferd_torch"]
ENVIRONMENT = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)

# The GCA+IAL topology at toy size: 2 frames of 16², widths 8/8/16/16/16, one-block transformers.
TINY_MODEL = {"frames": 2, "imageSize": 16, "widths": [8, 8, 16, 16, 16], "reduction": 8, "attention": "gca",
              "classes": 7, "spatialTransformer": {"depth": 1, "heads": 2, "headDimension": 4, "hiddenDimension": 16},
              "temporalTransformer": {"depth": 1, "heads": 2, "headDimension": 4, "hiddenDimension": 16}}


def tiny_cache(folder, clips=20):
    """A packed cache of `clips` synthetic clips (4 frames of 16²) in `folder`; returns its path. Fold 1 has
    4/5 of them for training and 1/5 for testing."""
    synthetic.write_dataset(folder + "/data", clips, 4)
    synthetic.write_cache(folder + "/data", folder + "/cache", 16, 4)
    return folder + "/cache"


def tiny_model(**changes):
    """A freshly initialised model of TINY_MODEL with `changes` to its configuration."""
    configuration = dict(TINY_MODEL, **changes)
    return GenerateModel(Preset.from_configuration(configuration), configuration["attention"])


def settings(epochs=2, batch=4, learning_rate=0.01, seed=5, **changes):
    """ferd TrainingSettings JSON for the tiny model."""
    return dict({"model": dict(TINY_MODEL), "epochs": epochs, "batchSize": batch, "learningRate": learning_rate,
                 "momentum": 0.9, "weightDecay": 0.0001, "schedule": {"step": {"every": 7, "factor": 0.5}},
                 "loss": {"intensityAware": 0.1, "auxiliary": [0.05, 0]}, "bestBy": "war", "seed": seed}, **changes)


def spec(cache, run_dir, **overrides):
    """A trial spec as a worker writes it, for the tiny model on CPU with one thread."""
    result = {"contract": 1, "trial": {"id": 1, "attempt": 1, "fold": 1, "parameters": {}}, "settings": settings(),
              "data": {"cache": cache, "root": "", "reference_quirks": False}, "run_dir": run_dir,
              "resume_from": None, "init_from": None, "device": "cpu",
              "options": {"precision": "fp32", "channels_last": False, "cudnn_benchmark": True, "compile": False,
                          "threads": 1, "prefetch": 2},
              "distributed": None, "progress_seconds": 0}
    result.update(overrides)
    return result


def engine_process(spec_value, command=None):
    """Starts `python -m ferd_torch` (or `command`) with the spec on stdin (closed); returns the process."""
    process = subprocess.Popen(command or ENGINE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=ENVIRONMENT)
    process.stdin.write(json.dumps(spec_value))
    process.stdin.close()
    process.stdin = None
    return process


def run_engine(spec_value, stdin_text=None, timeout=120):
    """Runs the engine to its end: (exit status, events, stderr)."""
    done = subprocess.run(ENGINE, input=stdin_text if stdin_text is not None else json.dumps(spec_value), text=True,
                          capture_output=True, timeout=timeout, env=ENVIRONMENT)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def lifecycle(events):
    """The kinds of `events` without the progress events."""
    return [event["event"] for event in events if event["event"] != "progress"]


class TemporaryFolder:
    """A temporary folder for one test (`with TemporaryFolder() as folder:`)."""

    def __enter__(self):
        self._folder = tempfile.TemporaryDirectory(prefix="ferd-torch-test-")
        return self._folder.name

    def __exit__(self, *_):
        self._folder.cleanup()
