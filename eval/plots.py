"""The figures `spdinfer val --plots` and `spdinfer bench --per-layer --plot` draw, from the data
the C++ side computed (it does every number; this file only draws):

  plots.py val CURVES.json OUTDIR    YOLOv5 val.py's PR_curve.png, F1_curve.png, P_curve.png,
                                     R_curve.png and confusion_matrix.png in OUTDIR
  plots.py layers LAYERS.json FILE   a horizontal bar chart of the slowest nodes
  plots.py check                     exit 0 when everything needed is there (before a long run)

The spdinfer binary carries this file (CMake embeds it) and runs it with `python3 -c`, so an
installed binary needs no path to it; it needs Python 3 and matplotlib (Debian:
python3-matplotlib) and nothing else. Errors: one line on stderr and exit status 2.
"""

import json
import os
import sys

MISSING_MATPLOTLIB = 3  # exit status the spdinfer binary turns into "needs matplotlib"


def fail(message, status=2):
    print(message, file=sys.stderr)
    sys.exit(status)


try:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
except ImportError as e:
    fail(f'{e}', MISSING_MATPLOTLIB)

DPI = 200
MAX_CLASSES_IN_LEGEND = 20  # as YOLOv5: beyond that the per-class lines are grey and unnamed


def mean_curve(curves):
    return [sum(column) / len(curves) for column in zip(*curves)]


def smooth(y, fraction=0.05):
    """YOLOv5's box filter over 5% of the points (utils/metrics.py, smooth)."""
    half = round(len(y) * fraction * 2) // 2 // 2
    padded = [y[0]] * half + list(y) + [y[-1]] * half
    width = 2 * half + 1
    return [sum(padded[i:i + width]) / width for i in range(len(y))]


def class_lines(ax, x, curves, names, label_of):
    named = len(names) <= MAX_CLASSES_IN_LEGEND
    for name, y in zip(names, curves):
        if named:
            ax.plot(x, y, linewidth=1, label=label_of(name, y))
        else:
            ax.plot(x, y, linewidth=1, color='grey')


def finish(fig, ax, xlabel, ylabel, title, path):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(bbox_to_anchor=(1.04, 1), loc='upper left')
    ax.set_title(title)
    fig.savefig(path, dpi=DPI, bbox_inches='tight')
    plt.close(fig)


def pr_curve(data, shown, path):
    names = [data['classes'][c] for c in shown]
    curves = [data['precision'][c] for c in shown]
    aps = {data['classes'][c]: data['ap50'][c] for c in shown}
    fig, ax = plt.subplots(1, 1, figsize=(9, 6), tight_layout=True)
    class_lines(ax, data['recall'], curves, names, lambda name, _: f'{name} {aps[name]:.3f}')
    ax.plot(data['recall'], mean_curve(curves), linewidth=3, color='blue',
            label=f'all classes {data["map50"]:.3f} mAP@0.5')
    finish(fig, ax, 'Recall', 'Precision', 'Precision-Recall Curve', path)


def confidence_curve(data, shown, key, ylabel, path):
    x = data['confidence']
    names = [data['classes'][c] for c in shown]
    curves = [data[key][c] for c in shown]
    fig, ax = plt.subplots(1, 1, figsize=(9, 6), tight_layout=True)
    class_lines(ax, x, curves, names, lambda name, _: name)
    y = smooth(mean_curve(curves))
    best = max(range(len(y)), key=lambda i: y[i])
    ax.plot(x, y, linewidth=3, color='blue', label=f'all classes {y[best]:.2f} at {x[best]:.3f}')
    finish(fig, ax, 'Confidence', ylabel, f'{ylabel}-Confidence Curve', path)


def confusion_matrix(data, path):
    matrix = data['confusion']['counts']  # [detected][true], background last
    labels = list(data['classes']) + ['background']
    n = len(labels)
    # Each true class's column as shares of its objects (YOLOv5's normalisation); shares under
    # 0.005 left blank.
    totals = [sum(matrix[r][c] for r in range(n)) for c in range(n)]
    shares = [[matrix[r][c] / totals[c] if totals[c] and matrix[r][c] / totals[c] >= 0.005 else float('nan')
               for c in range(n)] for r in range(n)]
    fig, ax = plt.subplots(1, 1, figsize=(12, 9), tight_layout=True)
    image = ax.imshow(shares, cmap='Blues', vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if n < 30:
        for r in range(n):
            for c in range(n):
                if shares[r][c] == shares[r][c]:  # not NaN
                    ax.text(c, r, f'{shares[r][c]:.2f}', ha='center', va='center', fontsize=8,
                            color='white' if shares[r][c] > 0.5 else 'black')
    ticks = range(n) if n < 30 else []
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    if n < 30:
        ax.set_xticklabels(labels, rotation=90)
        ax.set_yticklabels(labels)
    ax.set_xlabel('True')
    ax.set_ylabel('Predicted')
    conf = data['confusion']
    ax.set_title(f'Confusion Matrix (conf > {conf["conf"]:g}, IoU > {conf["iou"]:g})')
    fig.savefig(path, dpi=DPI, bbox_inches='tight')
    plt.close(fig)


def val_figures(data, outdir):
    shown = [c for c, n in enumerate(data['objects']) if n > 0]
    if not shown:
        fail(f'{outdir}: no labelled objects in the split: nothing to plot')
    pr_curve(data, shown, os.path.join(outdir, 'PR_curve.png'))
    for key, ylabel, name in (('f1', 'F1', 'F1_curve.png'), ('p', 'Precision', 'P_curve.png'),
                              ('r', 'Recall', 'R_curve.png')):
        confidence_curve(data, shown, key, ylabel, os.path.join(outdir, name))
    confusion_matrix(data, os.path.join(outdir, 'confusion_matrix.png'))


def layer_chart(data, path):
    nodes = data['nodes']  # slowest first
    if not nodes:
        fail(f'{path}: no timed nodes to plot')
    labels = [f'{n["name"]}  {n["op"]} ({n["method"]})' if n['method'] else f'{n["name"]}  {n["op"]}'
              for n in nodes]
    ms = [n['ms'] for n in nodes]
    fig, ax = plt.subplots(1, 1, figsize=(10, 0.32 * len(nodes) + 1.5), tight_layout=True)
    bars = ax.barh(range(len(nodes)), ms, color='tab:blue')
    ax.invert_yaxis()
    ax.set_yticks(range(len(nodes)))
    ax.set_yticklabels(labels, fontsize=8)
    for bar, n in zip(bars, nodes):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f' {100 * n["share"]:.1f}%', va='center',
                fontsize=7)
    ax.set_xlim(0, max(ms) * 1.15 if max(ms) > 0 else 1)
    ax.set_xlabel('ms per run')
    ax.set_title(data['title'], fontsize=10)
    fig.savefig(path, dpi=DPI, bbox_inches='tight')
    plt.close(fig)


def main(argv):
    if argv == ['check']:
        return
    if len(argv) != 3 or argv[0] not in ('val', 'layers'):
        fail('usage: plots.py val CURVES.json OUTDIR | plots.py layers LAYERS.json FILE.png')
    kind, data_path, out = argv
    try:
        with open(data_path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        fail(f'{data_path}: cannot read: {e}')
    try:
        (val_figures if kind == 'val' else layer_chart)(data, out)
    except OSError as e:
        fail(f'{e.filename or out}: cannot write: {e.strerror}')


if __name__ == '__main__':
    main(sys.argv[1:])
