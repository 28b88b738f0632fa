"""Every method the torch engine trains, selected by ``settings.model.method`` as ferd's ``ModelMethod``:
`build` makes the model of a ``ModelConfiguration`` JSON (its forward returns a `ModelOutput`), `losses` computes
the method's training objective from that output (``settings.methodLoss`` with contract.METHOD_LOSS_DEFAULTS).

Run ``python3 -m ferd_torch.methods`` to print every method's parameter count at its paper size and check
Former-DFER's against the reference's (18,031,943) and GCA+IAL's against the spec.
"""

import torch.nn.functional as F

from . import model as gca
from .contract import METHOD_LOSS_DEFAULTS
from .former_dfer import FormerDFER
from .output import ModelOutput
from .ran import RAN, region_biased_loss
from .scn import SCN, rank_regularisation
from .stt import STT, compact_softmax_loss

FORMER_DFER_PAPER_PARAMS = 18_031_943


def _transformer(depth, heads, head, hidden):
    return {"depth": depth, "heads": heads, "headDimension": head, "hiddenDimension": hidden}


_RESNET18 = {"frames": 16, "imageSize": 112, "widths": [64, 64, 128, 256, 512], "reduction": 16, "attention": "gca",
             "classes": 7, "spatialTransformer": _transformer(0, 1, 1, 1),
             "temporalTransformer": _transformer(0, 1, 1, 1)}
# The published models' sizes (16 frames of 112², ResNet-18 widths), as ModelConfiguration JSON.
PAPER = {
    "scn": dict(_RESNET18, method="scn"),
    "ran": dict(_RESNET18, method="ran", ranCrops="fixed"),
    "former-dfer": dict(_RESNET18, method="former-dfer", spatialTransformer=_transformer(1, 8, 32, 512),
                        temporalTransformer=_transformer(3, 8, 64, 1024)),
    "stt": dict(_RESNET18, method="stt", temporalTransformer=_transformer(4, 8, 64, 2048), sttAttention="space-time",
                dropPath=0.1),
}


class GCAIAL(gca.GenerateModel):
    """GCA+IAL (`model.GenerateModel`, same state_dict) returning a `ModelOutput`; with ``auxiliaryHeads`` false, or
    an attention without heads, the auxiliary logits are left out (their parameters stay)."""

    def __init__(self, configuration):
        super().__init__(gca.Preset.from_configuration(configuration), configuration["attention"])
        self.auxiliary_heads = configuration.get("auxiliaryHeads", True) is not False

    def forward(self, clips):
        logits, aux2, aux3 = super().forward(clips)
        return ModelOutput(logits, [aux2, aux3] if self.has_aux and self.auxiliary_heads else [])


_RESNET_NAMES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")
# torchvision's ResNet-18 names → the method's, for init_from with a backbone (checkpoint.load_initial).
BACKBONES = {
    "scn": dict(zip(_RESNET_NAMES, ("features.0.", "features.1.", "features.4.", "features.5.", "features.6.",
                                    "features.7."))),
    "ran": {name: name for name in _RESNET_NAMES},
    "former-dfer": {name: "s_former." + name for name in _RESNET_NAMES},
    "stt": {name: "backbone." + name for name in _RESNET_NAMES[:5]},
}

_BUILDERS = {"gca-ial": GCAIAL, "scn": SCN, "ran": RAN, "former-dfer": FormerDFER, "stt": STT}


def method_of(configuration):
    """The configuration's method (a missing one is GCA+IAL, as in ferd)."""
    return configuration.get("method") or "gca-ial"


def build(configuration):
    """A freshly initialised model of a validated ``ModelConfiguration`` JSON, its draws from torch's generator."""
    return _BUILDERS[method_of(configuration)](configuration)


def method_loss(settings, method):
    """``settings.methodLoss.<method>`` with the defaults filled in."""
    given = (settings.get("methodLoss") or {}).get(method) or {}
    return dict(METHOD_LOSS_DEFAULTS.get(method, {}), **given)


def losses(method, output, target, settings):
    """The training objective of `method` on a `ModelOutput` (float32) and the labels; returns the unweighted parts and
    ``total``: gca-ial ce, ial, aux2, aux3 (total = ce + λ·ial + Σ w·aux); scn ce, rank (ce + rank regularisation);
    ran ce, region (ce + region-biased loss); stt ce, compact (ce + λ·compact); former-dfer ce."""
    if method == "gca-ial":
        weights = settings["loss"]
        heads = output.auxiliary or [output.logits, output.logits]
        return gca.total_loss(output.logits, heads[0], heads[1], target, lam=weights["intensityAware"],
                              aux_weights=weights["auxiliary"], use_aux=bool(output.auxiliary))
    ce = F.cross_entropy(output.logits, target)
    if method == "scn":
        parameters = method_loss(settings, "scn")
        rank = rank_regularisation(output.importance, parameters["rankFraction"], parameters["rankMargin"])
        return {"ce": ce, "rank": rank, "total": ce + rank}
    if method == "ran":
        region = region_biased_loss(output.region_attention, method_loss(settings, "ran")["margin"])
        return {"ce": ce, "region": region, "total": ce + region}
    if method == "stt":
        ce, compact = compact_softmax_loss(output.logits, target)
        return {"ce": ce, "compact": compact, "total": ce + method_loss(settings, "stt")["compactWeight"] * compact}
    return {"ce": ce, "total": ce}


def parameter_count(model):
    """Total number of parameter values."""
    return sum(parameter.numel() for parameter in model.parameters())


def main():
    """Prints every method's paper-size parameter count; checks Former-DFER's and GCA+IAL's."""
    counts = {"gca-ial": parameter_count(gca.GenerateModel("paper"))}
    counts.update({method: parameter_count(build(configuration)) for method, configuration in PAPER.items()})
    for method, count in counts.items():
        print(f"{method}: {count:,} parameters at the paper size")
    assert counts["gca-ial"] == gca.PAPER_PARAMS, f"gca-ial has {counts['gca-ial']}, the spec {gca.PAPER_PARAMS}"
    assert counts["former-dfer"] == FORMER_DFER_PAPER_PARAMS, \
        f"former-dfer has {counts['former-dfer']}, the reference {FORMER_DFER_PAPER_PARAMS}"
    print("gca-ial and former-dfer match the reference parameter counts")


if __name__ == "__main__":
    main()
