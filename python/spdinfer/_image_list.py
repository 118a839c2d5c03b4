"""The list of images a batch job runs over, expanded as `spdinfer detect` expands its arguments.

What it is: files, directories (their .jpg/.jpeg/.png/.bmp files, sorted) and glob patterns
(sorted matches) in the order given, plus manifests (one path per line). The order is the job's
order: partitions are slices of it, so it must come out the same on every run over the same files.
What it is not: a reader of the images (workers read them), nor a deduplicator (an image given
twice is detected twice, as the command does).
"""

import glob
import os

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
_GLOB_CHARACTERS = "*?["


class ImageListError(ValueError):
    """An argument or manifest that names no usable image; the message names it."""


def has_image_extension(path):
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def _image_files(candidates, note):
    """The candidates that are image files; other files are noted, directories left out."""
    files = []
    for path in candidates:
        if os.path.isdir(path):
            continue
        if has_image_extension(path):
            files.append(path)
        else:
            note(f"skipping {path} (not a .jpg, .jpeg, .png or .bmp file)")
    return files


def expand_argument(arg, note):
    """One command-line argument: a file, a directory or a glob pattern -> image paths."""
    if os.path.isdir(arg):
        try:
            entries = sorted(os.path.join(arg, name) for name in os.listdir(arg))
        except OSError as e:
            raise ImageListError(f"{arg}: cannot list: {e.strerror}") from None
        files = _image_files([p for p in entries if os.path.isfile(p)], note)
        if not files:
            raise ImageListError(f"{arg}: directory has no .jpg, .jpeg, .png or .bmp files")
        return files
    if os.path.exists(arg):
        return [arg]
    if any(c in arg for c in _GLOB_CHARACTERS):
        matches = sorted(glob.glob(arg))
        if not matches:
            raise ImageListError(f"{arg}: no files match this pattern")
        files = _image_files(matches, note)
        if not files:
            raise ImageListError(f"{arg}: no .jpg, .jpeg, .png or .bmp files match this pattern")
        return files
    raise ImageListError(f"{arg}: no such file or directory")


def read_manifest(manifest):
    """A manifest: one image path per line; blank lines and lines starting with # are left out.
    A relative path is relative to the manifest's folder, so a manifest moves with its images."""
    if not os.path.isfile(manifest):
        raise ImageListError(f"{manifest}: no such file (expected a manifest, one image path per line)")
    try:
        with open(manifest, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ImageListError(f"{manifest}: cannot read: {e.strerror}") from None
    folder = os.path.dirname(manifest)
    paths = []
    for number, line in enumerate(lines, 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = os.path.join(folder, entry)
        if not has_image_extension(path):
            raise ImageListError(f"{manifest}:{number}: {entry}: not a .jpg, .jpeg, .png or .bmp file")
        paths.append(path)
    if not paths:
        raise ImageListError(f"{manifest}: lists no images")
    return paths


def expand_images(arguments=(), manifests=(), note=lambda message: None):
    """Every image of the arguments, then of the manifests, in order. `note` gets a line for each
    file left out because it is not an image."""
    paths = []
    for arg in arguments:
        paths.extend(expand_argument(os.fspath(arg), note))
    for manifest in manifests:
        paths.extend(read_manifest(os.fspath(manifest)))
    if not paths:
        raise ImageListError("no images given")
    return paths
