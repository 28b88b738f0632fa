"""The engine contract from the engine's side: spec validation, the schedule, events and SIGTERM."""

import copy
import io
import json
import os
import signal
import sys
import tempfile
import textwrap
import time
import unittest

import numpy as np

from ferd_torch.contract import EngineSession, SpecError, learning_rate, validate_spec
from tests.support import engine_process, spec

RUN_DIR = tempfile.gettempdir()


def changed(path, value):
    """The test spec with the dotted `path` set to `value` (or removed when `value` is ...)."""
    result = copy.deepcopy(spec("/cache", RUN_DIR))
    *parents, last = path.split(".")
    node = result
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return result


class SpecValidationTests(unittest.TestCase):
    def assert_refused(self, value, field):
        with self.assertRaises(SpecError) as caught:
            validate_spec(value)
        self.assertEqual(caught.exception.field, field)
        self.assertIn(f"'{field}'", str(caught.exception))

    def test_a_worker_spec_is_accepted(self):
        validate_spec(spec("/cache", RUN_DIR))

    def test_optional_fields_may_be_missing_or_null(self):
        minimal = spec("/cache", RUN_DIR)
        for name in ("options", "distributed", "progress_seconds", "resume_from", "init_from"):
            del minimal[name]
        validate_spec(minimal)
        validate_spec(spec("/cache", RUN_DIR, options=None, progress_seconds=None))

    def test_each_bad_field_is_named(self):
        cases = [
            ("contract", 2, "contract"),
            ("settings.epochs", ..., "settings.epochs"),
            ("settings.epochs", True, "settings.epochs"),
            ("settings.learningRate", 0, "settings.learningRate"),
            ("settings.momentum", 1.0, "settings.momentum"),
            ("settings.seed", -1, "settings.seed"),
            ("settings.schedule", {"step": {"every": 7}}, "settings.schedule.step.factor"),
            ("settings.schedule", {"cosine": {}}, "settings.schedule"),
            ("settings.loss.auxiliary", "0.05", "settings.loss.auxiliary"),
            ("settings.bestBy", "accuracy", "settings.bestBy"),
            ("settings.model.frames", 1, "settings.model.frames"),
            ("settings.model.imageSize", 8, "settings.model.imageSize"),
            ("settings.model.widths", [8, 16, 16, 16, 16], "settings.model.widths"),
            ("settings.model.widths", [8, 8, 16, 16], "settings.model.widths"),
            ("settings.model.reduction", 3, "settings.model.reduction"),
            ("settings.model.attention", "cbam", "settings.model.attention"),
            ("settings.model.classes", 6, "settings.model.classes"),
            ("settings.model.temporalTransformer.heads", 0, "settings.model.temporalTransformer.heads"),
            ("trial.fold", 0, "trial.fold"),
            ("data", {}, "data.cache"),
            ("run_dir", os.path.join(RUN_DIR, "no-such-run-folder"), "run_dir"),
            ("resume_from", os.path.join(RUN_DIR, "no-such-checkpoint.safetensors"), "resume_from"),
            ("device", ..., "device"),
            ("device", "tpu", "device"),
            ("options.precision", "fp8", "options.precision"),
            ("options.channels_last", "yes", "options.channels_last"),
            ("options.threads", -1, "options.threads"),
            ("progress_seconds", -1, "progress_seconds"),
            ("distributed", {"rank": 2, "world_size": 2, "init_method": "tcp://x:1", "backend": "gloo"},
             "distributed.rank"),
            ("distributed", {"rank": 0, "world_size": 3, "init_method": "tcp://x:1", "backend": "gloo"},
             "settings.batchSize"),
            ("distributed", {"rank": 0, "world_size": 2, "init_method": "x:1", "backend": "gloo"},
             "distributed.init_method"),
            ("distributed", {"rank": 0, "world_size": 2, "init_method": "tcp://x", "backend": "gloo"},
             "distributed.init_method"),
            ("distributed", {"rank": 0, "world_size": 2, "init_method": "tcp://x:99999", "backend": "gloo"},
             "distributed.init_method"),
            ("distributed", {"rank": 0, "world_size": 2, "init_method": "tcp://x:1", "backend": "mpi"},
             "distributed.backend"),
            ("distributed", {"rank": 0, "world_size": 2, "init_method": "tcp://x:1", "backend": "gloo",
                             "join_timeout_seconds": -1}, "distributed.join_timeout_seconds"),
            ("distributed", {"rank": 0, "world_size": 2, "init_method": "tcp://x:1", "backend": "gloo",
                             "join_timeout_seconds": 0}, "distributed.join_timeout_seconds"),
        ]
        for path, value, field in cases:
            with self.subTest(path=path, value=value):
                self.assert_refused(changed(path, value), field)

    def test_ran_recompute_is_a_flag(self):
        ran = changed("settings.model.method", "ran")
        ran["settings"]["model"]["ranRecompute"] = True
        validate_spec(ran)
        ran["settings"]["model"]["ranRecompute"] = "yes"
        self.assert_refused(ran, "settings.model.ranRecompute")

    def test_the_message_says_how_to_fix_it(self):
        with self.assertRaises(SpecError) as caught:
            validate_spec(changed("settings.model.reduction", 3))
        self.assertIn("does not divide the layer2 and layer3 widths 16, 16", str(caught.exception))
        self.assertIn("choose r dividing both", str(caught.exception))


class ScheduleTests(unittest.TestCase):
    def test_step_schedule_halves_every_seven_epochs_in_float32(self):
        settings = spec("/c", "/r")["settings"]
        settings["learningRate"] = 0.001
        rates = [learning_rate(settings, epoch) for epoch in range(1, 16)]
        expected = [float(np.float32(0.001) * np.float32(0.5) ** (epoch // 7)) for epoch in range(15)]
        self.assertEqual(rates, expected)
        self.assertEqual(rates[6], rates[0])
        self.assertEqual(rates[7], rates[0] / 2)

    def test_exponential_and_constant(self):
        settings = spec("/c", "/r")["settings"]
        settings["schedule"] = {"exponential": {"factor": 0.95}}
        self.assertEqual(learning_rate(settings, 3), float(np.float32(0.01) * np.float32(0.95) ** np.float32(2)))
        self.assertNotEqual(learning_rate(settings, 3), 0.01 * 0.95 ** 2, "float32, not float64")
        settings["schedule"] = {"constant": {}}
        self.assertEqual(learning_rate(settings, 40), float(np.float32(0.01)))


class SessionTests(unittest.TestCase):
    def test_events_are_json_lines_and_progress_is_throttled(self):
        output = io.StringIO()
        session = EngineSession(dict(spec("/c", "/r"), progress_seconds=60), output=output, handle_signals=False)
        session.started(start_epoch=1, engine="test")
        session.progress(1, "train", 1, 5, loss=2.0)
        session.progress(1, "train", 2, 5, loss=1.9)
        session.progress(1, "train", 3, 5, force=True)
        session.epoch(1, train_loss=1.5, confusion=np.eye(7, dtype=int))
        session.done()
        events = [json.loads(line) for line in output.getvalue().splitlines()]
        self.assertEqual([event["event"] for event in events], ["started", "progress", "progress", "epoch", "done"])
        self.assertEqual(events[0]["contract"], 1)
        self.assertEqual(events[2]["batch"], 3)
        self.assertEqual(events[3]["confusion"][2][2], 1)
        self.assertEqual(events[3]["learning_rate"], learning_rate(session.spec["settings"], 1))
        self.assertEqual(events[4]["epochs"], 2)

    def test_epoch_seconds_default_to_the_time_since_the_previous_epoch(self):
        output = io.StringIO()
        session = EngineSession(spec("/c", "/r"), output=output, handle_signals=False)
        session.started()
        time.sleep(0.2)
        session.epoch(1, train_loss=1.0, confusion=np.zeros((7, 7)))
        session.epoch(2, train_loss=1.0, confusion=np.zeros((7, 7)))
        first, second = [json.loads(line)["seconds"] for line in output.getvalue().splitlines()[1:]]
        self.assertGreaterEqual(first, 0.2)
        self.assertLess(second, 0.2)

    def test_the_first_sigterm_asks_to_stop_and_leaves_the_second_to_the_system(self):
        previous = signal.getsignal(signal.SIGTERM)
        try:
            session = EngineSession(spec("/c", "/r"), output=io.StringIO())
            os.kill(os.getpid(), signal.SIGTERM)
            self.assertTrue(session.stop_requested)
            self.assertEqual(signal.getsignal(signal.SIGTERM), signal.SIG_DFL, "a second SIGTERM ends the process")
        finally:
            signal.signal(signal.SIGTERM, previous)

    def test_a_script_prints_freely_and_a_second_sigterm_ends_it_at_once(self):
        script = textwrap.dedent("""
            import time
            from ferd_torch.contract import EngineSession
            session = EngineSession.from_stdin()
            print("a stray line from the script", flush=True)
            session.started(start_epoch=1)
            while not session.stop_requested:
                time.sleep(0.01)
            session.progress(1, "train", 1, 1)
            time.sleep(60)
        """)
        process = engine_process(spec("/c", "/r"), command=[sys.executable, "-c", script])
        try:
            self.assertEqual(json.loads(process.stdout.readline())["event"], "started", "the stray line is not on stdout")
            process.send_signal(signal.SIGTERM)
            self.assertEqual(json.loads(process.stdout.readline())["event"], "progress")
            process.send_signal(signal.SIGTERM)
            self.assertEqual(process.wait(timeout=10), -signal.SIGTERM)
            self.assertIn("a stray line from the script", process.stderr.read())
        finally:
            process.kill()
            process.stdout.close()
            process.stderr.close()
            process.wait()


if __name__ == "__main__":
    unittest.main()
