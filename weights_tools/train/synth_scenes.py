"""Generate detection scenes with small objects: Fashion-MNIST items on procedural backgrounds.

Usage:
  python3 -m weights_tools.train.synth_scenes --out DIR [--preset small|large] [--seed 0]
      [--train 4000] [--val 500] [--test 1000] [--size 320 | --size 1280-2560]
      [--object-size 8-40] [--objects 4-16] [--format png|jpg] [--data /usr/share/datasets/fashion-mnist]

What it is: the data behind the detection experiments of docs/experiments.md. Each scene is a
procedural background (value noise, gradients, stripes or checks, clutter of circles, boxes,
triangles and lines: shapes that are not any class) with Fashion-MNIST items pasted on it. An
item's grey level is its alpha (Fashion-MNIST's background is black), its colour a random tint
shaded by that grey level, kept apart from the background's brightness so that it is visible.
Sizes (the longest side of the item's tight box) are log-uniform in --object-size, so with 8-40
px about 86% of the objects are under 32 px. A new item may cover at most MAX_OCCLUSION of any
item already placed (and is itself never covered, being painted last).

Output, YOLOv5's layout: DIR/images/{train,val,test}/NNNNNN.png, DIR/labels/{split}/NNNNNN.txt
(one line `class cx cy w h` per object, normalised to the image), and DIR/dataset.json (paths,
`nc`, `names`, and how the data was made; JSON is valid YAML, so YOLOv5's tools read it too).

Determinism: scene i of a split depends only on (--seed, split, i) and the other options, not on
how many scenes are made or in what order. Train items come from Fashion-MNIST's 60,000 training
images, val items from the first half of its 10,000 test images and test items from the second
half, so no item is shared between splits.

--preset large gives 1280-2560 px scenes with 6-24 px objects (many per scene): small objects in
large photos, to be seen at reduced input sizes.

What it is not: an augmentation pipeline (weights_tools/train/detector.py does that). Needs only
NumPy and PIL.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

from weights_tools.train.fashion_mnist import CLASS_NAMES, DEFAULT_DATA, load_split
from weights_tools.train.stopwatch import Stopwatch

SPLITS = ('train', 'val', 'test')
# Which Fashion-MNIST file and which of its items each split draws from (disjoint item sets).
SPLIT_SOURCE = {'train': ('train', 0, 60000), 'val': ('t10k', 0, 5000), 'test': ('t10k', 5000, 10000)}
PRESETS = {
    'small': {'size': (320, 320), 'object_size': (8, 40), 'objects': (4, 16)},
    'large': {'size': (1280, 2560), 'object_size': (6, 24), 'objects': (40, 160)},
}
MAX_OCCLUSION = 0.3      # at most this fraction of an earlier item's box may be covered by later ones
ITEM_THRESHOLD = 12      # grey levels above this are the item (its tight box and its label)
MIN_CONTRAST = 0.25      # |item brightness - background brightness| in [0, 1]
PLACEMENT_TRIES = 30


# ---- Fashion-MNIST items ---------------------------------------------------------------------

def tight_crop(grey):
    """The item's pixels inside its tight box (grey > ITEM_THRESHOLD); None for a blank image."""
    rows = np.flatnonzero((grey > ITEM_THRESHOLD).any(1))
    cols = np.flatnonzero((grey > ITEM_THRESHOLD).any(0))
    if rows.size == 0:
        return None
    return grey[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


# ---- backgrounds -----------------------------------------------------------------------------

def value_noise(rng, h, w, cells):
    """Smooth random colour field: a cells x cells grid of random colours, bilinearly enlarged."""
    grid = rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(grid).resize((w, h), Image.BILINEAR), np.float32) / 255


def gradient(rng, h, w):
    """A linear blend between two random colours along a random direction."""
    theta = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xs * math.cos(theta) + ys * math.sin(theta)
    t = ((t - t.min()) / max(float(t.max() - t.min()), 1.0))[..., None]
    a, b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    return (a * (1 - t) + b * t).astype(np.float32)


def texture(rng, h, w):
    """Stripes or a checkerboard of random period, orientation and two random colours."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(4, 40)
    theta = rng.uniform(0, math.pi)
    u = xs * math.cos(theta) + ys * math.sin(theta)
    if rng.random() < 0.5:
        t = 0.5 + 0.5 * np.sin(2 * math.pi * u / period)
    else:
        v = -xs * math.sin(theta) + ys * math.cos(theta)
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    a, b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    return (a * (1 - t[..., None]) + b * t[..., None]).astype(np.float32)


def clutter(rng, canvas, count, size_range):
    """Draws `count` distractor shapes (none of them a class) onto the float image `canvas`."""
    h, w, _ = canvas.shape
    img = Image.fromarray((canvas * 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(count):
        s = rng.uniform(*size_range)
        x, y = rng.uniform(-s / 2, w), rng.uniform(-s / 2, h)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 4)
        if kind == 0:
            draw.ellipse([x, y, x + s, y + s * rng.uniform(0.5, 1.5)], fill=colour)
        elif kind == 1:
            draw.rectangle([x, y, x + s * rng.uniform(0.3, 1.5), y + s * rng.uniform(0.3, 1.5)], fill=colour)
        elif kind == 2:
            pts = [(x + rng.uniform(0, s), y + rng.uniform(0, s)) for _ in range(3)]
            draw.polygon(pts, fill=colour)
        else:
            draw.line([x, y, x + rng.uniform(-s, s) * 2, y + rng.uniform(-s, s) * 2], fill=colour,
                      width=int(rng.integers(1, 4)))
    return np.asarray(img, np.float32) / 255


def background(rng, h, w, object_size):
    """One of the procedural backgrounds, sometimes two blended, then clutter."""
    makers = [lambda: value_noise(rng, h, w, int(rng.integers(2, 24))),
              lambda: gradient(rng, h, w),
              lambda: texture(rng, h, w)]
    bg = makers[rng.integers(0, 3)]()
    if rng.random() < 0.5:
        t = rng.uniform(0.2, 0.8)
        bg = bg * (1 - t) + makers[rng.integers(0, 3)]() * t
    area_scale = h * w / (320 * 320)
    count = int(rng.integers(0, 25) * area_scale)
    lo, hi = object_size
    return clutter(rng, bg, count, (lo * 0.5, hi * 1.5))


# ---- items -----------------------------------------------------------------------------------

def render_item(rng, grey, longest):
    """(alpha [h, w], shade [h, w]) of a tight-cropped item resized so its longest side is
    `longest` px (antialiased), sometimes mirrored. Alpha is the grey level, made mostly opaque;
    the shade keeps the item's inner texture."""
    h, w = grey.shape
    scale = longest / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    g = np.asarray(Image.fromarray(grey).resize(size, Image.BILINEAR, reducing_gap=None), np.float32) / 255
    if rng.random() < 0.5:
        g = g[:, ::-1]
    alpha = np.clip(g * rng.uniform(1.5, 3.0), 0, 1)
    shade = 0.45 + 0.55 * g
    return alpha, shade


def item_colour(rng, bg_brightness):
    """A tint whose brightness differs from the background's by at least MIN_CONTRAST."""
    for _ in range(20):
        tint = rng.uniform(0, 1, 3)
        if abs(float(tint.mean()) * 0.8 - bg_brightness) >= MIN_CONTRAST:
            return tint
    return np.full(3, 1.0 if bg_brightness < 0.5 else 0.05)


def covered_too_much(box, placed):
    """Whether `box` (x1, y1, x2, y2) would cover more than MAX_OCCLUSION of a placed box."""
    for p in placed:
        iw = min(box[2], p[2]) - max(box[0], p[0])
        ih = min(box[3], p[3]) - max(box[1], p[1])
        if iw > 0 and ih > 0 and iw * ih > MAX_OCCLUSION * (p[2] - p[0]) * (p[3] - p[1]):
            return True
    return False


def make_scene(rng, items, labels, options):
    """(uint8 image [H, W, 3], list of (class, x1, y1, x2, y2) in pixels) for one scene."""
    lo_s, hi_s = options['size']
    w, h = int(rng.integers(lo_s, hi_s + 1)), int(rng.integers(lo_s, hi_s + 1))
    canvas = background(rng, h, w, options['object_size'])
    lo, hi = options['object_size']
    n = int(rng.integers(options['objects'][0], options['objects'][1] + 1))
    placed, out = [], []
    for _ in range(n):
        k = int(rng.integers(0, len(items)))
        grey = tight_crop(items[k])
        if grey is None:
            continue
        longest = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        alpha, shade = render_item(rng, grey, longest)
        ih, iw = alpha.shape
        if ih > h or iw > w:
            continue
        for _ in range(PLACEMENT_TRIES):
            x, y = int(rng.integers(0, w - iw + 1)), int(rng.integers(0, h - ih + 1))
            box = (x, y, x + iw, y + ih)
            if not covered_too_much(box, placed):
                break
        else:
            continue
        region = canvas[y:y + ih, x:x + iw]
        a = alpha[..., None]
        colour = item_colour(rng, float(region.mean())) * 0.8 + 0.2 * rng.random()
        canvas[y:y + ih, x:x + iw] = region * (1 - a) + np.clip(colour * shade[..., None], 0, 1) * a
        placed.append(box)
        out.append((int(labels[k]), *box))
    # Whole-scene photometric jitter: contrast about the mean, brightness, sensor noise.
    mean = canvas.mean()
    canvas = (canvas - mean) * rng.uniform(0.7, 1.3) + mean + rng.uniform(-0.1, 0.1)
    canvas = canvas + rng.normal(0, rng.uniform(0, 0.03), canvas.shape).astype(np.float32)
    return (np.clip(canvas, 0, 1) * 255 + 0.5).astype(np.uint8), out


def label_lines(objects, w, h):
    """YOLO label lines: class cx cy w h, normalised."""
    return ''.join(f'{c} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n'
                   for c, x1, y1, x2, y2 in objects)


# ---- the dataset -----------------------------------------------------------------------------

def split_rng(seed, split, index):
    """The generator of one scene: a function of (seed, split, index) only."""
    return np.random.default_rng([seed, SPLITS.index(split), index])


def write_split(out, split, count, items, labels, options, seed, fmt):
    """Writes `count` scenes of `split`; returns (objects, objects under 32x32 px)."""
    img_dir, lbl_dir = os.path.join(out, 'images', split), os.path.join(out, 'labels', split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(lbl_dir, exist_ok=True)
    total = small = 0
    for i in range(count):
        image, objects = make_scene(split_rng(seed, split, i), items, labels, options)
        name = f'{i:06d}'
        pil = Image.fromarray(image)
        if fmt == 'png':
            pil.save(os.path.join(img_dir, name + '.png'), compress_level=1)
        else:
            pil.save(os.path.join(img_dir, name + '.jpg'), quality=92)
        with open(os.path.join(lbl_dir, name + '.txt'), 'w') as f:
            f.write(label_lines(objects, image.shape[1], image.shape[0]))
        total += len(objects)
        small += sum((x2 - x1) * (y2 - y1) < 32 * 32 for _, x1, y1, x2, y2 in objects)
    return total, small


def generate(out, counts, options, seed=0, fmt='png', data_dir=DEFAULT_DATA, log=print):
    """Writes the dataset into `out`; returns the dataset.json dict."""
    sources = {}
    stats = {}
    for split in SPLITS:
        if counts[split] <= 0:
            continue
        prefix, begin, end = SPLIT_SOURCE[split]
        if prefix not in sources:
            sources[prefix] = load_split(data_dir, prefix)
        images, labels = sources[prefix]
        clock = Stopwatch()
        total, small = write_split(out, split, counts[split], images[begin:end], labels[begin:end], options,
                                   seed, fmt)
        stats[split] = {'images': counts[split], 'objects': total, 'objects_under_32x32': small}
        log(f'synth_scenes: {split}: {counts[split]} scenes, {total} objects ({small} under 32x32 px) '
            f'in {clock.seconds():.1f} s')
    dataset = {
        'path': os.path.abspath(out),
        **{split: f'images/{split}' for split in SPLITS if counts[split] > 0},
        'nc': len(CLASS_NAMES),
        'names': CLASS_NAMES,
        'generator': {'seed': seed, 'format': fmt, **{k: list(v) for k, v in options.items()},
                      'max_occlusion': MAX_OCCLUSION, 'source': data_dir},
        'stats': stats,
    }
    with open(os.path.join(out, 'dataset.json'), 'w') as f:
        json.dump(dataset, f, indent=1)
    return dataset


def parse_range(text):
    """'320' -> (320, 320); '8-40' -> (8, 40)."""
    parts = text.split('-')
    try:
        lo, hi = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (None, None)
    except ValueError:
        lo = hi = None
    if lo is None or lo <= 0 or hi < lo:
        raise argparse.ArgumentTypeError(f'expected N or MIN-MAX (positive, MIN <= MAX), got {text!r}')
    return lo, hi


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', required=True, help='dataset directory to write')
    p.add_argument('--preset', choices=sorted(PRESETS), default='small')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--train', type=int, default=4000, help='training scenes')
    p.add_argument('--val', type=int, default=500, help='validation scenes')
    p.add_argument('--test', type=int, default=1000, help='test scenes')
    p.add_argument('--size', type=parse_range, help='scene side(s) in px, N or MIN-MAX (each side drawn)')
    p.add_argument('--object-size', type=parse_range, help="items' longest side in px, MIN-MAX (log-uniform)")
    p.add_argument('--objects', type=parse_range, help='items per scene, MIN-MAX')
    p.add_argument('--format', choices=('png', 'jpg'), default='png')
    p.add_argument('--data', default=DEFAULT_DATA, help='folder with the Fashion-MNIST idx files')
    args = p.parse_args(argv)
    options = dict(PRESETS[args.preset])
    for key in ('size', 'object_size', 'objects'):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    if options['object_size'][1] > options['size'][0]:
        p.error(f'--object-size up to {options["object_size"][1]} px does not fit {options["size"][0]} px scenes')
    try:
        generate(args.out, {'train': args.train, 'val': args.val, 'test': args.test}, options, args.seed,
                 args.format, args.data)
    except (OSError, ValueError) as e:
        print(f'synth_scenes: error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
