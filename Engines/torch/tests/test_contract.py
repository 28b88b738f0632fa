"""The engine contract from the engine's side: spec validation, the schedule, events and SIGTERM."""

import io
import json
import os
import signal
import unittest

import numpy as np

from ferd_torch.contract import EngineSession, SpecError, learning_rate, validate_spec

from .support import spec


class SpecValidationTests(unittest.TestCase):
    def assert_refused(self, value, field):
        with self.assertRaises(SpecError) as caught:
            validate_spec(value)
        self.assertEqual(caught.exception.field, field)
        self.assertIn(field, str(caught.exception))

    def test_a_worker_spec_is_accepted(self):
        validate_spec(spec("/cache", "/run"))

    def test_each_bad_field_is_named(self):
        self.assert_refused(spec("/cache", "/run", contract=2), "contract")
        broken = spec("/cache", "/run")
        del broken["settings"]["epochs"]
        self.assert_refused(broken, "settings.epochs")
        self.assert_refused(spec("/cache", "/run", options={"precision": "fp8"}), "options.precision")
        self.assert_refused(spec("/cache", "/run", device="tpu"), "device")
        self.assert_refused(spec("/cache", "/run", data={}), "data.cache")
        widths = spec("/cache", "/run")
        widths["settings"]["model"]["widths"] = [8, 16, 16, 16, 16]
        self.assert_refused(widths, "settings.model.widths")
        self.assert_refused(spec("/cache", "/run", distributed={"rank": 2, "world_size": 2, "init_method": "tcp://x:1",
                                                                "backend": "gloo"}), "distributed.rank")
        self.assert_refused(spec("/cache", "/run", distributed={"rank": 0, "world_size": 3, "init_method": "tcp://x:1",
                                                                "backend": "gloo"}), "settings.batchSize")


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
        self.assertAlmostEqual(learning_rate(settings, 3), 0.01 * 0.95 ** 2, delta=1e-9 * 4)
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

    def test_first_sigterm_asks_to_stop_and_the_second_exits(self):
        previous = signal.getsignal(signal.SIGTERM)
        try:
            session = EngineSession(spec("/c", "/r"), output=io.StringIO())
            os.kill(os.getpid(), signal.SIGTERM)
            self.assertTrue(session.stop_requested)
            with self.assertRaises(SystemExit):
                os.kill(os.getpid(), signal.SIGTERM)
        finally:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    unittest.main()
