"""Former-DFER (Zhao, Liu, ACM MM 2021), as ferd trains it; module nesting follows its released models so that
``state_dict()`` keys and shapes are the reference's (the paper model has 18,031,943 parameters).

CS-Former (``s_former``), per frame: ResNet-18 conv1…layer3 → the widths[3]×P map as P tokens + ``pos_embedding``
(randn, no cls token) → pre-LN transformer (`spatialTransformer`) → back to the map → layer4 → global average pool.
T-Former (``t_former``): the T frame vectors after ``cls_token``, + ``pos_embedding`` (1+T rows, randn) → pre-LN
transformer (`temporalTransformer`, keys ``spatial_transformer.*`` as in the reference) → the cls output (no final
LayerNorm) → ``fc``. The transformers are GCA+IAL's (bias-free qkv, tanh-GELU feed-forward, LN eps 1e-5).
"""

import torch
from torch import nn

from . import resnet
from .model import Transformer, TransformerSpec
from .output import ModelOutput


def transformer_spec(shape):
    """A `TransformerSpec` of ferd's transformer JSON (``depth``, ``heads``, ``headDimension``, ``hiddenDimension``)."""
    return TransformerSpec(depth=shape["depth"], heads=shape["heads"], dim_head=shape["headDimension"],
                           mlp=shape["hiddenDimension"])


class SpatialFormer(nn.Module):
    """The reference's ``S_Former`` ResNet: per-frame features (N, widths[4])."""

    def __init__(self, configuration):
        super().__init__()
        widths = configuration["widths"]
        self.image = configuration["imageSize"]
        side = resnet.side_after(self.image, 3)
        self.conv1, self.bn1 = resnet.stem(widths)
        self.layer1, self.layer2, self.layer3, self.layer4 = resnet.layers(widths)
        self.pos_embedding = nn.Parameter(torch.randn(1, side * side, widths[3]))
        self.spatial_transformer = Transformer(widths[3], transformer_spec(configuration["spatialTransformer"]))

    def forward(self, x):
        x = resnet.run_stem(x, self.conv1, self.bn1)
        x = self.layer3(self.layer2(self.layer1(x)))
        n, c, h, w = x.shape
        tokens = x.reshape(n, c, h * w).transpose(1, 2) + self.pos_embedding
        x = self.spatial_transformer(tokens).transpose(1, 2).reshape(n, c, h, w)
        return self.layer4(x).mean(dim=(2, 3))


class TemporalFormer(nn.Module):
    """The reference's ``Temporal_Transformer_Cls``: (B, T, D) frame vectors → the cls output (B, D)."""

    def __init__(self, configuration):
        super().__init__()
        dim = configuration["widths"][4]
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.randn(1, configuration["frames"] + 1, dim))
        self.spatial_transformer = Transformer(dim, transformer_spec(configuration["temporalTransformer"]))

    def forward(self, x):
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding
        return self.spatial_transformer(x)[:, 0]


class FormerDFER(nn.Module):
    """The reference's ``GenerateModel``: ``s_former``, ``t_former``, ``fc``."""

    def __init__(self, configuration):
        super().__init__()
        self.frames, self.image = configuration["frames"], configuration["imageSize"]
        self.s_former = SpatialFormer(configuration)
        self.t_former = TemporalFormer(configuration)
        self.fc = nn.Linear(configuration["widths"][4], configuration["classes"])
        resnet.initialise(self)

    def forward(self, clips):
        """clips (B,T,3,S,S) in [0,1] → logits (B, classes)."""
        b, t = clips.shape[:2]
        frames = self.s_former(clips.reshape(b * t, 3, self.image, self.image))
        return ModelOutput(self.fc(self.t_former(frames.view(b, t, -1))))
