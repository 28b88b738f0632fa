"""What every method's forward pass returns, as ferd's Swift ``ModelOutput``."""

from typing import List, NamedTuple, Optional

import torch


class ModelOutput(NamedTuple):
    """``logits`` (B, classes); ``auxiliary`` the GCA+IAL heads of layer2 and layer3 (empty for the other methods
    and for GCA+IAL without them); ``importance`` SCN's α of every frame (B·T); ``region_attention`` RAN's μ of every
    region of every frame after the softmax over regions (B·T, regions), whole face last."""

    logits: torch.Tensor
    auxiliary: List[torch.Tensor] = []
    importance: Optional[torch.Tensor] = None
    region_attention: Optional[torch.Tensor] = None
