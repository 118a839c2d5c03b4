"""Train a ResNet-SPD of the reference family on Fashion-MNIST (Debian's dataset-fashion-mnist).

Usage:
  /usr/bin/python3 -m weights_tools.train.classifier --out DIR [--epochs 15] [--seed 0] [--ema DECAY]
      [--width 16] [--no-spd] [--degrade 16] [--threads 2] [--data /usr/share/datasets/fashion-mnist]
      [--val-split 5000] [--label-smoothing 0.1] [--erase 0.25] [--erase-off-epochs K]
      [--zero-init-residual] [--norm-decay D] [--recalibrate-bn]

What it is: the recipe behind the bundled model (assets/fashion_resnet_spd.safetensors) and the
SPD-versus-strided experiments of docs/experiments.md. The network is
`resnet_spd('basic', [2, 2, 2, 2], 10, base_width=--width, spd=not --no-spd)` of
weights_tools/reference, so the normal converter takes its state_dict. Inputs are the 28x28 grey
images padded with black to 32x32 and replicated to RGB (`to_network_pixels`, the same rule
`spdinfer val` applies to idx files), normalised with the converter's `cifar` preset (scale 1/255,
per-channel mean/std), so the model file's `preprocess` is exactly what training used.
Augmentation: random crop (pad 2), horizontal flip, random erasing; SGD + Nesterov with a
OneCycle schedule, label smoothing 0.1, weight decay 5e-4. `--degrade N` shrinks every image
(train and test) to NxN and enlarges it back (bilinear, antialiased), the paper's low-resolution
setting. `--ema DECAY` keeps an exponential moving average of the weights (and batch-norm
statistics) and saves it instead of the final weights. Options tried in the recipe search
(docs/experiments.md; off by default): `--zero-init-residual` (each block starts as its
shortcut), `--norm-decay` (weight decay of batch-norm parameters and biases),
`--erase-off-epochs K` (no erasing in the last K epochs) and `--recalibrate-bn` (batch-norm
statistics recomputed over the unaugmented training images after training). The model at the
end of training (no selection on the test set) is saved as an fp16 state_dict
(DIR/checkpoint.pt), converted (DIR/model.safetensors, class names from DIR/names.txt) and scored
on the 10,000 test images from the converted file; DIR/train_log.json records the run. For
choosing a recipe, `--val-split N` holds out N training images (the same N whatever the seed),
trains on the rest and scores on them instead, without reading the test set; `--ema` then takes
several decays, all scored, the first saved.

What it is not: a general training framework, or anything the engine imports.
"""

import argparse
import copy
import json
import math
import os
import sys

# libgomp's threads spin while waiting by default: on a machine shared with other work that
# makes a 2-thread step about 10x slower than a 1-thread one. Must be set before torch loads.
# On an otherwise idle machine spinning is the faster choice (width-16 training steps, batch 128,
# 2 threads: 66-71 s per 60,000 images with OMP_WAIT_POLICY=ACTIVE against 116-123 s passive):
# set it to ACTIVE in the environment there.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from weights_tools.convert import PRESETS, convert  # noqa: E402
from weights_tools.reference import load as load_reference  # noqa: E402
from weights_tools.reference.resnet_spd import resnet_spd  # noqa: E402
from weights_tools.train.fashion_mnist import CLASS_NAMES, DEFAULT_DATA, load_split  # noqa: E402
from weights_tools.train.stopwatch import Stopwatch  # noqa: E402

PRESET = 'cifar'  # the converter preset whose normalisation training uses (32x32, scale 1/255, mean/std)
INPUT_SIZE = 32


# ---- data ------------------------------------------------------------------------------------

def to_network_pixels(images, size=INPUT_SIZE):
    """uint8 [N, h, w] grey -> uint8 [N, 3, size, size] RGB: centred on black (top/left padding
    (size - h) // 2, the rest bottom/right) and replicated to the three channels. 28x28 -> 2 on
    every side. The engine's idx reader does the same (eval/dataset.h, grey_to_network_image)."""
    n, h, w = images.shape
    if h > size or w > size:
        raise ValueError(f'images of {h}x{w} do not fit a {size}x{size} input')
    top, left = (size - h) // 2, (size - w) // 2
    out = np.zeros((n, 3, size, size), np.uint8)
    out[:, :, top:top + h, left:left + w] = images[:, None]
    return out


def normalise(pixels, preset=PRESET):
    """uint8 [N, 3, H, W] -> float32 network input, exactly as the model file's `preprocess`
    says: (pixel * scale - mean[c]) / std[c]."""
    p = PRESETS[preset]
    x = torch.from_numpy(pixels).float() * float(np.float32(p['scale']))
    mean = torch.tensor(p['mean'], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(p['std'], dtype=torch.float32).view(1, 3, 1, 1)
    return (x - mean) / std


def degrade(x, size):
    """The paper's low-resolution inputs: shrink to size x size (antialiased bilinear) and
    enlarge back (bilinear), keeping the network's input size."""
    full = x.shape[-1]
    small = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False, antialias=True)
    return F.interpolate(small, size=(full, full), mode='bilinear', align_corners=False)


# ---- augmentation (whole batches at once) ------------------------------------------------------

def random_crop(x, pad, fill, gen):
    """Pad by `pad` with `fill` per channel, then crop back at a random offset per image."""
    b, c, h, w = x.shape
    padded = fill.view(1, c, 1, 1).expand(b, c, h + 2 * pad, w + 2 * pad).clone()
    padded[:, :, pad:pad + h, pad:pad + w] = x
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]          # b, h, 1
    cols = (dx[:, None] + torch.arange(w))[:, None, :]          # b, 1, w
    batch = torch.arange(b)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # channels_last


def random_flip(x, gen):
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def random_erase(x, fill, gen, p=0.5, area=(0.02, 0.25), ratio=(0.3, 3.3)):
    """Random erasing (Zhong et al.): with probability p, a rectangle of random area and aspect
    is set to `fill` (the normalised black, i.e. background)."""
    b, c, h, w = x.shape
    s = torch.empty(b).uniform_(*area, generator=gen) * h * w
    r = torch.exp(torch.empty(b).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=gen))
    eh = torch.sqrt(s * r).round().clamp(1, h).long()
    ew = torch.sqrt(s / r).round().clamp(1, w).long()
    top = (torch.rand(b, generator=gen) * (h - eh + 1)).long()
    left = (torch.rand(b, generator=gen) * (w - ew + 1)).long()
    on = torch.rand(b, generator=gen) < p
    ys, xs = torch.arange(h)[None, :], torch.arange(w)[None, :]
    in_y = (ys >= top[:, None]) & (ys < (top + eh)[:, None])     # b, h
    in_x = (xs >= left[:, None]) & (xs < (left + ew)[:, None])   # b, w
    mask = (in_y[:, :, None] & in_x[:, None, :] & on[:, None, None])[:, None]
    return torch.where(mask, fill.view(1, c, 1, 1).expand_as(x), x)


# ---- training ------------------------------------------------------------------------------------

def evaluate(net, x, y, batch=500):
    """(top-1 accuracy, predictions) of `net` in eval mode."""
    net.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            preds.append(net(x[i:i + batch]).argmax(1))
    pred = torch.cat(preds)
    return (pred == y).float().mean().item(), pred


class WeightAverage:
    """Exponential moving average of a network's weights and batch-norm statistics (every float
    entry of its state_dict), updated after each optimiser step with decay
    min(decay, (1 + t) / (10 + t)) so the first steps do not drag the average towards the
    initialisation. `model()` is a copy of the network holding the average."""

    def __init__(self, net, decay):
        self.decay, self.updates = decay, 0
        self.net = net
        self.state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        self.keys = [k for k, v in self.state.items() if v.is_floating_point()]

    def update(self):
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        current = self.net.state_dict()
        with torch.no_grad():
            average = [self.state[k] for k in self.keys]
            torch._foreach_mul_(average, d)
            torch._foreach_add_(average, [current[k].detach() for k in self.keys], alpha=1 - d)
            for k, v in current.items():
                if not v.is_floating_point():
                    self.state[k].copy_(v)

    def model(self):
        averaged = copy.deepcopy(self.net)
        averaged.load_state_dict(self.state)
        return averaged.eval()


def split_validation(images, labels, size):
    """((train images, labels), (validation images, labels)): `size` training images held out for
    choosing a recipe, the same ones whatever --seed (a fixed permutation of the 60,000)."""
    if not 0 < size < len(images):
        raise ValueError(f'--val-split {size}: must be between 1 and {len(images) - 1}')
    order = np.random.RandomState(20171025).permutation(len(images))
    held, kept = order[:size], np.sort(order[size:])
    return (images[kept], labels[kept]), (images[held], labels[held])


def half_state_dict(net):
    """The state_dict with float tensors in fp16 (the converter keeps the checkpoint's dtype)."""
    return {k: (v.half() if v.is_floating_point() else v).contiguous().clone() for k, v in net.state_dict().items()}


def zero_init_residuals(net):
    """Set the scale of each residual branch's last batch norm to zero, so every block starts as
    the identity (Goyal et al., "Accurate, Large Minibatch SGD"): the signal passes through the
    shortcuts while the branches learn. Names and shapes are unchanged."""
    for module in net.modules():
        if hasattr(module, 'residual_function'):
            nn.init.zeros_(module.residual_function[-1].weight)


def parameter_groups(net, weight_decay, norm_decay):
    """SGD parameter groups: convolution and linear weights decay by `weight_decay`; batch-norm
    scales and shifts and the classifier's bias (every parameter with one dimension) by
    `norm_decay`. Decaying a batch norm's scale only shrinks the next layer's input, which the
    following batch norm undoes, so it regularises little and slows learning."""
    matrices = [p for p in net.parameters() if p.dim() > 1]
    vectors = [p for p in net.parameters() if p.dim() <= 1]
    return [{'params': matrices, 'weight_decay': weight_decay},
            {'params': vectors, 'weight_decay': norm_decay}]


def recalibrate_batch_norm(net, x, batch=500):
    """A copy of `net` whose batch-norm statistics are recomputed over `x` (the training images
    without augmentation): the running averages collected during training describe cropped,
    flipped and erased batches and trail the weights' last updates."""
    net = copy.deepcopy(net)
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over every batch
    net.train()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            net(x[i:i + batch])
    return net.eval()


def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    run_clock = Stopwatch()

    train_images, train_labels = load_split(args.data, 'train')
    if args.val_split:
        # Recipe search: score on held-out training images; the test set is not read at all.
        (train_images, train_labels), (test_images, test_labels) = split_validation(
            train_images, train_labels, args.val_split)
        split = 'val'
    else:
        test_images, test_labels = load_split(args.data, 't10k')
        split = 'test'
    if args.limit:
        train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
    x_train = normalise(to_network_pixels(train_images))
    x_test = normalise(to_network_pixels(test_images))
    if args.degrade:
        x_train, x_test = degrade(x_train, args.degrade), degrade(x_test, args.degrade)
    y_train, y_test = torch.from_numpy(train_labels), torch.from_numpy(test_labels)
    background = normalise(np.zeros((1, 3, 1, 1), np.uint8)).view(3)  # a black pixel, normalised

    net = resnet_spd('basic', [2, 2, 2, 2], num_classes=10, base_width=args.width, spd=not args.no_spd)
    if args.zero_init_residual:
        zero_init_residuals(net)
    # Channels-last is faster on CPU, but with fewer than 8 channels Debian's PyTorch 1.13 (its
    # oneDNN convolutions) corrupts the heap in training: base widths 2, 4 and 6 abort or crash.
    layout = torch.channels_last if args.width >= 8 else torch.contiguous_format
    net = net.to(memory_format=layout).train()
    x_train = x_train.contiguous(memory_format=layout)
    steps_per_epoch = len(x_train) // args.batch  # the last partial batch is dropped
    norm_decay = args.weight_decay if args.norm_decay is None else args.norm_decay
    optimizer = torch.optim.SGD(parameter_groups(net, args.weight_decay, norm_decay), lr=args.lr, momentum=0.9,
                                nesterov=True)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                   steps_per_epoch=steps_per_epoch, pct_start=0.25,
                                                   div_factor=10, final_div_factor=100)
    # The first decay is the model saved; any others are only scored (to choose the decay).
    averages = [WeightAverage(net, d) for d in args.ema]
    log = {'args': vars(args), 'parameters': sum(p.numel() for p in net.parameters()), 'split': split,
           'epochs': []}
    print(f'train_classifier: {len(x_train)} training images, {log["parameters"]} parameters, '
          f'spd={not args.no_spd}, degrade={args.degrade or "none"}, '
          f'ema={",".join(map(str, args.ema)) or "none"}, scored on {split} ({len(x_test)} images)', flush=True)
    for epoch in range(args.epochs):
        net.train()
        epoch_clock = Stopwatch()
        order = torch.randperm(len(x_train), generator=gen)
        total_loss = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * args.batch:(step + 1) * args.batch]
            xb = random_crop(x_train[idx], 2, background, gen)
            xb = random_flip(xb, gen)
            if args.erase > 0 and epoch < args.epochs - args.erase_off_epochs:
                xb = random_erase(xb, background, gen, p=args.erase)
            xb = xb.contiguous(memory_format=layout)  # the crop gathers in channels-last
            loss = F.cross_entropy(net(xb), y_train[idx], label_smoothing=args.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            for average in averages:
                average.update()
            total_loss += loss.item()
        entry = {'epoch': epoch + 1, 'loss': total_loss / steps_per_epoch, 'seconds': epoch_clock.seconds()}
        acc = ''
        if args.eval_every and ((epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs):
            entry[f'{split}_top1'] = evaluate(net, x_test, y_test)[0]
            acc = f", {split} top-1 {entry[f'{split}_top1'] * 100:.2f}%"
            for average in averages:
                entry[f'ema_{average.decay}_{split}_top1'] = top1 = evaluate(average.model(), x_test, y_test)[0]
                acc += f' (EMA {average.decay}: {top1 * 100:.2f}%)'
        log['epochs'].append(entry)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {entry['loss']:.4f}, {entry['seconds']:.0f} s{acc}", flush=True)
    log['train_seconds'] = run_clock.seconds()
    log['train_cpu_seconds'] = run_clock.cpu_seconds()  # all threads; wall time depends on the machine's load
    log[f'fp32_{split}_top1'] = evaluate(net, x_test, y_test)[0]  # the network as trained
    for average in averages:
        log[f'fp32_ema_{average.decay}_{split}_top1'] = evaluate(average.model(), x_test, y_test)[0]
    if averages:
        net = averages[0].model()
    if args.recalibrate_bn:
        net = recalibrate_batch_norm(net, x_train)
        log[f'fp32_recalibrated_{split}_top1'] = evaluate(net, x_test, y_test)[0]

    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, 'checkpoint.pt')
    names = os.path.join(args.out, 'names.txt')
    model_path = os.path.join(args.out, 'model.safetensors')
    torch.save(half_state_dict(net), checkpoint)  # the first weight average if --ema
    with open(names, 'w', encoding='utf-8') as f:
        f.write('\n'.join(CLASS_NAMES) + '\n')
    convert(checkpoint, model_path, names_path=names, preset=PRESET, input_size=[INPUT_SIZE, INPUT_SIZE])
    # The score that counts: the converted (fp16) file, rebuilt by the reference loader.
    converted, _ = load_reference(model_path)
    top1, pred = evaluate(converted, x_test, y_test)
    log[f'{split}_top1'] = top1
    np.savetxt(os.path.join(args.out, f'{split}_predictions.txt'), pred.numpy(), fmt='%d')
    with open(os.path.join(args.out, 'train_log.json'), 'w') as f:
        json.dump(log, f, indent=1)
    fp32 = ', '.join(f'{k[5:-len(split) - 6] or "as trained"} {v * 100:.2f}%' for k, v in log.items()
                     if k.startswith('fp32_'))
    print(f'train_classifier: {args.out}: {split} top-1 {top1 * 100:.2f}% (converted fp16 model; '
          f'fp32: {fp32}), {log["train_seconds"] / 60:.1f} min '
          f'({log["train_cpu_seconds"] / 60:.1f} CPU-min)', flush=True)
    return log


def sample_file_name(index, label):
    """t10k_00000_9_ankle-boot.png: test image index, class id, class name."""
    slug = CLASS_NAMES[label].lower().replace('/', '-').replace(' ', '-')
    return f't10k_{index:05d}_{label}_{slug}.png'


def export_samples(model_path, out_dir, data_dir=DEFAULT_DATA):
    """One PNG per class (32x32 RGB, as the network sees it before normalisation): the first test
    image of each class that the model at `model_path` classifies correctly. Returns the paths."""
    from PIL import Image
    images, labels = load_split(data_dir, 't10k')
    net, _ = load_reference(model_path)
    pixels = to_network_pixels(images)
    _, pred = evaluate(net, normalise(pixels), torch.from_numpy(labels))
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for c in range(len(CLASS_NAMES)):
        right = np.flatnonzero((labels == c) & (pred.numpy() == c))
        if right.size == 0:
            raise ValueError(f'{model_path}: classifies no test image of class {CLASS_NAMES[c]!r} correctly')
        index = int(right[0])
        path = os.path.join(out_dir, sample_file_name(index, c))
        Image.fromarray(pixels[index].transpose(1, 2, 0)).save(path, optimize=True)
        written.append(path)
    return written


def build_parser():
    p = argparse.ArgumentParser(prog='train_classifier', description=__doc__.split('\n')[0])
    p.add_argument('--out', help='output directory (checkpoint.pt, model.safetensors, ...)')
    p.add_argument('--export-samples', metavar='DIR',
                   help='instead of training: write one correctly classified test PNG per class of --model')
    p.add_argument('--model', help='model file for --export-samples')
    p.add_argument('--data', default=DEFAULT_DATA, help=f'folder of the idx files (default {DEFAULT_DATA})')
    p.add_argument('--epochs', type=int, default=15)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--width', type=int, default=16, help='base width (stem and first stage)')
    p.add_argument('--no-spd', action='store_true', help='strided convolutions instead of space_to_depth')
    p.add_argument('--degrade', type=int, default=0, metavar='N',
                   help='shrink inputs to NxN and enlarge back to 32x32 (train and test)')
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--lr', type=float, default=0.1, help='peak learning rate of the OneCycle schedule')
    p.add_argument('--weight-decay', type=float, default=5e-4)
    p.add_argument('--label-smoothing', type=float, default=0.1)
    p.add_argument('--erase', type=float, default=0.25, help='random-erasing probability (0: off)')
    p.add_argument('--erase-off-epochs', type=int, default=0, metavar='K',
                   help='no random erasing in the last K epochs (the test images are never erased)')
    p.add_argument('--zero-init-residual', action='store_true',
                   help="start each residual branch's last batch-norm scale at zero")
    p.add_argument('--norm-decay', type=float, default=None,
                   help='weight decay of batch-norm parameters and biases (default: --weight-decay)')
    p.add_argument('--recalibrate-bn', action='store_true',
                   help='after training, recompute batch-norm statistics over the unaugmented training '
                        'images (scored beside the network as trained, and saved)')
    p.add_argument('--ema', type=lambda s: [float(d) for d in s.split(',') if d], default=[], metavar='DECAY[,...]',
                   help='save an exponential moving average of the weights with this decay (per step) instead '
                        'of the final weights; further decays are only scored')
    p.add_argument('--val-split', type=int, default=0, metavar='N',
                   help='recipe search: hold out N of the training images and score on them, not on the test set')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--eval-every', type=int, default=5,
                   help='accuracy (test, or --val-split) every N epochs (0: end only)')
    p.add_argument('--limit', type=int, default=0, help='use only the first N training images (quick checks)')
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.export_samples:
        if not args.model:
            parser.error('--export-samples needs --model')
    elif not args.out:
        parser.error('--out is required')
    try:
        if args.export_samples:
            for path in export_samples(args.model, args.export_samples, args.data):
                print(path)
        else:
            train(args)
    except (OSError, ValueError) as e:
        print(f'train_classifier: error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
