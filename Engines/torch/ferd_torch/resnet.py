"""The torchvision-style ResNet-18 pieces the frame-level methods share (SCN, RAN, Former-DFER, STT).

Layout of the contract (docs/METHODS.md): conv1 7×7 stride 2 padding 3 (3 → widths[0], no bias), bn1, ReLU,
max pool 3 stride 2 padding 1, then layer1…layer4 of two BasicBlocks each (widths[1]…widths[4]; layer2…4 start
with stride 2); a block whose stride is 2 or whose width changes has a 1×1 conv + BN projection shortcut named
``downsample.{0,1}``. Convolutions take kaiming-normal fan_out weights, batch norms weight 1 and bias 0.
"""

import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: conv3×3–BN–ReLU–conv3×3–BN plus the shortcut, then ReLU."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


def stem(widths):
    """conv1 and bn1 of the stem (3 → widths[0])."""
    return nn.Conv2d(3, widths[0], 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(widths[0])


def layers(widths, count=4):
    """layer1…layer`count` as two-block Sequentials; layer1 keeps the resolution, the others halve it."""
    return [nn.Sequential(BasicBlock(widths[index], widths[index + 1], 1 if index == 0 else 2),
                          BasicBlock(widths[index + 1], widths[index + 1]))
            for index in range(count)]


def run_stem(x, conv1, bn1):
    """conv1 → bn1 → ReLU → max pool 3 stride 2 padding 1."""
    return F.max_pool2d(F.relu(bn1(conv1(x))), 3, stride=2, padding=1)


def side_after(image, layer_count):
    """The feature-map side after the stem and `layer_count` layers (layer1 keeps the stem's side)."""
    half = lambda side: (side - 1) // 2 + 1  # a stride-2 3×3/7×7 conv or pool with 'same' padding
    side = half(half(image))
    for _ in range(max(0, layer_count - 1)):
        side = half(side)
    return side


def initialise(module):
    """The ResNet initialisation: kaiming-normal fan_out convolutions, batch norms weight 1 and bias 0."""
    for mod in module.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.ones_(mod.weight)
            nn.init.zeros_(mod.bias)
