import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { CAMERA_SOURCE, cameraNodes, withCameraSource } from '../nodes/camera-input';
import { main, type Io } from '../src/cli/main';
import { documentAccess } from '../src/cli/node/node-session';
import { applyOverrides } from '../src/cli/run/overrides';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { compile } from '../src/compiler/compile';
import { serialiseDocument } from '../src/graph/document';
import { inputNodes, withInput } from '../src/graph/edit';
import type { GraphModel } from '../src/graph/model';
import type { RGBAImage } from '../src/ops/image';
import { RunMemo } from '../src/runtime/memo';
import { createModelCache } from '../src/runtime/models';
import { runSession } from '../src/runtime/session';
import { noCheckpoints, type DecodedImage } from '../src/runtime/sources';
import type { FromWorker } from '../src/web/protocol';
import { runInWorker, type RunMessage, type WorkerDeps } from '../src/web/runner';
import { loadPreset } from './helpers';

/**
 * The camera node and the live path of the editor's worker (src/web/runner.ts) in Node: a frame arrives with a
 * run message, the camera nodes read it, the style side comes from the run memo from the second frame on.
 */
const root = new URL('..', import.meta.url).pathname;
const presets = join(root, 'presets');
const registry = builtinRegistry();
const access = documentAccess(join(presets, 'adain-camera.json'));

beforeAll(async () => {
  await startNodeBackend('wasm');
});

/** A synthetic camera picture: a diagonal gradient shifted by `shift` px, with a bright square. */
function picture(width: number, height: number, shift: number): DecodedImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inSquare = Math.abs(x - shift - 10) < 5 && Math.abs(y - 12) < 5;
      data[i] = inSquare ? 250 : ((x + shift) * 6) % 256;
      data[i + 1] = (y * 8) % 256;
      data[i + 2] = ((x + y) * 3) % 256;
      data[i + 3] = 255;
    }
  return { width, height, data };
}

/** The worker's surroundings in Node; frames travel as DecodedImages where the browser has ImageBitmaps. */
function worker() {
  const posted: FromWorker[] = [];
  const deps: WorkerDeps = {
    tf,
    registry,
    state: { models: createModelCache(), memo: new RunMemo(), images: new Map() },
    checkpoints: noCheckpoints,
    decode: (s) => access.decode(s),
    loadModel: () => Promise.reject(new Error('no models here')),
    post: (m) => posted.push(m),
    pixels: (frame) => frame as unknown as DecodedImage,
  };
  const doc = serialiseDocument(loadPreset('adain-camera.json'));
  let id = 0;
  const send = async (frame: DecodedImage | null, live = true, document = doc) => {
    const m: RunMessage = {
      type: 'run',
      id: --id,
      document,
      base: presets,
      uploads: {},
      request: { size: 32, seed: 3, probe: [], sweep: false },
      live,
      // The browser transfers an ImageBitmap; the test's pixels() takes the picture as it is.
      ...(frame ? { frame: frame as unknown as ImageBitmap } : {}),
    };
    const from = posted.length;
    await runInWorker(m, deps, new AbortController().signal);
    return posted.slice(from);
  };
  return { deps, send, posted };
}

const liveDone = (ms: FromWorker[]) => {
  const d = ms.find((m) => m.type === 'live-done');
  if (d?.type !== 'live-done') throw new Error(`no live-done in ${ms.map((m) => m.type).join(', ')}`);
  return d;
};
const only = (r: Record<string, RGBAImage>) => Object.values(r)[0]!;
const meanAbs = (a: RGBAImage, b: RGBAImage) => {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! - b.data[i]!);
  return s / a.data.length;
};

describe('camera node', () => {
  it('is a content slot, a feed-forward AdaIN graph compiles without an optimiser, and --content fills it', () => {
    const model = loadPreset('adain-camera.json');
    expect(cameraNodes(model).map((n) => n.id)).toEqual(['camera']);
    expect(inputNodes(model, registry, 'content').map((n) => n.id)).toEqual(['camera']);
    expect(inputNodes(model, registry, 'style').map((n) => n.id)).toEqual(['style']);
    const { plan } = compile(model, registry, { size: 32 });
    expect(plan).toBeTruthy();
    expect(plan!.optimiser).toBeNull();
    const o = applyOverrides(model, registry, { content: 'photo.jpg' }, '/x');
    expect(o.errors).toEqual([]);
    expect(o.model.nodes.find((n) => n.id === 'camera')!.params.source).toBe('/x/photo.jpg');
  });

  it('an optimisation graph with a camera compiles with an optimiser (the editor refuses live mode for it)', () => {
    const gatys = loadPreset('gatys.json');
    const withCam: GraphModel = {
      ...gatys,
      nodes: gatys.nodes.map((n) =>
        n.id === 'content' ? { ...n, type: 'camera', params: { source: CAMERA_SOURCE } } : n,
      ),
    };
    expect(compile(withCam, registry, { size: 32 }).plan?.optimiser?.nodeId).toBe('optim');
  });
});

describe('live frames through the worker', () => {
  it('stylises each frame, reuses the style side from the memo and frees each frame', async () => {
    const w = worker();
    const a = picture(40, 30, 0);
    const b = picture(40, 30, 12);
    const first = await w.send(a);
    // A live frame posts only its answer: no status, step or preview events.
    expect(first.map((m) => m.type)).toEqual(['live-done']);
    const d1 = liveDone(first);
    expect(d1.status, d1.error).toBe('done');
    const out1 = only(d1.outputs);
    expect([out1.width, out1.height]).toEqual([32, 24]);
    // Which weights the networks used comes back too (here: seeded random ones, noted under the output).
    expect(d1.weights.map((w) => w.weights).join('; ')).toMatch(/random/);
    const d2 = liveDone(await w.send(b));
    expect(d2.status).toBe('done');
    // The style image's encoding (and its loading) came from the memo; the camera's side was computed again.
    expect(d1.reused.hits).toBe(0);
    expect(d2.reused.hits).toBeGreaterThan(0);
    expect(d2.reused.misses).toBeGreaterThan(0);
    // The content moved, so the output changed (a stale memo entry for the camera would give the same picture).
    expect(meanAbs(out1, only(d2.outputs))).toBeGreaterThan(1);
    // The same picture again gives the same bytes.
    const d3 = liveDone(await w.send(a));
    expect(meanAbs(out1, only(d3.outputs))).toBe(0);
    // No frame stays behind in the worker's images.
    expect([...w.deps.state.images.keys()].filter((k) => k.startsWith(CAMERA_SOURCE))).toEqual([]);
  });

  it('holds a constant number of tensors from frame to frame (nothing leaks per frame)', async () => {
    const w = worker();
    const counts: number[] = [];
    for (let i = 0; i < 8; i++) {
      expect(liveDone(await w.send(picture(40, 30, i * 3))).status).toBe('done');
      counts.push(tf.memory().numTensors);
    }
    // Frame 1 loads the networks and fills the memo; every later frame leaves exactly as many tensors behind.
    expect(new Set(counts.slice(1)).size, counts.join(', ')).toBe(1);
  });

  it("says where each frame's time went, and takes the painting's AdaIN moments on the first frame only", async () => {
    const w = worker();
    const d1 = liveDone(await w.send(picture(40, 30, 0)));
    const d2 = liveDone(await w.send(picture(40, 30, 9)));
    for (const d of [d1, d2]) {
      const stages = d.stages!;
      for (const k of ['parse', 'pixels', 'prepare', 'sources', 'compile', 'execute', 'readback', 'step:camera'])
        expect(stages[k], `${k} in ${Object.keys(stages).join(', ')}`).toBeGreaterThanOrEqual(0);
      // The executor's steps and the readback happen inside its time, and all of it inside the worker's.
      const inside = Object.entries(stages)
        .filter(([k]) => k.startsWith('step:') || k === 'readback')
        .reduce((a, [, v]) => a + v, 0);
      expect(inside).toBeLessThanOrEqual(stages.execute! + 0.5);
      expect(stages.parse! + stages.pixels! + stages.prepare! + stages.compile! + stages.execute!).toBeLessThanOrEqual(
        d.ms + 0.5,
      );
      // The camera's side runs every frame.
      expect(stages['step:adain']).toBeGreaterThan(0);
    }
    // The style's moments are a prepared input of AdaIN, kept in the memo with the style's encoding.
    expect(d1.stages!['step:adain.style:prepare']).toBeGreaterThan(0);
    expect(Object.keys(d2.stages!).filter((k) => /style/.test(k))).toEqual([]);
  });

  it('a live frame gives the same picture as a still run of the graph on that picture', async () => {
    const w = worker();
    const pic = picture(40, 30, 5);
    const live = only(liveDone(await w.send(pic)).outputs);
    // Independent path: the session directly, the camera reading an image decoded under a file-like name.
    const images = new Map<string, DecodedImage>([['still.png', pic]]);
    const model = withCameraSource(loadPreset('adain-camera.json'), 'still.png');
    const r = await runSession(
      model,
      registry,
      { size: 32, seed: 3 },
      {
        tf,
        readImage: (s) => (images.has(s) ? Promise.resolve(images.get(s)!) : access.decode(s)),
      },
    );
    expect(r.status, r.error).toBe('done');
    expect(meanAbs(live, only(r.outputs))).toBe(0);
  });

  it('a run (not live) with a frame reports as usual; without a frame the camera says it is off', async () => {
    const w = worker();
    const withFrame = await w.send(picture(40, 30, 0), false);
    const done = withFrame.find((m) => m.type === 'done');
    expect(done?.type === 'done' && done.status).toBe('done');
    const off = await w.send(null, false);
    const failed = off.find((m) => m.type === 'done');
    // A picture the run cannot read is bad input, not a run that broke: 'invalid' reaches the editor as such.
    expect(failed?.type === 'done' && failed.status).toBe('invalid');
    // Node's decoder is the command line's: it says the camera needs the editor.
    expect(failed?.type === 'done' && failed.diagnostics.map((d) => d.message).join()).toMatch(
      /camera node streams only in the editor/,
    );
  });
});

describe('camera graphs on the command line', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-camera-'));
  const cli = async (...args: string[]) => {
    const lines: string[] = [];
    const io: Io = { out: () => {}, err: (l) => lines.push(l), isTTY: false, cwd: root };
    return { code: await main(args, io), err: lines.join('\n') };
  };

  it('says the camera needs the editor, and runs with --content', async () => {
    const bad = await cli(
      'run',
      'presets/adain-camera.json',
      '--size',
      '32',
      '--backend',
      'wasm',
      '--out',
      join(tmp, 'a.png'),
    );
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/camera node streams only in the editor.*--content/);
    const ok = await cli(
      'run',
      'presets/adain-camera.json',
      '--size',
      '32',
      '--backend',
      'wasm',
      '--content',
      'presets/images/astronaut.jpg',
      '--out',
      join(tmp, 'b.png'),
    );
    expect(ok.code, ok.err).toBe(0);
  });

  it('withInput fills camera nodes as content', () => {
    const m = withInput(loadPreset('adain-camera.json'), registry, 'content', 'x.png');
    expect(m.nodes.find((n) => n.id === 'camera')!.params.source).toBe('x.png');
    expect(m.nodes.find((n) => n.id === 'style')!.params.source).not.toBe('x.png');
  });
});
