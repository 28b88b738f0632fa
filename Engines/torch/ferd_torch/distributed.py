"""A trial trained by several processes (docs/ENGINES.md, `distributed`): torch.distributed with the rendezvous
the worker gives (NCCL on GPUs, gloo on CPUs). Each member trains its shard of every global batch; the helpers here
make the members agree exactly as ferd's Swift gang does: gradients averaged, batch-norm running statistics
averaged after each epoch, losses and confusion matrices combined. With one member every helper is a no-op."""

import datetime

import torch
import torch.distributed as dist


class DistributedError(RuntimeError):
    """The members could not meet or lost each other; the worker retries the attempt."""


def rank_and_size(spec):
    """(rank, world size) of this process from the spec (0, 1 without `distributed`)."""
    distributed = spec.get("distributed")
    return (0, 1) if not distributed else (int(distributed["rank"]), int(distributed["world_size"]))


def join(spec, device):
    """Joins the process group named by the spec's `distributed` block."""
    block = spec["distributed"]
    try:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(block["backend"], init_method=block["init_method"], rank=int(block["rank"]),
                                world_size=int(block["world_size"]), timeout=datetime.timedelta(seconds=300))
    except (RuntimeError, ValueError) as error:
        raise DistributedError(f"rank {block['rank']} of {block['world_size']} could not meet the others at "
                               f"{block['init_method']} ({error}); check that the address is reachable from every "
                               "member (ferd worker --ring-bind)") from None


def leave():
    """Leaves the process group, if any."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_parameters(model):
    """Gives every member rank 0's parameters and buffers, so all replicas start equal."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        dist.broadcast(tensor.data, src=0)


def average_gradients(model, world):
    """Replaces each gradient by its mean over the members (one flattened all-reduce)."""
    if world == 1:
        return
    gradients = [p.grad for p in model.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in gradients])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for gradient in gradients:
        gradient.copy_(flat[offset:offset + gradient.numel()].view_as(gradient))
        offset += gradient.numel()


def average_batch_norm_statistics(model):
    """Replaces the float buffers (batch-norm running mean and variance) by their mean over the members."""
    buffers = [buffer for buffer in model.buffers() if buffer.is_floating_point()]
    flat = torch.cat([b.reshape(-1) for b in buffers])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for buffer in buffers:
        buffer.copy_(flat[offset:offset + buffer.numel()].view_as(buffer))
        offset += buffer.numel()


def mean_over_members(losses, world, device):
    """The epoch's training loss: per step the members' mean, then the mean over the steps."""
    if not losses:
        return 0.0
    values = torch.tensor(losses, dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(values)
        values /= world
    return float(values.mean())


def sum_over_members(counts, world, device):
    """A confusion matrix summed over the members."""
    if world == 1:
        return counts
    total = counts.to(device)
    dist.all_reduce(total)
    return total.cpu()


def any_rank(world, flag, device):
    """True on every member when `flag` is true on any (so a SIGTERM stops the whole gang after the same epoch)."""
    if world == 1:
        return flag
    vote = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(vote)
    return bool(vote.item() > 0)
