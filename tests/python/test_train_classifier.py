"""weights_tools.train.classifier's training options, and one tiny run of the whole script.

What it is: the helpers behind --zero-init-residual, --norm-decay and --recalibrate-bn checked on
small networks (what each changes, and that names and shapes stay the reference family's), and a
two-epoch run on 2,048 images with every option that drives them, whose log and converted model
are checked. Needs Debian's PyTorch; the run also needs dataset-fashion-mnist and skips with a
message when it is absent.
What it is not: a test of the accuracy a recipe reaches (docs/experiments.md).
"""

import json
import os
import tempfile
import unittest

import torch

from weights_tools.reference.common import space_to_depth_tensor
from weights_tools.reference.resnet_spd import resnet_spd
from weights_tools.train.classifier import main, parameter_groups, recalibrate_batch_norm, zero_init_residuals
from weights_tools.train.fashion_mnist import DEFAULT_DATA


def small_net():
    torch.manual_seed(0)
    return resnet_spd('basic', [1, 1], num_classes=3, base_width=4)


class HelpersTest(unittest.TestCase):
    def test_zero_init_residuals_zeroes_each_branch_scale_only(self):
        net = small_net()
        before = {k: v.clone() for k, v in net.state_dict().items()}
        zero_init_residuals(net)
        after = net.state_dict()
        self.assertEqual({k: v.shape for k, v in before.items()}, {k: v.shape for k, v in after.items()})
        zeroed = sorted(k for k in after if not torch.equal(before[k], after[k]))
        self.assertEqual(zeroed, ['conv2_x.0.residual_function.4.weight', 'conv3_x.0.residual_function.5.weight'])
        for k in zeroed:
            self.assertTrue(torch.all(after[k] == 0))
        # Each block now passes its shortcut through: output = ReLU(shortcut(x)).
        block = net.conv3_x[0].eval()
        x = torch.randn(2, 4, 8, 8)
        with torch.no_grad():
            self.assertTrue(torch.allclose(block(x), torch.relu(block.shortcut(x))))

    def test_parameter_groups_split_matrices_from_vectors(self):
        net = small_net()
        groups = parameter_groups(net, 5e-4, 0.0)
        self.assertEqual([g['weight_decay'] for g in groups], [5e-4, 0.0])
        ids = [id(p) for g in groups for p in g['params']]
        self.assertEqual(sorted(ids), sorted(id(p) for p in net.parameters()))  # each exactly once
        self.assertTrue(all(p.dim() > 1 for p in groups[0]['params']))
        self.assertTrue(all(p.dim() == 1 for p in groups[1]['params']))
        self.assertIn(id(net.fc.bias), [id(p) for p in groups[1]['params']])

    def test_recalibrate_batch_norm_measures_the_given_images(self):
        net = small_net().eval()
        x = torch.randn(64, 3, 16, 16) * 3 + 1
        original = {k: v.clone() for k, v in net.state_dict().items()}
        calibrated = recalibrate_batch_norm(net, x, batch=16)  # several batches: a cumulative average
        for k, v in net.state_dict().items():
            self.assertTrue(torch.equal(v, original[k]), f'{k}: the original network changed')
        self.assertFalse(calibrated.training)
        # The stem's batch norm sees the stem convolution's output: its statistics must be that
        # output's per-channel mean and (unbiased, averaged over batches) variance.
        stem = net.conv1.conv
        with torch.no_grad():
            y = stem.conv(space_to_depth_tensor(x))
        mean = y.mean(dim=(0, 2, 3))
        var = torch.stack([y[i:i + 16].var(dim=(0, 2, 3), unbiased=True) for i in range(0, 64, 16)]).mean(0)
        bn = calibrated.conv1.conv.bn
        self.assertTrue(torch.allclose(bn.running_mean, mean, atol=1e-5))
        self.assertTrue(torch.allclose(bn.running_var, var, rtol=1e-4))
        self.assertFalse(torch.allclose(bn.running_mean, original['conv1.conv.bn.running_mean']))


@unittest.skipUnless(os.path.exists(os.path.join(DEFAULT_DATA, 'train-images-idx3-ubyte.gz')),
                     f"needs Debian's dataset-fashion-mnist ({DEFAULT_DATA} absent; scripts/bootstrap installs it)")
class TinyRunTest(unittest.TestCase):
    def test_two_epochs_with_every_training_option(self):
        with tempfile.TemporaryDirectory() as out:
            code = main(['--out', out, '--epochs', '2', '--limit', '2048', '--val-split', '5000', '--width', '8',
                         '--zero-init-residual', '--norm-decay', '0', '--erase-off-epochs', '1',
                         '--recalibrate-bn', '--threads', '1', '--eval-every', '1'])
            self.assertEqual(code, 0)
            with open(os.path.join(out, 'train_log.json')) as f:
                log = json.load(f)
            self.assertEqual(log['split'], 'val')
            self.assertEqual(len(log['epochs']), 2)
            for key in ('fp32_val_top1', 'fp32_recalibrated_val_top1', 'val_top1'):
                self.assertTrue(0 <= log[key] <= 1, key)
            # The saved (recalibrated) model learned something: chance is 10%.
            self.assertGreater(log['val_top1'], 0.3)
            self.assertTrue(os.path.getsize(os.path.join(out, 'model.safetensors')) > 0)
            with open(os.path.join(out, 'val_predictions.txt')) as f:
                self.assertEqual(len(f.read().split()), 5000)


if __name__ == '__main__':
    unittest.main()
