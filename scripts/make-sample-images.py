#!/usr/bin/env python3
"""Writes the bundled sample images into presets/images/.

Photos come from Debian's python3-skimage package (skimage/data), whose licences are stated in
skimage/data/_fetchers.py and recorded in NOTICE. The painterly style images are generated here
from a fixed seed, so they are ours to redistribute.

usage: /usr/bin/python3 scripts/make-sample-images.py SKIMAGE_DATA_DIR
  (apt-get download python3-skimage && dpkg-deb -x python3-skimage_*.deb x, then
   SKIMAGE_DATA_DIR is x/usr/lib/python3/dist-packages/skimage/data)
"""
import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

OUT = os.path.join(os.path.dirname(__file__), '..', 'presets', 'images')
SIZE = 384


def save(img, name):
    img = img.convert('RGB')
    img.thumbnail((SIZE, SIZE), Image.LANCZOS)
    path = os.path.join(OUT, name)
    img.save(path, quality=88, optimize=True)
    print(f'{path}: {img.size[0]}x{img.size[1]}, {os.path.getsize(path)} bytes')


def brush_strokes(seed, palette, n=2600):
    """Short curved strokes following a swirling flow field: an impressionist texture."""
    rng = np.random.default_rng(seed)
    img = Image.new('RGB', (SIZE, SIZE), palette[0])
    draw = ImageDraw.Draw(img)
    for _ in range(n):
        x, y = rng.uniform(0, SIZE, 2)
        colour = tuple(int(c + rng.normal(0, 14)) for c in palette[rng.integers(len(palette))])
        width = int(rng.integers(3, 8))
        pts = [(x, y)]
        for _ in range(int(rng.integers(4, 10))):
            angle = math.sin(x / 41.0) * 2.1 + math.cos(y / 53.0) * 1.7
            x += 4 * math.cos(angle)
            y += 4 * math.sin(angle)
            pts.append((x, y))
        draw.line(pts, fill=colour, width=width, joint='curve')
    return img.filter(ImageFilter.SMOOTH)


def mosaic(seed, palette, cells=180):
    """Voronoi tiles with dark grout: a stained-glass texture."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, SIZE, (cells, 2))
    colours = np.array([palette[i] for i in rng.integers(len(palette), size=cells)], dtype=float)
    colours += rng.normal(0, 12, colours.shape)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    d = (xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2
    order = np.argsort(d, axis=-1)
    nearest, second = order[..., 0], order[..., 1]
    d1 = np.sqrt(np.take_along_axis(d, nearest[..., None], -1)[..., 0])
    d2 = np.sqrt(np.take_along_axis(d, second[..., None], -1)[..., 0])
    rgb = colours[nearest]
    rgb[(d2 - d1) < 2.5] = (30, 24, 20)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def main():
    data = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    save(Image.open(os.path.join(data, 'astronaut.png')), 'astronaut.jpg')
    save(Image.open(os.path.join(data, 'chelsea.png')), 'chelsea.jpg')
    save(Image.open(os.path.join(data, 'brick.png')), 'brick.jpg')
    save(brush_strokes(4, [(28, 52, 110), (230, 190, 60), (70, 120, 180), (240, 230, 200), (20, 30, 60)]), 'swirls.jpg')
    save(mosaic(7, [(180, 40, 40), (40, 90, 170), (230, 180, 40), (60, 140, 70), (200, 200, 190)]), 'mosaic.jpg')


if __name__ == '__main__':
    main()
