import { beforeAll, describe, expect, it } from 'vitest';
import { readPth } from '../src/models/weights/pth';
import { readSafetensors } from '../src/models/weights/safetensors';
import { convFrom, vgg19FromStateDict } from '../src/models/checkpoints';
import { checkpoint, expected, readFixture } from './parity';
import { tf, useWasm } from './helpers';

beforeAll(useWasm);

describe('checkpoint readers', () => {
  it('read the same tensors from a zip .pth, a legacy .pth and a safetensors file', () => {
    const zip = checkpoint('vgg19-tiny.pth');
    const legacy = checkpoint('vgg19-tiny-legacy.pth');
    const st = checkpoint('vgg19-tiny.safetensors');
    expect(zip.size).toBe(32);
    expect(zip.get('features.0.weight')!.shape).toEqual([expected.widths[0], 3, 3, 3]);
    for (const [k, v] of zip) {
      expect(legacy.get(k)!.shape).toEqual(v.shape);
      expect(Array.from(legacy.get(k)!.data)).toEqual(Array.from(v.data));
      expect(Array.from(st.get(k)!.data)).toEqual(Array.from(v.data));
    }
  });

  it('refuses a pickle that calls os.system, and runs nothing', () => {
    expect(() => readPth(readFixture('malicious.pth'))).toThrow(
      /refused: the file refers to the Python global "posix.system"/,
    );
  });

  it('says a truncated file is truncated', () => {
    const bytes = readFixture('vgg19-tiny.pth');
    expect(() => readPth(bytes.subarray(0, bytes.length - 5000))).toThrow(/zip|truncated/);
    const legacy = readFixture('vgg19-tiny-legacy.pth');
    expect(() => readPth(legacy.subarray(0, legacy.length - 100))).toThrow(/truncated|past the end/);
    const st = readFixture('vgg19-tiny.safetensors');
    expect(() => readSafetensors(st.subarray(0, st.length - 100))).toThrow(/truncated|past the end/);
  });

  it('transposes PyTorch conv weights [out, in, kh, kw] to tfjs [kh, kw, in, out]', async () => {
    // out=2, in=1, 1x2 kernel: w[o][0][0][x] = 10 * o + x
    const dict = new Map([
      ['c.weight', { shape: [2, 1, 1, 2], data: Float32Array.from([0, 1, 10, 11]) }],
      ['c.bias', { shape: [2], data: Float32Array.from([5, 6]) }],
    ]);
    const { kernel, bias } = convFrom(tf, dict, 'c');
    expect(kernel.shape).toEqual([1, 2, 1, 2]);
    expect(Array.from(await kernel.data())).toEqual([0, 10, 1, 11]);
    expect(Array.from(await bias.data())).toEqual([5, 6]);
  });
});

describe('VGG19 key mapping', () => {
  it('names the key and both shapes when a shape is wrong', () => {
    const dict = checkpoint('vgg19-tiny.pth');
    const w = dict.get('features.5.weight')!;
    dict.set('features.5.weight', { shape: [w.shape[0]!, 99, 3, 3], data: new Float32Array(w.shape[0]! * 99 * 9) });
    expect(() => vgg19FromStateDict(tf, dict, 'torchvision', 'test')).toThrow(
      `VGG19 (torchvision) from test does not fit the network: first mismatch at layer "features.5.weight": expected [8, 4, 3, 3], found [8, 99, 3, 3]`,
    );
  });

  it('names a missing key and an unexpected key', () => {
    const dict = checkpoint('vgg19-tiny.pth');
    dict.delete('features.34.bias');
    dict.set('features.99.weight', { shape: [1], data: new Float32Array(1) });
    expect(() => vgg19FromStateDict(tf, dict, 'torchvision', 'test')).toThrow(
      /first mismatch at layer "features.34.bias": expected \[32\], found no such tensor; also unexpected tensor "features.99.weight" \[1\]/,
    );
  });

  it('ignores the classifier of a full torchvision checkpoint', () => {
    const dict = checkpoint('vgg19-tiny.pth');
    dict.set('classifier.0.weight', { shape: [2, 2], data: new Float32Array(4) });
    const w = vgg19FromStateDict(tf, dict, 'torchvision', 'test');
    expect(w.conv('conv5_4').kernel.shape).toEqual([3, 3, 32, 32]);
    w.dispose();
  });
});
