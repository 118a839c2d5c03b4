"""Writes the EXIF orientation cases tests/image/test_image_bad_input.cpp compares against PIL:
for each orientation 1-8, oN.jpg (a 24x16 picture with an EXIF orientation tag, quality 100,
no chroma subsampling) and oN.rgb (PIL's ImageOps.exif_transpose of it: a "W H" line, then the
RGB bytes). Usage: make_exif_cases.py DIR. Needs Pillow.
"""

import sys
from pathlib import Path

from PIL import Image, ImageOps

ORIENTATION_TAG = 0x0112


def picture():
    """Asymmetric in both axes, so each of the 8 orientations gives a different image."""
    img = Image.new("RGB", (24, 16))
    for y in range(16):
        for x in range(24):
            img.putpixel((x, y), (x * 10, y * 15, 200 if (x < 6 and y < 4) else 40))
    return img


def main(out):
    out = Path(out)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = orientation
        jpg = out / f"o{orientation}.jpg"
        picture().save(jpg, quality=100, subsampling=0, exif=exif.tobytes())
        upright = ImageOps.exif_transpose(Image.open(jpg)).convert("RGB")
        (out / f"o{orientation}.rgb").write_bytes(f"{upright.width} {upright.height}\n".encode() + upright.tobytes())


if __name__ == "__main__":
    main(sys.argv[1])
