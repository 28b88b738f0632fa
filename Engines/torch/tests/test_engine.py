"""The engine as a worker runs it: events, checkpoints, resume, SIGTERM and every failure it reports."""

import json
import math
import os
import signal
import unittest

import torch

from ferd_torch import checkpoint, safetensors_io
from ferd_torch.data import FoldData
from ferd_torch.model import total_loss
from tests.support import (TemporaryFolder, engine_process, lifecycle, run_engine, settings, spec, tiny_cache,
                           tiny_model)


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
        run_dir = self.run_dir("plain")
        status, events, errors = run_engine(spec(self.cache, run_dir))
        self.assertEqual(status, 0, errors)
        self.assertEqual(lifecycle(events), ["started", "checkpoint", "epoch", "checkpoint", "epoch", "done"])
        started = events[0]
        self.assertEqual({key: started[key] for key in ("contract", "engine", "start_epoch", "device", "device_name")},
                         {"contract": 1, "engine": "ferd-torch", "start_epoch": 1, "device": "cpu", "device_name": "cpu"})
        self.assertEqual(started["parameters"], sum(p.numel() for p in tiny_model().parameters()))
        self.assertEqual(started["torch"], torch.__version__)
        epochs = [event for event in events if event["event"] == "epoch"]
        self.assertEqual([event["epoch"] for event in epochs], [1, 2])
        self.assertEqual(sum(map(sum, epochs[0]["confusion"])), 4, "the 4 test clips of fold 1")
        self.assertEqual(len(epochs[0]["confusion"]), 7)
        self.assertEqual(epochs[0]["steps"], 4, "16 training clips in batches of 4")
        self.assertEqual(epochs[0]["learning_rate"], 0.009999999776482582, "0.01 in float32")
        for event in epochs:
            self.assertTrue(0 < event["train_seconds"] <= event["seconds"])
            self.assertGreaterEqual(event["data_wait_seconds"], 0)
        steps = [event for event in events if event["event"] == "progress" and event["phase"] == "train"]
        self.assertEqual([(e["epoch"], e["batch"], e["batches"]) for e in steps[:4]], [(1, b, 4) for b in range(1, 5)])
        self.assertAlmostEqual(epochs[0]["train_loss"], sum(e["loss"] for e in steps[:4]) / 4, places=12)
        evaluations = [event for event in events if event["event"] == "progress" and event["phase"] == "evaluate"]
        self.assertEqual([(e["batch"], e["batches"]) for e in evaluations[:1]], [(1, 1)])
        files = [event["file"] for event in events if event["event"] == "checkpoint"]
        self.assertEqual(files, [os.path.join(run_dir, f"engine-epoch-{e}.safetensors") for e in (1, 2)])
        stored = safetensors_io.load_file(files[1])
        self.assertTrue(set(tiny_model().state_dict()) < set(stored))
        self.assertTrue(any(name.startswith(checkpoint.MOMENTUM_PREFIX) for name in stored))
        self.assertEqual(int(stored["s_former.bn1.num_batches_tracked"]), 8, "2 epochs of 4 steps")
        metadata = safetensors_io.load_metadata(files[1])
        self.assertEqual((json.loads(metadata["ferd.settings"]), metadata["ferd.epoch"]), (settings(), "2"))
        self.assertIn("epoch 2/2: train loss", errors, "the log is on stderr")

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
        self.assertEqual(lifecycle(resumed), ["started", "checkpoint", "epoch", "done"])
        self.assertEqual([event["epoch"] for event in resumed if event["event"] == "epoch"], [2])
        whole = safetensors_io.load_file(files[1])
        continued = safetensors_io.load_file([event["file"] for event in resumed if event["event"] == "checkpoint"][0])
        self.assertEqual(set(whole), set(continued))
        for name, tensor in whole.items():
            self.assertTrue(torch.equal(tensor, continued[name]), name)
        self.assertEqual([e["train_loss"] for e in events if e["event"] == "epoch"][1],
                         [e["train_loss"] for e in resumed if e["event"] == "epoch"][0])

    def test_init_from_starts_from_the_given_weights(self):
        model = tiny_model()
        weights = os.path.join(self.folder, "init.safetensors")
        safetensors_io.save_file(model.state_dict(), weights)
        status, events, errors = run_engine(spec(self.cache, self.run_dir("init"), init_from=weights,
                                                 settings=settings(epochs=1)))
        self.assertEqual(status, 0, errors)
        clips, labels = next(iter(FoldData(self.cache, 1, settings()).train_batches(0)))
        model.train()
        expected = total_loss(*model(clips), labels, lam=0.1, aux_weights=(0.05, 0))["total"].item()
        first = next(e["loss"] for e in events if e["event"] == "progress" and e["phase"] == "train")
        self.assertAlmostEqual(first, expected, delta=1e-5 * abs(expected))

    def test_sigterm_finishes_the_epoch_then_stops(self):
        process = engine_process(spec(self.cache, self.run_dir("sigterm"), settings=settings(epochs=4)))
        events = []
        for line in process.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "progress" and len(events) == 2:
                process.send_signal(signal.SIGTERM)
        status, errors = process.wait(timeout=60), process.stderr.read()
        process.stdout.close()
        process.stderr.close()
        self.assertEqual(status, 0, errors)
        self.assertEqual(lifecycle(events), ["started", "checkpoint", "epoch", "stopped"])
        self.assertEqual(events[-1]["after_epoch"], 1)
        self.assertTrue(os.path.isfile(os.path.join(self.folder, "sigterm", "engine-epoch-1.safetensors")))

    def test_attention_variants_train(self):
        for attention in ("se", "none"):
            with self.subTest(attention=attention):
                trial = settings(epochs=1, model=dict(settings()["model"], attention=attention))
                status, events, errors = run_engine(spec(self.cache, self.run_dir(attention), settings=trial))
                self.assertEqual(status, 0, errors)
                self.assertEqual(lifecycle(events)[-1], "done")

    def test_bf16_autocast_trains_on_cpu(self):
        status, events, errors = run_engine(spec(self.cache, self.run_dir("bf16"), settings=settings(epochs=1),
                                                 options={"precision": "bf16", "threads": 1}))
        self.assertEqual(status, 0, errors)
        self.assertEqual(lifecycle(events), ["started", "checkpoint", "epoch", "done"])
        self.assertTrue(math.isfinite(events[-2]["train_loss"]))

    def test_failures_are_reported_with_their_kind_and_fix(self):
        def failure(value, stdin_text=None):
            status, events, errors = run_engine(value, stdin_text)
            self.assertEqual(status, 1, errors)
            self.assertEqual(events[-1]["event"], "failed")
            return events[-1]

        broken = failure(None, stdin_text="{not json")
        self.assertEqual((broken["kind"], broken["retryable"]), ("settings", False))
        settings_error = failure(spec(self.cache, self.run_dir("frames"), settings=settings(
            model=dict(settings()["model"], frames=1))))
        self.assertEqual(settings_error["kind"], "settings")
        self.assertIn("settings.model.frames", settings_error["reason"])
        missing = failure(spec(os.path.join(self.folder, "nowhere"), self.run_dir("missing")))
        self.assertEqual((missing["kind"], missing["retryable"]), ("data", True), "another worker's cache may be whole")
        self.assertIn("ferd prepare", missing["reason"])
        fp16 = failure(spec(self.cache, self.run_dir("fp16"), options={"precision": "fp16"}))
        self.assertEqual((fp16["kind"], fp16["retryable"]), ("settings", False))
        self.assertIn("bf16", fp16["reason"])
        weights = os.path.join(self.folder, "other-weights.safetensors")
        safetensors_io.save_file(tiny_model(widths=[8, 8, 16, 32, 32]).state_dict(), weights)
        wrong = failure(spec(self.cache, self.run_dir("wrong"), init_from=weights))
        self.assertEqual(wrong["kind"], "settings")
        self.assertIn("wrong shape", wrong["reason"])
        diverged = failure(spec(self.cache, self.run_dir("diverged"), settings=settings(epochs=1, learning_rate=1e30)))
        self.assertEqual((diverged["kind"], diverged["retryable"]), ("diverged", False))
        self.assertRegex(diverged["reason"], r"the loss became (nan|inf) in epoch 1, batch [2-4]; lower the learning rate")
        if not torch.cuda.is_available():
            cuda = failure(spec(self.cache, self.run_dir("cuda"), device="cuda"))
            self.assertEqual((cuda["kind"], cuda["retryable"]), ("device", False))
            self.assertIn("--device cpu", cuda["reason"])
            self.assertIn(torch.__version__, cuda["reason"])
        if not hasattr(torch, "compile"):
            compiled = failure(spec(self.cache, self.run_dir("compile"), options={"compile": True}))
            self.assertEqual(compiled["kind"], "settings")
            self.assertIn("torch ≥ 2", compiled["reason"])


if __name__ == "__main__":
    unittest.main()
