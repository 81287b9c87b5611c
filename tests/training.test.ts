import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile';
import { decoderFromStateDict } from '../src/models/adain';
import type { LoadedCheckpoint } from '../src/plugin/types';
import { checkpoint, fixture } from './parity';
import { loadPreset, registry, run, tf, useWasm, withParams } from './helpers';

beforeAll(useWasm);

// Four training images, and the tiny fixture networks (widths / 16) so a step takes a fraction of a second.
const folder = mkdtempSync(join(tmpdir(), 'stylegraph-train-'));
for (const f of ['astronaut.jpg', 'chelsea.jpg', 'brick.jpg', 'swirls.jpg'])
  copyFileSync(new URL(`../presets/images/${f}`, import.meta.url), join(folder, f));
const ckpt = (name: string, file: string): LoadedCheckpoint => ({
  name,
  source: fixture(file).pathname,
  tensors: checkpoint(file),
});

function trainingGraph(preset: string, extra: Record<string, unknown>) {
  const m = loadPreset(preset);
  const params: Record<string, unknown> = { ...extra };
  for (const n of m.nodes) {
    if (n.type === 'image-folder')
      Object.assign(params, { [`${n.id}.folder`]: folder, [`${n.id}.batch`]: 4, [`${n.id}.order`]: 'sequential' });
    if (n.type === 'decoder-model' || n.type === 'sanet-model') params[`${n.id}.channels`] = 32;
  }
  return withParams(m, params);
}

describe('training graphs', () => {
  it('compile: the models are the variables, batches and losses run in the loop, saving after it', () => {
    const plan = compile(loadPreset('train-sanet.json'), registry, { size: 32 }).plan!;
    expect(plan.optimiser!.variables.map((v) => [v.node, v.socket])).toEqual([
      ['sanet_weights', 'Model'],
      ['decoder_weights', 'Model'],
    ]);
    const phase = (id: string) => plan.steps.find((s) => s.id === id)?.phase;
    expect(phase('contents')).toBe('loop');
    expect(phase('save_sanet')).toBe('after');
    expect(plan.terms).toHaveLength(19);
    expect(plan.dropped).toEqual([]);
  });

  it('fine-tunes an AdaIN decoder: L_c + lambda L_s falls, the tensor count stays, and the weights load back', async () => {
    const before = tf.memory().numTensors;
    const r = await run(
      trainingGraph('train-adain-decoder.json', { 'trainer.steps': 12, 'trainer.learningRate': 1e-3 }),
      32,
      {},
      registry,
      [ckpt('vgg_normalised', 'vgg_normalised-tiny.pth'), ckpt('adain-decoder', 'decoder-tiny.pth')],
    );
    expect(r.status).toBe('done');
    const losses = r.steps.map((s) => s.loss);
    expect(losses.at(-1)!).toBeLessThan(0.7 * losses[0]!);
    expect(r.tensors.atEnd).toBe(r.tensors.afterFirstStep);
    expect(tf.memory().numTensors).toBe(before);
    // The saved state dict has decoder.pth's names and shapes, so the reader takes it back; and it changed.
    const trained = r.checkpoints.save!;
    const reloaded = decoderFromStateDict(tf, trained, 'trained');
    expect(reloaded.convs).toHaveLength(9);
    reloaded.dispose();
    const original = checkpoint('decoder-tiny.pth').get('1.weight')!.data;
    expect(Array.from(trained.get('1.weight')!.data)).not.toEqual(Array.from(original));
  });

  it('trains SANet and its decoder with the content, style and both identity losses', async () => {
    const r = await run(
      trainingGraph('train-sanet.json', { 'trainer.steps': 8, 'trainer.learningRate': 1e-3 }),
      32,
      {},
      registry,
      [
        ckpt('vgg_normalised', 'vgg_normalised-tiny.pth'),
        ckpt('sanet-transformer', 'sanet-transformer-tiny.pth'),
        ckpt('sanet-decoder', 'decoder-tiny.pth'),
      ],
    );
    expect(r.status).toBe('done');
    expect(Object.keys(r.steps[0]!.terms)).toEqual(
      expect.arrayContaining(['lid1_c', 'lid2_s_relu5_1', 'lc_relu4_1', 'ls_relu1_1']),
    );
    expect(r.steps.at(-1)!.loss).toBeLessThan(0.8 * r.steps[0]!.loss);
    expect(Object.keys(r.checkpoints).sort()).toEqual(['save_decoder', 'save_sanet']);
    expect(r.checkpoints.save_sanet!.get('sanet4_1.f.weight')!.shape).toEqual([32, 32, 1, 1]);
  });
});
