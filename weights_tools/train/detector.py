"""Train a YOLOv5-family detector (SPD-YOLOv5 `space_depth_n` or standard `yolov5n`) on CPU.

Usage:
  /usr/bin/python3 -m weights_tools.train.detector DATA/dataset.json --arch space_depth_n|yolov5n
      --out DIR [--epochs N] [--minutes M] [--img 320] [--batch 16] [--threads 2] [--seed 0]
      [--augment mosaic|simple] [--schedule cosine|linear] [--optimizer adamw|sgd] [--lr LR] [--limit N]
  /usr/bin/python3 -m weights_tools.train.detector --resume DIR [--threads 2] [--minutes M]

What it is: one recipe for both architectures, so the SPD-versus-strided comparison of
docs/experiments.md changes nothing but the network. The networks are the project's reference
modules (weights_tools/reference) built from `space_depth_config('n', nc)` or
`yolov5_config('n', nc)`. The recipe is YOLOv5's (v6/v7 train.py, utils/loss.py, hyp.scratch-low):
- targets matched to anchors whose width and height ratios are within 4x, each also assigned to the
  two neighbouring cells its centre is nearest to (offset 0.5);
- CIoU box loss, BCE objectness (target: the CIoU of the matched prediction) with the per-level
  balance 4.0, 1.0, 0.4, BCE class loss; gains box 0.05, obj 1.0 * (img / 640)^2, cls 0.5 * nc / 80,
  each * 3 / levels; loss times batch size;
- Detect biases initialised for 8 objects per 640 px image and class priors 0.6 / nc;
- AdamW (lr 0.001, betas 0.937/0.999; YOLOv5's --optimizer AdamW) or SGD (--optimizer sgd: lr
  0.01, Nesterov, momentum 0.937), weight decay 5e-4 on conv weights only; warmup (3 epochs or
  100 steps at least; with SGD bias lr from 0.1 and momentum from 0.8), then cosine or linear
  decay to lr * 0.01. AdamW is the default because an hour of CPU gives only about a thousand
  steps, and in short checks SGD had barely started to lower the box loss by then while AdamW had
  (YOLOv5's SGD recipe is made for hundreds of epochs). Unlike YOLOv5 there is no gradient
  accumulation to a nominal batch of 64: every batch is a step, for the same reason;
- model EMA (decay 0.9999 * (1 - exp(-updates / 2000))), which is what gets saved;
- augmentation: mosaic of 4 scenes or one scene ('simple'), then a random window at scale 1 +- 0.25
  and translation +- 0.1, horizontal flip, HSV-like colour jitter; boxes cut by the window are kept
  when over 2 px and 10% of their area.
Time: with --minutes and no --epochs the schedule follows the clock (progress = elapsed / budget)
and training ends at the budget; with --epochs the schedule follows the epochs and --minutes only
stops early (cleanly: the checkpoint is still written).

Resuming: every epoch's end (and a stop by --minutes) writes DIR/last.pt, the whole training state
(weights, EMA, optimizer, random generators, position in the epoch, clock, log); `--resume DIR`
continues from it with the run's own settings, taking the same steps an uninterrupted run would.
A time-scheduled run keeps one budget across its continuations.
Writes DIR/checkpoint.pt ({'state_dict' (EMA, fp16), 'yaml', 'names'}, the layout
weights_tools/convert/converter.py reads), DIR/model.safetensors (fp16, preprocess input --img) and
DIR/train_log.json (arguments, losses per epoch, seconds per epoch).
What it is not: an evaluator (`spdinfer val` measures the converted file) or a general trainer.
"""

import argparse
import json
import math
import os
import sys

# libgomp's threads spin while waiting by default, which on a shared machine slows everyone.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from PIL import Image  # noqa: E402

from weights_tools.convert import convert  # noqa: E402
from weights_tools.reference.configs import space_depth_config, yolov5_config  # noqa: E402
from weights_tools.reference.yolov5 import build_yolov5  # noqa: E402
from weights_tools.train.stopwatch import Stopwatch  # noqa: E402
from weights_tools.train.train_state import StateError, read_state, state_path, write_state  # noqa: E402

ARCHITECTURES = {'space_depth_n': lambda nc: space_depth_config('n', nc), 'yolov5n': lambda nc: yolov5_config('n', nc)}
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp')
FILL = 114  # YOLOv5's letterbox grey
HYP = {'box': 0.05, 'obj': 1.0, 'cls': 0.5, 'anchor_t': 4.0, 'momentum': 0.937, 'weight_decay': 5e-4,
       'warmup_epochs': 3.0, 'warmup_momentum': 0.8, 'warmup_bias_lr': 0.1, 'lrf': 0.01,
       'scale': 0.25, 'translate': 0.1, 'fliplr': 0.5, 'hsv_s': 0.7, 'hsv_v': 0.4}
BALANCE = [4.0, 1.0, 0.4]  # objectness weight of the P3, P4, P5 levels
# YOLOv5's SGD default, and the usual choice for its AdamW option.
DEFAULT_LR = {'sgd': 0.01, 'adamw': 0.001}


class TrainError(Exception):
    pass


# ---- data ------------------------------------------------------------------------------------

def read_dataset(path):
    """The dataset file (JSON written by weights_tools.train.synth_scenes, or YOLOv5 YAML) as a dict."""
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            import yaml
            data = yaml.safe_load(text)
    except (OSError, ValueError) as e:
        raise TrainError(f'{path}: cannot read the dataset file: {e}') from None
    if not isinstance(data, dict) or 'names' not in data:
        raise TrainError(f'{path}: not a dataset file (needs names and split folders)')
    return data


def split_files(dataset_path, data, split):
    """(image paths, label paths) of a split, labels found as YOLOv5 does (/images/ -> /labels/)."""
    if split not in data:
        raise TrainError(f'{dataset_path}: no {split!r} split')
    here = os.path.dirname(os.path.abspath(dataset_path))
    root = os.path.join(here, data.get('path') or '.')
    if not os.path.isdir(root):  # the dataset was moved: its layout is beside the file
        root = here
    folder = os.path.join(root, data[split])
    if not os.path.isdir(folder):
        raise TrainError(f'{folder}: the {split} image folder does not exist')
    images = sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES))
    if not images:
        raise TrainError(f'{folder}: no images')
    labels = [os.path.splitext(label_path_for(p))[0] + '.txt' for p in images]
    return images, labels


def label_path_for(image):
    """YOLOv5's rule: the last /images/ in the path becomes /labels/."""
    head, sep, tail = image.rpartition(f'{os.sep}images{os.sep}')
    if not sep:
        raise TrainError(f'{image}: not under an images/ folder, so it has no labels/ folder')
    return f'{head}{os.sep}labels{os.sep}{tail}'


def read_labels(path, nc):
    """float32 [n, 5] (class, cx, cy, w, h normalised); a missing file means no objects."""
    if not os.path.exists(path):
        return np.zeros((0, 5), np.float32)
    try:
        rows = np.loadtxt(path, dtype=np.float32, ndmin=2)
    except ValueError as e:
        raise TrainError(f'{path}: not YOLO labels (class cx cy w h): {e}') from None
    if rows.size == 0:
        return np.zeros((0, 5), np.float32)
    if rows.shape[1] != 5 or (rows[:, 0] < 0).any() or (rows[:, 0] >= nc).any() or (rows[:, 0] % 1).any():
        raise TrainError(f'{path}: expected lines "class cx cy w h" with class 0-{nc - 1}')
    return rows


def load_split(images, labels, nc):
    """All images (uint8 HxWx3) and their boxes in pixels, [n, 5] (class, x1, y1, x2, y2)."""
    pixels, boxes = [], []
    for image, label in zip(images, labels):
        a = np.asarray(Image.open(image).convert('RGB'))
        h, w = a.shape[:2]
        r = read_labels(label, nc)
        xyxy = np.stack([r[:, 0], (r[:, 1] - r[:, 3] / 2) * w, (r[:, 2] - r[:, 4] / 2) * h,
                         (r[:, 1] + r[:, 3] / 2) * w, (r[:, 2] + r[:, 4] / 2) * h], 1)
        pixels.append(a)
        boxes.append(xyxy.astype(np.float32))
    return pixels, boxes


# ---- augmentation ----------------------------------------------------------------------------

def fit(image, boxes, size):
    """Scales an image so its longest side is `size` (boxes with it)."""
    h, w = image.shape[:2]
    r = size / max(h, w)
    if r != 1:
        image = np.asarray(Image.fromarray(image).resize((max(1, round(w * r)), max(1, round(h * r))),
                                                         Image.BILINEAR))
        boxes = boxes.copy()
        boxes[:, 1:] *= r
    return image, boxes


def mosaic_canvas(rng, pixels, boxes, index, size):
    """YOLOv5's mosaic: four scenes (this one and three random) meeting at a random centre of a
    2*size canvas. Returns (canvas, boxes in canvas pixels)."""
    canvas = np.full((2 * size, 2 * size, 3), FILL, np.uint8)
    xc, yc = (int(rng.uniform(size / 2, 3 * size / 2)) for _ in range(2))
    out = []
    for k, i in enumerate([index, *rng.integers(0, len(pixels), 3)]):
        img, b = fit(pixels[i], boxes[i], size)
        h, w = img.shape[:2]
        # Corner k of the image touches the centre: 0 top-left quadrant, 1 top-right, 2 bottom-left, 3 bottom-right.
        x1 = xc - w if k in (0, 2) else xc
        y1 = yc - h if k in (0, 1) else yc
        cx1, cy1 = max(x1, 0), max(y1, 0)
        cx2, cy2 = min(x1 + w, 2 * size), min(y1 + h, 2 * size)
        canvas[cy1:cy2, cx1:cx2] = img[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1]
        b = b.copy()
        b[:, [1, 3]] += x1
        b[:, [2, 4]] += y1
        out.append(b)
    return canvas, np.concatenate(out)


def single_canvas(pixels, boxes, index, size):
    """One scene letterboxed onto a size x size canvas."""
    img, b = fit(pixels[index], boxes[index], size)
    h, w = img.shape[:2]
    canvas = np.full((size, size, 3), FILL, np.uint8)
    top, left = (size - h) // 2, (size - w) // 2
    canvas[top:top + h, left:left + w] = img
    b = b.copy()
    b[:, [1, 3]] += left
    b[:, [2, 4]] += top
    return canvas, b


def random_window(rng, canvas, boxes, size, hyp):
    """A size x size view of the canvas's centre, zoomed by 1 +- scale and shifted by
    +- translate: the window is cut (padding with FILL) and resized. Boxes are clipped; those left
    under 2 px or 10% of their area are dropped, as YOLOv5's box_candidates."""
    zoom = rng.uniform(1 - hyp['scale'], 1 + hyp['scale'])
    side = size / zoom
    ch, cw = canvas.shape[:2]
    x0 = cw / 2 - side / 2 + rng.uniform(-hyp['translate'], hyp['translate']) * size
    y0 = ch / 2 - side / 2 + rng.uniform(-hyp['translate'], hyp['translate']) * size
    window = Image.fromarray(canvas).transform((size, size), Image.EXTENT, (x0, y0, x0 + side, y0 + side),
                                               Image.BILINEAR, fillcolor=(FILL,) * 3)
    b = boxes.copy()
    b[:, [1, 3]] = (b[:, [1, 3]] - x0) * zoom
    b[:, [2, 4]] = (b[:, [2, 4]] - y0) * zoom
    area0 = (b[:, 3] - b[:, 1]) * (b[:, 4] - b[:, 2])
    b[:, 1:] = b[:, 1:].clip(0, size)
    w, h = b[:, 3] - b[:, 1], b[:, 4] - b[:, 2]
    keep = (w > 2) & (h > 2) & (w * h > 0.1 * area0)
    return np.asarray(window), b[keep]


def colour_jitter(rng, image, hyp):
    """Saturation and value gains (YOLOv5's HSV augmentation without the hue shift)."""
    x = image.astype(np.float32)
    grey = x.mean(2, keepdims=True)
    x = grey + (x - grey) * rng.uniform(1 - hyp['hsv_s'], 1 + hyp['hsv_s'])
    x = x * rng.uniform(1 - hyp['hsv_v'], 1 + hyp['hsv_v'])
    return np.clip(x, 0, 255).astype(np.uint8)


def make_sample(rng, pixels, boxes, index, size, augment, hyp):
    """(uint8 [size, size, 3], [n, 5] class + x1 y1 x2 y2 pixels) of one training sample."""
    if augment == 'mosaic':
        canvas, b = mosaic_canvas(rng, pixels, boxes, index, size)
    else:
        canvas, b = single_canvas(pixels, boxes, index, size)
    image, b = random_window(rng, canvas, b, size, hyp)
    if rng.random() < hyp['fliplr']:
        image = image[:, ::-1]
        b[:, [1, 3]] = size - b[:, [3, 1]]
    return colour_jitter(rng, image, hyp), b


def collate(samples, size):
    """Images (B, 3, H, W) in [0, 1] and targets (n, 6): image index, class, cx, cy, w, h normalised."""
    x = torch.from_numpy(np.stack([s[0] for s in samples])).permute(0, 3, 1, 2).float() / 255
    targets = []
    for i, (_, b) in enumerate(samples):
        cx, cy = (b[:, 1] + b[:, 3]) / 2, (b[:, 2] + b[:, 4]) / 2
        w, h = b[:, 3] - b[:, 1], b[:, 4] - b[:, 2]
        targets.append(np.stack([np.full(len(b), i), b[:, 0], cx / size, cy / size, w / size, h / size], 1))
    return x, torch.from_numpy(np.concatenate(targets).astype(np.float32))


# ---- loss ------------------------------------------------------------------------------------

def ciou(box1, box2, eps=1e-7):
    """Complete IoU of matching rows of two (n, 4) xywh box sets (Zheng et al. 2020)."""
    (x1, y1, w1, h1), (x2, y2, w2, h2) = box1.T, box2.T
    b1x1, b1x2, b1y1, b1y2 = x1 - w1 / 2, x1 + w1 / 2, y1 - h1 / 2, y1 + h1 / 2
    b2x1, b2x2, b2y1, b2y2 = x2 - w2 / 2, x2 + w2 / 2, y2 - h2 / 2, y2 + h2 / 2
    inter = (torch.min(b1x2, b2x2) - torch.max(b1x1, b2x1)).clamp(0) * \
            (torch.min(b1y2, b2y2) - torch.max(b1y1, b2y1)).clamp(0)
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(b1x2, b2x2) - torch.min(b1x1, b2x1)
    ch = torch.max(b1y2, b2y2) - torch.min(b1y1, b2y1)
    c2 = cw ** 2 + ch ** 2 + eps                                   # enclosing box diagonal squared
    rho2 = (x2 - x1) ** 2 + (y2 - y1) ** 2                         # centre distance squared
    v = (4 / math.pi ** 2) * (torch.atan(w2 / (h2 + eps)) - torch.atan(w1 / (h1 + eps))) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


class YoloLoss:
    """YOLOv5's ComputeLoss (utils/loss.py) for the reference Detect head."""

    def __init__(self, detect, img, hyp=HYP):
        self.na, self.nc, self.nl = detect.na, detect.nc, detect.nl
        self.anchors = detect.anchors.detach().clone()  # grid units, (nl, na, 2)
        self.hyp = hyp
        self.box_gain = hyp['box'] * 3 / self.nl
        self.cls_gain = hyp['cls'] * self.nc / 80 * 3 / self.nl
        self.obj_gain = hyp['obj'] * (img / 640) ** 2 * 3 / self.nl
        self.bce = nn.BCEWithLogitsLoss()

    def __call__(self, raw, targets):
        """(total loss, detached [box, obj, cls]) for the raw per-level outputs and (n, 6) targets."""
        lbox, lobj, lcls = (torch.zeros(()) for _ in range(3))
        for i, pi in enumerate(raw):
            b, a, gj, gi, tbox, tcls, anchors = self.build_targets(pi, targets, i)
            tobj = torch.zeros(pi.shape[:4])
            if len(b):
                ps = pi[b, a, gj, gi]
                pxy = ps[:, :2].sigmoid() * 2 - 0.5
                pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * anchors
                iou = ciou(torch.cat((pxy, pwh), 1), tbox)
                lbox = lbox + (1.0 - iou).mean()
                tobj[b, a, gj, gi] = iou.detach().clamp(0)
                if self.nc > 1:
                    t = torch.zeros_like(ps[:, 5:])
                    t[range(len(b)), tcls] = 1.0
                    lcls = lcls + self.bce(ps[:, 5:], t)
            lobj = lobj + self.bce(pi[..., 4], tobj) * BALANCE[i]
        bs = raw[0].shape[0]
        lbox, lobj, lcls = lbox * self.box_gain, lobj * self.obj_gain, lcls * self.cls_gain
        return (lbox + lobj + lcls) * bs, torch.stack((lbox, lobj, lcls)).detach()

    def build_targets(self, pi, targets, i):
        """Targets of level i: anchors within anchor_t in both ratios, each target also given to
        the neighbouring cells (left/up/right/down) its centre lies within half a cell of."""
        ny, nx = pi.shape[2:4]
        anchors = self.anchors[i]
        gain = torch.tensor([1, 1, nx, ny, nx, ny], dtype=torch.float32)
        t = targets * gain                                              # (n, 6) in grid units
        t = t[None].expand(self.na, -1, -1)                             # (na, n, 6)
        ai = torch.arange(self.na, dtype=torch.float32).view(-1, 1, 1).expand(-1, t.shape[1], 1)
        t = torch.cat((t, ai), 2)
        r = t[..., 4:6] / anchors[:, None]
        t = t[torch.max(r, 1 / r).max(2)[0] < self.hyp['anchor_t']]    # (m, 7)
        g = 0.5
        gxy = t[:, 2:4]
        gxi = torch.tensor([nx, ny], dtype=torch.float32) - gxy
        j, k = ((gxy % 1 < g) & (gxy > 1)).T
        l, m = ((gxi % 1 < g) & (gxi > 1)).T
        use = torch.stack((torch.ones_like(j), j, k, l, m))            # (5, m)
        off = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=torch.float32) * g
        t = t[None].expand(5, -1, -1)[use]
        offsets = off[:, None].expand(-1, use.shape[1], -1)[use]
        b, c = t[:, 0].long(), t[:, 1].long()
        gxy, gwh, a = t[:, 2:4], t[:, 4:6], t[:, 6].long()
        gij = (gxy - offsets).long()
        gi, gj = gij[:, 0].clamp(0, nx - 1), gij[:, 1].clamp(0, ny - 1)
        tbox = torch.cat((gxy - torch.stack((gi, gj), 1), gwh), 1)
        return b, a, gj, gi, tbox, c, anchors[a]


# ---- model, optimiser, EMA -------------------------------------------------------------------

def build_model(arch_name, nc, img):
    """The training-mode network with YOLOv5's Detect bias initialisation."""
    arch = ARCHITECTURES[arch_name](nc)
    model = build_yolov5(arch)
    detect = model.model[-1]
    with torch.no_grad():
        for conv, s in zip(detect.m, detect.stride):
            bias = conv.bias.view(detect.na, -1)
            bias[:, 4] += math.log(8 / (640 / float(s)) ** 2)     # 8 objects per 640 px image
            bias[:, 5:] += math.log(0.6 / (nc - 0.99))            # class priors
    return model.train(), arch


def init_weights(model, path, names):
    """Starts `model` from the weights of a trained one (a spdinfer model file or a checkpoint) of
    the same architecture and classes: a finished run continued with a new schedule."""
    # The reference loader: the file is read (a checkpoint converted) as spdinfer would read it.
    from weights_tools.convert.converter import ConvertError
    from weights_tools.reference import load
    try:
        trained, meta = load(path)
    except ConvertError as e:
        raise TrainError(f'--init: {e}') from None  # names the file already
    except (ValueError, OSError) as e:
        raise TrainError(f'--init {path}: {e}') from None
    if list(meta.get('class_names') or []) != list(names):
        raise TrainError(f'--init {path}: its classes {meta.get("class_names")} are not the dataset\'s {list(names)}')
    own, theirs = model.state_dict(), trained.state_dict()
    if set(own) != set(theirs) or any(own[k].shape != theirs[k].shape for k in own):
        raise TrainError(f'--init {path}: its layers do not match the --arch network')
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in theirs.items()})


def make_optimizer(model, kind, lr, hyp=HYP):
    """SGD (Nesterov) or AdamW (betas momentum, 0.999) with YOLOv5's three groups: BatchNorm
    weights, conv weights (the only ones with weight decay), biases (group 2, warmed up apart)."""
    bn, weights, biases = [], [], []
    for module in model.modules():
        if hasattr(module, 'bias') and isinstance(module.bias, nn.Parameter):
            biases.append(module.bias)
        if isinstance(module, nn.BatchNorm2d):
            bn.append(module.weight)
        elif hasattr(module, 'weight') and isinstance(module.weight, nn.Parameter):
            weights.append(module.weight)
    if kind == 'sgd':
        opt = torch.optim.SGD(bn, lr=lr, momentum=hyp['momentum'], nesterov=True)
    else:
        opt = torch.optim.AdamW(bn, lr=lr, betas=(hyp['momentum'], 0.999), weight_decay=0.0)
    opt.add_param_group({'params': weights, 'weight_decay': hyp['weight_decay']})
    opt.add_param_group({'params': biases})
    return opt


class ModelEMA:
    """Exponential moving average of the weights (and BatchNorm buffers), YOLOv5's ModelEMA."""

    def __init__(self, model, decay=0.9999, tau=2000):
        self.ema = build_yolov5(model.yaml)
        self.ema.load_state_dict(model.state_dict())
        self.ema.eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay = lambda n: decay * (1 - math.exp(-n / tau))
        self.updates = 0

    def update(self, model):
        self.updates += 1
        d = self.decay(self.updates)
        with torch.no_grad():
            state = model.state_dict()
            for k, v in self.ema.state_dict().items():
                if v.dtype.is_floating_point:
                    v.mul_(d).add_(state[k].detach(), alpha=1 - d)


def schedule(progress, kind, lrf):
    """LR multiplier at progress in [0, 1]: cosine or linear from 1 to lrf."""
    progress = min(max(progress, 0.0), 1.0)
    if kind == 'cosine':
        return ((1 - math.cos(progress * math.pi)) / 2) * (lrf - 1) + 1
    return (1 - progress) * (1 - lrf) + lrf


def set_learning_rate(opt, step, warmup_steps, lr, factor, hyp=HYP):
    """Warmup into the schedule's lr * factor, as YOLOv5: others from 0 up; with SGD, biases
    from warmup_bias_lr down and momentum from warmup_momentum up. (With AdamW the biases warm up
    like the rest: a 0.1 learning rate would throw Adam's normalised steps far off.)"""
    sgd = isinstance(opt, torch.optim.SGD)
    for k, group in enumerate(opt.param_groups):
        target = lr * factor
        if step < warmup_steps:
            start = hyp['warmup_bias_lr'] if k == 2 and sgd else 0.0
            group['lr'] = float(np.interp(step, [0, warmup_steps], [start, target]))
            if sgd:
                group['momentum'] = float(np.interp(step, [0, warmup_steps], [hyp['warmup_momentum'], hyp['momentum']]))
        else:
            group['lr'] = target
            if sgd:
                group['momentum'] = hyp['momentum']


# ---- output ----------------------------------------------------------------------------------

def save(out, ema, arch, names, img):
    """DIR/checkpoint.pt (EMA weights in fp16 with the architecture and names), converted to
    DIR/model.safetensors with the input size used in training."""
    state = {k: (v.half() if v.is_floating_point() else v).contiguous().clone()
             for k, v in ema.ema.state_dict().items()}
    checkpoint = os.path.join(out, 'checkpoint.pt')
    torch.save({'state_dict': state, 'yaml': dict(arch), 'names': list(names)}, checkpoint)
    convert(checkpoint, os.path.join(out, 'model.safetensors'), input_size=[img, img])
    return checkpoint


def stored_settings(args):
    """The settings a continued run keeps: everything but how it is run (threads, verbosity, the
    continuation's own time limit)."""
    return {k: v for k, v in vars(args).items() if k not in ('threads', 'verbose', 'resume', 'stop_minutes')}


def train(args, state=None):
    """Trains from scratch, or continues the run `state` (from train_state.read_state) left."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    data = read_dataset(args.data)
    names = list(data['names'])
    nc = len(names)
    images, labels = split_files(args.data, data, 'train')
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    clock = Stopwatch()
    pixels, boxes = load_split(images, labels, nc)
    print(f'train_detector: {len(images)} training scenes, {sum(len(b) for b in boxes)} objects, '
          f'loaded in {clock.seconds():.1f} s', flush=True)

    model, arch = build_model(args.arch, nc, args.img)
    if getattr(args, 'init', None) and state is None:  # runs stored before --init existed lack it
        init_weights(model, args.init, names)
    loss_fn = YoloLoss(model.model[-1], args.img)
    ema = ModelEMA(model)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    opt = make_optimizer(model, args.optimizer, lr)
    steps_per_epoch = max(1, len(images) // args.batch)
    by_time = args.minutes is not None and args.epochs is None
    epochs = args.epochs if args.epochs is not None else 10 ** 6  # by time: until the budget ends
    warmup_steps = max(round(args.warmup_epochs * steps_per_epoch), 100)
    log = {'args': {**stored_settings(args), 'threads': args.threads}, 'parameters': sum(p.numel() for p in model.parameters()), 'epochs': []}
    first_epoch, first_step, order, step, elapsed_before = 0, 0, None, 0, 0.0
    sums, epoch_seconds_before, epoch_cpu_before = torch.zeros(3), 0.0, 0.0
    if state is not None:
        model.load_state_dict(state['model'])
        ema.ema.load_state_dict(state['ema'])
        ema.updates = state['ema_updates']
        opt.load_state_dict(state['optimizer'])
        rng.bit_generator.state = state['numpy_rng']
        torch.set_rng_state(state['torch_rng'])
        first_epoch, first_step, order, step = state['epoch'], state['step_in_epoch'], state['order'], state['step']
        sums, elapsed_before = state['sums'], state['elapsed']
        epoch_seconds_before, epoch_cpu_before = state['epoch_seconds'], state['epoch_cpu_seconds']
        log = state['log']
        log.setdefault('continuations', []).append({'step': step, 'threads': args.threads})
        if state['scenes'] != len(images):
            raise TrainError(f'{args.data}: the training split has {len(images)} scenes now, '
                             f'{state["scenes"]} when the run in {args.resume} stopped')
    # A time-scheduled run spends one budget over all its continuations; an epoch-scheduled one
    # takes --minutes as a stop for this invocation only (resumed: the new --minutes, if any).
    budget = args.minutes * 60 if args.minutes is not None else math.inf
    stop_minutes = args.minutes if state is None or by_time else args.stop_minutes
    stop_at = budget if by_time else (stop_minutes * 60 if stop_minutes is not None else math.inf)
    print(f'train_detector: {args.arch}, {log["parameters"]} parameters, {steps_per_epoch} steps per epoch, '
          f'img {args.img}, batch {args.batch}, {args.threads} threads, '
          f'{"schedule by time" if by_time else f"{epochs} epochs"}'
          + (f', resumed at epoch {first_epoch + 1} step {first_step + 1}' if state is not None else ''), flush=True)

    def snapshot(epoch, next_step, epoch_order, epoch_sums, epoch_clock, run_elapsed):
        return {'args': stored_settings(args), 'scenes': len(images), 'epoch': epoch, 'step_in_epoch': next_step, 'order': epoch_order,
                'sums': epoch_sums, 'step': step, 'elapsed': run_elapsed,
                'epoch_seconds': epoch_clock[0], 'epoch_cpu_seconds': epoch_clock[1],
                'model': model.state_dict(), 'ema': ema.ema.state_dict(), 'ema_updates': ema.updates,
                'optimizer': opt.state_dict(), 'numpy_rng': rng.bit_generator.state,
                'torch_rng': torch.get_rng_state(), 'log': log}

    run_clock, stopped = Stopwatch(), False
    for epoch in range(first_epoch, epochs):
        model.train()
        if order is None:
            order = rng.permutation(len(images))
        epoch_clock = Stopwatch()
        for s in range(first_step, steps_per_epoch):
            elapsed = elapsed_before + run_clock.seconds()
            if (elapsed if by_time else run_clock.seconds()) >= stop_at:
                stopped = True
                break
            progress = elapsed / budget if by_time else (epoch + s / steps_per_epoch) / epochs
            set_learning_rate(opt, step, warmup_steps, lr, schedule(progress, args.schedule, HYP['lrf']))
            batch = order[s * args.batch:(s + 1) * args.batch]
            x, targets = collate([make_sample(rng, pixels, boxes, int(i), args.img, args.augment, HYP)
                                  for i in batch], args.img)
            loss, parts = loss_fn(model(x), targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            ema.update(model)
            sums += parts
            step += 1
            if args.verbose and step % 10 == 0:
                print(f'  step {step}: box {parts[0]:.4f} obj {parts[1]:.4f} cls {parts[2]:.4f}', flush=True)
        else:
            s = steps_per_epoch
        # CPU seconds say what the epoch costs; wall seconds mostly how busy the machine was.
        seconds = epoch_seconds_before + epoch_clock.seconds()
        cpu = epoch_cpu_before + epoch_clock.cpu_seconds()
        run_elapsed = elapsed_before + run_clock.seconds()
        if stopped:
            # Saved before the partial epoch enters the log: a continuation finishes that epoch.
            write_state(args.out, snapshot(epoch, s, order, sums, (seconds, cpu), run_elapsed))
        if s:
            mean = (sums / s).tolist()
            log['epochs'].append({'epoch': epoch + 1, 'steps': s, 'box': mean[0], 'obj': mean[1], 'cls': mean[2],
                                  'lr': opt.param_groups[1]['lr'], 'seconds': round(seconds, 1),
                                  'cpu_seconds': round(cpu, 1)})
            print(f'epoch {epoch + 1}: box {mean[0]:.4f} obj {mean[1]:.4f} cls {mean[2]:.4f} '
                  f'({s} steps, {seconds:.0f} s, {cpu:.0f} CPU-s)', flush=True)
        if stopped:
            print(f'train_detector: time limit reached in epoch {epoch + 1}; continue with '
                  f'--resume {args.out}', flush=True)
            break
        first_step, order, sums, epoch_seconds_before, epoch_cpu_before = 0, None, torch.zeros(3), 0.0, 0.0
        write_state(args.out, snapshot(epoch + 1, 0, None, sums, (0.0, 0.0), run_elapsed))
    log['steps'], log['seconds'] = step, round(elapsed_before + run_clock.seconds(), 1)
    save(args.out, ema, arch, names, args.img)
    with open(os.path.join(args.out, 'train_log.json'), 'w') as f:
        json.dump(log, f, indent=1)
    print(f'train_detector: wrote {args.out}/checkpoint.pt and {args.out}/model.safetensors '
          f'({step} steps, {log["seconds"]:.0f} s)', flush=True)


STATE_KEYS = ('args', 'scenes', 'epoch', 'step_in_epoch', 'order', 'sums', 'step', 'elapsed', 'epoch_seconds',
              'epoch_cpu_seconds', 'model', 'ema', 'ema_updates', 'optimizer', 'numpy_rng', 'torch_rng', 'log')


def resume(argv):
    """`--resume RUN_DIR [--threads N] [--minutes M] [--verbose]`: the run's own settings, read
    from its state; only how it runs may change."""
    p = argparse.ArgumentParser(prog='train_detector --resume',
                                description='Continue a run from the state its last epoch saved')
    p.add_argument('--resume', required=True, metavar='RUN_DIR', help='run directory (its --out)')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--minutes', type=float, dest='stop_minutes',
                   help='stop this continuation after M minutes (epoch-scheduled runs; a time-scheduled '
                        'run keeps its budget)')
    p.add_argument('--verbose', action='store_true')
    given = p.parse_args(argv)
    try:
        state = read_state(given.resume, STATE_KEYS)
    except StateError as e:
        print(f'train_detector: error: {e}', file=sys.stderr)
        return 2
    args = argparse.Namespace(**state['args'], threads=given.threads, verbose=given.verbose,
                              resume=given.resume, stop_minutes=given.stop_minutes)
    if args.epochs is not None and state['epoch'] >= args.epochs:
        print(f'train_detector: error: {state_path(given.resume)}: the run finished all its '
              f'{args.epochs} epochs; nothing to resume', file=sys.stderr)
        return 2
    if os.path.abspath(args.out) != os.path.abspath(given.resume):
        args.out = given.resume  # the run directory was moved: write where its state is
    try:
        train(args, state)
    except (TrainError, OSError) as e:
        print(f'train_detector: error: {e}', file=sys.stderr)
        return 2
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a == '--resume' or a.startswith('--resume=') for a in argv):
        return resume(argv)
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('data', help='dataset file (dataset.json from weights_tools.train.synth_scenes, or a YOLOv5 YAML)')
    p.add_argument('--arch', choices=sorted(ARCHITECTURES), required=True)
    p.add_argument('--out', required=True, help='run directory to write')
    p.add_argument('--epochs', type=int, help='epochs (the LR schedule spans them)')
    p.add_argument('--minutes', type=float, help='time budget; without --epochs the schedule spans it')
    p.add_argument('--img', type=int, default=320, help='training input size (multiple of 32)')
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--optimizer', choices=sorted(DEFAULT_LR), default='adamw')
    p.add_argument('--lr', type=float, help='initial learning rate (default: 0.001 AdamW, 0.01 SGD)')
    p.add_argument('--augment', choices=('mosaic', 'simple'), default='mosaic')
    p.add_argument('--schedule', choices=('cosine', 'linear'), default='cosine')
    # YOLOv5's 3 epochs are 1% of its 300; in a 4-epoch run they are most of it, and the learning
    # rate averages a third of its peak (docs/experiments.md). Kept as the default so the documented
    # runs reproduce; shorter warmups are the next thing to try.
    p.add_argument('--warmup-epochs', type=float, default=HYP['warmup_epochs'],
                   help='linear warmup length in epochs, at least 100 steps (default: YOLOv5\'s 3)')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--limit', type=int, help='use only the first N training scenes (smoke runs)')
    p.add_argument('--init', metavar='MODEL',
                   help='start from the weights of a trained model of the same --arch and classes '
                        '(a spdinfer model file or a checkpoint) instead of random ones')
    p.add_argument('--verbose', action='store_true', help='print the losses every 10 steps')
    args = p.parse_args(argv)
    args.resume, args.stop_minutes = None, None
    if args.epochs is None and args.minutes is None:
        p.error('give --epochs, --minutes or both')
    if args.img % 32:
        p.error(f'--img {args.img} is not a multiple of 32 (the largest stride)')
    if not 0 <= args.warmup_epochs <= 1000:  # also refuses NaN
        p.error(f'--warmup-epochs {args.warmup_epochs}: expected 0 to 1000')
    try:
        train(args)
    except (TrainError, OSError) as e:
        print(f'train_detector: error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
