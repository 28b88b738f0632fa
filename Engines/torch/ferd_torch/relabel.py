"""SCN's relabelling (Wang et al., CVPR 2020) as ferd's Swift trainer does it (its `LabelStore`): from epoch
``methodLoss.scn.relabelEpoch`` (1-based), after each optimiser step, every training clip of the step whose
pre-update probabilities p = softmax(clip logits) have p_max − p[y] > δ2 (``relabelMargin``) takes the label
argmax p for the rest of the trial. The training loader carries the current labels (by the clip's place in the
fold's training split), so the next batches train with them; the store is kept by clip ID, as the Swift trainer
keeps it, for the checkpoint (metadata ``ferd.labels``) and the epoch report; with several members the changes of
every member are gathered, so all hold the same labels. Test labels never change."""

import json

import torch

from .distributed import gather_rows

METADATA_KEY = "ferd.labels"


class Relabeller:
    """SCN's label store over `loader` (a `data.ClipLoader` of the training split): `entries` maps the ID of every clip
    relabelled at least once to ``{"original", "current"}``, as the Swift `LabelStore` JSON does."""

    def __init__(self, loader, margin, first_epoch, classes, world=1, device=torch.device("cpu")):
        self.loader, self.margin, self.first_epoch = loader, margin, first_epoch
        self.classes, self.world, self.device = classes, world, device
        self.entries = {}
        self.changes = []

    def active(self, epoch):
        """Whether `epoch` (1-based) relabels."""
        return epoch >= self.first_epoch

    def begin_epoch(self):
        """Starts collecting an epoch's changes."""
        self.changes = []

    def step(self, positions, logits, labels):
        """Relabels after one step: `positions` (this member's clips of the batch, places in the training split),
        the step's `logits` (before the update) and the `labels` it trained with. Returns the changes applied, as
        (place, from, to), the same on every member."""
        with torch.no_grad():
            probabilities = torch.softmax(logits.detach().float(), dim=1)
            best, predicted = probabilities.max(dim=1)
            current = probabilities.gather(1, labels.view(-1, 1)).view(-1)
            chosen = torch.where(best - current > self.margin, predicted, torch.full_like(predicted, -1))
        places = torch.tensor(positions, dtype=torch.int64, device=chosen.device)
        rows = torch.stack([places, labels.to(torch.int64), chosen.to(torch.int64)], dim=1)
        rows = gather_rows(rows, self.world, self.device, "gathering SCN's relabelled clips")
        changes = [(place, old, new) for place, old, new in rows.cpu().tolist() if new >= 0]
        for place, old, new in changes:
            self.loader.labels[place] = new
            clip = self.loader.clips[place]["id"]
            self.entries[clip] = {"original": self.entries.get(clip, {}).get("original", old), "current": new}
        self.changes.extend(changes)
        return changes

    def report(self):
        """The epoch's ``relabels`` (the Swift `RelabelReport` JSON): ``changed`` (replacements in the epoch),
        ``from_to`` (them by the label before, rows, and after, columns) and ``relabelled_by_class`` (clips whose label
        differs from the dataset's now, by dataset class)."""
        matrix = [[0] * self.classes for _ in range(self.classes)]
        for _, old, new in self.changes:
            matrix[old][new] += 1
        differing = [0] * self.classes
        for entry in self.entries.values():
            if entry["current"] != entry["original"]:
                differing[entry["original"]] += 1
        return {"changed": len(self.changes), "from_to": matrix, "relabelled_by_class": differing}

    def metadata(self):
        """The store as the Swift trainer's resume checkpoints hold it (`ferd.labels`), or None while it is empty."""
        return json.dumps({"entries": self.entries}, sort_keys=True) if self.entries else None

    def restore(self, text):
        """Takes the store of a resume checkpoint's `ferd.labels` (written by either engine); the loader's clips get
        their current labels (entries of clips outside this fold's training split are kept, unused)."""
        try:
            entries = json.loads(text)["entries"]
            self.entries = {str(clip): {"original": int(entry["original"]), "current": int(entry["current"])}
                            for clip, entry in entries.items()}
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"its {METADATA_KEY} metadata is not a label store ({error})") from None
        places = {clip["id"]: place for place, clip in enumerate(self.loader.clips)}
        for clip, entry in self.entries.items():
            if clip in places:
                self.loader.labels[places[clip]] = entry["current"]
