#!/usr/bin/python3
"""AdaIN and SANet feed-forward in PyTorch on the CPU, for the ratios in docs/benchmarks.md.

The reference architectures at full width (pytorch-AdaIN's vgg_normalised to relu4_1 and its decoder; SANet's
encoder to relu5_1, its Transform with two SANet modules, and the same decoder), seeded random weights (timing
does not depend on them). One frame = the photo and the painting encoded, the transfer, the decoder: "style
encoding included", as StyleGraph's presets adain.json and sanet.json run. Both images square at the size.

    /usr/bin/python3 scripts/bench-feedforward-torch.py --sizes 256 512 --threads 1 --reps 3
prints one JSON object: {"torch": version, "threads": n, "ms": {"adain": {"256": ...}, "sanet": {...}}},
the median of --reps frames after one warm-up frame.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTHS = [64, 128, 256, 512, 512]


def encoder(blocks):
    """vgg_normalised's layers up to the last ReLU of `blocks` blocks (4: relu4_1, 5: relu5_1)."""
    layers, cin = [nn.Conv2d(3, 3, 1)], 3
    for block, convs in enumerate([2, 2, 4, 4, 4][:blocks]):
        last = block == blocks - 1
        for _ in range(1 if last else convs):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, WIDTHS[block], 3), nn.ReLU()]
            cin = WIDTHS[block]
        if not last:
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
    return nn.Sequential(*layers)


def decoder():
    R, C, U = nn.ReflectionPad2d, nn.Conv2d, lambda: nn.Upsample(scale_factor=2, mode='nearest')
    return nn.Sequential(
        R(1), C(512, 256, 3), nn.ReLU(), U(),
        R(1), C(256, 256, 3), nn.ReLU(), R(1), C(256, 256, 3), nn.ReLU(), R(1), C(256, 256, 3), nn.ReLU(),
        R(1), C(256, 128, 3), nn.ReLU(), U(),
        R(1), C(128, 128, 3), nn.ReLU(), R(1), C(128, 64, 3), nn.ReLU(), U(),
        R(1), C(64, 64, 3), nn.ReLU(), R(1), C(64, 3, 3))


def mean_std(feat, eps=1e-5):
    n, c = feat.shape[:2]
    flat = feat.view(n, c, -1)
    return flat.mean(dim=2).view(n, c, 1, 1), (flat.var(dim=2) + eps).sqrt().view(n, c, 1, 1)


def adain(content, style):
    cm, cs = mean_std(content)
    sm, ss = mean_std(style)
    return (content - cm) / cs * ss + sm


def mvn(feat):
    m, s = mean_std(feat)
    return (feat - m) / s


class SANet(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.f, self.g, self.h, self.out_conv = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, content, style):
        b, c, h, w = content.shape
        fc = self.f(mvn(content)).view(b, c, h * w).permute(0, 2, 1)
        gs = self.g(mvn(style)).view(b, c, -1)
        s = torch.softmax(torch.bmm(fc, gs), dim=-1)
        o = torch.bmm(self.h(style).view(b, c, -1), s.permute(0, 2, 1)).view(content.shape)
        return self.out_conv(o) + content


class Transform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.sanet4_1, self.sanet5_1 = SANet(c), SANet(c)
        self.merge_conv = nn.Conv2d(c, c, 3)

    def forward(self, c4, s4, c5, s5):
        up = F.interpolate(self.sanet5_1(c5, s5), size=c4.shape[2:], mode='nearest')
        return self.merge_conv(F.pad(self.sanet4_1(c4, s4) + up, (1, 1, 1, 1), mode='reflect'))


def adain_frame(nets, photo, painting):
    enc, dec = nets
    return dec(adain(enc(photo), enc(painting)))


def sanet_frame(nets, photo, painting):
    enc4, enc5, transform, dec = nets

    def taps(x):
        f4 = enc4(x)
        return f4, enc5(f4)

    c4, c5 = taps(photo)
    s4, s5 = taps(painting)
    return dec(transform(c4, s4, c5, s5))


def frame_ms(frame, nets, size, reps):
    g = torch.Generator().manual_seed(size)
    photo, painting = torch.rand(1, 3, size, size, generator=g), torch.rand(1, 3, size, size, generator=g)
    times = []
    with torch.no_grad():
        for i in range(reps + 1):
            t0 = time.perf_counter()
            frame(nets, photo, painting).sum().item()
            if i:
                times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', type=int, nargs='+', default=[256, 512])
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--reps', type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(2017)
    # SANet's enc_5: relu4_1 -> conv4_2..conv4_4, pool4, conv5_1 -> relu5_1.
    conv = lambda: [nn.ReflectionPad2d(1), nn.Conv2d(512, 512, 3), nn.ReLU()]  # noqa: E731
    to5 = nn.Sequential(*conv(), *conv(), *conv(), nn.MaxPool2d(2, 2, ceil_mode=True), *conv())
    nets = {
        'adain': (adain_frame, (encoder(4).eval(), decoder().eval())),
        'sanet': (sanet_frame, (encoder(4).eval(), to5.eval(), Transform(512).eval(), decoder().eval())),
    }
    ms = {name: {str(s): frame_ms(frame, n, s, a.reps) for s in a.sizes} for name, (frame, n) in nets.items()}
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'ms': ms}))


if __name__ == '__main__':
    main()
