// @vitest-environment happy-dom
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile';
import { vgg19Widths } from '../src/models/checkpoints';
import { readCheckpoint } from '../src/models/weights/read';
import { checkpointShapes } from '../src/runtime/sources';
import { useGraphStore } from '../src/editor/stores/graph';
import { checkpointShapes as editorShapes } from '../src/editor/registry';
import { loadPreset, registry } from './helpers';

const tiny = readCheckpoint(new Uint8Array(readFileSync(join(process.cwd(), 'tests/fixtures/vgg19-tiny.pth'))));
const store = {
  get: (name: string) => (name === 'vgg19' ? { name, source: 'vgg19-tiny.pth', tensors: tiny } : undefined),
};
/** What the fixture's convs put out, read straight from its tensors: block b's first conv is features.N. */
const out = (index: number) => tiny.get(`features.${index}.weight`)!.shape[0]!;

describe('a reduced-width checkpoint: plans and wires show the widths it runs at', () => {
  it("reads every VGG19 layer's width from the checkpoint, and none for the standard widths", () => {
    const widths = vgg19Widths(new Map([...tiny].map(([k, t]) => [k, t.shape])), 'torchvision')!;
    expect(widths.get('conv1_1')).toBe(out(0));
    expect(widths.get('relu1_1')).toBe(out(0));
    expect(widths.get('pool1')).toBe(out(2));
    expect(widths.get('relu4_2')).toBe(out(21));
    expect(widths.get('relu5_1')).toBe(out(28));
    expect(out(28)).toBeLessThan(512);
    const standard = new Map(
      [...tiny].map(([k, t]) => [
        k,
        k.endsWith('.weight') && t.shape.length === 4
          ? [[0, 2].includes(Number(k.split('.')[1])) ? 64 : 0, ...t.shape.slice(1)]
          : t.shape,
      ]),
    );
    expect(vgg19Widths(standard, 'torchvision')!.has('relu1_1')).toBe(false);
    expect(vgg19Widths(new Map(), 'torchvision')).toBeUndefined();
  });

  it('compiles the Gatys preset at the loaded widths: taps, Grams and the plan', () => {
    const m = loadPreset('gatys.json');
    const plain = compile(m, registry, { size: 32 }).plan!;
    const narrow = compile(m, registry, { size: 32, checkpointShapes: checkpointShapes(store) }).plan!;
    const shape = (plan: typeof plain, key: string) =>
      plan.steps.flatMap((st) => st.outputs).find((o) => o.key === key)!.info.shape;
    expect(shape(plain, 'enc_x.relu1_1')).toEqual([1, 32, 32, 64]);
    expect(shape(narrow, 'enc_x.relu1_1')).toEqual([1, 32, 32, out(0)]);
    expect(shape(narrow, 'enc_x.conv4_2')).toEqual([1, 4, 4, out(21)]);
    expect(narrow.estimate.peakBytes).toBeLessThan(plain.estimate.peakBytes);
  });

  it("shows them on the editor's wires once the worker reports the loaded checkpoint", () => {
    setActivePinia(createPinia());
    const g = useGraphStore();
    g.load(loadPreset('gatys.json'), 'gatys.json');
    expect(g.shapes.get('enc_x.relu1_1')?.at(-1)).toBe(64);
    editorShapes.value = new Map([['vgg19', new Map([...tiny].map(([k, t]) => [k, t.shape]))]]);
    expect(g.shapes.get('enc_x.relu1_1')?.at(-1)).toBe(out(0));
    editorShapes.value = new Map();
  });
});
