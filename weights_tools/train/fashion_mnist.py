"""Fashion-MNIST as Debian's dataset-fashion-mnist installs it: idx files, gzipped or not.

What it is: `read_idx` (one idx file as a uint8 array), `load_split` (a 'train' or 't10k' image
and label pair), the class names in label order and the default data folder. The classifier
trains on these items and synth_scenes pastes them into detection scenes.
What it is not: any preprocessing (padding, normalisation, augmentation stay with their scripts).
"""

import gzip
import os

import numpy as np

DEFAULT_DATA = '/usr/share/datasets/fashion-mnist'
CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
               'Ankle boot']


def read_idx(path):
    """An idx file (idx3-ubyte images or idx1-ubyte labels, gzip or not) as a uint8 array: header
    0, 0, 0x08, ndim, then ndim big-endian uint32 sizes. ValueError for anything else."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f'{path}: not an unsigned-byte idx file')
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f'{path}: truncated idx header')
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f'{path}: {body.size} bytes of data, dimensions {dims} need {int(np.prod(dims))}')
    return body.reshape(dims)


def load_split(data_dir, split):
    """(images uint8 [N, 28, 28], labels int64 [N]) of 'train' or 't10k'."""
    def find(kind):
        for suffix in ('.gz', ''):
            path = os.path.join(data_dir, f'{split}-{kind}-ubyte{suffix}')
            if os.path.exists(path):
                return path
        raise FileNotFoundError(f'{data_dir}: no {split}-{kind}-ubyte[.gz] (apt-get install dataset-fashion-mnist)')
    images = read_idx(find('images-idx3'))
    labels = read_idx(find('labels-idx1')).astype(np.int64)
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(f'{data_dir}: {split} images {images.shape} and labels {labels.shape} do not match')
    return images, labels
