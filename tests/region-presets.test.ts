import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../src/models/weights/read';
import type { LoadedCheckpoint } from '../src/plugin/types';
import type { RGBAImage } from '../src/ops/image';
import { maskPng } from '../scripts/make-region-mask';
import { loadPreset, run, useWasm, withParams } from './helpers';
import { colourDistance, type Rgba } from './picture-stats';

beforeAll(useWasm);

/** The largest difference between two pictures' bytes. */
function worst(a: RGBAImage, b: RGBAImage): number {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

const only = async (name: string, size: number, set: Record<string, unknown>, ckpts: LoadedCheckpoint[] = []) => {
  const r = await run(withParams(loadPreset(name), set), size, {}, undefined, ckpts);
  expect(r.status).toBe('done');
  return Object.values(r.outputs)[0]!;
};

describe('region presets with the whole picture as the region are the one-style graphs (seeded weights)', () => {
  // A white painting is the whole picture: painting A everywhere, so the graph computes what the plain preset does.
  const white = `data:image/png;base64,${maskPng(8, 8, () => 1).toString('base64')}`;
  it.each([
    ['microast-regions.json', 'microast.json', 48],
    ['sanet-regions.json', 'sanet.json', 64],
    ['adain-regions.json', 'adain.json', 48],
  ])('%s equals %s with painting A', async (regions, plain, size) => {
    const a = await only(regions, size, { 'region.source': white });
    const b = await only(plain, size, { 'style.source': 'images/swirls.jpg' });
    expect(worst(a, b)).toBeLessThanOrEqual(1);
  });

  it('the painted region changes the picture (painting B below)', async () => {
    const top = await only('microast-regions.json', 48, {});
    const whole = await only('microast-regions.json', 48, { 'region.source': white });
    expect(worst(top, whole)).toBeGreaterThan(20);
  });
});

const shared = new URL('../../shared/fixtures/microast/', import.meta.url).pathname;
const PARTS = ['content_encoder', 'style_encoder', 'modulator', 'decoder'] as const;
const file = (p: string) => join(shared, `${p}_iter_160000.pth.tar`);
const missing = PARTS.filter((p) => !existsSync(file(p)));
if (missing.length)
  console.warn(`MicroAST regions with trained weights skipped: the official checkpoints are not in ${shared}`);

function rows(img: RGBAImage, from: number, to: number): Rgba {
  const [a, b] = [Math.round(from * img.height), Math.round(to * img.height)];
  return { width: img.width, height: b - a, data: img.data.subarray(a * img.width * 4, b * img.width * 4) };
}

describe.skipIf(missing.length)('presets/microast-regions.json with the official MicroAST weights', () => {
  it("the top takes painting A's colours and the bottom painting B's", async () => {
    const ckpts: LoadedCheckpoint[] = PARTS.map((p) => ({
      name: `microast-${p.replace('_', '-')}`,
      source: file(p),
      tensors: readCheckpoint(new Uint8Array(readFileSync(file(p))), file(p)),
    }));
    const out = await only('microast-regions.json', 128, {}, ckpts);
    const painting = (name: string): Rgba =>
      jpeg.decode(readFileSync(new URL(`../presets/images/${name}`, import.meta.url)));
    const [swirls, brick] = [painting('swirls.jpg'), painting('brick.jpg')];
    const top = rows(out, 0, 0.4);
    const bottom = rows(out, 0.6, 1);
    const d = {
      topA: colourDistance(top, swirls),
      topB: colourDistance(top, brick),
      bottomA: colourDistance(bottom, swirls),
      bottomB: colourDistance(bottom, brick),
    };
    console.log('colour distances (0-255 units):', d);
    expect(d.topA).toBeLessThan(d.topB);
    expect(d.bottomB).toBeLessThan(d.bottomA);
  }, 60_000);
});
