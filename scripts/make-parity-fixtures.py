#!/usr/bin/env python3
"""Writes PyTorch reference fixtures for the TypeScript weight readers and networks (tests/fixtures/).

Networks are the reference architectures (torchvision VGG19 features, pytorch-AdaIN's vgg_normalised
and decoder, SANet's Transform) with channel widths divided by 16 so the checkpoints stay small, and
seeded random weights. Every expected output is computed here by PyTorch from those same files.

usage: /usr/bin/python3 scripts/make-parity-fixtures.py      (needs Debian's python3-torch)
       /usr/bin/python3 scripts/make-parity-fixtures.py --full-vgg19 PATH
           writes a full-size torchvision VGG19 checkpoint (548 MiB, random weights) for load-time measurements
"""
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures')
DIV = 16
W = [64 // DIV, 128 // DIV, 256 // DIV, 512 // DIV, 512 // DIV]  # 4, 8, 16, 32, 32
torch.manual_seed(2016)
torch.set_num_threads(1)


def nhwc(t):
    """NCHW tensor -> nested lists in NHWC (the tfjs layout), rounded to float32."""
    a = t.detach().numpy().astype(np.float32)
    if a.ndim == 4:
        a = a.transpose(0, 2, 3, 1)
    return {'shape': list(a.shape), 'data': [float(x) for x in a.reshape(-1)]}


def init_(module):
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
            nn.init.uniform_(m.bias, -0.1, 0.1)


# --- torchvision VGG19 features (keys features.N.*), zero padding, max pooling ----------------------
def tv_features(pool='max'):
    layers, cin = [], 3
    for block, convs in enumerate([2, 2, 4, 4, 4]):
        for _ in range(convs):
            layers += [nn.Conv2d(cin, W[block], 3, padding=1), nn.ReLU(inplace=False)]
            cin = W[block]
        layers.append(nn.MaxPool2d(2, 2) if pool == 'max' else nn.AvgPool2d(2, 2))
    return nn.Sequential(*layers)


NAMES = []
for block, convs in enumerate([2, 2, 4, 4, 4]):
    for n in range(convs):
        NAMES += [f'conv{block + 1}_{n + 1}', f'relu{block + 1}_{n + 1}']
    NAMES.append(f'pool{block + 1}')


def taps(seq, x, names, wanted):
    out = {}
    for name, layer in zip(names, seq):
        x = layer(x)
        if name in wanted:
            out[name] = x
    return out


def gram(f):
    b, c, h, w = f.shape
    f = f.view(c, h * w)
    return f @ f.t()


class Features(nn.Module):
    def __init__(self, seq):
        super().__init__()
        self.features = seq


# --- pytorch-AdaIN vgg_normalised (Sequential 0..52) and decoder -----------------------------------
def vgg_normalised():
    layers, cin = [nn.Conv2d(3, 3, 1)], 3
    for block, convs in enumerate([2, 2, 4, 4, 4]):
        for _ in range(convs):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, W[block], 3), nn.ReLU()]
            cin = W[block]
        if block < 4:
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
    return nn.Sequential(*layers)


def decoder():
    c4, c3, c2, c1 = W[3], W[2], W[1], W[0]
    R, C, U = nn.ReflectionPad2d, nn.Conv2d, lambda: nn.Upsample(scale_factor=2, mode='nearest')
    return nn.Sequential(
        R(1), C(c4, c3, 3), nn.ReLU(), U(),
        R(1), C(c3, c3, 3), nn.ReLU(), R(1), C(c3, c3, 3), nn.ReLU(), R(1), C(c3, c3, 3), nn.ReLU(),
        R(1), C(c3, c2, 3), nn.ReLU(), U(),
        R(1), C(c2, c2, 3), nn.ReLU(), R(1), C(c2, c1, 3), nn.ReLU(), U(),
        R(1), C(c1, c1, 3), nn.ReLU(), R(1), C(c1, 3, 3))


def calc_mean_std(feat, eps=1e-5):
    n, c = feat.shape[:2]
    var = feat.view(n, c, -1).var(dim=2) + eps
    return feat.view(n, c, -1).mean(dim=2).view(n, c, 1, 1), var.sqrt().view(n, c, 1, 1)


def adain(content, style):
    cm, cs = calc_mean_std(content)
    sm, ss = calc_mean_std(style)
    return (content - cm) / cs * ss + sm


def mvn(feat):
    m, s = calc_mean_std(feat)
    return (feat - m) / s


class SANet(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.f, self.g, self.h, self.out_conv = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, content, style):
        Fc = self.f(mvn(content))
        Gs = self.g(mvn(style))
        Hs = self.h(style)
        b, c, h, w = Fc.shape
        Fc = Fc.view(b, -1, w * h).permute(0, 2, 1)
        b, c, hs, ws = Gs.shape
        S = torch.softmax(torch.bmm(Fc, Gs.view(b, -1, ws * hs)), dim=-1)
        O = torch.bmm(Hs.view(b, -1, ws * hs), S.permute(0, 2, 1)).view(content.shape)
        return self.out_conv(O) + content


class Transform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.sanet4_1, self.sanet5_1 = SANet(c), SANet(c)
        self.merge_conv = nn.Conv2d(c, c, 3)

    def forward(self, c4, s4, c5, s5):
        x = self.sanet4_1(c4, s4) + F.interpolate(self.sanet5_1(c5, s5), scale_factor=2, mode='nearest')
        return self.merge_conv(F.pad(x, (1, 1, 1, 1), mode='reflect'))


def save_safetensors(state, path):
    """The safetensors format written by hand: u64 header length, JSON header, raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for k, v in state.items():
        b = v.detach().contiguous().numpy().astype('<f4').tobytes()
        header[k] = {'dtype': 'F32', 'shape': list(v.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def coral(source, target):
    """pytorch-AdaIN's colour preservation: `source` ([3, H, W]) gets the colour mean and covariance of `target`."""
    def flat_mean_std(feat):
        f = feat.view(3, -1)
        return f, f.mean(dim=-1, keepdim=True), f.std(dim=-1, keepdim=True)

    def mat_sqrt(x):
        u, d, v = torch.svd(x)
        return u @ d.pow(0.5).diag() @ v.t()

    sf, sm, ss = flat_mean_std(source)
    sn = (sf - sm) / ss
    tf_, tm, ts = flat_mean_std(target)
    tn = (tf_ - tm) / ts
    s_cov, t_cov = sn @ sn.t() + torch.eye(3), tn @ tn.t() + torch.eye(3)
    out = mat_sqrt(t_cov) @ torch.inverse(mat_sqrt(s_cov)) @ sn
    return (out * ts + tm).view(source.shape)


# --- ResNet50 (torchvision names and block structure [3, 4, 6, 3]) with widths / 16 -------------------
class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride, down):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4)
        self.downsample = nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4)) if down else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet50(nn.Module):
    def __init__(self, div=16):
        super().__init__()
        c = 64 // div
        self.conv1, self.bn1 = nn.Conv2d(3, c, 7, 2, 3, bias=False), nn.BatchNorm2d(c)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = c
        for i, (blocks, width, stride) in enumerate([(3, c, 1), (4, 2 * c, 2), (6, 4 * c, 2), (3, 8 * c, 2)]):
            layer = []
            for b in range(blocks):
                layer.append(Bottleneck(cin, width, stride if b == 0 else 1, b == 0))
                cin = width * 4
            setattr(self, f'layer{i + 1}', nn.Sequential(*layer))
        self.fc = nn.Linear(cin, 10)

    def taps(self, x):
        out = {'conv1': self.conv1(x)}
        x = self.maxpool(F.relu(self.bn1(out['conv1'])))
        out['maxpool'] = x
        for n in ('layer1', 'layer2', 'layer3', 'layer4'):
            x = getattr(self, n)(x)
            out[n] = x
        return out


def resnet_fixture(expected, content, style):
    net = ResNet50()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
        if isinstance(m, nn.BatchNorm2d):  # non-trivial eval-mode statistics, so folding is tested
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2)
    net.eval()
    torch.save(net.state_dict(), os.path.join(OUT, 'resnet50-tiny.pth'))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        t = net.taps((content - mean) / std)
        expected['resnet50'] = {k: nhwc(v) for k, v in t.items()}
        s = net.taps((style - mean) / std)
        # The seed-004 recipe's loss at init = content: MSE at layer1 (0 here) + sum_l MSE(G, A) / n^2.
        x = content.clone()
        fx = net.taps((x - mean) / std)
        style_loss = sum(F.mse_loss(gram(fx[k]), gram(s[k])) / fx[k].shape[1] ** 2 for k in fx)
        expected['resnet50_style_loss'] = style_loss.item()


class Evil:
    def __reduce__(self):
        import os as _os
        return (_os.system, ('echo this must never run',))


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {'widths': W}
    content = torch.rand(1, 3, 32, 32)
    style = torch.rand(1, 3, 32, 32)
    expected['content'] = nhwc(content)
    expected['style'] = nhwc(style)

    # torchvision VGG19: three containers of the same weights.
    tv = Features(tv_features())
    init_(tv)
    state = tv.state_dict()
    torch.save(state, os.path.join(OUT, 'vgg19-tiny.pth'))
    torch.save(state, os.path.join(OUT, 'vgg19-tiny-legacy.pth'), _use_new_zipfile_serialization=False)
    save_safetensors(state, os.path.join(OUT, 'vgg19-tiny.safetensors'))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    wanted = ['conv1_1', 'relu1_1', 'relu2_1', 'relu3_1', 'conv4_2', 'relu4_1', 'relu5_1']
    with torch.no_grad():
        t = taps(tv.features, (content - mean) / std, NAMES, wanted)
        expected['torchvision_max'] = {k: nhwc(v) for k, v in t.items()}
        expected['gram_relu2_1'] = {'shape': [W[1], W[1]], 'data': gram(t['relu2_1']).reshape(-1).tolist()}
        avg = tv_features('avg')
        avg.load_state_dict(tv.features.state_dict())
        expected['torchvision_avg'] = {k: nhwc(v) for k, v in taps(avg, (content - mean) / std, NAMES, ['relu3_1', 'relu5_1']).items()}

    # Gatys loss and gradient at x = 0.5 * (content + style), average pooling, gatys normalisations.
    avg = tv_features('avg')
    avg.load_state_dict(tv.features.state_dict())
    style_layers = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1']
    with torch.no_grad():
        P = taps(avg, (content - mean) / std, NAMES, ['conv4_2'])['conv4_2']
        A = {k: gram(v) for k, v in taps(avg, (style - mean) / std, NAMES, style_layers).items()}
    x = (0.5 * (content + style)).requires_grad_(True)
    fx = taps(avg, (x - mean) / std, NAMES, ['conv4_2'] + style_layers)
    alpha, beta = 1.0, 1000.0
    lc = 0.5 * ((fx['conv4_2'] - P) ** 2).sum()
    terms = {}
    for l in style_layers:
        n, m = fx[l].shape[1], fx[l].shape[2] * fx[l].shape[3]
        terms[l] = ((gram(fx[l]) - A[l]) ** 2).sum() / (4 * n * n * m * m)
    loss = alpha * lc + beta * sum(0.2 * v for v in terms.values())
    loss.backward()
    expected['gatys'] = {
        'alpha': alpha, 'beta': beta, 'loss': loss.item(), 'content': lc.item(),
        'style': {k: v.item() for k, v in terms.items()},
        'gradNorm': x.grad.norm().item(), 'grad': nhwc(x.grad),
    }

    # AdaIN: vgg_normalised to relu4_1 (modules [:31]), AdaIN, decoder.
    enc = vgg_normalised()
    init_(enc)
    with torch.no_grad():  # a 1x1 conv like the published one: RGB [0,1] -> BGR [0,255] minus the Caffe mean
        enc[0].weight.zero_()
        for i, j in ((0, 2), (1, 1), (2, 0)):
            enc[0].weight[i, j, 0, 0] = 255.0
        enc[0].bias.copy_(torch.tensor([-103.939, -116.779, -123.68]))
        # Scale the random convs down so activations stay O(1) after the 0-255 input.
        enc[2].weight.mul_(1 / 60)
    dec = decoder()
    init_(dec)
    torch.save(enc.state_dict(), os.path.join(OUT, 'vgg_normalised-tiny.pth'))
    torch.save(dec.state_dict(), os.path.join(OUT, 'decoder-tiny.pth'))
    with torch.no_grad():
        enc4 = enc[:31]
        enc5 = enc[:44]
        fc, fs = enc4(content), enc4(style)
        expected['normalised_relu4_1'] = nhwc(fc)
        expected['normalised_relu5_1'] = nhwc(enc5(content))
        t = adain(fc, fs)
        expected['adain_t'] = nhwc(t)
        expected['adain_out_alpha1'] = nhwc(dec(t))
        expected['adain_out_alpha05'] = nhwc(dec(0.5 * t + 0.5 * fc))
        s2 = torch.rand(1, 3, 32, 32)
        expected['style2'] = nhwc(s2)
        t2 = 0.25 * adain(fc, fs) + 0.75 * adain(fc, enc4(s2))
        expected['adain_interp_0.25_0.75'] = nhwc(dec(t2))

        # SANet: Transform on relu4_1 / relu5_1 of the same encoder, then a decoder of the same shape.
        tr = Transform(W[3])
        init_(tr)
        for m in tr.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(0.2)
        torch.save(tr.state_dict(), os.path.join(OUT, 'sanet-transformer-tiny.pth'))
        c5, s5 = enc5(content), enc5(style)
        cs = tr(fc, fs, c5, s5)
        expected['sanet_cs'] = nhwc(cs)
        expected['sanet_out'] = nhwc(dec(cs))

    # Colour preservation: the style image with the content image's colour statistics.
    expected['coral_style_to_content'] = nhwc(coral(style[0], content[0]).unsqueeze(0))

    resnet_fixture(expected, content, style)

    # A checkpoint whose pickle calls os.system: the reader must refuse it without running anything.
    with zipfile.ZipFile(os.path.join(OUT, 'malicious.pth'), 'w', zipfile.ZIP_STORED) as z:
        z.writestr('malicious/data.pkl', pickle.dumps({'features.0.weight': Evil()}, protocol=2))
        z.writestr('malicious/version', '3\n')

    with open(os.path.join(OUT, 'parity.json'), 'w') as f:
        json.dump(expected, f)
    for name in sorted(os.listdir(OUT)):
        print(f'{name}: {os.path.getsize(os.path.join(OUT, name))} bytes')


if __name__ == '__main__':
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == '--full-vgg19':
        import torchvision
        torch.save(torchvision.models.vgg19().state_dict(), sys.argv[2])
        print(f'{sys.argv[2]}: {os.path.getsize(sys.argv[2])} bytes')
    else:
        main()
