#!/usr/bin/python3
"""The Gatys iteration of StyleGraph's benchmark, in PyTorch on the CPU, for the ratio in docs/benchmarks.md.

Same computation as presets/gatys.json with Adam: VGG19 (torchvision layout, average pooling, He-normal seeded
random weights, zero biases), content loss at conv4_2 against the photo's features, Gram style losses at
relu1_1..relu5_1 against the painting's (Gatys normalisation, w_l = 1/5, beta from the preset), forward + backward
+ one Adam step per iteration, the loss read back every step (as StyleGraph reports it).

    /usr/bin/python3 scripts/bench-torch.py --sizes 128 256 --threads 1 --steps 5
prints one JSON object: {"torch": version, "threads": n, "ms": {"128": ..., "256": ...}}.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

CFG = [64, 64, 'P', 128, 128, 'P', 256, 256, 256, 256, 'P', 512, 512, 512, 512, 'P', 512, 512, 512, 512]
NAMES = []
for block, (n, c) in enumerate(zip([2, 2, 4, 4, 4], [64, 128, 256, 512, 512]), start=1):
    for i in range(1, n + 1):
        NAMES += [f'conv{block}_{i}', f'relu{block}_{i}']
    if block < 5:
        NAMES.append(f'pool{block}')


def make_weights(seed):
    g = torch.Generator().manual_seed(seed)
    ws, cin = [], 3
    for c in CFG:
        if c == 'P':
            continue
        std = (2.0 / (9 * cin)) ** 0.5
        ws.append((torch.randn(c, cin, 3, 3, generator=g) * std, torch.zeros(c)))
        cin = c
    return ws


def forward(x, ws, taps):
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (x - mean) / std
    out, wi, deepest = {}, 0, max(NAMES.index(t) for t in taps)
    for i, name in enumerate(NAMES[:deepest + 1]):
        if name.startswith('conv'):
            w, b = ws[wi]
            wi += 1
            x = F.conv2d(x, w, b, padding=1)
        elif name.startswith('relu'):
            x = F.relu(x)
        else:
            x = F.avg_pool2d(x, 2)
        if name in taps:
            out[name] = x
    return out


def gram(f):
    _, c, h, w = f.shape
    m = f.view(c, h * w)
    return m @ m.t(), c, h * w


def iteration_ms(size, steps, beta):
    torch.manual_seed(0)
    ws = make_weights(0)
    style_taps = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1']
    content = torch.rand(1, 3, size, size)
    style = torch.rand(1, 3, size, size)
    with torch.no_grad():
        target_c = forward(content, ws, ['conv4_2'])['conv4_2']
        targets = {k: gram(v)[0] for k, v in forward(style, ws, style_taps).items()}
    x = torch.rand(1, 3, size, size, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.02)
    times = []
    for step in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        feats = forward(x, ws, ['conv4_2'] + style_taps)
        loss = 0.5 * ((feats['conv4_2'] - target_c) ** 2).sum()
        style = 0
        for k in style_taps:
            g, c, n = gram(feats[k])
            style = style + 0.2 * ((g - targets[k]) ** 2).sum() / (4 * c * c * n * n)
        loss = loss + beta * style
        loss.backward()
        opt.step()
        loss.item()
        times.append((time.perf_counter() - t0) * 1000)
    return sum(times[1:]) / len(times[1:])


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', type=int, nargs='+', default=[128, 256])
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--beta', type=float, default=1000.0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ms = {str(s): iteration_ms(s, a.steps, a.beta) for s in a.sizes}
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'ms': ms}))


if __name__ == '__main__':
    main()
