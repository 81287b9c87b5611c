#!/usr/bin/env python3
"""Writes tests/fixtures/distribution-matching.json: EFDM (Zhang et al., CVPR 2022) and the histogram loss (Risser et
al. 2017) computed in PyTorch, which tests/distribution-matching.test.ts compares src/ops/sort-match.ts and
src/ops/losses.ts with.

EFDM is the paper's code (exact_feature_distribution_matching in the official repository): per channel, sort the content
and the style features, and give each content value the style's sorted value of the same rank,
    out = content + (sorted_style.gather(-1, argsort(argsort(content))) - content.detach()),
so the gradient reaches the content as the identity and the style through the sort. The paper asserts equal sizes;
with N content and M style positions, rank j takes the style's sorted values linearly interpolated at
j (M - 1) / (N - 1) (equal sizes: exactly the paper's formula).

The histogram loss: the mean over batch, channels and positions of (x - R(x))^2, R(x) each channel's values remapped
to the style's sorted values at x's ranks (the same interpolation), a constant of the gradient (detached).

Features are stored NHWC (as StyleGraph holds them), flattened, float32 values in float64 JSON.

usage: /usr/bin/python3 scripts/make-distribution-fixtures.py      (needs Debian's python3-torch)
"""
import json
import os

import torch

torch.manual_seed(26)


def rows(f):
    """NHWC -> [B, C, H*W]."""
    b, h, w, c = f.shape
    return f.reshape(b, h * w, c).permute(0, 2, 1)


def unrows(r, shape):
    b, h, w, c = shape
    return r.permute(0, 2, 1).reshape(b, h, w, c)


def quantiles(sorted_style, n):
    """Ascending sorted values [..., M] read at n evenly spaced ranks (linear interpolation)."""
    m = sorted_style.shape[-1]
    if n == 1:
        pos = torch.tensor([(m - 1) / 2], dtype=torch.float64)
    else:
        pos = torch.arange(n, dtype=torch.float64) * (m - 1) / (n - 1)
    lo = pos.floor().long().clamp(max=m - 1)
    hi = (lo + 1).clamp(max=m - 1)
    frac = (pos - lo.double()).to(sorted_style.dtype)
    return sorted_style[..., lo] * (1 - frac) + sorted_style[..., hi] * frac


def efdm(content, style):
    """The paper's sort matching on NHWC features (style batch 1 or the content's)."""
    c, s = rows(content), rows(style)
    if s.shape[0] != c.shape[0]:
        s = s.expand(c.shape[0], -1, -1)
    _, index_content = torch.sort(c)
    value_style, _ = torch.sort(s)
    inverse_index = index_content.argsort(-1)
    target = quantiles(value_style, c.shape[-1]).gather(-1, inverse_index)
    return unrows(c + (target - c.detach()), content.shape)


def histogram_loss(x, style):
    r = rows(x)
    b, c, n = r.shape
    sv, _ = torch.sort(rows(style).permute(1, 0, 2).reshape(c, -1))  # every style position of the batch, per channel
    target = quantiles(sv, n).unsqueeze(0).expand(b, -1, -1)
    remapped = target.gather(-1, r.argsort(-1).argsort(-1)).detach()
    return ((r - remapped) ** 2).mean()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def case(name, content_shape, style_shape):
    content = torch.randn(content_shape, dtype=torch.float32, requires_grad=True)
    style = (torch.randn(style_shape, dtype=torch.float32) * 2 + 0.5).requires_grad_(True)
    weight = torch.randn(content_shape, dtype=torch.float32)
    out = efdm(content, style)
    # The gradient of sum(out * weight): weight for the content, the sort's scatter for the style.
    gc, gs = torch.autograd.grad((out * weight).sum(), [content, style])
    x = torch.randn(content_shape, dtype=torch.float32, requires_grad=True)
    loss = histogram_loss(x, style.detach())
    (gx,) = torch.autograd.grad(loss, [x])
    return {
        'name': name,
        'contentShape': list(content_shape), 'styleShape': list(style_shape),
        'content': flat(content), 'style': flat(style), 'weight': flat(weight),
        'efdm': flat(out), 'efdmGradContent': flat(gc), 'efdmGradStyle': flat(gs),
        'x': flat(x), 'histogramLoss': float(loss), 'histogramGrad': flat(gx),
    }


cases = [
    case('same size (the paper)', (1, 3, 4, 2), (1, 4, 3, 2)),
    case('style larger', (1, 3, 3, 3), (1, 5, 4, 3)),
    case('style smaller', (1, 4, 5, 2), (1, 2, 3, 2)),
    case('batch of two, one style', (2, 3, 2, 4), (1, 3, 3, 4)),
    case('batch of two, two styles', (2, 2, 3, 2), (2, 3, 2, 2)),
]

out = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'distribution-matching.json')
with open(out, 'w') as f:
    json.dump({'generator': 'scripts/make-distribution-fixtures.py', 'torch': torch.__version__, 'cases': cases}, f)
    f.write('\n')
print(f'wrote {len(cases)} cases to {out}')
