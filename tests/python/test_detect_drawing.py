"""End-to-end tests of the images `spdinfer detect --out` draws: the drawing options
(--line-thickness, --hide-labels, --hide-conf), labels inside the image, text that grows with
the photo, and UTF-8 class names drawn as themselves.

What it is: a tiny random YOLOv5 model (tests/python/helpers.py) renamed to non-ASCII classes, on
flat grey PNGs, so every pixel the drawing changes is known, with --max-det 1 for one box whose
place comes from --json. Expectations are geometric ("a 5 px line", "nothing drawn outside the
box's lines", "taller text") rather than a stored screenshot.
What it is not: a test of the rasteriser's pixels (tests/detect/test_draw.cpp covers glyphs,
invalid UTF-8, placement at every edge and stacking).
"""

import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from tests.python.cli_support import CliErrorAssertions, cli, convert, run

GREY = 128


def tiny_model(directory, names):
    """helpers.make_tiny_yolov5_model(5) with class names NAMES, converted; its path."""
    import torch
    from tests.python.helpers import make_tiny_yolov5_model
    model = make_tiny_yolov5_model(5)
    model.names = dict(enumerate(names))
    stem = f"tiny{abs(hash(tuple(names)))}"
    torch.save({"model": model, "ema": None}, directory / f"{stem}.pt")
    return convert(directory / f"{stem}.pt", directory / f"{stem}.safetensors")


class DrawingTest(CliErrorAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from PIL import Image
        cls.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-draw-")
        d = cls.dir = Path(cls.tmp.name)
        cls.model = tiny_model(d, ["caf\u00e9", "\u00e9t\u00e9"])
        cls.ascii_model = tiny_model(d, ["caf?", "?t?"])
        cls.small, cls.large = d / "grey640.png", d / "grey4000.png"
        Image.new("RGB", (640, 480), (GREY,) * 3).save(cls.small)
        Image.new("RGB", (4000, 3000), (GREY,) * 3).save(cls.large)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def draw(self, image, *args, model=None):
        """(the detection drawn, the drawn image as an HxWx3 array, mask of changed pixels)."""
        from PIL import Image
        out = Path(tempfile.mkdtemp(dir=self.dir))
        done = run(cli(), "detect", model or self.model, image, "--img", "128", "--conf", "0.01",
                   "--max-det", "1", "--json", "--out", out, *args)
        self.assertEqual(done.returncode, 0, done.stderr)
        [det] = json.loads(done.stdout)["detections"]
        drawn = np.asarray(Image.open(out / image.name).convert("RGB")).astype(int)
        return det, drawn, (drawn != GREY).any(axis=2)

    def box_lines(self, shape, det, lw):
        """Mask of the box outline: lw pixels centred on each edge, as draw_box draws it."""
        x1, y1, x2, y2 = (int(v) for v in det["box"])
        before, after = lw // 2, lw - lw // 2
        mask = np.zeros(shape, bool)
        mask[max(y1 - before, 0):y1 + after, max(x1 - before, 0):x2 + after] = True
        mask[max(y2 - before, 0):y2 + after, max(x1 - before, 0):x2 + after] = True
        mask[max(y1 - before, 0):y2 + after, max(x1 - before, 0):x1 + after] = True
        mask[max(y1 - before, 0):y2 + after, max(x2 - before, 0):x2 + after] = True
        return mask

    def test_line_thickness_gives_lines_that_wide(self):
        det, _, changed = self.draw(self.small, "--line-thickness", "5", "--hide-labels")
        x2 = int(det["box"][2])
        row = changed[int((det["box"][1] + det["box"][3]) / 2)]
        self.assertEqual(row[x2 - 10:x2 + 10].sum(), 5, "the right edge, across")

    def test_hide_labels_draws_only_the_box(self):
        det, _, changed = self.draw(self.small, "--hide-labels")
        lines = self.box_lines(changed.shape, det, 2)  # YOLOv5's width for 640x480
        self.assertFalse((changed & ~lines).any(), "pixels drawn off the box's lines")
        self.assertTrue((changed & lines).any())
        _, _, labelled = self.draw(self.small)
        self.assertGreater((labelled & ~lines).sum(), 100, "a label, without --hide-labels")

    def test_hide_conf_gives_a_narrower_label(self):
        det, _, with_conf = self.draw(self.small)
        _, _, without = self.draw(self.small, "--hide-conf")
        lines = self.box_lines(with_conf.shape, det, 2)
        self.assertLess((without & ~lines).sum(), (with_conf & ~lines).sum())
        label_row = int(det["box"][1]) + 3  # a row through the label, under the top line
        self.assertLess(np.flatnonzero(without[label_row] & ~lines[label_row]).max(),
                        np.flatnonzero(with_conf[label_row] & ~lines[label_row]).max())

    def test_labels_stay_inside_and_hold_text(self):
        # The box touches the left edge and its top is too near the image's for a label above:
        # the label starts at column 0 inside the box, whole, with text (neither grey nor fill).
        det, drawn, changed = self.draw(self.small)
        self.assertEqual(int(det["box"][0]), 0)
        fill = drawn[int(det["box"][1]) + 2, 3]
        label_rows = changed[:, 3].nonzero()[0]
        top, bottom = int(det["box"][1]), label_rows[label_rows < det["box"][3] - 3].max() + 1
        label = drawn[top:bottom, :]
        ink = (label != fill).any(axis=2) & (label != GREY).any(axis=2)
        self.assertGreater(ink.sum(), 50, "text inside the label")

    def test_text_grows_with_the_photo(self):
        def label_height(image):
            det, _, changed = self.draw(image, "--hide-conf")
            x1, y1, _, y2 = (int(v) for v in det["box"])
            column = changed[y1:y2, x1 + 8]  # inside the label, right of the left line (<= 5 px)
            return int(np.flatnonzero(~column)[0])  # drawn rows from the top line down
        small, large = label_height(self.small), label_height(self.large)
        self.assertGreaterEqual(small, 12)
        self.assertGreater(large, 3 * small)

    def test_utf8_names_are_drawn_not_replaced(self):
        _, drawn, _ = self.draw(self.small)
        _, ascii_drawn, _ = self.draw(self.small, model=self.ascii_model)
        self.assertFalse(np.array_equal(drawn, ascii_drawn), "'caf\u00e9' drawn as 'caf?'")

    def test_bad_line_thickness(self):
        done = run(cli(), "detect", self.model, self.small, "--line-thickness", "-1")
        self.assertOneLineError(done, "--line-thickness")


if __name__ == "__main__":
    unittest.main()
