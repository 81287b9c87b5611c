#!/usr/bin/env python3
"""Writes the fast style networks' parity fixtures (tests/fixtures/fast-style-parity.json).

An independent reference for src/models/fast-style.ts, written from ml5's forward pass (ml5-library
src/StyleTransfer/index.js) in PyTorch, NCHW, with its own padding arithmetic:

  x (pixels 0..255) -> conv 9x9/1 32 -> conv 3x3/2 64 -> conv 3x3/2 128 -> 5 x [conv 3x3 128, relu, conv 3x3 128, + x]
    -> transposed conv 3x3/2 64 -> transposed conv 3x3/2 32 -> conv 9x9/1 3 -> 150 tanh + 255/2, clip 0..255, / 255

Every conv: no bias, then instance norm  scale * (y - mean) / sqrt(var + 1e-3) + shift  (biased variance over H, W;
shift is Variable_{id+1}, scale Variable_{id+2}), then relu except a residual block's second conv and the last.
TensorFlow's 'same' padding: out = ceil(in / stride), pad = max((out - 1) * stride + k - in, 0), floor(pad / 2)
before and the rest after. A 'same' transposed conv of stride 2 to twice the input's size: torch's
conv_transpose2d with no padding gives 2n + 1 rows (input i lands on 2i + t, t = 0..2); the 'same' forward conv it
is the transpose of pads 0 before, so the first 2n rows are kept.

The input is a fixture photo (chicago.jpg) resized with PIL to 64 x 43 (odd, so the stride-2 convs pad 1 before and
1 after, and the output is 64 x 44, rounded to multiples of 4 as ml5's is), stored as the exact 0..255 integers the
test feeds to the network. The expected outputs (NHWC, [0, 1], uncropped) are rounded to 1e-5.

usage: /usr/bin/python3 scripts/make-fast-style-fixtures.py [FIXTURES]   (FIXTURES: ../shared/fixtures by default)
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
FIXTURES = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '..', 'shared', 'fixtures')
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'fast-style-parity.json')
NETWORKS = ['wave', 'udnie']
WIDTH, HEIGHT = 64, 43
torch.set_num_threads(1)


def load(folder):
    """The deeplearn.js checkpoint: manifest.json and one raw little-endian float32 file per variable."""
    with open(os.path.join(folder, 'manifest.json')) as f:
        manifest = json.load(f)
    out = {}
    for name, e in manifest.items():
        data = np.fromfile(os.path.join(folder, e['filename']), dtype='<f4')
        out[name] = torch.from_numpy(data.reshape(e['shape']).astype(np.float32))
    return out


def var(v, i):
    return v['Variable' if i == 0 else f'Variable_{i}']


def same_pad(n, k, s):
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv(x, w, stride):
    """TF kernel [kh, kw, in, out] -> torch [out, in, kh, kw]; TF 'same' padding made explicit."""
    k = w.shape[0]
    top, bottom = same_pad(x.shape[2], k, stride)
    left, right = same_pad(x.shape[3], k, stride)
    x = F.pad(x, (left, right, top, bottom))
    return F.conv2d(x, w.permute(3, 2, 0, 1), stride=stride)


def conv_transpose(x, w):
    """TF transposed-conv kernel [kh, kw, out, in] -> torch's conv_transpose2d weight [in, out, kh, kw]."""
    n, m = x.shape[2], x.shape[3]
    y = F.conv_transpose2d(x, w.permute(3, 2, 0, 1), stride=2)
    return y[:, :, : 2 * n, : 2 * m]


def instance_norm(x, v, i):
    mean = x.mean(dim=(2, 3), keepdim=True)
    var_ = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True)
    shift, scale = var(v, i).view(1, -1, 1, 1), var(v, i + 1).view(1, -1, 1, 1)
    return scale * (x - mean) / torch.sqrt(var_ + 1e-3) + shift


def layer(x, v, i, stride, relu):
    y = instance_norm(conv(x, var(v, i), stride), v, i + 1)
    return F.relu(y) if relu else y


def network(image, v):
    """image: [1, 3, H, W] in 0..255."""
    x = layer(image, v, 0, 1, True)
    x = layer(x, v, 3, 2, True)
    x = layer(x, v, 6, 2, True)
    for r in range(5):
        i = 9 + 6 * r
        x = x + layer(layer(x, v, i, 1, True), v, i + 3, 1, False)
    for i in (39, 42):
        x = F.relu(instance_norm(conv_transpose(x, var(v, i)), v, i + 1))
    x = layer(x, v, 45, 1, False)
    return torch.clamp(150 * torch.tanh(x) + 255 / 2, 0, 255) / 255


def main():
    photo = Image.open(os.path.join(FIXTURES, 'photos', 'chicago.jpg')).convert('RGB').resize((WIDTH, HEIGHT), Image.BICUBIC)
    pixels = np.asarray(photo, dtype=np.uint8)  # [H, W, 3]
    image = torch.from_numpy(pixels.astype(np.float64)).permute(2, 0, 1).unsqueeze(0)
    fixture = {'input': {'shape': [1, HEIGHT, WIDTH, 3], 'data': [int(p) for p in pixels.reshape(-1)]}}
    for name in NETWORKS:
        v = {k: t.double() for k, t in load(os.path.join(FIXTURES, f'fast-style-{name}')).items()}
        with torch.no_grad():
            out = network(image, v)
        a = out.permute(0, 2, 3, 1).numpy()
        fixture[name] = {'shape': list(a.shape), 'data': [round(float(x), 5) for x in a.reshape(-1)]}
        print(f'{name}: output {list(a.shape)}, mean {a.mean():.4f}, std {a.std():.4f}')
    with open(OUT, 'w') as f:
        json.dump(fixture, f, separators=(',', ':'))
    print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes)')


if __name__ == '__main__':
    main()
