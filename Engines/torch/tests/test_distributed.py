"""A trial over two processes (torch.distributed, gloo on CPU) equals the single-process computation ferd's gangs
are defined by: each member's shard of every global batch, gradients averaged, batch-norm statistics averaged after
the epoch, confusion matrices summed."""

import json
import os
import socket
import unittest

import torch

from ferd_torch import safetensors_io
from ferd_torch.data import FoldData
from ferd_torch.engine import preset_of
from ferd_torch.model import GenerateModel, total_loss

from .support import TemporaryFolder, engine_process, settings, spec, tiny_cache


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def shard_averaging_reference(cache, trial_settings, weights, members=2):
    """One epoch the way a gang of `members` trains it, in one process with one replica per member (on one thread,
    as the members run, so that both compute with the same kernels)."""
    torch.set_num_threads(1)
    replicas, optimizers, loaders = [], [], []
    for rank in range(members):
        model = GenerateModel(preset_of(trial_settings["model"]))
        model.load_state_dict(safetensors_io.load_file(weights))
        replicas.append(model)
        optimizers.append(torch.optim.SGD(model.parameters(), lr=trial_settings["learningRate"],
                                          momentum=trial_settings["momentum"],
                                          weight_decay=trial_settings["weightDecay"]))
        loaders.append(FoldData(cache, 1, trial_settings, rank=rank, world_size=members).train_batches(0))
    losses = []
    for shards in zip(*loaders):
        step = []
        for model, optimizer, (clips, labels) in zip(replicas, optimizers, shards):
            model.train()
            optimizer.zero_grad(set_to_none=True)
            loss = total_loss(*model(clips), labels, lam=0.1, aux_weights=(0.05, 0.0), use_aux=True)["total"]
            loss.backward()
            step.append(loss.item())
        gradients = [[p.grad for p in model.parameters() if p.grad is not None] for model in replicas]
        for parts in zip(*gradients):
            mean = sum(parts[1:], parts[0].clone()) / members
            for part in parts:
                part.copy_(mean)
        for optimizer in optimizers:
            optimizer.step()
        losses.append(sum(step) / members)
    for buffers in zip(*[[b for b in model.buffers() if b.is_floating_point()] for model in replicas]):
        mean = sum(buffers[1:], buffers[0].clone()) / members
        for buffer in buffers:
            buffer.copy_(mean)
    return replicas[0].state_dict(), sum(losses) / len(losses)


class DistributedTests(unittest.TestCase):
    def test_two_gloo_members_equal_the_shard_averaging_reference(self):
        with TemporaryFolder() as folder:
            cache = tiny_cache(folder)
            trial_settings = settings(epochs=1, batch=4)
            weights = os.path.join(folder, "initial.safetensors")
            safetensors_io.save_file(GenerateModel(preset_of(trial_settings["model"])).state_dict(), weights)
            address = f"tcp://127.0.0.1:{free_port()}"
            processes = []
            for rank in range(2):
                run_dir = os.path.join(folder, f"rank-{rank}")
                os.makedirs(run_dir)
                processes.append(engine_process(spec(
                    cache, run_dir, settings=trial_settings, init_from=weights,
                    distributed={"rank": rank, "world_size": 2, "init_method": address, "backend": "gloo"})))
            outputs = [process.communicate(timeout=180) for process in processes]
            for process, (_, errors) in zip(processes, outputs):
                self.assertEqual(process.returncode, 0, errors)
            events = [[json.loads(line) for line in output.splitlines() if line.strip()] for output, _ in outputs]
            epochs = [[event for event in member if event["event"] == "epoch"] for member in events]
            for field in ("epoch", "train_loss", "confusion"):
                self.assertEqual(epochs[0][0][field], epochs[1][0][field], f"both members report the same {field}")
            self.assertEqual(os.listdir(os.path.join(folder, "rank-1")), [], "only rank 0 writes checkpoints")
            stored = safetensors_io.load_file(os.path.join(folder, "rank-0", "engine-epoch-1.safetensors"))
            threads = torch.get_num_threads()
            try:
                reference, loss = shard_averaging_reference(cache, trial_settings, weights)
            finally:
                torch.set_num_threads(threads)
            for name, tensor in reference.items():
                difference = (stored[name].to(tensor.dtype) - tensor).abs().max().item() if tensor.numel() else 0
                self.assertLessEqual(difference, 1e-5 * max(1.0, tensor.abs().max().item()), name)
            self.assertAlmostEqual(epochs[0][0]["train_loss"], loss, places=5)
            self.assertEqual(sum(map(sum, epochs[0][0]["confusion"])), 4, "the summed shards cover the test set")

if __name__ == "__main__":
    unittest.main()
