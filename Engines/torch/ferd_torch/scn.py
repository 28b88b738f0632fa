"""Self-Cure Network (Wang, Peng, Yang, Meng, Qiao, CVPR 2020) on clips, as ferd trains it.

A torchvision ResNet-18 runs on each of the B·T frames (normalised inside the model with the ImageNet mean and
standard deviation, as SCN's code does before its pretrained backbone); the 512-d average-pooled feature x gives the
importance α = σ(alpha.0(x)) and the frame logits α·fc(x); the clip's logits are the mean of its frames' logits.
State-dict keys are those of SCN's ``Res18Feature``: ``features.{0,1,4,5,6,7}.*``, ``fc.*``, ``alpha.0.*``.
The rank regularisation is `rank_regularisation`; relabelling is the training loop's (engine.py).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import resnet
from .output import ModelOutput


class SCN(nn.Module):
    """SCN's ``Res18Feature`` applied per frame; `configuration` is ferd's ``ModelConfiguration`` JSON."""

    def __init__(self, configuration):
        super().__init__()
        widths = configuration["widths"]
        self.frames, self.image = configuration["frames"], configuration["imageSize"]
        conv1, bn1 = resnet.stem(widths)
        self.features = nn.Sequential(conv1, bn1, nn.ReLU(), nn.MaxPool2d(3, 2, 1), *resnet.layers(widths))
        self.fc = nn.Linear(widths[4], configuration["classes"])
        self.alpha = nn.Sequential(nn.Linear(widths[4], 1), nn.Sigmoid())
        self.register_buffer("mean", torch.tensor(resnet.IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(resnet.IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        resnet.initialise(self)

    def forward(self, clips):
        """clips (B,T,3,S,S) in [0,1] → logits (B, classes) and the frames' importance α (B·T)."""
        b, t = clips.shape[:2]
        x = (clips.reshape(b * t, 3, self.image, self.image) - self.mean) / self.std
        x = self.features(x).mean(dim=(2, 3))
        alpha = self.alpha(x)
        frame_logits = alpha * self.fc(x)
        return ModelOutput(frame_logits.view(b, t, -1).mean(dim=1), importance=alpha.view(-1))


def high_group_size(fraction, count):
    """M = ⌊β·N⌋ as ferd's Swift loss computes it: β is a float32 setting, taken at its shortest decimal (0.7, not
    0.699999988…) and multiplied in double precision."""
    return int(math.floor(float(str(np.float32(fraction))) * count))


def rank_regularisation(importance, fraction, margin):
    """SCN's rank regularisation over the N frames' α: max(0, δ1 − (mean of the M = ⌊β·N⌋ largest − mean of the
    others)); zero when either group is empty (M = 0 or M = N)."""
    count = importance.numel()
    high = high_group_size(fraction, count)
    if high == 0 or high == count:
        return importance.sum() * 0
    ordered = torch.sort(importance.reshape(-1), descending=True).values
    return F.relu(margin - (ordered[:high].mean() - ordered[high:].mean()))
