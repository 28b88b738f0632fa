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

    def to_float32(self):
        """The same output with every tensor in float32 (the losses' precision under autocast)."""
        optional = lambda tensor: None if tensor is None else tensor.float()
        return ModelOutput(self.logits.float(), [head.float() for head in self.auxiliary],
                           optional(self.importance), optional(self.region_attention))
