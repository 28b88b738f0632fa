"""SCN's relabelling (Wang et al., CVPR 2020) as ferd's trainer does it: from epoch ``methodLoss.scn.relabelEpoch``
(1-based), after each optimiser step, every training clip of the step whose pre-update probabilities
p = softmax(clip logits) have p_max − p[y] > δ2 (``relabelMargin``) takes the label argmax p, for the rest of the run.
The labels live in the training loader (by the clip's place in the fold's training split, which names the clip), so
the next epochs' batches carry them; with several members the changes of every member are gathered, so all hold the
same labels."""

import torch

from .distributed import gather_rows


class Relabeller:
    """Applies SCN's relabelling to `loader` (a `data.ClipLoader` of the training split) and counts the changes."""

    def __init__(self, loader, margin, first_epoch, classes, world=1, device=torch.device("cpu")):
        self.loader, self.margin, self.first_epoch = loader, margin, first_epoch
        self.classes, self.world, self.device = classes, world, device
        self.counts = [0] * classes

    def active(self, epoch):
        """Whether `epoch` (1-based) relabels."""
        return epoch >= self.first_epoch

    def begin_epoch(self):
        """Starts counting an epoch's changes."""
        self.counts = [0] * self.classes

    def step(self, positions, logits, labels):
        """Relabels after one step: `positions` (this member's clips of the batch, places in the training split),
        the step's `logits` (before the update) and the `labels` it trained with. Returns the changes applied, as
        (place, new label) pairs, the same on every member."""
        with torch.no_grad():
            probabilities = torch.softmax(logits.detach().float(), dim=1)
            best, predicted = probabilities.max(dim=1)
            current = probabilities.gather(1, labels.view(-1, 1)).view(-1)
            chosen = torch.where(best - current > self.margin, predicted, torch.full_like(predicted, -1))
        places = torch.tensor(positions, dtype=torch.int64, device=chosen.device)
        pairs = gather_rows(torch.stack([places, chosen.to(torch.int64)], dim=1), self.world, self.device,
                            "gathering SCN's relabelled clips")
        changes = [(place, label) for place, label in pairs.cpu().tolist() if label >= 0]
        for place, label in changes:
            self.loader.labels[place] = label
            self.counts[label] += 1
        return changes
