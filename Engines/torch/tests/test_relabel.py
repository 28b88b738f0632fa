"""SCN's relabelling: which labels flip, that the next epochs train with them, and that a resume keeps them."""

import json
import os
import unittest
from types import SimpleNamespace

import torch

from ferd_torch import safetensors_io
from ferd_torch.data import FoldData
from ferd_torch.relabel import Relabeller
from tests.support import TemporaryFolder, engine_process, lifecycle, run_engine, settings, spec, tiny_cache
from tests.test_distributed import free_port

SCN_MODEL = {"method": "scn", "frames": 2, "imageSize": 16, "widths": [4, 4, 8, 8, 8], "reduction": 4,
             "attention": "gca", "classes": 7,
             "spatialTransformer": {"depth": 0, "heads": 1, "headDimension": 1, "hiddenDimension": 1},
             "temporalTransformer": {"depth": 0, "heads": 1, "headDimension": 1, "hiddenDimension": 1}}


class RelabellerTests(unittest.TestCase):
    def test_a_label_flips_when_the_prediction_wins_by_more_than_the_margin(self):
        loader = SimpleNamespace(labels=[1, 0, 1, 5], clips=[{"id": name} for name in ("a", "b", "c", "d")])
        relabeller = Relabeller(loader, margin=0.2, first_epoch=3, classes=7)
        self.assertEqual((relabeller.active(2), relabeller.active(3), relabeller.active(9)), (False, True, True))
        probabilities = torch.tensor([[0.7, 0.1, 0.2, 0, 0, 0, 0],      # 0.7 − 0.1 > 0.2: becomes 0
                                      [0.5, 0.4, 0.1, 0, 0, 0, 0],      # the label is the prediction
                                      [0.45, 0.35, 0.2, 0, 0, 0, 0]])   # 0.45 − 0.35 ≤ 0.2: stays 1
        logits = torch.log(probabilities + 1e-12)
        relabeller.begin_epoch()
        self.assertEqual(relabeller.step([2, 1, 0], logits, torch.tensor([1, 0, 1])), [(2, 1, 0)])
        self.assertEqual(loader.labels, [1, 0, 0, 5], "keyed by the clip's place, not by its place in the batch")
        report = relabeller.report()
        self.assertEqual((report["changed"], report["from_to"][1][0], report["relabelled_by_class"]),
                         (1, 1, [0, 1, 0, 0, 0, 0, 0]))
        self.assertEqual(json.loads(relabeller.metadata()), {"entries": {"c": {"original": 1, "current": 0}}})
        # Back to the dataset's label in a later epoch: still held, no longer counted as differing.
        relabeller.begin_epoch()
        relabeller.step([2], torch.log(torch.tensor([[0.05, 0.9, 0.05, 0, 0, 0, 0]])), torch.tensor([0]))
        self.assertEqual(relabeller.report(), {"changed": 1, "from_to": [[0, 1] + [0] * 5] + [[0] * 7] * 6,
                                               "relabelled_by_class": [0] * 7})
        self.assertEqual(relabeller.entries, {"c": {"original": 1, "current": 1}})

    def test_a_stored_label_store_is_restored_by_clip_id(self):
        loader = SimpleNamespace(labels=[1, 0, 1], clips=[{"id": name} for name in ("a", "b", "c")])
        relabeller = Relabeller(loader, margin=0.2, first_epoch=1, classes=7)
        relabeller.restore(json.dumps({"entries": {"c": {"original": 1, "current": 4},
                                                   "elsewhere": {"original": 2, "current": 3}}}))
        self.assertEqual(loader.labels, [1, 0, 4])
        self.assertEqual(relabeller.report()["relabelled_by_class"], [0, 1, 1, 0, 0, 0, 0])
        with self.assertRaises(ValueError):
            relabeller.restore('{"c": 4}')


class RelabelRunTests(unittest.TestCase):
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

    def test_labels_change_from_the_relabel_epoch_persist_and_survive_a_resume(self):
        trial = settings(epochs=3, model=dict(SCN_MODEL),
                         methodLoss={"scn": {"relabelEpoch": 2, "relabelMargin": 0.0}})
        status, events, errors = run_engine(spec(self.cache, self.run_dir("whole"), settings=trial))
        self.assertEqual(status, 0, errors)
        self.assertEqual(events[0]["method"], "scn")
        epochs = [event for event in events if event["event"] == "epoch"]
        self.assertNotIn("relabels", epochs[0], "epoch 1 precedes relabelEpoch 2")
        relabels = epochs[1]["relabels"]
        self.assertGreater(relabels["changed"], 0, "margin 0: every clip predicted otherwise is relabelled")
        self.assertEqual(sum(map(sum, relabels["from_to"])), relabels["changed"])
        files = [event["file"] for event in events if event["event"] == "checkpoint"]
        self.assertNotIn("ferd.labels", safetensors_io.load_metadata(files[0]))
        store = json.loads(safetensors_io.load_metadata(files[1])["ferd.labels"])["entries"]
        data = FoldData(self.cache, 1, trial).train
        original = {clip["id"]: label for clip, label in zip(data.clips, data.labels)}
        self.assertEqual(sum(1 for clip, entry in store.items() if entry["current"] != original[clip]),
                         sum(relabels["relabelled_by_class"]))
        self.assertTrue(all(entry["original"] == original[clip] for clip, entry in store.items()))
        # Resume after epoch 2 as the worker does: epoch 3 must train with the relabelled clips again.
        tensors = safetensors_io.load_file(files[1])
        metadata = dict(safetensors_io.load_metadata(files[1]), **{"ferd.history": json.dumps([{}, {}])})
        resume = os.path.join(self.folder, "resume.safetensors")
        safetensors_io.save_file(tensors, resume, metadata=metadata)
        status, resumed, errors = run_engine(spec(self.cache, self.run_dir("resumed"), settings=trial,
                                                  resume_from=resume))
        self.assertEqual(status, 0, errors)
        self.assertEqual(lifecycle(resumed), ["started", "checkpoint", "epoch", "done"])
        self.assertEqual([e["train_loss"] for e in resumed if e["event"] == "epoch"], [epochs[2]["train_loss"]])
        self.assertEqual([e["relabels"] for e in resumed if e["event"] == "epoch"], [epochs[2]["relabels"]])
        continued = [e["file"] for e in resumed if e["event"] == "checkpoint"][0]
        self.assertEqual(safetensors_io.load_metadata(continued)["ferd.labels"],
                         safetensors_io.load_metadata(files[2])["ferd.labels"])
        whole, tensors = safetensors_io.load_file(files[2]), safetensors_io.load_file(continued)
        for name, tensor in whole.items():
            self.assertTrue(torch.equal(tensor, tensors[name]), name)

    def test_a_gang_holds_the_same_labels_on_every_member(self):
        trial = settings(epochs=2, batch=4, model=dict(SCN_MODEL),
                         methodLoss={"scn": {"relabelEpoch": 1, "relabelMargin": 0.0}})
        address = f"tcp://127.0.0.1:{free_port()}"
        processes = [engine_process(spec(self.cache, self.run_dir(f"gang-{rank}"), settings=trial, distributed={
            "rank": rank, "world_size": 2, "init_method": address, "backend": "gloo"})) for rank in range(2)]
        outputs = [process.communicate(timeout=180) for process in processes]
        for process, (_, errors) in zip(processes, outputs):
            self.assertEqual(process.returncode, 0, errors)
        epochs = [[json.loads(line) for line in output.splitlines() if '"epoch"' in line] for output, _ in outputs]
        relabels = [[event["relabels"] for event in member if event["event"] == "epoch"] for member in epochs]
        self.assertEqual(relabels[0], relabels[1], "every member applies every member's changes")
        self.assertGreater(relabels[0][0]["changed"], 0)
        losses = [[event["train_loss"] for event in member if event["event"] == "epoch"] for member in epochs]
        self.assertEqual(losses[0], losses[1])


if __name__ == "__main__":
    unittest.main()
