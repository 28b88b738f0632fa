"""Checkpoints in ferd's format: what the engine writes, the Swift trainer's resume files it reads, strict loading."""

import json
import os
import unittest

import torch

from ferd_torch import checkpoint, safetensors_io
from ferd_torch.model import total_loss
from tests.support import TemporaryFolder, settings, tiny_model

CLIPS = torch.rand(2, 2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
LABELS = torch.tensor([1, 4])


def sgd(model):
    """The engine's optimiser for the tiny settings."""
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.0001)


def step(model, optimizer):
    """One training step on a fixed batch."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    total_loss(*model(CLIPS), LABELS, use_aux=model.has_aux)["total"].backward()
    optimizer.step()


def with_history(path, epochs):
    """Adds `ferd.history` to the engine checkpoint at `path`, as the worker does when it makes resume.safetensors."""
    metadata = dict(safetensors_io.load_metadata(path), **{"ferd.history": json.dumps([{"epoch": e + 1} for e in range(epochs)])})
    safetensors_io.save_file(safetensors_io.load_file(path), path, metadata=metadata)


class CheckpointTests(unittest.TestCase):
    def setUp(self):
        self.folder_context = TemporaryFolder()
        self.folder = self.folder_context.__enter__()
        self.addCleanup(self.folder_context.__exit__, None, None, None)
        torch.manual_seed(0)

    def test_the_engine_checkpoint_holds_state_momentum_and_metadata(self):
        model = tiny_model()
        optimizer = sgd(model)
        step(model, optimizer)
        file = os.path.join(self.folder, "engine-epoch-3.safetensors")
        checkpoint.write(file, model, optimizer, settings(), 3)
        self.assertEqual(os.listdir(self.folder), ["engine-epoch-3.safetensors"], "no .partial file is left")
        stored = safetensors_io.load_file(file)
        state = model.state_dict()
        momentum = {name[len(checkpoint.MOMENTUM_PREFIX):]: value for name, value in stored.items()
                    if name.startswith(checkpoint.MOMENTUM_PREFIX)}
        self.assertEqual(set(stored) - set(state), {checkpoint.MOMENTUM_PREFIX + name for name in momentum})
        for name, value in state.items():
            self.assertTrue(torch.equal(stored[name], value), name)
            self.assertEqual(stored[name].dtype, torch.float32 if value.is_floating_point() else torch.int64, name)
        self.assertEqual(int(stored["s_former.layer2.0.bn1.num_batches_tracked"]), 1)
        parameters = dict(model.named_parameters())
        used = {name for name, parameter in parameters.items() if parameter.grad is not None}
        self.assertEqual(set(momentum), used, "momentum exactly for the parameters that had a gradient")
        self.assertLess(len(used), len(parameters), "the reference's unused parameters have no momentum")
        for name, value in momentum.items():
            self.assertEqual(value.dim(), 1, name)
            self.assertTrue(torch.equal(value, optimizer.state[parameters[name]]["momentum_buffer"].reshape(-1)), name)
        metadata = safetensors_io.load_metadata(file)
        self.assertEqual((json.loads(metadata["ferd.settings"]), metadata["ferd.epoch"]), (settings(), "3"))

    def test_a_resumed_optimizer_takes_the_same_step(self):
        model = tiny_model()
        optimizer = sgd(model)
        step(model, optimizer)
        file = os.path.join(self.folder, "resume.safetensors")
        checkpoint.write(file, model, optimizer, settings(), 1)
        with_history(file, 1)
        resumed = tiny_model()
        resumed_optimizer = sgd(resumed)
        self.assertEqual(checkpoint.load_resume(file, resumed, resumed_optimizer), 1)
        step(model, optimizer)
        step(resumed, resumed_optimizer)
        for (name, value), other in zip(model.state_dict().items(), resumed.state_dict().values()):
            self.assertTrue(torch.equal(value, other), name)

    def test_a_resume_file_laid_out_as_the_swift_trainer_writes_it_loads(self):
        # RunFolder.saveResumeState: float32 weights and buffers, int64 scalar counters, float32 flattened momentum
        # for the parameters that have a velocity, metadata ferd.model, ferd.history (EpochReport list), ferd.settings.
        source = tiny_model()
        tensors = {}
        for name, value in source.state_dict().items():
            tensors[name] = value.float() if value.is_floating_point() else torch.tensor(7, dtype=torch.int64)
        velocities = {"fc_f.weight": torch.full((7 * 16,), 0.5), "s_former.conv1.0.weight": torch.arange(8 * 27.0)}
        tensors.update({checkpoint.MOMENTUM_PREFIX + name: value for name, value in velocities.items()})
        history = [{"epoch": 1, "trainLoss": 1.9, "learningRate": 0.01, "seconds": 3, "matrix": {"counts": []}},
                   {"epoch": 2, "trainLoss": 1.8, "learningRate": 0.01, "seconds": 3, "matrix": {"counts": []}}]
        file = os.path.join(self.folder, "resume.safetensors")
        safetensors_io.save_file(tensors, file, metadata={"ferd.model": json.dumps(settings()["model"]),
                                                          "ferd.history": json.dumps(history),
                                                          "ferd.settings": json.dumps(settings())})
        model = tiny_model()
        optimizer = sgd(model)
        self.assertEqual(checkpoint.load_resume(file, model, optimizer), 2, "continue with epoch 3")
        parameters = dict(model.named_parameters())
        self.assertTrue(torch.equal(parameters["fc_f.weight"], source.fc_f.weight))
        self.assertEqual(int(model.state_dict()["s_former.bn1.num_batches_tracked"]), 7)
        self.assertEqual(model.state_dict()["s_former.bn1.num_batches_tracked"].dtype, torch.int64)
        for name, value in velocities.items():
            buffer = optimizer.state[parameters[name]]["momentum_buffer"]
            self.assertEqual(buffer.shape, parameters[name].shape)
            self.assertTrue(torch.equal(buffer.reshape(-1), value), name)
        self.assertNotIn(parameters["fc_f.bias"], optimizer.state, "no velocity, so the first step starts one")

    def test_weights_load_strictly_and_every_misfit_is_named(self):
        model = tiny_model()
        weights = os.path.join(self.folder, "weights.safetensors")
        safetensors_io.save_file({"module." + name: value for name, value in model.state_dict().items()}, weights)
        loaded = tiny_model()
        checkpoint.load_weights(weights, loaded)
        for name, value in model.state_dict().items():
            self.assertTrue(torch.equal(value, loaded.state_dict()[name]), f"{name} (DataParallel prefix dropped)")

        def refusal(tensors):
            safetensors_io.save_file(tensors, weights)
            with self.assertRaises(checkpoint.CheckpointError) as caught:
                checkpoint.load_weights(weights, tiny_model())
            return str(caught.exception)

        state = model.state_dict()
        partial = {name: value for name, value in state.items() if not name.startswith("fc_f")}
        self.assertIn("(missing fc_f.bias, fc_f.weight)", refusal(partial))
        self.assertIn("(unexpected head.weight)", refusal(dict(state, **{"head.weight": torch.zeros(1)})))
        wider = tiny_model(widths=[8, 8, 16, 32, 32]).state_dict()
        message = refusal(wider)
        self.assertIn("wrong shape fc_f.weight (7, 32) (the model's (7, 16))", message)
        self.assertIn("more", message, "long lists are cut")
        with open(weights, "wb") as file:
            file.write(b"not safetensors")
        with self.assertRaises(checkpoint.CheckpointError) as caught:
            checkpoint.load_weights(weights, tiny_model())
        self.assertIn("cannot read it as safetensors", str(caught.exception))

    def test_a_resume_file_must_fit_the_optimizer_and_carry_a_history(self):
        model = tiny_model()
        file = os.path.join(self.folder, "resume.safetensors")

        def refusal(extra, metadata):
            safetensors_io.save_file(dict(model.state_dict(), **extra), file, metadata=metadata)
            fresh = tiny_model()
            with self.assertRaises(checkpoint.CheckpointError) as caught:
                checkpoint.load_resume(file, fresh, sgd(fresh))
            return str(caught.exception)

        history = {"ferd.history": "[]"}
        self.assertIn("no ferd.history list", refusal({}, {}))
        self.assertIn("not JSON", refusal({}, {"ferd.history": "[{"}))
        self.assertIn("momentum for s_former.head.weight",
                      refusal({checkpoint.MOMENTUM_PREFIX + "s_former.head.weight": torch.zeros(3)}, history))
        self.assertIn("the momentum of fc_f.bias has 3 values, the parameter 7",
                      refusal({checkpoint.MOMENTUM_PREFIX + "fc_f.bias": torch.zeros(3)}, history))


if __name__ == "__main__":
    unittest.main()
