"""The spatio-temporal transformer of STT (Ma, Sun, Li, arXiv 2205.04749, 2022), reconstructed by ferd: the paper's
code and full text are not public, so sizes, names and the loss follow ferd's documented reading (docs/METHODS.md).

Per frame, ResNet-18 conv1…layer3 gives a widths[3]×P map; ``tokenizer`` (1×1 conv to widths[4]) makes P tokens,
each + ``spatial_pos[p]`` + ``temporal_pos[1+t]``; one cls token + ``temporal_pos[0]``. Each block
(``temporalTransformer`` sizes) is, with ``sttAttention`` "space-time": spatial MHSA per frame over its P tokens
(cls unchanged), residual; temporal MHSA per location over [cls copy, its T tokens], the P cls outputs averaged into
one, residual; FFN (exact-erf GELU), residual. "joint": one MHSA over all 1+T·P tokens (spatial_* weights),
residual; FFN, residual. Stochastic depth (``dropPath`` at the last block, linear from 0 at block 0) acts on every
residual branch in training. Output: ``norm`` (LN eps 1e-6, as every LayerNorm here) of the cls token → ``head``.
The token tables start N(0, 0.02²) (timm's trunc_normal_, whose ±2 cut a 0.02 std never reaches), the linear layers
N(0, 0.02²) with zero biases (timm's ViT), the tokenizer U(±1/√fan_in) as torch's Conv2d does, the backbone as
resnet.initialise does. The loss is `compact_softmax_loss`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import resnet
from .output import ModelOutput

ATTENTIONS = ("space-time", "joint")
NORM_EPS = 1e-6


class SelfAttention(nn.Module):
    """Multi-head self-attention with a biased fused ``qkv`` and an output ``proj``; scale 1/√head size."""

    def __init__(self, dim, heads, head_dim):
        super().__init__()
        self.heads, self.scale = heads, head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, dim)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = (part.reshape(b, n, self.heads, -1).transpose(1, 2) for part in self.qkv(x).chunk(3, dim=-1))
        attention = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        return self.proj((attention @ v).transpose(1, 2).reshape(b, n, -1))


class FeedForward(nn.Module):
    """fc1 → GELU (exact erf) → fc2."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


def drop_path(branch, rate, clips, training):
    """Stochastic depth: in training each clip's `branch` output (leading dimension a multiple of `clips`, clip-major)
    is dropped with probability `rate` and the kept ones scaled by 1/(1 − rate)."""
    if not training or rate == 0:
        return branch
    keep = 1 - rate
    mask = torch.bernoulli(torch.full((clips,), keep, device=branch.device, dtype=branch.dtype)) / keep
    return branch * mask.repeat_interleave(branch.shape[0] // clips).view(-1, *([1] * (branch.dim() - 1)))


class Block(nn.Module):
    """One STT block: divided space-time attention (or joint attention) and the FFN, each pre-norm and residual."""

    def __init__(self, dim, heads, head_dim, hidden, attention, drop_rate):
        super().__init__()
        self.attention, self.drop_rate = attention, drop_rate
        self.spatial_norm = nn.LayerNorm(dim, eps=NORM_EPS)
        self.spatial_attn = SelfAttention(dim, heads, head_dim)
        if attention == "space-time":
            self.temporal_norm = nn.LayerNorm(dim, eps=NORM_EPS)
            self.temporal_attn = SelfAttention(dim, heads, head_dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=NORM_EPS)
        self.ffn = FeedForward(dim, hidden)

    def forward(self, cls, tokens):
        """cls (B,1,D), tokens (B,T,P,D) → both updated."""
        b, t, p, d = tokens.shape
        drop = lambda branch: drop_path(branch, self.drop_rate, b, self.training)
        if self.attention == "joint":
            sequence = torch.cat([cls, tokens.reshape(b, t * p, d)], dim=1)
            sequence = sequence + drop(self.spatial_attn(self.spatial_norm(sequence)))
            cls, tokens = sequence[:, :1], sequence[:, 1:].reshape(b, t, p, d)
        else:
            frames = tokens.reshape(b * t, p, d)
            tokens = (frames + drop(self.spatial_attn(self.spatial_norm(frames)))).reshape(b, t, p, d)
            locations = tokens.transpose(1, 2).reshape(b * p, t, d)
            sequence = torch.cat([cls.expand(b, p, d).reshape(b * p, 1, d), locations], dim=1)
            attended = drop(self.temporal_attn(self.temporal_norm(sequence)))
            cls = cls + attended[:, 0].reshape(b, p, d).mean(dim=1, keepdim=True)
            tokens = tokens + attended[:, 1:].reshape(b, p, t, d).transpose(1, 2)
        sequence = torch.cat([cls, tokens.reshape(b, t * p, d)], dim=1)
        sequence = sequence + drop(self.ffn(self.ffn_norm(sequence)))
        return sequence[:, :1], sequence[:, 1:].reshape(b, t, p, d)


class STT(nn.Module):
    """The STT model; `configuration` is ferd's ``ModelConfiguration`` JSON (``sttAttention``, ``dropPath``)."""

    def __init__(self, configuration):
        super().__init__()
        widths = configuration["widths"]
        self.frames, self.image = configuration["frames"], configuration["imageSize"]
        dim, side = widths[4], resnet.side_after(self.image, 3)
        shape = configuration["temporalTransformer"]
        attention = configuration.get("sttAttention") or "space-time"
        rate = float(configuration.get("dropPath", 0.1))
        depth = shape["depth"]
        self.backbone = nn.Module()
        self.backbone.conv1, self.backbone.bn1 = resnet.stem(widths)
        self.backbone.layer1, self.backbone.layer2, self.backbone.layer3 = resnet.layers(widths, count=3)
        self.tokenizer = nn.Conv2d(widths[3], dim, 1)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.spatial_pos = nn.Parameter(torch.zeros(1, side * side, dim))
        self.temporal_pos = nn.Parameter(torch.zeros(1, self.frames + 1, dim))
        self.blocks = nn.ModuleList(
            Block(dim, shape["heads"], shape["headDimension"], shape["hiddenDimension"], attention,
                  rate * index / (depth - 1) if depth > 1 else 0.0)
            for index in range(depth))
        self.norm = nn.LayerNorm(dim, eps=NORM_EPS)
        self.head = nn.Linear(dim, configuration["classes"])
        resnet.initialise(self.backbone)
        for table in (self.cls_token, self.spatial_pos, self.temporal_pos):
            nn.init.trunc_normal_(table, std=0.02)
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)

    def forward(self, clips):
        """clips (B,T,3,S,S) in [0,1] → logits (B, classes)."""
        b, t = clips.shape[:2]
        x = resnet.run_stem(clips.reshape(b * t, 3, self.image, self.image), self.backbone.conv1, self.backbone.bn1)
        x = self.tokenizer(self.backbone.layer3(self.backbone.layer2(self.backbone.layer1(x))))
        tokens = x.flatten(2).transpose(1, 2).reshape(b, t, -1, x.shape[1])
        tokens = tokens + self.spatial_pos[:, None] + self.temporal_pos[:, 1:, None]
        cls = (self.cls_token + self.temporal_pos[:, :1]).expand(b, -1, -1)
        for block in self.blocks:
            cls, tokens = block(cls, tokens)
        return ModelOutput(self.head(self.norm(cls[:, 0])))


def compact_softmax_loss(logits, target):
    """ferd's reading of STT's compact softmax cross-entropy, CE(z, y) + λ·½[KL(q‖u) + KL(u‖q)] with q the softmax
    over the K−1 non-target logits and u uniform over them: returns CE and the compact term ½[KL(q‖u) + KL(u‖q)],
    each a mean over the batch (the caller weights the second by λ)."""
    classes = logits.shape[1]
    others = ~F.one_hot(target, classes).bool()
    log_q = torch.log_softmax(logits[others].view(-1, classes - 1), dim=1)
    log_u = -math.log(classes - 1)
    forward = (log_q.exp() * (log_q - log_u)).sum(dim=1)
    backward = ((log_u - log_q) / (classes - 1)).sum(dim=1)
    return F.cross_entropy(logits, target), (0.5 * (forward + backward)).mean()
