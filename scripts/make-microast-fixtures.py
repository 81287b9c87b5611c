#!/usr/bin/env python3
"""Writes the MicroAST parity fixtures (tests/fixtures/microast-parity.{json,bin}) from the OFFICIAL network.

Runs `net_microAST.py` of the official repository (EndyWon/MicroAST, MIT) with its trained checkpoints on a small
photo and painting, and writes the inputs it was given and what it computed, all NHWC float32, so the TypeScript
network (src/models/microast.ts, tests/parity-microast.test.ts) is fed identical floats and compared with them.

usage: /usr/bin/python3 scripts/make-microast-fixtures.py OFFICIAL_CHECKOUT [--weights DIR] [--photos DIR]
  OFFICIAL_CHECKOUT  a checkout of the official repository (a `git archive` of it into /tmp; never commit it)
  --weights DIR      the four *_iter_160000.pth.tar files (default: OFFICIAL_CHECKOUT/models)
  --photos DIR       chicago.jpg and udnie.jpg (default: ../shared/fixtures/photos beside this repository)
Needs Debian's python3-torch and python3-pil. Nothing of the official repository is copied into this one.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'tests', 'fixtures')
# Content is neither square nor a multiple of 4 (the encoder's stride-2 convs round up: output 48 x 72); both have
# the same longest side, so a graph run at size 70 reads them from PNGs without resampling.
CONTENT_SIZE = (70, 46)  # PIL (width, height)
STYLE_SIZE = (70, 70)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('official')
    ap.add_argument('--weights')
    ap.add_argument('--photos', default=os.path.join(ROOT, '..', 'shared', 'fixtures', 'photos'))
    args = ap.parse_args()
    weights = args.weights or os.path.join(args.official, 'models')
    sys.path.insert(0, os.path.abspath(args.official))
    import net_microAST as net  # the official network definition

    torch.set_num_threads(1)
    content_encoder, style_encoder, modulator, decoder = net.Encoder(), net.Encoder(), net.Modulator(), net.Decoder()
    for module, name in [(content_encoder, 'content_encoder'), (style_encoder, 'style_encoder'), (modulator, 'modulator'), (decoder, 'decoder')]:
        module.load_state_dict(torch.load(os.path.join(weights, f'{name}_iter_160000.pth.tar'), map_location='cpu'))
        module.eval()
    network = net.TestNet(content_encoder, style_encoder, modulator, decoder).eval()

    def load(name, size):
        img = Image.open(os.path.join(args.photos, name)).convert('RGB').resize(size, Image.BILINEAR)
        return np.asarray(img, dtype=np.float32) / 255.0  # H, W, 3

    content_np = load('chicago.jpg', CONTENT_SIZE)
    style_np = load('udnie.jpg', STYLE_SIZE)
    to_torch = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]
    content, style = to_torch(content_np), to_torch(style_np)

    arrays = {'content': content_np[None], 'style': style_np[None]}
    nhwc = lambda t: t.detach().numpy().transpose(0, 2, 3, 1).astype(np.float32)
    with torch.no_grad():
        c = content_encoder(content)
        s = style_encoder(style)
        w, b = modulator(s)
        arrays.update({
            'content_level1': nhwc(c[0]), 'content_level2': nhwc(c[1]),
            'style_level1': nhwc(s[0]), 'style_level2': nhwc(s[1]),
            'weight1': nhwc(w[0]), 'bias1': nhwc(b[0]), 'weight2': nhwc(w[1]), 'bias2': nhwc(b[1]),
        })
        # The decoder's first half, as Decoder.forward does it at alpha 1: AdaIN on level 2, then dec1 modulated.
        x1 = net.featMod(c[1], s[1])
        arrays['dec1'] = nhwc(decoder.dec1(x1, w[1], b[1], filterMod=True))
        # alpha 0.5 as well: the official weights saturate there (trained at 1 only), which the floats still show.
        for alpha in (1.0, 0.5, 0.0):
            arrays[f'output_alpha{alpha:g}'] = nhwc(network(content, style, alpha))

    index, blobs, offset = {}, [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a, dtype='<f4')
        index[name] = {'shape': list(a.shape), 'offset': offset}
        blobs.append(a.tobytes())
        offset += a.size
    meta = {
        'source': 'EndyWon/MicroAST net_microAST.py (official), models/*_iter_160000.pth.tar; scripts/make-microast-fixtures.py',
        'torch': torch.__version__,
        'inputs': {'content': ['chicago.jpg', CONTENT_SIZE], 'style': ['udnie.jpg', STYLE_SIZE], 'resize': 'PIL bilinear, /255'},
        'arrays': index,
    }
    with open(os.path.join(OUT, 'microast-parity.bin'), 'wb') as f:
        f.write(b''.join(blobs))
    with open(os.path.join(OUT, 'microast-parity.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    print(f'wrote {offset} floats ({offset * 4} bytes) to tests/fixtures/microast-parity.bin')


if __name__ == '__main__':
    main()
