"""Tests of weights_tools/convert/converter.py (and resnet_arch.py through it): the shared YOLOv5
checkpoints, ResNet-SPD state_dicts made here with PyTorch, a mid-training YOLOv5 checkpoint,
a YOLOv5 state_dict + --yaml, presets and names, and the CLI's one-line errors.

Expected values come from torch itself: the shared checkpoints are torch.load-ed with bare
stand-in `models.*` classes (tests/python/helpers.py), which only this trusted test data may do."""

import hashlib
import json
import subprocess
import sys
import tempfile
import unittest
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import yaml

from tests.python import helpers
from tests.python.helpers import (install_fake_yolov5_modules, make_resnet_spd,
                                  make_tiny_yolov5_model, read_keys_listing, run_convert,
                                  shared_file, skip_without_shared, torch_tensors_to_numpy)
from weights_tools.convert import PRESETS, convert, yolov5_strides_from_yaml
from weights_tools.convert.safetensors_io import read_safetensors


def without_num_batches(state_dict):
    return OrderedDict((k, v) for k, v in state_dict.items()
                       if not k.endswith("num_batches_tracked"))


class ConvertTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def convert_ok(self, src, *args):
        out = self.dir / (Path(src).stem + ".safetensors")
        result = run_convert(src, "-o", out, *args)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        tensors, meta = read_safetensors(out)
        return tensors, meta

    def assertCliError(self, fragment, *args):
        out = self.dir / "refused.safetensors"
        result = run_convert(*args, "-o", out)
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"one line, no traceback: {result.stderr}")
        self.assertTrue(lines[0].startswith("convert: error: "), lines[0])
        self.assertIn(fragment, lines[0])
        self.assertFalse(out.exists(), "no output file on error")
        return lines[0]

    def assertTensorsEqual(self, ours, expected):
        self.assertEqual(list(ours), list(expected))
        for name, want in expected.items():
            self.assertEqual(ours[name].dtype, want.dtype, name)
            self.assertEqual(ours[name].shape, want.shape, name)
            np.testing.assert_array_equal(ours[name], want, err_msg=name)

    def assertCommonMetadata(self, meta, src, family):
        self.assertEqual(meta["format"], "spdinfer")
        self.assertEqual(meta["format_version"], "1")
        self.assertEqual(meta["family"], family)
        self.assertEqual(meta["source_sha256"], hashlib.sha256(Path(src).read_bytes()).hexdigest())
        self.assertEqual(meta["source_name"], Path(src).name)
        self.assertEqual(list(meta), ["format", "format_version", "family", "architecture",
                                      "preprocess", "class_names", "source_sha256",
                                      "source_name"])


@skip_without_shared
class SharedCheckpointsTest(ConvertTestBase):
    def torch_state_dict(self, path):
        """The checkpoint's model state_dict as torch itself reads it (trusted test data)."""
        install_fake_yolov5_modules()
        ckpt = torch.load(path, map_location="cpu")
        model = ckpt["ema"] if ckpt.get("ema") is not None else ckpt["model"]
        return model, without_num_batches(torch_tensors_to_numpy(model.state_dict()))

    def check_yolov5(self, src, expected_yaml):
        tensors, meta = self.convert_ok(src)
        model, expected = self.torch_state_dict(src)
        self.assertTensorsEqual(tensors, expected)
        self.assertTrue(all(t.dtype == np.float16 for t in tensors.values()), "fp16 stays fp16")
        self.assertCommonMetadata(meta, src, "yolov5")
        arch = json.loads(meta["architecture"])
        self.assertEqual(arch.pop("stride"), [8, 16, 32])
        self.assertEqual(arch, dict(expected_yaml, ch=3))
        self.assertEqual(json.loads(meta["preprocess"]), PRESETS["yolov5"])
        self.assertEqual(yolov5_strides_from_yaml(expected_yaml), [8, 16, 32])
        return tensors, json.loads(meta["class_names"]), model

    def test_spd_yolov5n_random(self):
        src = shared_file("reference/spd_yolov5n_random.pt")
        keys = shared_file("reference/spd_yolov5n_random.keys.txt")
        yaml_line = [l for l in keys.read_text().splitlines() if l.startswith("{")][0]
        tensors, names, _ = self.check_yolov5(src, eval(yaml_line, {}))  # listing is a dict repr
        listing = without_num_batches(read_keys_listing(keys))
        self.assertEqual({k: v.shape for k, v in tensors.items()}, listing)
        self.assertEqual(len(names), 80)

    def test_yolov5n_coco(self):
        src = shared_file("weights/yolov5n.pt")
        install_fake_yolov5_modules()
        expected_yaml = torch.load(src, map_location="cpu")["model"].yaml
        _, names, _ = self.check_yolov5(src, expected_yaml)
        self.assertEqual(len(names), 80)
        self.assertEqual((names[0], names[5], names[27]), ("person", "bus", "tie"))

    def test_state_dict_plus_yaml_gives_the_same_file(self):
        src = shared_file("reference/spd_yolov5n_random.pt")
        model, _ = self.torch_state_dict(src)
        sd_path = self.dir / "sd.pt"
        torch.save(model.state_dict(), sd_path)
        self.assertCliError("pass its model YAML with --yaml", sd_path)
        yaml_path = self.dir / "spd.yaml"
        yaml_path.write_text(yaml.safe_dump(model.yaml, sort_keys=False))
        names = self.dir / "coco.names"
        names.write_text("".join(f"n{i}\n" for i in range(80)))
        tensors, meta = self.convert_ok(sd_path, "--yaml", yaml_path, "--names", names)
        reference_tensors, reference_meta = self.convert_ok(src)
        self.assertTensorsEqual(tensors, reference_tensors)
        self.assertEqual(meta["architecture"], reference_meta["architecture"])
        self.assertEqual(json.loads(meta["class_names"]), [f"n{i}" for i in range(80)])
        broken = self.dir / "broken.yaml"
        broken.write_text("nc: 80\nbackbone: 3\n")
        self.assertCliError(f"{broken}: YAML has no 'anchors'", sd_path, "--yaml", broken)


class ResNetSPDTest(ConvertTestBase):
    def save(self, net_or_sd, name):
        path = self.dir / name
        sd = net_or_sd.state_dict() if hasattr(net_or_sd, "state_dict") else net_or_sd
        torch.save(sd, path)
        return path

    def check(self, net, name, arch, preset, *args):
        src = self.save(net, name)
        tensors, meta = self.convert_ok(src, *args)
        self.assertTensorsEqual(tensors, without_num_batches(torch_tensors_to_numpy(net.state_dict())))
        self.assertCommonMetadata(meta, src, "resnet_spd")
        self.assertEqual(json.loads(meta["architecture"]), arch)
        self.assertEqual(meta["architecture"], json.dumps(arch), "key order as in docs/design.md")
        self.assertEqual(json.loads(meta["preprocess"]), PRESETS[preset])
        return tensors, meta

    def test_bottleneck_tinyimagenet_and_cifar(self):
        arch = {"block": "bottleneck", "expansion": 4, "stem_channels": 64,
                "stage_blocks": [3, 4, 6, 3], "stage_widths": [64, 128, 256, 512],
                "stage_strides": [1, 2, 2, 2], "spd": True, "num_classes": 200}
        shared = helpers.shared_dir()
        for classes, preset, listing in ((200, "tinyimagenet", "resnet18_spd_tinyimagenet"),
                                         (100, "cifar", "resnet50_spd_cifar")):
            net = make_resnet_spd("bottleneck", (3, 4, 6, 3), classes)
            if shared is not None:  # the definition here has the reference's names and shapes
                keys = read_keys_listing(shared / "reference" / f"{listing}.keys.txt")
                self.assertEqual({k: tuple(v.shape) for k, v in net.state_dict().items()}, keys)
            _, meta = self.check(net, f"r{classes}.pt", dict(arch, num_classes=classes), preset)
            self.assertEqual(json.loads(meta["class_names"]), [f"class{i}" for i in range(classes)])

    def test_basic_resnet18_width16_with_names_and_input_size(self):
        net = make_resnet_spd("basic", (2, 2, 2, 2), 10, width=16)
        names = self.dir / "names.txt"
        names.write_text("\n".join(f"label {i}" for i in range(10)) + "\n\n")
        arch = {"block": "basic", "expansion": 1, "stem_channels": 16,
                "stage_blocks": [2, 2, 2, 2], "stage_widths": [16, 32, 64, 128],
                "stage_strides": [1, 2, 2, 2], "spd": True, "num_classes": 10}
        src = self.save(net, "basic.pt")
        tensors, meta = self.convert_ok(src, "--names", names, "--input-size", "48")
        self.assertEqual(json.loads(meta["architecture"]), arch)
        self.assertEqual(json.loads(meta["class_names"]), [f"label {i}" for i in range(10)])
        self.assertEqual(json.loads(meta["preprocess"]), dict(PRESETS["cifar"], input_size=[48, 48]))
        self.assertNotIn("conv2_x.0.shortcut.0.weight", tensors, "identity shortcut")
        self.assertIn("conv3_x.0.residual_function.2.running_var", tensors, "SPD BN")
        self.assertEqual(tensors["conv3_x.0.residual_function.4.weight"].shape, (32, 128, 3, 3))
        self.check_loads_into_reference_model(arch, tensors)

    def check_loads_into_reference_model(self, arch, tensors):
        """The inferred architecture builds the project's reference model with exactly these
        tensors (when weights_tools/reference is there)."""
        try:
            from weights_tools.reference.resnet_spd import build_resnet_spd
        except ImportError:
            return
        model = build_resnet_spd(arch)
        missing, unexpected = model.load_state_dict(
            {k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
        self.assertEqual(unexpected, [])
        self.assertEqual([k for k in missing if not k.endswith("num_batches_tracked")], [])

    def test_plain_resnet_without_spd_and_explicit_preset(self):
        net = make_resnet_spd("basic", (1, 1, 1, 1), 37, width=8, spd=False)
        src = self.save(net, "plain.pt")
        self.assertCliError("pass --preset", src)
        self.assertCliError("--preset yolov5 does not fit", src, "--preset", "yolov5")
        _, meta = self.convert_ok(src, "--preset", "tinyimagenet", "--input-size", "56x72")
        arch = json.loads(meta["architecture"])
        self.assertEqual((arch["spd"], arch["stage_blocks"], arch["num_classes"]),
                         (False, [1, 1, 1, 1], 37))
        self.assertEqual(json.loads(meta["preprocess"])["input_size"], [56, 72])

    def test_unaccounted_or_misshapen_tensors_are_refused_by_name(self):
        sd = make_resnet_spd("basic", (2, 2, 2, 2), 10, width=16).state_dict()
        extra = OrderedDict(sd)
        extra["conv3_x.1.extra.weight"] = torch.zeros(3)
        self.assertCliError("conv3_x.1.extra.weight: unexpected tensor", self.save(extra, "x.pt"))
        wrong = OrderedDict(sd)
        wrong["conv4_x.1.residual_function.3.weight"] = torch.zeros(64, 32, 3, 3)
        self.assertCliError("conv4_x.1.residual_function.3.weight: shape [64, 32, 3, 3], "
                            "expected [64, 64, 3, 3]", self.save(wrong, "w.pt"))
        missing = OrderedDict(sd)
        del missing["conv5_x.0.shortcut.1.running_var"]
        self.assertCliError("conv5_x.0.shortcut.1.running_var: missing", self.save(missing, "m.pt"))
        swap = {"conv3_x.0.": "conv3_x.1.", "conv3_x.1.": "conv3_x.0."}  # SPD block second
        spd_misplaced = OrderedDict((swap.get(k[:10], k[:10]) + k[10:], v) for k, v in sd.items())
        self.assertCliError("conv3_x.1.residual_function: has the space_to_depth layout but is "
                            "a stride-1 block", self.save(spd_misplaced, "s.pt"))
        self.assertCliError("not a state_dict nor a YOLOv5 checkpoint",
                            self.save({"epoch": 3}, "dict.pt"))


class TrainingCheckpointTest(ConvertTestBase):
    def make_checkpoint(self, with_ema):
        model = make_tiny_yolov5_model(seed=1)
        ema = make_tiny_yolov5_model(seed=2) if with_ema else None
        params = [p.detach().float().clone().requires_grad_() for p in model.parameters()]
        optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)
        sum(p.sum() for p in params).backward()
        optimizer.step()
        ckpt = {"epoch": 7, "best_fitness": np.float64(0.4375), "model": model, "ema": ema,
                "updates": 1234 if with_ema else None, "optimizer": optimizer.state_dict(),
                "results": np.array([0.5, 0.25]), "wandb_id": None,
                "opt": {"imgsz": 640, "epochs": 300, "weights": "yolov5n.pt"},
                "date": "2024-01-01T00:00:00"}
        path = self.dir / f"last_{with_ema}.pt"
        torch.save(ckpt, path)
        return path, model, ema

    def test_mid_training_checkpoint_takes_the_ema_weights(self):
        path, model, ema = self.make_checkpoint(with_ema=True)
        tensors, meta = self.convert_ok(path)
        ema_sd = without_num_batches(torch_tensors_to_numpy(ema.state_dict()))
        model_sd = without_num_batches(torch_tensors_to_numpy(model.state_dict()))
        self.assertTensorsEqual(tensors, ema_sd)
        self.assertFalse(np.array_equal(tensors["model.0.conv.weight"], model_sd["model.0.conv.weight"]))
        self.assertCommonMetadata(meta, path, "yolov5")
        arch = json.loads(meta["architecture"])
        self.assertEqual((arch["stride"], arch["nc"], arch["ch"]), ([8], 2, 3))
        self.assertEqual(json.loads(meta["class_names"]), ["cat", "dog"])
        self.assertEqual(tensors["model.3.anchors"].shape, (1, 3, 2))
        self.assertEqual(yolov5_strides_from_yaml(helpers.TINY_YOLO_YAML), [8])

    def test_without_ema_the_model_weights_are_used(self):
        path, model, _ = self.make_checkpoint(with_ema=False)
        out = self.dir / "m.safetensors"
        meta = convert(str(path), str(out))
        tensors, _ = read_safetensors(out)
        self.assertTensorsEqual(tensors, without_num_batches(torch_tensors_to_numpy(model.state_dict())))
        self.assertEqual(meta["family"], "yolov5")

    def test_detect_shapes_must_match_the_yaml(self):
        model = make_tiny_yolov5_model(seed=3)
        model.yaml["nc"] = 5
        path = self.dir / "nc.pt"
        torch.save({"model": model, "ema": None}, path)
        self.assertCliError("model.3.m.0.bias: shape [21], expected [30] (nc=5, 3 anchors)", path)


class CliErrorsTest(ConvertTestBase):
    def test_broken_inputs_fail_with_one_line(self):
        good = self.dir / "good.pt"
        torch.save(make_resnet_spd("basic", (1, 1, 1, 1), 10, width=8).state_dict(), good)
        truncated = self.dir / "truncated.pt"
        truncated.write_bytes(good.read_bytes()[:5000])
        self.assertCliError(f"{truncated}: corrupt or truncated zip archive", truncated)
        not_ckpt = self.dir / "not_ckpt.zip"
        import zipfile
        with zipfile.ZipFile(not_ckpt, "w") as z:
            z.writestr("a/readme.txt", "hi")
        self.assertCliError(f"{not_ckpt}: zip archive has no <archive>/data.pkl", not_ckpt)
        self.assertCliError(f"{self.dir / 'absent.pt'}: No such file", self.dir / "absent.pt")
        names = self.dir / "three.txt"
        names.write_text("a\nb\nc\n")
        self.assertCliError(f"{names}: 3 names for a 10-class model", good, "--names", names)
        out = self.dir / "no_such_dir" / "x.safetensors"
        result = run_convert(good, "-o", out)
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"convert: error: {out}: No such file", result.stderr)
        result = run_convert(good)  # -o missing: argparse's own usage error, exit 2
        self.assertEqual(result.returncode, 2)
        self.assertIn("convert: error: the following arguments are required: -o", result.stderr)

    def test_unsupported_architectures_are_refused(self):
        # A torchvision-style ResNet-18 state_dict: no ResNet-SPD names, no YAML.
        tv = {"conv1.weight": torch.zeros(64, 3, 7, 7), "bn1.weight": torch.ones(64),
              "layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3), "fc.weight": torch.zeros(1000, 512),
              "fc.bias": torch.zeros(1000)}
        torch.save(tv, self.dir / "torchvision.pt")
        self.assertCliError("not a ResNet-SPD state_dict", self.dir / "torchvision.pt")
        # A YOLOv5 YAML with a module the engine does not implement converts (the layers between
        # the first and Detect are the engine's to check): test_detect.py's test_errors.

    def test_converter_runs_without_torch(self):
        src = self.dir / "r.pt"
        torch.save(make_resnet_spd("basic", (1, 1, 1, 1), 10, width=8).state_dict(), src)
        out = self.dir / "r.safetensors"
        code = ("import sys; sys.modules['torch'] = None; sys.modules['yaml'] = None\n"
                "from weights_tools.convert import main\n"
                f"sys.exit(main([{str(src)!r}, '-o', {str(out)!r}]))")
        result = subprocess.run([sys.executable, "-c", code], cwd=helpers.REPO,
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(read_safetensors(out)[1]["family"], "resnet_spd")


if __name__ == "__main__":
    unittest.main()
