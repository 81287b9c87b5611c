#!/usr/bin/env python3
"""Writes tests/fixtures/masked-losses.json: the guided Gram (Gatys et al. 2017, "Controlling Perceptual Factors in
Neural Style Transfer", spatial control), the masked Gram style loss and the masked content loss computed directly in
PyTorch, which tests/masked-losses.test.ts compares src/ops/losses.ts and the style-loss and content-loss nodes with.

The conventions (docs/losses.md, "Painted regions"): a mask T [1, h, w, 1] is resized to the features' H x W
bilinearly with aligned corners (tf.image.resizeBilinear(mask, [H, W], alignCorners=true) in StyleGraph,
F.interpolate(mode='bilinear', align_corners=True) here: both sample at x_out (in - 1) / (out - 1)). With M = H W:
    guided Gram          G_T = M / sum_k T_k^2 * sum_k (T_k F_k)(T_k F_k)^T          ([C, C])
    style loss           the unmasked formulas with G_T (image mask) and A_T (style mask) for G and A:
                         gatys sum (G - A)^2 / (4 N^2 M^2); johnson mean (G / (N M) - A / (N Ms))^2 over the
                         entries (Ms the style's positions); raw-mse mean (G - A)^2
    content loss         S_T = M / sum_k T_k^2 * sum_k T_k^2 |F_k - P_k|^2;  gatys S_T / 2, mse S_T / (M C),
                         mvn-mse the same after mean-variance normalising F and P per channel over the whole map.
An all-white mask gives the unmasked values (checked here too). Features are NHWC, flattened, float32 values in float64
JSON; the losses and Grams are computed in float64 from them.

usage: /usr/bin/python3 scripts/make-mask-fixtures.py      (needs Debian's python3-torch)
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(2026)


def resize(mask, h, w):
    """NHWC mask [1, mh, mw, 1] -> [1, h, w, 1], bilinear with aligned corners."""
    m = mask.permute(0, 3, 1, 2)
    if m.shape[2:] != (h, w):
        m = F.interpolate(m, size=(h, w), mode='bilinear', align_corners=True)
    return m.permute(0, 2, 3, 1)


def guided_gram(f, mask):
    _, h, w, c = f.shape
    t = resize(mask, h, w)
    x = (f * t).reshape(-1, c)
    return x.t() @ x * (h * w) / (t ** 2).sum()


def gram(f):
    c = f.shape[-1]
    x = f.reshape(-1, c)
    return x.t() @ x


def style_loss(g, a, n, m, ms, normalisation):
    """G of the image's M positions, A of the style's Ms (johnson divides each by its own N M)."""
    if normalisation == 'gatys':
        return ((g - a) ** 2).sum() / (4 * n * n * m * m)
    if normalisation == 'johnson':
        return ((g / (n * m) - a / (n * ms)) ** 2).mean()
    return ((g - a) ** 2).mean()


def mvn(f):
    mu = f.mean(dim=(1, 2), keepdim=True)
    var = f.var(dim=(1, 2), keepdim=True, unbiased=True)  # as SANet's calc_mean_std (src/ops/moments.ts)
    return (f - mu) / torch.sqrt(var + 1e-5)


def content_loss(f, p, mask, normalisation):
    b, h, w, c = f.shape
    t2 = resize(mask, h, w) ** 2 if mask is not None else torch.ones(1, h, w, 1, dtype=f.dtype)
    if normalisation == 'mvn-mse':
        f, p = mvn(f), mvn(p)
    s = ((f - p) ** 2 * t2).sum() * (b * h * w) / (t2.sum() * b)
    return s / 2 if normalisation == 'gatys' else s / f.numel()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def case(name, fshape, sshape, mshape, smshape, binary):
    b, h, w, c = fshape
    f32 = torch.randn(fshape, dtype=torch.float32)
    s32 = torch.randn(sshape, dtype=torch.float32) * 1.5 + 0.3
    p32 = torch.randn(fshape, dtype=torch.float32)
    if binary:
        m32 = (torch.rand(mshape) > 0.5).float()
    else:
        m32 = torch.rand(mshape, dtype=torch.float32)
    sm32 = torch.rand(smshape, dtype=torch.float32) if smshape else None
    f, s, p, m = f32.double(), s32.double(), p32.double(), m32.double()
    sm = sm32.double() if sm32 is not None else None
    f1 = f[:1]
    g = guided_gram(f1, m)
    a = guided_gram(s, sm) if sm is not None else gram(s)
    white = torch.ones(1, 5, 7, 1, dtype=torch.float64)
    # The check the tests rely on: an all-white mask gives the plain Gram and the unmasked content loss.
    assert torch.allclose(guided_gram(f1, white), gram(f1))
    out = {
        'name': name,
        'featureShape': list(fshape), 'styleShape': list(sshape), 'maskShape': list(mshape),
        'styleMaskShape': list(smshape) if smshape else None,
        'features': flat(f32), 'style': flat(s32), 'content': flat(p32), 'mask': flat(m32),
        'styleMask': flat(sm32) if sm32 is not None else None,
        'resizedMask': flat(resize(m, h, w)),
        'guidedGram': flat(g), 'styleGram': flat(a),
        'styleLoss': {}, 'contentLoss': {},
    }
    for norm in ['gatys', 'johnson', 'raw-mse']:
        # A batch: the mean of each image's loss against the one target.
        out['styleLoss'][norm] = float(
            sum(style_loss(guided_gram(f[i:i + 1], m), a, c, h * w, sshape[1] * sshape[2], norm) for i in range(b)) / b
        )
    for norm in ['gatys', 'mse', 'mvn-mse']:
        out['contentLoss'][norm] = float(content_loss(f, p, m, norm))
        assert abs(float(content_loss(f, p, white, norm)) - float(content_loss(f, p, None, norm))) < 1e-9
    return out


cases = [
    case('binary mask at the feature size, no style mask', (1, 4, 5, 3), (1, 3, 4, 3), (1, 4, 5, 1), None, True),
    case('grey mask larger than the features, grey style mask', (1, 3, 4, 2), (1, 5, 3, 2), (1, 7, 9, 1),
         (1, 4, 6, 1), False),
    case('grey mask smaller than the features', (1, 6, 5, 4), (1, 4, 4, 4), (1, 3, 2, 1), (1, 4, 4, 1), False),
    case('batch of two (training), one mask', (2, 3, 3, 2), (1, 4, 3, 2), (1, 5, 5, 1), None, False),
]

out = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'masked-losses.json')
with open(out, 'w') as fh:
    json.dump({'generator': 'scripts/make-mask-fixtures.py', 'torch': torch.__version__, 'cases': cases}, fh)
    fh.write('\n')
print(f'wrote {len(cases)} cases to {out}')
