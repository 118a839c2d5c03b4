"""One image's detections as a JSON line with the fields and rounding of `spdinfer detect --json`
(apps/cmd_detect.cpp), so that a batch job's output and the command's compare field by field.

What it is: image, width, height and detections (class_id, class_name, confidence to 6
significant digits, box x1, y1, x2, y2 to 2 decimals), keys sorted and no spaces as the command
writes them; or, for an image that could not be read, image and error. What it is not: the
command's "ms" timings, which the engine measures inside the command and the module does not see.
"""

import json


def _round_significant(value, digits):
    return float(f"{value:.{digits}g}")


def _round_decimals(value, decimals):
    return float(f"{value:.{decimals}f}")


def _valid_text(path):
    """A path as text that encodes to UTF-8: undecodable bytes become U+FFFD, as the command's
    JSON writer replaces them."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _class_name(names, class_id):
    return names[class_id] if 0 <= class_id < len(names) else f"class{class_id}"


def _line(record):
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def detection_line(path, result):
    """The JSON line of one image: `path` as the job was given it, `result` a spdinfer.Detections."""
    names = result.names
    detections = []
    for x1, y1, x2, y2, confidence, class_id in result.xyxy.tolist():
        detections.append({
            "class_id": int(class_id),
            "class_name": _class_name(names, int(class_id)),
            "confidence": _round_significant(confidence, 6),
            "box": [_round_decimals(v, 2) for v in (x1, y1, x2, y2)],
        })
    return _line({"image": _valid_text(path), "width": result.width, "height": result.height,
                  "detections": detections})


def error_line(path, message):
    """The JSON line of an image the engine refused (unreadable, truncated, not an image)."""
    return _line({"image": _valid_text(path), "error": message})
