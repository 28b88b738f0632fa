"""The engine as a worker runs it: events, checkpoints, resume, SIGTERM and every failure it reports."""

import json
import os
import signal
import unittest

import torch

from ferd_torch import checkpoint, safetensors_io
from ferd_torch.engine import preset_of
from ferd_torch.model import GenerateModel

from .support import TemporaryFolder, engine_process, run_engine, settings, spec, tiny_cache


def kinds(events):
    return [event["event"] for event in events]


class EngineRunTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder_context = TemporaryFolder()
        cls.folder = cls.folder_context.__enter__()
        cls.cache = tiny_cache(cls.folder)

    @classmethod
    def tearDownClass(cls):
        cls.folder_context.__exit__(None, None, None)

    def run_dir(self, name):
        path = os.path.join(self.folder, name)
        os.makedirs(path, exist_ok=True)
        return path

    def test_a_run_reports_every_epoch_with_its_checkpoint_and_ends_done(self):
        status, events, errors = run_engine(spec(self.cache, self.run_dir("plain")))
        self.assertEqual(status, 0, errors)
        lifecycle = [kind for kind in kinds(events) if kind != "progress"]
        self.assertEqual(lifecycle, ["started", "checkpoint", "epoch", "checkpoint", "epoch", "done"])
        self.assertEqual(events[0]["start_epoch"], 1)
        epochs = [event for event in events if event["event"] == "epoch"]
        self.assertEqual([event["epoch"] for event in epochs], [1, 2])
        self.assertEqual(sum(map(sum, epochs[0]["confusion"])), 4, "the 4 test clips of fold 1")
        self.assertEqual(epochs[0]["steps"], 4, "16 training clips in batches of 4")
        file = [event for event in events if event["event"] == "checkpoint"][1]["file"]
        stored = safetensors_io.load_file(file)
        model = GenerateModel(preset_of(settings()["model"]))
        self.assertTrue(set(model.state_dict()) <= set(stored))
        self.assertTrue(any(name.startswith(checkpoint.MOMENTUM_PREFIX) for name in stored))
        self.assertEqual(stored["s_former.bn1.num_batches_tracked"].dtype, torch.int64)
        self.assertEqual(int(stored["s_former.bn1.num_batches_tracked"]), 8)
        self.assertEqual(json.loads(safetensors_io.load_metadata(file)["ferd.settings"]), settings())

    def test_a_resumed_run_ends_where_an_uninterrupted_one_does(self):
        status, events, errors = run_engine(spec(self.cache, self.run_dir("whole")))
        self.assertEqual(status, 0, errors)
        files = [event["file"] for event in events if event["event"] == "checkpoint"]
        # What the worker does with the engine's epoch-1 checkpoint: the history goes into the metadata.
        tensors = safetensors_io.load_file(files[0])
        metadata = dict(safetensors_io.load_metadata(files[0]), **{"ferd.history": json.dumps([{"epoch": 1}])})
        resume = os.path.join(self.folder, "resume.safetensors")
        safetensors_io.save_file(tensors, resume, metadata=metadata)
        status, resumed, errors = run_engine(spec(self.cache, self.run_dir("resumed"), resume_from=resume))
        self.assertEqual(status, 0, errors)
        self.assertEqual(resumed[0]["start_epoch"], 2)
        self.assertEqual([event["epoch"] for event in resumed if event["event"] == "epoch"], [2])
        whole = safetensors_io.load_file(files[1])
        continued = safetensors_io.load_file([event["file"] for event in resumed if event["event"] == "checkpoint"][0])
        for name, tensor in whole.items():
            self.assertTrue(torch.equal(tensor, continued[name]), name)
        self.assertEqual([e["train_loss"] for e in events if e["event"] == "epoch"][1],
                         [e["train_loss"] for e in resumed if e["event"] == "epoch"][0])

    def test_sigterm_finishes_the_epoch_then_stops(self):
        process = engine_process(spec(self.cache, self.run_dir("sigterm"), settings=settings(epochs=4)))
        events = []
        for line in process.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "progress" and len(events) == 2:
                process.send_signal(signal.SIGTERM)
        self.assertEqual(process.wait(timeout=60), 0, process.stderr.read())
        lifecycle = [kind for kind in kinds(events) if kind != "progress"]
        self.assertEqual(lifecycle, ["started", "checkpoint", "epoch", "stopped"])
        self.assertEqual(events[-1]["after_epoch"], 1)

    def test_bf16_autocast_trains_on_cpu(self):
        status, events, errors = run_engine(spec(self.cache, self.run_dir("bf16"), settings=settings(epochs=1),
                                                 options={"precision": "bf16", "threads": 1}))
        self.assertEqual(status, 0, errors)
        self.assertEqual(kinds(events)[-1], "done")

    def test_failures_are_reported_with_their_kind_and_fix(self):
        def failure(value, stdin_text=None):
            status, events, _ = run_engine(value, stdin_text)
            self.assertEqual(status, 1)
            self.assertEqual(events[-1]["event"], "failed")
            return events[-1]

        broken = failure(None, stdin_text="{not json")
        self.assertEqual((broken["kind"], broken["retryable"]), ("settings", False))
        missing = failure(spec(os.path.join(self.folder, "nowhere"), self.run_dir("missing")))
        self.assertEqual(missing["kind"], "data")
        self.assertIn("ferd prepare", missing["reason"])
        fp16 = failure(spec(self.cache, self.run_dir("fp16"), options={"precision": "fp16"}))
        self.assertEqual(fp16["kind"], "settings")
        weights = os.path.join(self.folder, "other-weights.safetensors")
        wider = dict(settings()["model"], widths=[8, 8, 16, 32, 32])
        safetensors_io.save_file(GenerateModel(preset_of(wider)).state_dict(), weights)
        wrong = failure(spec(self.cache, self.run_dir("wrong"), init_from=weights))
        self.assertIn("wrong shape", wrong["reason"])
        if not torch.cuda.is_available():
            cuda = failure(spec(self.cache, self.run_dir("cuda"), device="cuda"))
            self.assertEqual((cuda["kind"], cuda["retryable"]), ("device", False))
            self.assertIn("--device cpu", cuda["reason"])

    def test_weights_round_trip_and_misfits_are_named(self):
        model = GenerateModel(preset_of(settings()["model"]))
        weights = os.path.join(self.folder, "init.safetensors")
        safetensors_io.save_file(model.state_dict(), weights)
        loaded = GenerateModel(preset_of(settings()["model"]))
        checkpoint.load_weights(weights, loaded)
        for name, tensor in model.state_dict().items():
            self.assertTrue(torch.equal(tensor, loaded.state_dict()[name]), name)
        partial = {name: tensor for name, tensor in model.state_dict().items() if not name.startswith("fc_f")}
        safetensors_io.save_file(partial, weights)
        with self.assertRaises(checkpoint.CheckpointError) as caught:
            checkpoint.load_weights(weights, loaded)
        self.assertIn("missing fc_f.bias, fc_f.weight", str(caught.exception))

if __name__ == "__main__":
    unittest.main()
