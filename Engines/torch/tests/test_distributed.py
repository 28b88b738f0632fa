"""A trial over two processes (torch.distributed, gloo on CPU) equals the single-process computation ferd's gangs
are defined by: each member's shard of every global batch, gradients averaged, batch-norm statistics averaged after
the epoch, confusion matrices summed."""

import json
import os
import socket
import time
import unittest

import torch

from ferd_torch import safetensors_io
from ferd_torch.contract import learning_rate
from ferd_torch.data import FoldData
from ferd_torch.model import total_loss
from tests.support import (TemporaryFolder, engine_process, lifecycle, run_engine, settings, spec, tiny_cache,
                           tiny_model)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def shard_averaging_reference(cache, trial_settings, weights, members=2):
    """The epochs the way a gang of `members` trains them, in one process with one replica per member (on one
    thread, as the members run, so that both compute with the same kernels): each replica's loss is the mean over
    its shard, every replica steps with the mean of the replicas' gradients, the batch-norm statistics are averaged
    after each epoch. Returns the final state, each epoch's mean step loss and each epoch's confusion matrix of the
    whole test set."""
    torch.set_num_threads(1)
    replicas, optimizers = [], []
    for _ in range(members):
        model = tiny_model()
        model.load_state_dict(safetensors_io.load_file(weights))
        replicas.append(model)
        optimizers.append(torch.optim.SGD(model.parameters(), lr=trial_settings["learningRate"],
                                          momentum=trial_settings["momentum"],
                                          weight_decay=trial_settings["weightDecay"]))
    shards = [FoldData(cache, 1, trial_settings, rank=rank, world_size=members) for rank in range(members)]
    whole = FoldData(cache, 1, trial_settings)
    losses, confusions = [], []
    for epoch in range(1, trial_settings["epochs"] + 1):
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(trial_settings, epoch)
        steps = []
        for batch in zip(*[data.train_batches(epoch - 1) for data in shards]):
            step = []
            for model, optimizer, (clips, labels) in zip(replicas, optimizers, batch):
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
            steps.append(sum(step) / members)
        losses.append(sum(steps) / len(steps))
        for buffers in zip(*[[b for b in model.buffers() if b.is_floating_point()] for model in replicas]):
            mean = sum(buffers[1:], buffers[0].clone()) / members
            for buffer in buffers:
                buffer.copy_(mean)
        confusion = torch.zeros(7, 7, dtype=torch.int64)
        replicas[0].eval()
        with torch.no_grad():
            for clips, labels in whole.test_batches():
                for truth, prediction in zip(labels.tolist(), replicas[0](clips)[0].argmax(dim=1).tolist()):
                    confusion[truth, prediction] += 1
        confusions.append(confusion.tolist())
    return replicas[0].state_dict(), losses, confusions


class DistributedTests(unittest.TestCase):
    def test_two_gloo_members_equal_the_shard_averaging_reference(self):
        with TemporaryFolder() as folder:
            cache = tiny_cache(folder)
            trial_settings = settings(epochs=2, batch=4)
            weights = os.path.join(folder, "initial.safetensors")
            safetensors_io.save_file(tiny_model().state_dict(), weights)
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
            events = [[json.loads(line) for line in output.splitlines()] for output, _ in outputs]
            self.assertEqual(lifecycle(events[0]), ["started", "checkpoint", "epoch", "checkpoint", "epoch", "done"])
            self.assertEqual(lifecycle(events[1]), ["started", "epoch", "epoch", "done"], "rank 1 writes no checkpoint")
            epochs = [[event for event in member if event["event"] == "epoch"] for member in events]
            for field in ("epoch", "train_loss", "confusion", "steps"):
                self.assertEqual([e[field] for e in epochs[0]], [e[field] for e in epochs[1]],
                                 f"both members report the same {field}")
            self.assertEqual(epochs[0][0]["steps"], 4, "4 global batches of 4 clips, 2 per member")
            self.assertEqual(os.listdir(os.path.join(folder, "rank-1")), [], "only rank 0 writes checkpoints")
            stored = safetensors_io.load_file(os.path.join(folder, "rank-0", "engine-epoch-2.safetensors"))
            threads = torch.get_num_threads()
            try:
                reference, losses, confusions = shard_averaging_reference(cache, trial_settings, weights)
            finally:
                torch.set_num_threads(threads)
            for name, tensor in reference.items():
                difference = (stored[name].to(tensor.dtype) - tensor).abs().max().item() if tensor.numel() else 0
                self.assertLessEqual(difference, 1e-5 * max(1.0, tensor.abs().max().item()), name)
            for event, loss, confusion in zip(epochs[0], losses, confusions):
                self.assertAlmostEqual(event["train_loss"], loss, delta=1e-6 * loss)
                self.assertEqual(event["confusion"], confusion, "the summed shards equal the whole test set")

    def test_a_member_left_alone_fails_after_the_join_timeout(self):
        """Rank 0 serving a rendezvous nobody joins, and rank 1 looking for a rank 0 that never serves, each give
        up after `join_timeout_seconds` with a retryable `distributed` failure, not the collectives' 300 s."""
        with TemporaryFolder() as folder:
            cache = tiny_cache(folder)
            for rank in range(2):
                with self.subTest(rank=rank):
                    run_dir = os.path.join(folder, f"alone-{rank}")
                    os.makedirs(run_dir)
                    began = time.monotonic()
                    status, events, errors = run_engine(spec(
                        cache, run_dir, settings=settings(epochs=1, batch=4),
                        distributed={"rank": rank, "world_size": 2, "init_method": f"tcp://127.0.0.1:{free_port()}",
                                     "backend": "gloo", "join_timeout_seconds": 3}), timeout=150)
                    self.assertEqual(status, 1, errors)
                    self.assertEqual(events[-1]["event"], "failed", errors)
                    self.assertEqual((events[-1]["kind"], events[-1]["retryable"]), ("distributed", True))
                    self.assertIn(f"rank {rank} of 2 could not meet the others", events[-1]["reason"])
                    self.assertIn("within 3 s", events[-1]["reason"])
                    self.assertLess(time.monotonic() - began, 100, "well before the collectives' 300 s")


if __name__ == "__main__":
    unittest.main()
