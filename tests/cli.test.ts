import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { ownCache, runCli } from './run-cli';

const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-cli-'));
// A document reads only files in its own folder (docs/security.md): documents written here get the sample images beside them.
cpSync(join(root, 'presets/images'), join(tmp, 'images'), { recursive: true });

// A weight cache of its own: checkpoints cached on this machine would change what runs use.
const cli = (...args: string[]) => runCli(args, { env: ownCache(tmp) });

function writeDoc(name: string, doc: unknown): string {
  const path = join(tmp, name);
  writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return path;
}

describe('stylegraph CLI', () => {
  it('runs the Gatys preset, writes the image and a report', async () => {
    const out = join(tmp, 'o.png');
    const report = join(tmp, 'r.json');
    const r = await cli(
      'run',
      'presets/gatys.json',
      '--size',
      '32',
      '--steps',
      '4',
      '--backend',
      'wasm',
      '--out',
      out,
      '--report',
      report,
    );
    expect(r.stderr).toMatch(/backend wasm/);
    expect(r.code).toBe(0);
    const png = PNG.sync.read(readFileSync(out));
    expect([png.width, png.height]).toEqual([32, 32]);
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    expect(rep).toMatchObject({ backend: 'wasm', size: 32, status: 'done' });
    expect(rep.weights[0].weights).toMatch(/random \(seed 0\)/);
    expect(rep.steps.map((s: { step: number }) => s.step)).toEqual([0, 1, 2, 3, 4]);
    expect(Object.keys(rep.steps[0].terms)).toContain('content_loss');
    expect(rep.tensors.atEnd).toBe(rep.tensors.afterFirstStep);
  });

  it('validates every shipped preset, the camera presets included (their camera is a slot, not a source)', async () => {
    const presets = readdirSync(join(root, 'presets'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => `presets/${f}`);
    expect(presets).toContain('presets/microast-camera.json');
    const r = await cli('validate', ...presets);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => /: valid \(/.test(l))).toHaveLength(presets.length);
  });

  it('validates a preset', async () => {
    const r = await cli('validate', 'presets/gatys.json');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/valid \(17 nodes/);
    // The packs package.json lists load quietly; --verbose names them.
    expect(r.stderr).not.toMatch(/plugin wct/);
    expect((await cli('validate', 'presets/gatys.json', '--verbose')).stderr).toMatch(/plugin wct 1\.0\.0: /);
  });

  it('plans at the widths of a reduced-width checkpoint it is given', async () => {
    const { readCheckpoint } = await import('../src/models/weights/read');
    const tiny = readCheckpoint(new Uint8Array(readFileSync(join(root, 'tests/fixtures/vgg19-tiny.pth'))));
    const [c1, c42] = [tiny.get('features.0.weight')!.shape[0], tiny.get('features.21.weight')!.shape[0]];
    const r = await cli(
      'plan',
      'presets/gatys.json',
      '--size',
      '32',
      '--weights',
      'vgg19=tests/fixtures/vgg19-tiny.pth',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`relu1_1 1x32x32x${c1}\\b`));
    expect(r.stdout).toMatch(new RegExp(`conv4_2 1x4x4x${c42}\\b`));
    expect((await cli('plan', 'presets/gatys.json', '--size', '32')).stdout).toMatch(/relu1_1 1x32x32x64\b/);
  });

  it('prints a plan', async () => {
    const r = await cli('plan', 'presets/gatys.json', '--size', '128');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/vgg19 pass for enc_x \(to relu5_1\)/);
    expect(r.stdout).toMatch(/peak memory/);
  });

  it('exits 2 with a readable message for a missing file', async () => {
    const r = await cli('run', 'presets/nope.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such file: presets\/nope.json/);
  });

  it('exits 2 and lists diagnostics for an invalid graph', async () => {
    const doc = JSON.parse(readFileSync(join(root, 'presets/gatys.json'), 'utf8'));
    doc.nodes.push({ id: 'mystery', type: 'posterise', position: { x: 0, y: 0 }, params: {} });
    doc.edges.push({ from: { node: 'enc_x', output: 'relu1_1' }, to: { node: 'output', input: 'image' } });
    const r = await cli('validate', writeDoc('bad.json', doc));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown node type "posterise"/);
    expect(r.stderr).toMatch(/Features output cannot feed a Image input/);
  });

  it('exits 2 for JSON that does not parse', async () => {
    const r = await cli('run', writeDoc('broken.json', '{"format": "stylegraph",'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not valid JSON/);
  });

  it('exits 2 for a bad --set and says what is allowed', async () => {
    const a = await cli('run', 'presets/gatys.json', '--set', 'optim.method=newton');
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/"newton" is not one of lbfgs, adam, sgd/);
    const b = await cli('run', 'presets/gatys.json', '--set', 'ghost.weight=1');
    expect(b.stderr).toMatch(/no node "ghost"/);
    const c = await cli('run', 'presets/gatys.json', '--set', 'optim.speed=3');
    expect(c.stderr).toMatch(/no parameter "speed" \(parameters: method, steps/);
  });

  it('exits 2 for a missing image and for bad numbers', async () => {
    const a = await cli('run', 'presets/gatys.json', '--content', 'nowhere.jpg', '--size', '32');
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/cannot load image .*nowhere.jpg: no such file/);
    const b = await cli('run', 'presets/gatys.json', '--size', 'big');
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--size must be a whole number/);
  });
});

describe('stylegraph CLI with weights', () => {
  it('runs the AdaIN preset with fixture checkpoints and names them in the report', async () => {
    const out = join(tmp, 'adain.png');
    const report = join(tmp, 'adain.json');
    const r = await cli(
      'run',
      'presets/adain.json',
      '--size',
      '64',
      '--out',
      out,
      '--report',
      report,
      '--weights',
      'vgg_normalised=tests/fixtures/vgg_normalised-tiny.pth',
      '--weights',
      'adain-decoder=tests/fixtures/decoder-tiny.pth',
    );
    expect(r.code).toBe(0);
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    expect(rep.weights.map((w: { weights: string }) => w.weights)).toEqual([
      'VGG19 normalised: vgg_normalised from tests/fixtures/vgg_normalised-tiny.pth',
      'VGG19 normalised: vgg_normalised from tests/fixtures/vgg_normalised-tiny.pth',
      'Decoder: adain-decoder from tests/fixtures/decoder-tiny.pth',
    ]);
    const png = PNG.sync.read(readFileSync(out));
    expect([png.width, png.height]).toEqual([64, 64]);
  });

  it('runs the SANet preset on random weights and says so', async () => {
    const report = join(tmp, 'sanet.json');
    const r = await cli(
      'run',
      'presets/sanet.json',
      '--size',
      '64',
      '--out',
      join(tmp, 'sanet.png'),
      '--report',
      report,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/SANet transformer: random \(seed 0\); no weights named "sanet-transformer" were loaded/);
  });

  it('refuses a malicious checkpoint and runs nothing', async () => {
    const r = await cli(
      'run',
      'presets/adain.json',
      '--size',
      '32',
      '--weights',
      'adain-decoder=tests/fixtures/malicious.pth',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refused: the file refers to the Python global "posix.system"/);
    expect(r.stdout).not.toMatch(/must never run/);
  });

  it('names the key and shapes when a checkpoint does not fit the network', async () => {
    const r = await cli(
      'run',
      'presets/adain.json',
      '--size',
      '32',
      '--weights',
      'adain-decoder=tests/fixtures/vgg19-tiny.pth',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /decoder from adain-decoder \(tests\/fixtures\/vgg19-tiny.pth\) does not fit the network: first mismatch at layer "1.weight": expected \[c\/2, c, 3, 3\].*found no such tensor; the file holds "features.0.weight" \[4, 3, 3, 3\]/,
    );
  });
});

describe('stylegraph CLI and PNGs', () => {
  it('embeds the graph in the PNG it writes, and reads it back as the same document', async () => {
    const out = join(tmp, 'embedded.png');
    const r = await cli(
      'run',
      'presets/gatys.json',
      '--size',
      '24',
      '--steps',
      '1',
      '--set',
      'style_total.weight=123',
      '--out',
      out,
    );
    expect(r.code).toBe(0);
    const { extractText } = await import('../src/codecs/png');
    const text = extractText(new Uint8Array(readFileSync(out)))!;
    const doc = JSON.parse(text);
    expect(doc.nodes.find((n: { id: string }) => n.id === 'style_total').params.weight).toBe(123);
    const v = await cli('validate', out);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/valid \(17 nodes, 29 edges\)/);
    const original = JSON.parse(readFileSync(join(root, 'presets/gatys.json'), 'utf8'));
    original.nodes.find((n: { id: string }) => n.id === 'style_total').params.weight = 123;
    original.nodes.find((n: { id: string }) => n.id === 'optim').params.steps = 1;
    expect(doc).toEqual(original);
  });

  it('says when a PNG carries no graph', async () => {
    const { encodePng } = await import('../src/cli/node/node-images');
    const path = join(tmp, 'plain.png');
    writeFileSync(path, encodePng({ width: 1, height: 1, data: new Uint8ClampedArray(4) }));
    const r = await cli('validate', path);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a PNG without a StyleGraph graph/);
  });
});

describe('stylegraph CLI sweeps (lessons)', () => {
  it('runs a lesson over its settings and writes one labelled contact sheet, reusing unchanged work', async () => {
    const out = join(tmp, 'sheet.png');
    const report = join(tmp, 'sheet.json');
    const r = await cli(
      'run',
      'presets/lesson-alpha-beta.json',
      '--size',
      '24',
      '--steps',
      '2',
      '--out',
      out,
      '--report',
      report,
    );
    expect(r.code).toBe(0);
    const sheet = PNG.sync.read(readFileSync(out));
    // 3 columns x 2 rows of 24 px tiles, each under a label (the font at scale 2, plus 6 px), with 6 px gutters.
    const { GLYPH_HEIGHT } = await import('../src/ops/contact-sheet');
    expect(sheet.width).toBeGreaterThanOrEqual(3 * 24 + 4 * 6);
    expect(sheet.height).toBe(6 + 2 * (24 + (GLYPH_HEIGHT * 2 + 6) + 6));
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    expect(rep.cells.map((c: { label: string }) => c.label)).toEqual([
      'a=1 b=1000',
      'a=1 b=10000',
      'a=1 b=100000',
      'a=10 b=1000',
      'a=10 b=10000',
      'a=10 b=100000',
    ]);
    expect(rep.reused).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/steps reused from earlier cells/);
  });

  it('reports a broken sweep definition', async () => {
    const doc = JSON.parse(readFileSync(join(root, 'presets/lesson-alpha-beta.json'), 'utf8'));
    doc.metadata.sweep.columns[0].set = { 'ghost.weight': 1 };
    const r = await cli('run', writeDoc('bad-sweep.json', doc), '--size', '24', '--steps', '1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no node "ghost"/);
  });
});

describe('stylegraph CLI batches and plugins', () => {
  it('runs a graph over a folder of photos, reusing the style side, into one folder of PNGs', async () => {
    const photos = join(tmp, 'photos');
    mkdirSync(photos, { recursive: true });
    copyFileSync(join(root, 'presets/images/astronaut.jpg'), join(photos, 'a.jpg'));
    copyFileSync(join(root, 'presets/images/chelsea.jpg'), join(photos, 'b.jpg'));
    writeFileSync(join(photos, 'notes.txt'), 'not an image');
    const out = join(tmp, 'batch');
    const report = join(tmp, 'batch.json');
    const r = await cli(
      'run',
      'presets/gatys.json',
      '--content',
      photos,
      '--size',
      '24',
      '--steps',
      '2',
      '--out',
      out,
      '--report',
      report,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/2 images in [\d.]+ s \([\d.]+ s per image\); \d+ steps reused/);
    for (const name of ['a.png', 'b.png'])
      expect(PNG.sync.read(readFileSync(join(out, name))).width).toBeGreaterThan(0);
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    expect(rep.items.map((i: { image: string; status: string }) => [i.image, i.status])).toEqual([
      ['a.jpg', 'done'],
      ['b.jpg', 'done'],
    ]);
    // The second photo reuses the painting's encoder pass and Grams computed for the first.
    expect(rep.reused).toBeGreaterThan(0);
  });

  it("runs the example pack's preset with --plugin, and names the pack when it is missing", async () => {
    const out = join(tmp, 'wct.png');
    const ok = await cli(
      'run',
      'presets/wct-pack.json',
      '--plugin',
      'examples/pack-wct',
      '--config',
      join(tmp, 'none.json'),
      '--size',
      '24',
      '--steps',
      '1',
      '--out',
      out,
    );
    expect(ok.stderr).toMatch(/cannot read .*none.json/);
    const cfg = writeDoc('empty-config.json', { plugins: [] });
    const r = await cli(
      'run',
      'presets/wct-pack.json',
      '--plugin',
      'examples/pack-wct',
      '--config',
      cfg,
      '--size',
      '24',
      '--steps',
      '1',
      '--out',
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/plugin wct 1\.0\.0: wct\/whiten-colour, wct\/histogram-loss/);
    const missing = await cli('validate', 'presets/wct-pack.json', '--config', cfg);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /needs node pack "wct" \(\^1\.0\.0\) for wct, hist_relu1_1; load it with --plugin examples\/pack-wct/,
    );
  });
});

describe('stylegraph submit checks its output folder before queuing anything', () => {
  it('refuses a file as --out, and a folder whose photos the results would replace, without reaching Redis', async () => {
    const photos = join(tmp, 'submit-photos');
    mkdirSync(photos, { recursive: true });
    copyFileSync(join(root, 'presets/images/astronaut.jpg'), join(photos, 'a.png'));
    const file = writeDoc('submit-out.txt', 'not a folder');
    // Port 1: nothing listens; a check that passed would fail on the connection instead.
    const asFile = await cli(
      'submit',
      'presets/adain.json',
      '--redis',
      'redis://127.0.0.1:1',
      '--content',
      photos,
      '--out',
      file,
    );
    expect(asFile.code).toBe(2);
    expect(asFile.stderr).toMatch(/--out .*submit-out\.txt: a batch writes into a folder/);
    const same = await cli(
      'submit',
      'presets/adain.json',
      '--redis',
      'redis://127.0.0.1:1',
      '--content',
      photos,
      '--out',
      photos,
    );
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/would replace input photos/);
  });
});

describe('stylegraph CLI coarse to fine', () => {
  it('optimises at half size first and starts the full size from that result', async () => {
    const report = join(tmp, 'scales.json');
    const plain = join(tmp, 'plain.json');
    const r = await cli(
      'run',
      'presets/gatys.json',
      '--size',
      '48',
      '--steps',
      '4',
      '--scales',
      '0.5,1',
      '--out',
      join(tmp, 'scales.png'),
      '--report',
      report,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/scale 1\/2: 24 px[\s\S]*scale 2\/2: 48 px/);
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    expect(rep.scales.map((s: { size: number; steps: number }) => [s.size, s.steps])).toEqual([
      [24, 4],
      [48, 4],
    ]);
    expect(PNG.sync.read(readFileSync(join(tmp, 'scales.png'))).width).toBe(48);
    // The full size starts from the upsampled half-size result, whose Gram statistics already match the painting:
    // its style terms start well below those of a start from noise.
    await cli(
      'run',
      'presets/gatys.json',
      '--size',
      '48',
      '--steps',
      '1',
      '--out',
      join(tmp, 'plain.png'),
      '--report',
      plain,
    );
    const style = (terms: Record<string, number>) =>
      Object.entries(terms)
        .filter(([k]) => k.startsWith('style_'))
        .reduce((a, [, v]) => a + v, 0);
    expect(style(rep.steps[0].terms)).toBeLessThan(style(JSON.parse(readFileSync(plain, 'utf8')).steps[0].terms) / 2);
    expect((await cli('run', 'presets/gatys.json', '--scales', '0.5,0.25')).stderr).toMatch(
      /--scales must be increasing fractions/,
    );
  });

  it('gives each scale its own step count, and says when the counts do not match the scales', async () => {
    const report = join(tmp, 'scale-steps.json');
    const r = await cli(
      'run',
      'presets/gatys.json',
      '--size',
      '32',
      '--steps',
      '3,1',
      '--scales',
      '0.5,1',
      '--out',
      join(tmp, 'scale-steps.png'),
      '--report',
      report,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(
      JSON.parse(readFileSync(report, 'utf8')).scales.map((s: { size: number; steps: number }) => [s.size, s.steps]),
    ).toEqual([
      [16, 3],
      [32, 1],
    ]);
    const bad = await cli('run', 'presets/gatys.json', '--steps', '3,2,1', '--scales', '0.5,1');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--steps: 3 counts for 2 scales/);
  });
});

describe('stylegraph CLI on tiles', () => {
  it('plans a 2048 px Gatys run on tiles within wasm memory, and runs a forced tiling', async () => {
    const plan = await cli('plan', 'presets/gatys.json', '--size', '2048');
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(
      /on wasm: +tiling 2048x2048 into 36 tiles of 352 px \(\+80 px halo\): untiled it needs about \d+ MiB, wasm holds 3072 MiB/,
    );
    expect((await cli('plan', 'presets/gatys.json', '--size', '256')).stdout).not.toMatch(/tiling/);
    const r = await cli(
      'run',
      'presets/gatys.json',
      '--size',
      '48',
      '--steps',
      '1',
      '--tile',
      '32',
      '--out',
      join(tmp, 'tiled.png'),
    );
    expect(r.code, r.stderr).toBe(0);
    // A tile is never narrower than its halos plus one stride: 16 px cores, each tile the whole 48 px image.
    expect(r.stderr).toMatch(/tiling 48x48 into 9 tiles of 16 px \(\+80 px halo\)\n/);
    // Progress in a log: every quarter of the tiles, for the targets (forward only: tiles twice as wide) and each pass of a step.
    expect(r.stderr).toMatch(/targets: tile 1\/1\n[\s\S]*forward: tile 9\/9\n[\s\S]*backward: tile 9\/9\n/);
    expect((await cli('run', 'presets/gatys.json', '--tile', 'big')).stderr).toMatch(
      /--tile must be a size in px \(32 or more\) or off, got "big"/,
    );
    expect((await cli('run', 'presets/gatys.json', '--tile', 'off', '--memory-limit', '2')).stderr).toMatch(
      /--memory-limit has no effect with --tile off/,
    );
  });
});
