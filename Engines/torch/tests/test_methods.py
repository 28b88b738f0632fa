"""The methods besides GCA+IAL: forward shapes, state_dict keys and shapes (the published checkpoints' names),
losses against hand-computed values, RAN's crops, backbone init_from, and the spec's per-method checks."""

import copy
import math
import os
import tempfile
import unittest

import torch
import torch.nn.functional as F

from ferd_torch import checkpoint, methods, safetensors_io
from ferd_torch.contract import SpecError, learning_rate, validate_settings
from ferd_torch.data import FoldData
from ferd_torch.ran import crop_boxes, region_biased_loss, regions
from ferd_torch.scn import high_group_size, rank_regularisation
from ferd_torch.stt import compact_softmax_loss
from tests.support import TemporaryFolder, settings, tiny_cache

WIDTHS = [4, 4, 8, 8, 16]


def tiny(method, **changes):
    """A tiny ModelConfiguration JSON of `method`: 2 frames of 32² (2×2 tokens after layer3)."""
    transformer = {"depth": 1, "heads": 2, "headDimension": 4, "hiddenDimension": 8}
    configuration = {"method": method, "frames": 2, "imageSize": 32, "widths": list(WIDTHS), "reduction": 4,
                     "attention": "gca", "classes": 7, "spatialTransformer": dict(transformer),
                     "temporalTransformer": dict(transformer, depth=2), "dropPath": 0.0}
    return dict(configuration, **changes)


def block_shapes(prefix, cin, cout, stride):
    """state_dict shapes of one torchvision BasicBlock."""
    shapes = {f"{prefix}conv1.weight": (cout, cin, 3, 3), f"{prefix}conv2.weight": (cout, cout, 3, 3)}
    norms = [f"{prefix}bn1.", f"{prefix}bn2."]
    if stride != 1 or cin != cout:
        shapes[f"{prefix}downsample.0.weight"] = (cout, cin, 1, 1)
        norms.append(f"{prefix}downsample.1.")
    for norm in norms:
        shapes.update({norm + name: (cout,) for name in ("weight", "bias", "running_mean", "running_var")})
        shapes[norm + "num_batches_tracked"] = ()
    return shapes


def resnet_shapes(names, widths, count=4):
    """The ResNet-18 trunk's state_dict shapes under `names` (conv1, bn1, layer1…layerN prefixes)."""
    shapes = {names[0] + "weight": (widths[0], 3, 7, 7)}
    shapes.update({names[1] + name: (widths[0],) for name in ("weight", "bias", "running_mean", "running_var")})
    shapes[names[1] + "num_batches_tracked"] = ()
    for layer in range(count):
        cin, cout = widths[layer], widths[layer + 1]
        shapes.update(block_shapes(f"{names[2 + layer]}0.", cin, cout, 1 if layer == 0 else 2))
        shapes.update(block_shapes(f"{names[2 + layer]}1.", cout, cout, 1))
    return shapes


def transformer_shapes(prefix, dim, depth, heads, head, hidden):
    """The shapes of a Former-DFER / GCA+IAL transformer's keys."""
    shapes = {}
    for layer in range(depth):
        base = f"{prefix}layers.{layer}."
        shapes.update({base + "0.fn.norm.weight": (dim,), base + "0.fn.norm.bias": (dim,),
                       base + "0.fn.fn.to_qkv.weight": (3 * heads * head, dim),
                       base + "0.fn.fn.to_out.0.weight": (dim, heads * head), base + "0.fn.fn.to_out.0.bias": (dim,),
                       base + "1.fn.norm.weight": (dim,), base + "1.fn.norm.bias": (dim,),
                       base + "1.fn.fn.net.0.weight": (hidden, dim), base + "1.fn.fn.net.0.bias": (hidden,),
                       base + "1.fn.fn.net.3.weight": (dim, hidden), base + "1.fn.fn.net.3.bias": (dim,)})
    return shapes


def former_dfer_shapes(widths, frames, tokens, spatial, temporal, classes=7):
    """Former-DFER's state_dict as the reference's models/ define it."""
    names = ["s_former." + name for name in ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")]
    shapes = resnet_shapes(names, widths)
    shapes["s_former.pos_embedding"] = (1, tokens, widths[3])
    shapes.update(transformer_shapes("s_former.spatial_transformer.", widths[3], *spatial))
    shapes.update({"t_former.cls_token": (1, 1, widths[4]), "t_former.pos_embedding": (1, frames + 1, widths[4])})
    shapes.update(transformer_shapes("t_former.spatial_transformer.", widths[4], *temporal))
    shapes.update({"fc.weight": (classes, widths[4]), "fc.bias": (classes,)})
    return shapes


def shapes_of(model):
    return {name: tuple(value.shape) for name, value in model.state_dict().items()}


def parameter_count(shapes):
    """Parameters of a state_dict's shapes (batch-norm buffers are not parameters)."""
    return sum(math.prod(shape) for name, shape in shapes.items()
               if not name.endswith(("running_mean", "running_var", "num_batches_tracked")))


class ModelTests(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)

    def test_every_method_gives_clip_logits_and_its_extra_outputs(self):
        clips = torch.rand(3, 2, 3, 32, 32)
        for method in methods._BUILDERS:
            with self.subTest(method=method):
                configuration = tiny(method, widths=[4, 4, 8, 8, 8]) if method == "gca-ial" else tiny(method)
                model = methods.build(configuration)
                output = model(clips)
                self.assertEqual(tuple(output.logits.shape), (3, 7))
                self.assertEqual(len(output.auxiliary), 2 if method == "gca-ial" else 0)
                self.assertEqual(output.importance is not None, method == "scn")
                if method == "scn":
                    self.assertEqual(tuple(output.importance.shape), (6,))
                if method == "ran":
                    self.assertEqual(tuple(output.region_attention.shape), (6, 8))
                    self.assertTrue(torch.allclose(output.region_attention.sum(dim=1), torch.ones(6)))
                loss = methods.losses(method, output, torch.tensor([0, 3, 6]), settings())
                loss["total"].backward()
                self.assertTrue(math.isfinite(loss["total"].item()))

    def test_gca_ial_without_auxiliary_heads_keeps_their_parameters(self):
        configuration = tiny("gca-ial", widths=[4, 4, 8, 8, 8], auxiliaryHeads=False)
        model = methods.build(configuration)
        self.assertEqual(model(torch.rand(2, 2, 3, 32, 32)).auxiliary, [])
        self.assertIn("s_former.layer2.0.AUX_fc.0.weight", model.state_dict())

    def test_scn_keys_are_self_cure_networks(self):
        names = ["features.0.", "features.1.", "features.4.", "features.5.", "features.6.", "features.7."]
        expected = resnet_shapes(names, WIDTHS)
        expected.update({"fc.weight": (7, 16), "fc.bias": (7,), "alpha.0.weight": (1, 16), "alpha.0.bias": (1,)})
        self.assertEqual(shapes_of(methods.build(tiny("scn"))), expected)

    def test_ran_keys_are_part_attentions(self):
        expected = resnet_shapes(["conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4."], WIDTHS)
        expected.update({"alpha.0.weight": (1, 16), "alpha.0.bias": (1,), "beta.0.weight": (1, 32),
                         "beta.0.bias": (1,), "fc.weight": (7, 32), "fc.bias": (7,)})
        self.assertEqual(shapes_of(methods.build(tiny("ran"))), expected)

    def test_former_dfer_paper_model_has_the_references_keys_and_parameter_count(self):
        expected = former_dfer_shapes([64, 64, 128, 256, 512], 16, 49, (1, 8, 32, 512), (3, 8, 64, 1024))
        self.assertEqual(expected["s_former.spatial_transformer.layers.0.0.fn.fn.to_qkv.weight"], (768, 256))
        self.assertEqual(expected["t_former.spatial_transformer.layers.2.1.fn.fn.net.3.weight"], (512, 1024))
        model = methods.build(methods.PAPER["former-dfer"])
        self.assertEqual(shapes_of(model), expected)
        self.assertEqual(parameter_count(expected), methods.FORMER_DFER_PAPER_PARAMS)
        self.assertEqual(methods.parameter_count(model), 18_031_943)

    def test_former_dfer_tiny_keys_follow_the_configuration(self):
        expected = former_dfer_shapes(WIDTHS, 2, 4, (1, 2, 4, 8), (2, 2, 4, 8))
        self.assertEqual(shapes_of(methods.build(tiny("former-dfer"))), expected)

    def test_stt_keys_space_time_and_joint(self):
        def expected(attention):
            shapes = resnet_shapes(["backbone.conv1.", "backbone.bn1.", "backbone.layer1.", "backbone.layer2.",
                                    "backbone.layer3."], WIDTHS, count=3)
            shapes.update({"tokenizer.weight": (16, 8, 1, 1), "tokenizer.bias": (16,), "cls_token": (1, 1, 16),
                           "spatial_pos": (1, 4, 16), "temporal_pos": (1, 3, 16), "norm.weight": (16,),
                           "norm.bias": (16,), "head.weight": (7, 16), "head.bias": (7,)})
            parts = ("spatial", "temporal") if attention == "space-time" else ("spatial",)
            for block in range(2):
                base = f"blocks.{block}."
                for part in parts:
                    shapes.update({f"{base}{part}_norm.weight": (16,), f"{base}{part}_norm.bias": (16,),
                                   f"{base}{part}_attn.qkv.weight": (24, 16), f"{base}{part}_attn.qkv.bias": (24,),
                                   f"{base}{part}_attn.proj.weight": (16, 8), f"{base}{part}_attn.proj.bias": (16,)})
                shapes.update({base + "ffn_norm.weight": (16,), base + "ffn_norm.bias": (16,),
                               base + "ffn.fc1.weight": (8, 16), base + "ffn.fc1.bias": (8,),
                               base + "ffn.fc2.weight": (16, 8), base + "ffn.fc2.bias": (16,)})
            return shapes
        for attention in ("space-time", "joint"):
            model = methods.build(tiny("stt", sttAttention=attention))
            self.assertEqual(shapes_of(model), expected(attention), attention)
            self.assertEqual(tuple(model(torch.rand(2, 2, 3, 32, 32)).logits.shape), (2, 7))

    def test_stt_paper_token_tables(self):
        model = methods.build(methods.PAPER["stt"])
        state = shapes_of(model)
        self.assertEqual((state["spatial_pos"], state["temporal_pos"], state["blocks.3.ffn.fc1.weight"]),
                         ((1, 49, 512), (1, 17, 512), (2048, 512)))
        for block, rate in zip(model.blocks, (0.0, 0.1 / 3, 0.2 / 3, 0.1)):
            self.assertAlmostEqual(block.drop_rate, rate, places=12)
        self.assertAlmostEqual(model.spatial_pos.std().item(), 0.02, delta=0.002)
        bound = 1 / math.sqrt(256)
        self.assertLessEqual(model.tokenizer.weight.abs().max().item(), bound, "torch's Conv2d default, not kaiming")

    def test_stt_drop_path_is_training_only_and_per_clip(self):
        model = methods.build(tiny("stt", dropPath=0.9))
        clips = torch.rand(4, 2, 3, 32, 32)
        model.eval()
        self.assertTrue(torch.equal(model(clips).logits, model(clips).logits), "no drop in evaluation")
        model.train()
        torch.manual_seed(1)
        first = model(clips).logits
        torch.manual_seed(2)
        self.assertFalse(torch.allclose(first, model(clips).logits), "random drops in training")

    def test_published_checkpoints_with_a_data_parallel_prefix_load_strictly(self):
        for method in ("scn", "ran", "former-dfer"):
            with self.subTest(method=method), tempfile.TemporaryDirectory() as folder:
                source = methods.build(tiny(method))
                file = os.path.join(folder, "published.safetensors")
                safetensors_io.save_file({"module." + k: v for k, v in source.state_dict().items()}, file)
                target = methods.build(tiny(method))
                self.assertIsNone(checkpoint.load_initial(file, target, methods.BACKBONES[method]))
                for name, value in source.state_dict().items():
                    self.assertTrue(torch.equal(value, target.state_dict()[name]), name)


class RegionTests(unittest.TestCase):
    def test_crop_boxes_are_the_fixed_fractions_in_pixels(self):
        self.assertEqual(crop_boxes(112), [(14, 28, 98, 112), (0, 0, 84, 84), (28, 0, 112, 84), (5, 5, 107, 107),
                                           (11, 11, 101, 101), (14, 14, 98, 98), (14, 0, 98, 84)])
        self.assertEqual(crop_boxes(40)[4], (4, 4, 36, 36), "0.1·40 rounds to 4 in double precision")
        self.assertEqual(crop_boxes(16)[3], (0, 0, 16, 16), "⌊0.8⌋ = 0, ⌈15.2⌉ = 16")

    def test_regions_resize_each_crop_bilinearly_and_keep_the_frame_last(self):
        frames = torch.rand(2, 3, 16, 16)
        stacked = regions(frames)
        self.assertEqual(tuple(stacked.shape), (8, 2, 3, 16, 16))
        self.assertTrue(torch.equal(stacked[7], frames))
        c0, r0, c1, r1 = crop_boxes(16)[0]
        crop = frames[:, :, r0:r1, c0:c1]
        self.assertTrue(torch.equal(stacked[0], F.interpolate(crop, size=(16, 16), mode="bilinear",
                                                              align_corners=False)))
        # The first crop is 12 columns wide at 16 px: output x samples input (x + 0.5)·12/16 − 0.5, clamped to the crop.
        row = torch.arange(16.0).repeat(16, 1)
        resized = regions(row.expand(1, 3, 16, 16))[0, 0, 0, 0]
        source = ((torch.arange(16.0) + 0.5) * 12 / 16 - 0.5).clamp(0, 11) + c0
        self.assertTrue(torch.allclose(resized, source, atol=1e-5), f"{resized} vs {source}")


    def test_recomputed_regions_give_the_same_loss_gradients_and_running_statistics(self):
        clips, targets = torch.rand(2, 2, 3, 32, 32), torch.tensor([3, 1])
        settings = {"methodLoss": {"ran": {"margin": 0.5}}}

        def step(recompute):
            torch.manual_seed(6)
            model = methods.build(tiny("ran", ranRecompute=recompute)).train()
            features, passes = model.features, []
            model.features = lambda x: passes.append(None) or features(x)
            loss = methods.losses("ran", model(clips), targets, settings)["total"]
            self.assertEqual(len(passes), 8, "one backbone pass per region in the forward pass")
            loss.backward()
            state = {name: value.clone() for name, value in model.state_dict().items()}
            state.update({name + ".grad": p.grad.clone() for name, p in model.named_parameters()})
            self.assertEqual(len(passes), 16 if recompute else 8, "recomputation runs each region again")
            return loss.item(), state

        (plain_loss, plain), (loss, recomputed) = step(False), step(True)
        self.assertEqual(loss, plain_loss)
        self.assertEqual(set(recomputed), set(plain))
        self.assertFalse(torch.equal(plain["bn1.running_mean"], torch.zeros(WIDTHS[0])), "the first run moved them")
        for name, value in plain.items():
            self.assertTrue(torch.allclose(recomputed[name], value, rtol=1e-5, atol=1e-6), name)
        self.assertTrue(torch.equal(recomputed["layer1.0.bn1.num_batches_tracked"], plain["layer1.0.bn1.num_batches_tracked"]))


class LossTests(unittest.TestCase):
    def test_scn_rank_regularisation_by_hand(self):
        importance = torch.tensor([0.9, 0.8, 0.1, 0.2, 0.5])
        self.assertEqual(rank_regularisation(importance, 0.6, 0.15).item(), 0.0, "0.733 − 0.15 > 0.15")
        self.assertAlmostEqual(rank_regularisation(importance, 0.6, 0.7).item(), 0.7 - (2.2 / 3 - 0.15), places=6)
        self.assertEqual(high_group_size(0.7, 10), 7, "β·N in float32, as the Swift loss")
        self.assertEqual(rank_regularisation(importance, 0.1, 0.5).item(), 0.0, "M = 0: no term")

    def test_ran_region_biased_loss_by_hand(self):
        attention = torch.tensor([[0.1] * 7 + [0.3], [0.2, 0.1, 0.1, 0.1, 0.15, 0.15, 0.15, 0.05]])
        self.assertAlmostEqual(region_biased_loss(attention, 0.02).item(), (0.02 + 0.2 + 0.0) / 2, places=6)

    def test_stt_compact_softmax_by_hand(self):
        logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 5.0, 5.0]])
        target = torch.tensor([0, 0])
        ce, compact = compact_softmax_loss(logits, target)
        self.assertAlmostEqual(ce.item(), F.cross_entropy(logits, target).item(), places=6)
        q = [math.e / (math.e + 1), 1 / (math.e + 1)]
        forward = sum(p * math.log(p / 0.5) for p in q)
        backward = sum(0.5 * math.log(0.5 / p) for p in q)
        self.assertAlmostEqual(compact.item(), (0.5 * (forward + backward) + 0.0) / 2, places=6,
                               msg="the second clip's non-target logits are uniform: 0")

    def test_method_losses_add_their_weighted_terms(self):
        output = methods.ModelOutput(torch.tensor([[2.0, 1.0, 0.0, 0, 0, 0, 0]]))
        target = torch.tensor([1])
        ce = F.cross_entropy(output.logits, target).item()
        self.assertAlmostEqual(methods.losses("former-dfer", output, target, settings())["total"].item(), ce, places=6)
        stt = methods.losses("stt", output, target, settings(methodLoss={"stt": {"compactWeight": 0.5}}))
        self.assertAlmostEqual(stt["total"].item(), ce + 0.5 * stt["compact"].item(), places=6)
        scn = methods.losses("scn", output._replace(importance=torch.tensor([0.5, 0.4])), target, settings())
        self.assertAlmostEqual(scn["total"].item(), ce + 0.15 - 0.1, places=6, msg="defaults β 0.7 (M = 1), δ1 0.15")


class BackboneTests(unittest.TestCase):
    def test_a_torchvision_backbone_loads_partially_with_a_report(self):
        for method in ("scn", "ran", "former-dfer", "stt"):
            with self.subTest(method=method), tempfile.TemporaryDirectory() as folder:
                count = 3 if method == "stt" else 4
                shapes = resnet_shapes(["conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4."], WIDTHS)
                tensors = {name: torch.full(shape, 0.5) if shape else torch.tensor(3)
                           for name, shape in shapes.items()}
                tensors.update({"fc.weight": torch.zeros(1000, 16), "fc.bias": torch.zeros(1000)})
                file = os.path.join(folder, "resnet18.safetensors")
                safetensors_io.save_file(tensors, file)
                model = methods.build(tiny(method))
                head = {name: value.clone() for name, value in model.state_dict().items()
                        if not name.startswith(tuple(methods.BACKBONES[method].values()))}
                report = checkpoint.load_initial(file, model, methods.BACKBONES[method])
                mapped = methods.BACKBONES[method]
                self.assertEqual(report["loaded"], len(resnet_shapes(
                    [mapped[n] for n in ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")[:2 + count]],
                    WIDTHS, count)))
                self.assertEqual(sorted(report["missing"]), sorted(head))
                if method == "stt":
                    self.assertEqual(report["unused"][:2], ["fc.bias", "fc.weight"], "STT's classifier is head")
                else:
                    fc = (7, 32) if method == "ran" else (7, 16)
                    self.assertEqual(report["mismatched"], ["fc.bias: file (1000,), model (7,)",
                                                            f"fc.weight: file (1000, 16), model {fc}"])
                conv1 = mapped["conv1."] + "weight"
                self.assertTrue(torch.all(model.state_dict()[conv1] == 0.5))
                for name, value in head.items():
                    self.assertTrue(torch.equal(model.state_dict()[name], value), f"{name} keeps its initialisation")

    def test_a_whole_checkpoint_stays_strict_and_a_wrong_backbone_is_reported(self):
        with tempfile.TemporaryDirectory() as folder:
            file = os.path.join(folder, "w.safetensors")
            state = methods.build(tiny("scn")).state_dict()
            del state["features.7.1.conv2.weight"]
            safetensors_io.save_file(state, file)
            with self.assertRaises(checkpoint.CheckpointError) as caught:
                checkpoint.load_initial(file, methods.build(tiny("scn")), methods.BACKBONES["scn"])
            self.assertIn("missing features.7.1.conv2.weight", str(caught.exception))
            safetensors_io.save_file({"conv1.weight": torch.zeros(64, 3, 7, 7), "bn1.bias": torch.zeros(4)}, file)
            report = checkpoint.load_initial(file, methods.build(tiny("scn")), methods.BACKBONES["scn"])
            self.assertEqual((report["loaded"], report["mismatched"]),
                             (1, ["features.0.weight: file (64, 3, 7, 7), model (4, 3, 7, 7)"]))
            safetensors_io.save_file({"something.else": torch.zeros(2)}, file)
            with self.assertRaises(checkpoint.CheckpointError) as caught:
                checkpoint.load_initial(file, methods.build(tiny("scn")), methods.BACKBONES["scn"])
            self.assertIn("holds no weight of the model", str(caught.exception))


class SpecTests(unittest.TestCase):
    def refusal(self, **changes):
        spec = {"settings": settings(**changes)}
        with self.assertRaises(SpecError) as caught:
            validate_settings(spec)
        return caught.exception

    def accepts(self, **changes):
        validate_settings({"settings": settings(**changes)})

    def test_each_method_is_accepted_with_its_fields(self):
        for method in ("scn", "ran", "former-dfer", "stt"):
            self.accepts(model=tiny(method))
        self.accepts(model=tiny("stt", sttAttention="joint", dropPath=0.2),
                     methodLoss={"stt": {"compactWeight": 0}})

    def test_bad_method_fields_are_named_with_the_fix(self):
        cases = [
            (dict(model=tiny("vit")), "settings.model.method", "use gca-ial, scn, ran, former-dfer or stt"),
            (dict(model=tiny("ran", ranCrops="random")), "settings.model.ranCrops", "use fixed"),
            (dict(model=tiny("stt", sttAttention="axial")), "settings.model.sttAttention", "space-time or joint"),
            (dict(model=tiny("stt", dropPath=1.0)), "settings.model.dropPath", "below 1"),
            (dict(model=tiny("stt", temporalTransformer={"depth": 0, "heads": 0, "headDimension": 0,
                                                         "hiddenDimension": 0})),
             "settings.model.temporalTransformer.depth", "depth of 1 or more"),
            (dict(model=tiny("former-dfer", spatialTransformer={"depth": 1, "heads": 0, "headDimension": 4,
                                                                 "hiddenDimension": 8})),
             "settings.model.spatialTransformer.heads", "≥ 1"),
            (dict(model=tiny("scn"), methodLoss={"scn": {"rankFraction": 1.0}}),
             "settings.methodLoss.scn.rankFraction", "between 0 and 1"),
            (dict(model=tiny("scn"), methodLoss={"scn": {"relabelEpoch": 0}}),
             "settings.methodLoss.scn.relabelEpoch", "≥ 1"),
            (dict(model=tiny("ran"), methodLoss={"ran": {"margin": -0.1}}), "settings.methodLoss.ran.margin", "≥ 0"),
            (dict(model=tiny("stt"), methodLoss={"stt": {"compactWeight": "1"}}),
             "settings.methodLoss.stt.compactWeight", "a finite number"),
            (dict(model=tiny("scn"), framesPerSegment=3), "settings.framesPerSegment", "divisor"),
            (dict(schedule={"multiStep": {"milestones": [1.5], "factor": 0.1}}),
             "settings.schedule.multiStep.milestones", "0-based epochs"),
        ]
        for changes, field, fix in cases:
            with self.subTest(field=field):
                error = self.refusal(**copy.deepcopy(changes))
                self.assertEqual(error.field, field, str(error))
                self.assertIn(fix, str(error))

    def test_gca_fields_are_only_checked_for_gca_ial(self):
        self.accepts(model=tiny("scn", widths=[4, 8, 8, 16, 16], reduction=3, attention="whatever", frames=1,
                                spatialTransformer={"depth": 0, "heads": 0, "headDimension": 0, "hiddenDimension": 0}))
        self.assertEqual(self.refusal(model=tiny("gca-ial", widths=[4, 8, 8, 16, 16])).field, "settings.model.widths")


class RecipeTests(unittest.TestCase):
    def test_the_multistep_schedule_decays_after_each_milestone(self):
        trial = settings(learning_rate=0.01, schedule={"multiStep": {"milestones": [1, 3], "factor": 0.1}})
        rates = [learning_rate(trial, epoch) for epoch in range(1, 6)]
        expected = [float(torch.tensor(0.01) * torch.tensor(0.1) ** k) for k in (0, 1, 1, 2, 2)]
        self.assertEqual(rates, expected, "0-based milestones: epoch 2 (0-based 1) is the first decayed")

    def test_frames_per_segment_takes_consecutive_frames_of_each_segment(self):
        with TemporaryFolder() as folder:
            cache = tiny_cache(folder)
            data = FoldData(cache, 1, settings(framesPerSegment=2, model=dict(settings()["model"], frames=4)))
            self.assertEqual((data.train.sampler.segments, data.train.sampler.frames_per_segment), (2, 2))
            indices = data.train.indices(0, 0)
            self.assertEqual(len(indices), 4)
            self.assertEqual((indices[1] - indices[0], indices[3] - indices[2]), (1, 1))


if __name__ == "__main__":
    unittest.main()
