"""ferd_torch.crosscheck, the torch half of the cross-engine tests: its outputs for every method."""

import json
import os
import tempfile
import unittest

import torch

from ferd_torch import crosscheck, methods
from ferd_torch.safetensors_io import load_file, save_file
from tests.support import settings
from tests.test_methods import tiny


class CrosscheckTests(unittest.TestCase):
    def test_every_method_writes_logits_losses_and_gradients_in_float32_and_float64(self):
        torch.manual_seed(0)
        expected_parts = {"gca-ial": {"ce", "ial", "aux2", "aux3", "total"}, "scn": {"ce", "rank", "total"},
                          "ran": {"ce", "region", "total"}, "stt": {"ce", "compact", "total"},
                          "former-dfer": {"ce", "total"}}
        for method, parts in expected_parts.items():
            with self.subTest(method=method), tempfile.TemporaryDirectory() as folder:
                configuration = tiny(method, widths=[4, 4, 8, 8, 8]) if method == "gca-ial" else tiny(method)
                files = {name: os.path.join(folder, name) for name in ("s.json", "w", "b", "o")}
                with open(files["s.json"], "w") as file:
                    json.dump(settings(model=configuration), file)
                save_file(methods.build(configuration).state_dict(), files["w"])
                save_file({"clips": torch.rand(2, 2, 3, 32, 32), "targets": torch.tensor([1, 4])}, files["b"])
                crosscheck.main(["--settings", files["s.json"], "--weights", files["w"], "--batch", files["b"],
                                 "--out", files["o"], "--float64"])
                results = load_file(files["o"])
                self.assertEqual({name[5:] for name in results if name.startswith("loss.")}, parts)
                self.assertEqual(tuple(results["logits"].shape), (2, 7))
                self.assertEqual(results["f64.logits"].dtype, torch.float64)
                self.assertTrue(torch.allclose(results["logits"].double(), results["f64.logits"], rtol=1e-3,
                                               atol=1e-4))
                gradients = {name for name in results if name.startswith("grad.")}
                self.assertGreater(len(gradients), 10)
                self.assertEqual({"f64." + name for name in gradients},
                                 {name for name in results if name.startswith("f64.grad.")})
                self.assertEqual("importance" in results, method == "scn")
                self.assertEqual("region_attention" in results, method == "ran")


if __name__ == "__main__":
    unittest.main()
