"""PyTorch reference of the GCA+IAL model (``GenerateModel`` of the IAL paper, AAAI 2023).

Written from the paper and its released code; module nesting mirrors muse1998/IAL-for-Facial-Expression-
Recognition so that ``state_dict()`` keys and shapes are exactly the reference's,
including the parameters the forward pass never touches (``s_former.bias``, every
``bias1``/``bias2``/``glb`` and layer1's ``AUX_fc``/``gc``/``fc1``/``fc2``).

Differences from the reference code, none of which change the numbers:
- the clip length is the preset's ``frames`` instead of a hard-coded 16;
- ``Residual`` evaluates its sub-layer once (the reference calls it twice and
  keeps the first result) and transformers do not build the attention map;
- ``attention`` selects GCA (reference), SE or no channel attention in layer2/3;
  every variant has the same state_dict, only the forward changes.

Run ``python3 -m ferd_torch.model`` to print the parameter counts and check the
paper preset against the spec (19,083,527 total, 18,936,775 used).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 7
PAPER_PARAMS = 19_083_527
PAPER_USED_PARAMS = 18_936_775
ATTENTIONS = ("gca", "se", "none")


@dataclass(frozen=True)
class TransformerSpec:
    """Shape of one pre-norm transformer."""

    depth: int
    heads: int
    dim_head: int
    mlp: int


@dataclass(frozen=True)
class Preset:
    """Model size. ``widths`` are the layer1..layer4 output channels; the stem
    (conv1, bn1) has ``widths[0]`` channels. The spatial transformer works on
    ``widths[3]``-dim tokens (patch_embedding maps layer3 -> layer4 width)."""

    frames: int
    image: int
    widths: tuple
    reduction: int
    pos: TransformerSpec
    temporal: TransformerSpec

    @property
    def sides(self):
        """Feature-map side after stem/maxpool (layer1), layer2, layer3 and DSF."""
        half = lambda s: (s - 1) // 2 + 1  # 3x3 stride-2 pad-1 conv / pool
        l1 = half(half(self.image))
        l2 = half(l1)
        l3 = half(l2)
        return l1, l2, l3, half(l3)

    @property
    def temporal_dim(self):
        """Per-frame token size after DSF: widths[3] x final_side²."""
        return self.widths[3] * self.sides[3] ** 2

    @classmethod
    def from_configuration(cls, configuration):
        """The preset of ferd's ``ModelConfiguration`` JSON (``frames``, ``imageSize``, ``widths``, ``reduction``,
        ``spatialTransformer``, ``temporalTransformer``). ferd's ``widths`` has 5 entries, stem and layer1..layer4;
        the stem equals layer1 (an identity shortcut), so the preset keeps layer1..layer4."""
        def transformer(shape):
            return TransformerSpec(depth=shape["depth"], heads=shape["heads"], dim_head=shape["headDimension"],
                                   mlp=shape["hiddenDimension"])
        stem, *layers = configuration["widths"]
        if len(layers) != 4 or stem != layers[0]:
            raise ValueError(f"widths {configuration['widths']} must list 5 channel counts (stem, layer1..layer4) "
                             "with the stem equal to layer1")
        return cls(frames=configuration["frames"], image=configuration["imageSize"], widths=tuple(layers),
                   reduction=configuration["reduction"], pos=transformer(configuration["spatialTransformer"]),
                   temporal=transformer(configuration["temporalTransformer"]))


PRESETS = {
    "paper": Preset(frames=16, image=112, widths=(64, 128, 256, 256), reduction=16,
                    pos=TransformerSpec(depth=2, heads=4, dim_head=32, mlp=256),
                    temporal=TransformerSpec(depth=2, heads=4, dim_head=32, mlp=512)),
    "small": Preset(frames=8, image=56, widths=(16, 32, 64, 64), reduction=16,
                    pos=TransformerSpec(depth=2, heads=2, dim_head=16, mlp=64),
                    temporal=TransformerSpec(depth=2, heads=2, dim_head=16, mlp=128)),
}


# --------------------------------------------------------------------------- transformer

class Residual(nn.Module):
    """x + fn(x)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


class PreNorm(nn.Module):
    """fn(LayerNorm(x))."""

    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class Attention(nn.Module):
    """Multi-head self-attention: bias-free fused qkv, output projection with bias."""

    def __init__(self, dim, heads, dim_head):
        super().__init__()
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim))

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = (t.reshape(b, n, self.heads, -1).transpose(1, 2)
                   for t in self.to_qkv(x).chunk(3, dim=-1))
        attn = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        return self.to_out((attn @ v).transpose(1, 2).reshape(b, n, -1))


class FeedForward(nn.Module):
    """Linear -> tanh-GELU -> Linear; index 2 stands for the reference's Dropout(0)."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"),
                                 nn.Identity(), nn.Linear(hidden, dim))

    def forward(self, x):
        return self.net(x)


class Transformer(nn.Module):
    """Pre-norm transformer without final LayerNorm (keys ``layers.{l}.{0,1}.fn...``)."""

    def __init__(self, dim, spec):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([
                Residual(PreNorm(dim, Attention(dim, spec.heads, spec.dim_head))),
                Residual(PreNorm(dim, FeedForward(dim, spec.mlp))),
            ]) for _ in range(spec.depth))

    def forward(self, x):
        for attn, ff in self.layers:
            x = ff(attn(x))
        return x


# --------------------------------------------------------------------------- CNN blocks

def conv3x3(cin, cout, stride=1):
    """3x3 conv, padding 1, no bias."""
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def downsample(cin, cout, stride):
    """Projection shortcut (conv1x1 + BN), or None when the identity fits."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class PlainBlock(nn.Module):
    """ResNet BasicBlock (reference ``BasicBlock_act``), used in layer4."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = downsample(cin, cout, stride)

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class AttentionBlock(nn.Module):
    """Reference ``BasicBlock``: residual block carrying the GCA parameters.

    ``attend`` is False in layer1 (plain block, GCA params unused). Otherwise
    ``attention`` picks the channel rescaling of the residual branch u:
    "gca" (the IAL paper's GCA, also yields the (B,7) aux logits), "se" (sigmoid excitation of
    the global average pool) or "none". ``side`` is the output map side, used as
    the global-convolution kernel size.
    """

    def __init__(self, cin, cout, stride, side, frames, reduction, attend, attention):
        super().__init__()
        hidden = cout // reduction
        self.frames = frames
        self.mode = attention if attend else "none"
        self.bias1 = nn.Parameter(torch.randn(1, cout, 1, 1))
        self.bias2 = nn.Parameter(torch.randn(1, cout, 1, 1))
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = downsample(cin, cout, stride)
        self.AUX_fc = nn.Sequential(nn.Linear(cout, 2 * cout, bias=False),
                                    nn.Linear(2 * cout, NUM_CLASSES, bias=False))
        self.glb = nn.Conv2d(cout, cout, 1, bias=False)
        self.gc = nn.Sequential(nn.Conv2d(cout, cout, side, groups=cout, bias=False))
        self.fc1 = nn.Sequential(nn.Conv2d(cout, hidden, 1, bias=False), nn.ReLU())
        self.fc2 = nn.Sequential(nn.Conv2d(hidden, cout, 1, bias=False), nn.Sigmoid())

    def forward(self, x):
        """Return (output, aux logits or None)."""
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        aux = None
        if self.mode == "gca":
            out, aux = self._gca(out)
        elif self.mode == "se":
            out = out * self.fc2(self.fc1(out.mean(dim=(2, 3), keepdim=True)))
        return F.relu(out + identity), aux

    def _gca(self, u):
        """Global-convolution attention with clip-level temporal mixing (the IAL paper's GCA)."""
        n, c = u.shape[:2]
        t = self.frames
        z = self.gc(u)                                        # (N, C, 1, 1)
        aux = self.AUX_fc(z.view(n // t, t, c).mean(dim=1))   # (B, 7)
        s = 2 * self.fc2(self.fc1(z)).view(n // t, t, c, 1, 1)
        a = torch.sqrt(s * s.mean(dim=1, keepdim=True) + 1e-5)
        return u * a.view(n, c, 1, 1), aux


# --------------------------------------------------------------------------- model

class Backbone(nn.Module):
    """Reference ``ResNet`` (``s_former``): stem, layer1-3, DSF, temporal transformer."""

    def __init__(self, preset, attention):
        super().__init__()
        p = preset
        w1, w2, w3, w4 = p.widths
        s1, s2, s3, s4 = p.sides
        self.preset = p
        self.bias = nn.Parameter(torch.randn(1, w1, 1, 1))
        self.pos_embedding_pos = nn.Parameter(torch.randn(1, s4 * s4, w4))
        self.pos_embedding = nn.Parameter(torch.randn(1, p.frames, p.temporal_dim))
        self.conv1 = nn.Sequential(nn.Conv2d(3, w1, 3, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(w1), nn.ReLU(), conv3x3(w1, w1))
        self.bn1 = nn.BatchNorm2d(w1)
        block = lambda cin, cout, stride, side, attend: AttentionBlock(
            cin, cout, stride, side, p.frames, p.reduction, attend, attention)
        self.layer1 = nn.Sequential(block(w1, w1, 1, s1, False))
        self.layer2 = nn.Sequential(block(w1, w2, 2, s2, True))
        self.layer3 = nn.Sequential(block(w2, w3, 2, s3, True))
        self.layer4 = nn.Sequential(PlainBlock(w3, w4, 2), PlainBlock(w4, w4), PlainBlock(w4, w4))
        self.patch_embedding = nn.Sequential(conv3x3(w3, w4, 2), nn.BatchNorm2d(w4), nn.ReLU())
        self.pos_transformer = Transformer(w4, p.pos)
        self.temporal_transformer = Transformer(p.temporal_dim, p.temporal)

    def forward(self, clips):
        """clips (B,T,3,H,W) -> tokens (B,T-1,D), aux logits of layer2 and layer3."""
        p = self.preset
        t = p.frames
        x = clips.reshape(-1, 3, p.image, p.image)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, stride=2, padding=1)
        auxes = []
        for layer in (self.layer1, self.layer2, self.layer3):
            for blk in layer:
                x, aux = blk(x)
            auxes.append(aux)
        # Dynamic-static fusion (from NR-DFERNet, as the IAL code uses it).
        n, c, h, w = x.shape
        frames = x.view(n // t, t, c, h, w)
        dynamic = (frames[:, 1:] - frames[:, :-1]).reshape(-1, c, h, w)
        static = self.patch_embedding(frames[:, :-1].reshape(-1, c, h, w))
        m, cs, hs, ws = static.shape
        tokens = static.flatten(2).transpose(1, 2) + self.pos_embedding_pos
        static = self.pos_transformer(tokens).transpose(1, 2).reshape(m, cs, hs, ws)
        fused = static + self.layer4(dynamic)
        seq = fused.reshape(n // t, t - 1, -1) + self.pos_embedding[:, :t - 1]
        return self.temporal_transformer(seq), auxes[1], auxes[2]


class GenerateModel(nn.Module):
    """Full model: ``s_former`` backbone, temporal mean pooling and ``fc_f``."""

    def __init__(self, preset="paper", attention="gca"):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}")
        self.preset = PRESETS[preset] if isinstance(preset, str) else preset
        self.attention = attention
        self.s_former = Backbone(self.preset, attention)
        self.fc_f = nn.Linear(self.preset.temporal_dim, NUM_CLASSES)
        for mod in self.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(mod, nn.BatchNorm2d):
                nn.init.ones_(mod.weight)
                nn.init.zeros_(mod.bias)

    @property
    def has_aux(self):
        """Whether the aux logits are real (GCA) rather than zero placeholders."""
        return self.attention == "gca"

    def forward(self, clips):
        """clips (B,T,3,H,W) in [0,1] -> (logits, aux_layer2, aux_layer3), each (B,7)."""
        tokens, aux2, aux3 = self.s_former(clips)
        logits = self.fc_f(tokens.mean(dim=1))
        if not self.has_aux:
            aux2 = aux3 = logits.new_zeros(logits.shape)
        return logits, aux2, aux3


# --------------------------------------------------------------------------- loss

def intensity_aware_loss(logits, target):
    """The IAL paper's intensity-aware loss: mean softplus(z_m - z_y), m = argmax of the non-target logits."""
    masked = logits.detach().scatter(1, target[:, None], float("-inf"))
    m = masked.argmax(dim=1)
    z_y = logits.gather(1, target[:, None])
    z_m = logits.gather(1, m[:, None])
    return F.softplus(z_m - z_y).mean()


def total_loss(logits, aux2, aux3, target, lam=0.1, aux_weights=(0.05, 0.0), use_aux=True):
    """Losses of main.py: total = ce + w2*aux2 + w3*aux3 + lam*ial.

    ``aux_weights`` pairs with (aux2, aux3) as ferd's ``LossWeights.auxiliary``
    does: a head without a weight (a shorter list) has no term. A zero weight
    still puts its term in the graph, as the reference does. ``aux2``/``aux3``
    in the result are the unweighted aux cross-entropies (zero, and left out of
    the total, when ``use_aux`` is False, i.e. for SE/none, or without a weight).
    """
    ce = F.cross_entropy(logits, target)
    ial = intensity_aware_loss(logits, target)
    total = ce + lam * ial
    terms = [logits.new_zeros(()), logits.new_zeros(())]
    if use_aux:
        for index, (head, weight) in enumerate(zip((aux2, aux3), aux_weights)):
            terms[index] = F.cross_entropy(head, target)
            total = total + weight * terms[index]
    return {"ce": ce, "ial": ial, "aux2": terms[0], "aux3": terms[1], "total": total}


def count_params(model):
    """Total number of parameter values."""
    return sum(p.numel() for p in model.parameters())


def count_used_params(model, batch=1):
    """Parameter values that receive a gradient from the training loss."""
    model.train()
    p = model.preset
    clips = torch.rand(batch, p.frames, 3, p.image, p.image)
    target = torch.zeros(batch, dtype=torch.long)
    model.zero_grad(set_to_none=True)
    total_loss(*model(clips), target, use_aux=model.has_aux)["total"].backward()
    used = sum(q.numel() for q in model.parameters() if q.grad is not None)
    model.zero_grad(set_to_none=True)
    return used


def main():
    """Print parameter counts and check the paper preset against the spec."""
    torch.manual_seed(0)
    for name in PRESETS:
        model = GenerateModel(name)
        total, used = count_params(model), count_used_params(model)
        print(f"{name}: {total:,} parameters ({used:,} used in training)")
        if name == "paper":
            assert total == PAPER_PARAMS, f"paper preset has {total}, spec says {PAPER_PARAMS}"
            assert used == PAPER_USED_PARAMS, f"paper preset uses {used}, spec says {PAPER_USED_PARAMS}"
    print("paper preset matches the spec parameter counts")


if __name__ == "__main__":
    main()
