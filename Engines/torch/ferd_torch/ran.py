"""Region Attention Network (Wang, Peng, Yang, Meng, Qiao, IEEE TIP 2020) on clips, as ferd trains it.

Each of the B·T frames is cut into the 7 fixed crops of RAN's AffectNet code (`CROPS`, fractions of the frame) plus
the whole frame (region 8, last); each crop is resized back to S×S (bilinear, align_corners False, no antialias).
A ResNet-18 (no input normalisation) maps each region to F_i; self-attention μ_i = σ(alpha(F_i)) softmaxed over the
regions; F_m = Σμ_iF_i / Σμ_i; relation-attention ν_i = σ(beta([F_i; F_m])) softmaxed over the regions;
P = Σμ_iν_i[F_i; F_m] / Σμ_iν_i; frame logits fc(P); the clip's logits are the mean of its frames' logits.
The backbone runs once per region, as RAN's code does, so batch norm's training statistics are per region.
With ``ranRecompute`` training keeps only each region's pooled features and runs the region's crop and backbone
pass again in the backward pass (``recomputed``), as ferd's Swift engine does.
State-dict keys are those of RAN's ``part_attention.py``: ``conv1``, ``bn1``, ``layer1…4``, ``alpha.0``, ``beta.0``,
``fc``.
"""

import math

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from . import resnet
from .output import ModelOutput

# [x0, y0, x1, y1] as fractions of the frame (ranCrops "fixed"); the whole frame is the eighth region.
CROPS = ((0.125, 0.25, 0.875, 1), (0, 0, 0.75, 0.75), (0.25, 0, 1, 0.75), (0.05, 0.05, 0.95, 0.95),
         (0.1, 0.1, 0.9, 0.9), (0.125, 0.125, 0.875, 0.875), (0.125, 0, 0.875, 0.75))
CROP_SCHEMES = ("fixed",)
REGIONS = len(CROPS) + 1


def crop_boxes(side):
    """The crops' pixel boxes (column0, row0, column1, row1) on a side×side frame, end exclusive: columns
    [⌊x0·S⌋, ⌈x1·S⌉), rows [⌊y0·S⌋, ⌈y1·S⌉), the products in double precision as ferd's Swift model computes them."""
    return [(math.floor(x0 * side), math.floor(y0 * side), math.ceil(x1 * side), math.ceil(y1 * side))
            for x0, y0, x1, y1 in CROPS]


def region(frames, index):
    """Region `index` of frames (N,3,S,S): crop `index` resized to S×S, or for the last index the frames themselves."""
    side = frames.shape[-1]
    if index == len(CROPS):
        return frames
    c0, r0, c1, r1 = crop_boxes(side)[index]
    return F.interpolate(frames[:, :, r0:r1, c0:c1], size=(side, side), mode="bilinear", align_corners=False)


def regions(frames):
    """frames (N,3,S,S) → the 8 regions (8, N, 3, S, S): the 7 crops resized to S×S, then the frame itself."""
    return torch.stack([region(frames, index) for index in range(REGIONS)])


def recomputed(function, module, *inputs):
    """function(*inputs) without its activations kept for the backward pass, which runs it again
    (``torch.utils.checkpoint``, non-reentrant); the batch norms of `module` move their running statistics in the
    first run only, where torch's checkpoint alone would move them twice."""
    runs = []

    def run(*arguments):
        runs.append(None)
        if len(runs) == 1:
            return function(*arguments)
        norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in norms]
        try:
            return function(*arguments)
        finally:
            with torch.no_grad():
                for norm, (mean, variance, count) in zip(norms, saved):
                    norm.running_mean.copy_(mean)
                    norm.running_var.copy_(variance)
                    norm.num_batches_tracked.copy_(count)

    return torch.utils.checkpoint.checkpoint(run, *inputs, use_reentrant=False)


class RAN(nn.Module):
    """RAN's ResNet-18 with self- and relation-attention, per frame; `configuration` is ferd's ``ModelConfiguration``
    JSON."""

    def __init__(self, configuration):
        super().__init__()
        widths = configuration["widths"]
        self.frames, self.image = configuration["frames"], configuration["imageSize"]
        self.recompute = bool(configuration.get("ranRecompute", False))
        self.conv1, self.bn1 = resnet.stem(widths)
        self.layer1, self.layer2, self.layer3, self.layer4 = resnet.layers(widths)
        self.alpha = nn.Sequential(nn.Linear(widths[4], 1), nn.Sigmoid())
        self.beta = nn.Sequential(nn.Linear(2 * widths[4], 1), nn.Sigmoid())
        self.fc = nn.Linear(2 * widths[4], configuration["classes"])
        resnet.initialise(self)

    def features(self, x):
        """One region of every frame (N,3,S,S) → its average-pooled feature (N, widths[4])."""
        x = resnet.run_stem(x, self.conv1, self.bn1)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
        return x.mean(dim=(2, 3))

    def forward(self, clips):
        """clips (B,T,3,S,S) in [0,1] → logits (B, classes) and μ of every region of every frame (B·T, 8)."""
        b, t = clips.shape[:2]
        frames = clips.reshape(b * t, 3, self.image, self.image).detach()
        if self.recompute and self.training and torch.is_grad_enabled():
            vectors = [recomputed(lambda x, i=index: self.features(region(x, i)), self, frames) for index in range(REGIONS)]
        else:
            vectors = [self.features(region(frames, index)) for index in range(REGIONS)]
        features = torch.stack(vectors, dim=1)                                                  # (N, 8, C)
        mu = torch.softmax(self.alpha(features).squeeze(-1), dim=1)                             # (N, 8)
        mixed = (features * mu[..., None]).sum(dim=1) / mu.sum(dim=1, keepdim=True)             # (N, C)
        joined = torch.cat([features, mixed[:, None].expand_as(features)], dim=2)              # (N, 8, 2C)
        nu = torch.softmax(self.beta(joined).squeeze(-1), dim=1)
        weights = mu * nu
        pooled = (joined * weights[..., None]).sum(dim=1) / weights.sum(dim=1, keepdim=True)
        frame_logits = self.fc(pooled)
        return ModelOutput(frame_logits.view(b, t, -1).mean(dim=1), region_attention=mu)


def region_biased_loss(region_attention, margin):
    """RAN's region-biased loss: the mean over frames of max(0, δ − (max over the 7 crops of μ − μ of the whole
    frame))."""
    best_crop = region_attention[:, :-1].max(dim=1).values
    return F.relu(margin - (best_crop - region_attention[:, -1])).mean()
