"""COCO box AP in NumPy, written from the COCO evaluation's definition, to check `spdinfer val`.

What it is: an independent implementation of what pycocotools' COCOeval computes for bounding
boxes (evaluate one image and class -> accumulate over images -> summarise), in that program's
structure and vocabulary: per image and category, detections sorted by score and cut to maxDets,
ground truth outside the area range sorted last and marked ignore, greedy matching per IoU
threshold, unmatched detections outside the area range ignored; then per category the
detections of all images merged by score (mergesort, stable), cumulative TP/FP, precision made
monotone, sampled at 101 recall thresholds with searchsorted; summaries average the precision
array over the entries that are not -1. Areas are box areas in image pixels; there are no crowd
objects. Ground truth comes from YOLO label files (class cx cy w h, normalised).
What it is not: a translation of eval/detection_metrics.cpp (it shares no code or structure
with it), nor pycocotools itself (not packaged in Debian).
"""

import numpy as np

IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
AREA_RNG = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
AREA_LBL = ['all', 'small', 'medium', 'large']


def yolo_labels(path, width, height):
    """[(category, [x1, y1, x2, y2])] of a YOLO label file; a missing file has no objects."""
    try:
        with open(path) as f:
            lines = [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return []
    out = []
    for c, cx, cy, w, h in ((int(float(v[0])), *map(float, v[1:])) for v in lines):
        out.append((c, [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]))
    return out


def box_area(b):
    b = np.asarray(b, np.float64).reshape(-1, 4)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(dt, gt):
    """IoU matrix (len(dt), len(gt)) of corner boxes [x1, y1, x2, y2]; 0 where the union is empty."""
    d = np.asarray(dt, np.float64).reshape(-1, 1, 4)
    g = np.asarray(gt, np.float64).reshape(1, -1, 4)
    iw = np.minimum(d[..., 2], g[..., 2]) - np.maximum(d[..., 0], g[..., 0])
    ih = np.minimum(d[..., 3], g[..., 3]) - np.maximum(d[..., 1], g[..., 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = box_area(dt)[:, None] + box_area(gt)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


class COCOEvalBoxes:
    """cocoGt/cocoDt as plain lists: images = [{'gt': [(cat, box)], 'dt': [(cat, score, box)]}]."""

    def __init__(self, images, num_categories, max_dets=100):
        self.images, self.cat_ids, self.max_det = images, list(range(num_categories)), max_dets

    def evaluate_img(self, img, cat, a_rng):
        gt = [b for c, b in img['gt'] if c == cat]
        dt = [(s, b) for c, s, b in img['dt'] if c == cat]
        if not gt and not dt:
            return None
        g_area = box_area(gt) if gt else np.zeros(0)
        g_ig = ((g_area < a_rng[0]) | (g_area > a_rng[1])).astype(int)
        gtind = np.argsort(g_ig, kind='mergesort')
        gt = [gt[i] for i in gtind]
        g_ig = g_ig[gtind]
        dtind = np.argsort([-s for s, _ in dt], kind='mergesort')
        dt = [dt[i] for i in dtind[0:self.max_det]]
        iou = box_iou([b for _, b in dt], gt) if gt and dt else np.zeros((len(dt), len(gt)))
        T, G, D = len(IOU_THRS), len(gt), len(dt)
        gtm, dtm, dt_ig = np.zeros((T, G)), np.zeros((T, D)), np.zeros((T, D))
        for tind, t in enumerate(IOU_THRS):
            for dind in range(D):
                best, m = min([t, 1 - 1e-10]), -1
                for gind in range(G):
                    if gtm[tind, gind] > 0:
                        continue
                    if m > -1 and g_ig[m] == 0 and g_ig[gind] == 1:
                        break
                    if iou[dind, gind] < best:
                        continue
                    best, m = iou[dind, gind], gind
                if m == -1:
                    continue
                dt_ig[tind, dind] = g_ig[m]
                dtm[tind, dind] = dind + 1
                gtm[tind, m] = dind + 1
        d_area = box_area([b for _, b in dt]) if dt else np.zeros(0)
        outside = ((d_area < a_rng[0]) | (d_area > a_rng[1])).reshape(1, D)
        dt_ig = np.logical_or(dt_ig, np.logical_and(dtm == 0, np.repeat(outside, T, 0)))
        return {'dtScores': [s for s, _ in dt], 'dtMatches': dtm, 'dtIgnore': dt_ig, 'gtIgnore': g_ig}

    def accumulate(self):
        """precision[T, R, K, A], -1 where a category has no object in the area range."""
        T, R, K, A = len(IOU_THRS), len(REC_THRS), len(self.cat_ids), len(AREA_RNG)
        precision = -np.ones((T, R, K, A))
        for k, cat in enumerate(self.cat_ids):
            for a, a_rng in enumerate(AREA_RNG):
                E = [self.evaluate_img(img, cat, a_rng) for img in self.images]
                E = [e for e in E if e is not None]
                if not E:
                    continue
                scores = np.concatenate([e['dtScores'][0:self.max_det] for e in E])
                inds = np.argsort(-scores, kind='mergesort')
                dtm = np.concatenate([e['dtMatches'][:, 0:self.max_det] for e in E], axis=1)[:, inds]
                dt_ig = np.concatenate([e['dtIgnore'][:, 0:self.max_det] for e in E], axis=1)[:, inds]
                gt_ig = np.concatenate([e['gtIgnore'] for e in E])
                npig = np.count_nonzero(gt_ig == 0)
                if npig == 0:
                    continue
                tps = np.logical_and(dtm, np.logical_not(dt_ig))
                fps = np.logical_and(np.logical_not(dtm), np.logical_not(dt_ig))
                tp_sum = np.cumsum(tps, axis=1).astype(dtype=float)
                fp_sum = np.cumsum(fps, axis=1).astype(dtype=float)
                for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                    nd = len(tp)
                    rc = tp / npig
                    pr = (tp / (fp + tp + np.spacing(1))).tolist()
                    q = np.zeros((R,))
                    for i in range(nd - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    for ri, pi in enumerate(np.searchsorted(rc, REC_THRS, side='left')):
                        if pi < nd:
                            q[ri] = pr[pi]
                    precision[t, :, k, a] = q
        return precision


def summarize(precision):
    """The COCO summary numbers (None where nothing was measured) and per-category AP."""
    def mean(s):
        s = s[s > -1]
        return float(np.mean(s)) if s.size else None
    out = {'map50': mean(precision[0, :, :, 0]), 'map75': mean(precision[5, :, :, 0]),
           'map50_95': mean(precision[:, :, :, 0])}
    for a, label in enumerate(AREA_LBL[1:], start=1):
        out[f'ap_{label}'] = mean(precision[:, :, :, a])
    out['per_class'] = [{'ap50': mean(precision[0, :, k, 0]), 'ap50_95': mean(precision[:, :, k, 0])}
                        for k in range(precision.shape[2])]
    return out


def evaluate_predictions(predictions):
    """Summary for a `spdinfer val --predictions` file's contents (ground truth read from the
    label files it names)."""
    images = []
    for p in predictions['images']:
        gt = yolo_labels(p['labels'], p['width'], p['height'])
        dt = [(int(c), s, [x1, y1, x2, y2]) for c, s, x1, y1, x2, y2 in p['detections']]
        images.append({'gt': gt, 'dt': dt})
    ev = COCOEvalBoxes(images, predictions['classes'], predictions['max_dets_per_class'])
    return summarize(ev.accumulate())
