"""A trial trained by several processes (docs/ENGINES.md, `distributed`): torch.distributed with the rendezvous
the worker gives (NCCL on GPUs, gloo on CPUs). Each member trains its shard of every global batch; the helpers here
make the members agree exactly as ferd's Swift gang does: gradients averaged, batch-norm running statistics
averaged after each epoch, losses and confusion matrices combined. With one member every helper is a no-op (or
returns its input). A collective that fails — another member died or the network broke — raises DistributedError."""

import contextlib
import datetime
import time
import urllib.parse

import torch
import torch.distributed as dist

# How long one collective waits for the other members (a slow member's step, rank 0's checkpoint write).
TIMEOUT = datetime.timedelta(seconds=300)
# How long the members wait for each other at the rendezvous when the spec does not say (`join_timeout_seconds`).
JOIN_TIMEOUT = datetime.timedelta(seconds=300)


class DistributedError(RuntimeError):
    """The members could not meet or lost each other; the worker retries the attempt."""


@contextlib.contextmanager
def _collective(what):
    """Turns a failed collective into a DistributedError naming `what`."""
    try:
        yield
    except RuntimeError as error:
        raise DistributedError(f"{what} failed ({str(error).splitlines()[0]}); another member has probably stopped "
                               "— its engine log says why") from None


def rank_and_size(spec):
    """(rank, world size) of this process from the spec (0, 1 without `distributed`)."""
    distributed = spec.get("distributed")
    return (0, 1) if not distributed else (int(distributed["rank"]), int(distributed["world_size"]))


def join(spec, device):
    """Joins the process group named by the spec's `distributed` block. Rank 0 serves the rendezvous store at
    `init_method`; the members wait for each other at most `join_timeout_seconds` (the worker's gang timeout), so a
    member that never comes fails the others with a reason instead of holding them forever (torch 1.13's store
    server waits for its clients without a limit) or for the collectives' timeout."""
    block = spec["distributed"]
    rank, world = int(block["rank"]), int(block["world_size"])
    join_timeout = datetime.timedelta(seconds=float(block["join_timeout_seconds"])) \
        if block.get("join_timeout_seconds") else JOIN_TIMEOUT
    address = urllib.parse.urlsplit(block["init_method"])

    def failure(detail):
        return DistributedError(f"rank {rank} of {world} could not meet the others at {block['init_method']} within "
                                f"{join_timeout.total_seconds():g} s ({detail}); check that the address is reachable "
                                "from every member (ferd worker --ring-bind) and that every member started (their "
                                "worker logs say why one did not)")

    try:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        store = dist.TCPStore(address.hostname, address.port, world_size=world, is_master=rank == 0,
                              timeout=join_timeout, wait_for_workers=False)
        store.add("ferd/joined", 1)
        deadline = time.monotonic() + join_timeout.total_seconds()
        while (joined := store.add("ferd/joined", 0)) < world:
            if time.monotonic() > deadline:
                raise failure(f"{joined} of {world} members came")
            time.sleep(0.05)
        dist.init_process_group(block["backend"], store=store, rank=rank, world_size=world, timeout=TIMEOUT)
    except DistributedError:
        raise
    except (RuntimeError, ValueError, OSError) as error:
        raise failure(str(error).splitlines()[0]) from None


def leave():
    """Leaves the process group, if any."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_state(model):
    """Gives every member rank 0's parameters and buffers, so all replicas start equal."""
    with _collective("broadcasting rank 0's model"):
        for tensor in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(tensor.data, src=0)


def _all_reduce_mean(tensors, world):
    """Replaces each tensor of `tensors` (one dtype, one device) by its mean over the members: one all-reduce of
    their concatenation."""
    flat = torch.cat([tensor.reshape(-1) for tensor in tensors])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for tensor in tensors:
        tensor.copy_(flat[offset:offset + tensor.numel()].view_as(tensor))
        offset += tensor.numel()


def average_gradients(model, world, loss):
    """Replaces each gradient by its mean over the members and returns the members' mean of the step `loss` (a
    0-d tensor), reduced together with the gradients, so that every member sees the same loss and a non-finite
    one on any member stops them all."""
    if world == 1:
        return loss.item()
    gradients = [p.grad for p in model.parameters() if p.grad is not None]
    step_loss = loss.detach().reshape(1).to(gradients[0].dtype, copy=True)
    with _collective("averaging the gradients"):
        _all_reduce_mean([step_loss] + gradients, world)
    return step_loss.item()


def average_batch_norm_statistics(model):
    """Replaces the float buffers (batch-norm running mean and variance) by their mean over the members."""
    with _collective("averaging the batch-norm statistics"):
        _all_reduce_mean([buffer for buffer in model.buffers() if buffer.is_floating_point()], dist.get_world_size())


def gather_rows(rows, world, device, what):
    """The (n, k) tensors `rows` of every member (the same n on each), concatenated in rank order; `what` names the
    exchange in the error when it fails."""
    if world == 1:
        return rows
    gathered = [torch.empty_like(rows, device=device) for _ in range(world)]
    with _collective(what):
        dist.all_gather(gathered, rows.to(device))
    return torch.cat(gathered)


def sum_over_members(counts, world, device):
    """A confusion matrix summed over the members."""
    if world == 1:
        return counts
    total = counts.to(device)
    with _collective("summing the confusion matrices"):
        dist.all_reduce(total)
    return total.cpu()


def any_rank(world, flag, device):
    """True on every member when `flag` is true on any (so a SIGTERM stops the whole gang after the same epoch)."""
    if world == 1:
        return flag
    vote = torch.tensor([1.0 if flag else 0.0], device=device)
    with _collective("agreeing whether to stop"):
        dist.all_reduce(vote)
    return bool(vote.item() > 0)
