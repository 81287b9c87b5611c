import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { isTileable, tileableSettings } from '../src/graph/tileable';
import { loadPreset, registry } from './helpers';
import { ownCache, runCli } from './run-cli';

const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-tileable-'));

const cli = (...args: string[]) => runCli(args, { env: ownCache(tmp) });

describe('tileable graphs', () => {
  it('names every network that can pad circularly, and tells a tileable graph', () => {
    const gatys = loadPreset('gatys.json');
    expect(tileableSettings(gatys, registry)).toEqual([
      'enc_content.padding=circular',
      'enc_style.padding=circular',
      'enc_x.padding=circular',
    ]);
    expect(tileableSettings(loadPreset('adain.json'), registry).sort()).toEqual(
      ['decoder.padding=circular', 'enc_content.padding=circular', 'enc_style.padding=circular'].sort(),
    );
    expect(isTileable(gatys)).toBe(false);
    expect(isTileable(loadPreset('texture.json'))).toBe(true);
  });

  it('stylegraph run --tileable pads every network circularly (another picture), and says when none can', async () => {
    const run = async (...more: string[]) => {
      const out = join(tmp, `gatys${more.length}.png`);
      const r = await cli('run', 'presets/gatys.json', '--size', '32', '--steps', '2', '--out', out, ...more);
      expect(r.code, r.stderr).toBe(0);
      return PNG.sync.read(readFileSync(out)).data;
    };
    const [plain, tiled] = [await run(), await run('--tileable')];
    expect(tiled.length).toBe(plain.length);
    expect(tiled.equals(plain)).toBe(false);
    const none = await cli('plan', 'presets/fast-style.json', '--tileable');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--tileable: no network in this graph can pad circularly');
  }, 180_000);
});
