"""PyTorch reference for `spdinfer detect` and `spdinfer classify`: the whole image -> answer path.

Usage (prints the same JSON lines as `spdinfer detect --json` / `classify --json`, without "ms"):
  /usr/bin/python3 -m weights_tools.reference.pipeline detect MODEL.safetensors IMAGE... [--img 640]
      [--conf 0.25] [--iou 0.45] [--max-det 1000] [--classes 0,2] [--agnostic]
  /usr/bin/python3 -m weights_tools.reference.pipeline classify MODEL.safetensors IMAGE... [--topk 5]

What it is: YOLOv5's detect.py path rewritten in plain torch (decode with PIL, letterbox with the
same geometry and bilinear resize as cv2.INTER_LINEAR, the weights_tools.reference model in fp32,
YOLOv5's non_max_suppression with a hand-written greedy NMS, scale_boxes), and the classifiers'
preset preprocessing (PIL's antialiased bilinear resize, centre crop, normalise), softmax, top-k.
The engine's end-to-end tests compare against it. Written from YOLOv5's and torchvision's
documented behaviour, not copied from the C++, so the two can disagree when one is wrong.
What it is not: fast, or a replacement for upstream YOLOv5 (no cv2, no torchvision, no batching).
"""

import argparse
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

from weights_tools.reference import load

MAX_WH = 7680  # YOLOv5's class offset for batched NMS
MAX_NMS = 30000  # YOLOv5's cap on boxes entering NMS


# ---- images ---------------------------------------------------------------------------------

def load_image(path):
    """An RGB uint8 array (H, W, 3), however the file stores it (grey, alpha, palette, 16-bit)."""
    from PIL import Image  # Debian's python3-pil; only needed here
    with Image.open(path) as im:
        if im.mode.startswith("I"):  # 16-bit grey PNGs open as "I": keep the high byte, as stb_image
            a = np.clip(np.asarray(im, dtype=np.int64) >> 8, 0, 255).astype(np.uint8)
            return np.repeat(a[:, :, None], 3, axis=2)
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def resize_bilinear(img, new_w, new_h):
    """cv2.resize(INTER_LINEAR): half-pixel centres, 2x2 taps, edges clamped, rounded to uint8."""
    if img.shape[1] == new_w and img.shape[0] == new_h:
        return img
    x = torch.from_numpy(img).permute(2, 0, 1)[None].double()
    y = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)
    y = torch.floor(y + 0.5).clamp(0, 255)
    return y[0].permute(1, 2, 0).to(torch.uint8).numpy()


def letterbox(img, new_shape=640, stride=32, auto=True, color=114):
    """YOLOv5's utils/augmentations.py letterbox (scaleup on). Returns (image, (top, left))."""
    shape = img.shape[:2]
    if isinstance(new_shape, int):
        new_shape = (new_shape, new_shape)
    r = min(new_shape[0] / shape[0], new_shape[1] / shape[1])
    new_unpad = int(round(shape[1] * r)), int(round(shape[0] * r))
    dw, dh = new_shape[1] - new_unpad[0], new_shape[0] - new_unpad[1]
    if auto:
        dw, dh = np.mod(dw, stride), np.mod(dh, stride)
    dw /= 2
    dh /= 2
    img = resize_bilinear(img, *new_unpad)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    out = np.full((new_unpad[1] + top + bottom, new_unpad[0] + left + right, 3), color, np.uint8)
    out[top:top + new_unpad[1], left:left + new_unpad[0]] = img
    return out, (top, left)


def check_img_size(size, stride):
    return int(math.ceil(size / stride) * stride)


# ---- detection ------------------------------------------------------------------------------

def xywh2xyxy(x):
    y = x.clone()
    y[:, 0] = x[:, 0] - x[:, 2] / 2
    y[:, 1] = x[:, 1] - x[:, 3] / 2
    y[:, 2] = x[:, 0] + x[:, 2] / 2
    y[:, 3] = x[:, 1] + x[:, 3] / 2
    return y


def box_iou(box, boxes):
    """IoU of one (4,) box with (n, 4) boxes, xyxy."""
    lt = torch.maximum(box[:2], boxes[:, :2])
    rb = torch.minimum(box[2:], boxes[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area + areas - inter)


def nms(boxes, scores, iou_thres):
    """torchvision.ops.nms: greedy, highest score first, drop IoU > iou_thres. Indices kept."""
    order = scores.argsort(descending=True)
    keep = []
    while order.numel():
        i = order[0]
        keep.append(int(i))
        if order.numel() == 1:
            break
        rest = order[1:]
        order = rest[box_iou(boxes[i], boxes[rest]) <= iou_thres]
    return torch.tensor(keep, dtype=torch.long)


def non_max_suppression(pred, conf_thres=0.25, iou_thres=0.45, classes=None, agnostic=False,
                        max_det=1000):
    """YOLOv5's utils/general.py non_max_suppression (single label) for one image's (n, 5+nc)."""
    x = pred[pred[:, 4] > conf_thres].clone()
    if not x.shape[0]:
        return torch.zeros((0, 6))
    x[:, 5:] *= x[:, 4:5]
    box = xywh2xyxy(x[:, :4])
    conf, j = x[:, 5:].max(1, keepdim=True)
    x = torch.cat((box, conf, j.float()), 1)[conf.view(-1) > conf_thres]
    if classes is not None:
        x = x[(x[:, 5:6] == torch.tensor(classes, dtype=x.dtype)).any(1)]
    if not x.shape[0]:
        return torch.zeros((0, 6))
    x = x[x[:, 4].argsort(descending=True)[:MAX_NMS]]
    c = x[:, 5:6] * (0 if agnostic else MAX_WH)
    i = nms(x[:, :4] + c, x[:, 4], iou_thres)[:max_det]
    return x[i]


def scale_boxes(img1_shape, boxes, img0_shape):
    """YOLOv5's scale_boxes: letterboxed (h, w) -> original (h, w), clipped."""
    gain = min(img1_shape[0] / img0_shape[0], img1_shape[1] / img0_shape[1])
    pad = (img1_shape[1] - img0_shape[1] * gain) / 2, (img1_shape[0] - img0_shape[0] * gain) / 2
    boxes[:, [0, 2]] -= pad[0]
    boxes[:, [1, 3]] -= pad[1]
    boxes[:, :4] /= gain
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clamp(0, img0_shape[1])
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clamp(0, img0_shape[0])
    return boxes


def detect(model, meta, path, img_size=640, conf=0.25, iou=0.45, classes=None, agnostic=False,
           max_det=1000):
    """{"image", "width", "height", "detections": [...]} for one image, as spdinfer's JSON."""
    stride = int(max(meta["architecture"].get("stride") or [32]))
    img_size = check_img_size(img_size, stride)
    img0 = load_image(path)
    img, _ = letterbox(img0, img_size, stride=stride, auto=True)
    p = meta["preprocess"]
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() * p["scale"]
    x = (x - torch.tensor(p["mean"]).view(1, 3, 1, 1)) / torch.tensor(p["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        pred = model(x)[0][0]
    det = non_max_suppression(pred, conf, iou, classes, agnostic, max_det)
    det[:, :4] = scale_boxes(img.shape[:2], det[:, :4], img0.shape[:2])
    names = meta.get("class_names") or []
    dets = []
    for *xyxy, score, cls in det.tolist():
        c = int(cls)
        dets.append({"class_id": c, "class_name": names[c] if c < len(names) else f"class{c}",
                     "confidence": score, "box": xyxy})
    return {"image": str(path), "width": img0.shape[1], "height": img0.shape[0], "detections": dets}


# ---- classification -------------------------------------------------------------------------

def classifier_image(img, preprocess):
    """The preset's geometry on a uint8 RGB array: PIL bilinear (antialiased when shrinking,
    as torchvision's Resize on PIL images), `resize_crop` = shorter side then centre crop."""
    from PIL import Image
    th, tw = preprocess["input_size"]
    h, w = img.shape[:2]
    mode = preprocess.get("resize", "resize")
    pil = Image.fromarray(img)
    if mode == "resize":
        if (h, w) != (th, tw):
            pil = pil.resize((tw, th), Image.BILINEAR)
        return np.asarray(pil)
    if mode != "resize_crop":
        raise ValueError(f"classifier preprocessing {mode!r} is not covered by the reference")
    if th / h >= tw / w:
        nh, nw = th, max(tw, int(th * w / h))
    else:
        nw, nh = tw, max(th, int(tw * h / w))
    if (nh, nw) != (h, w):
        pil = pil.resize((nw, nh), Image.BILINEAR)
    a = np.asarray(pil)
    top, left = int(round((nh - th) / 2.0)), int(round((nw - tw) / 2.0))
    return a[top:top + th, left:left + tw]


def classifier_input(img, preprocess):
    """(1, 3, H, W) float32: (pixel * scale - mean) / std."""
    a = classifier_image(img, preprocess)
    x = torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() * preprocess["scale"]
    mean = torch.tensor(preprocess["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(preprocess["std"], dtype=torch.float32).view(1, 3, 1, 1)
    return (x - mean) / std


def classify(model, meta, path, topk=5):
    """{"image", "topk": [{"class_id", "class_name", "probability"}, ...]} for one image."""
    x = classifier_input(load_image(path), meta["preprocess"])
    with torch.no_grad():
        prob = torch.softmax(model(x)[0].double(), 0)
    names = meta.get("class_names") or []
    values, indices = prob.topk(min(topk, prob.numel()))
    return {"image": str(path), "topk": [
        {"class_id": int(i), "class_name": names[int(i)] if int(i) < len(names) else f"class{int(i)}",
         "probability": float(v)} for v, i in zip(values, indices)]}


# ---- CLI ------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(prog="reference_pipeline", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("detect")
    d.add_argument("model")
    d.add_argument("images", nargs="+")
    d.add_argument("--img", type=int, default=640)
    d.add_argument("--conf", type=float, default=0.25)
    d.add_argument("--iou", type=float, default=0.45)
    d.add_argument("--max-det", type=int, default=1000)
    d.add_argument("--classes", type=lambda s: [int(v) for v in s.split(",")])
    d.add_argument("--agnostic", action="store_true")
    c = sub.add_parser("classify")
    c.add_argument("model")
    c.add_argument("images", nargs="+")
    c.add_argument("--topk", type=int, default=5)
    args = ap.parse_args(argv)
    model, meta = load(args.model)
    for path in args.images:
        if args.command == "detect":
            out = detect(model, meta, path, args.img, args.conf, args.iou, args.classes, args.agnostic,
                         args.max_det)
        else:
            out = classify(model, meta, path, args.topk)
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
