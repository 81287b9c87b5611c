// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import CompareWipe from '../src/editor/components/CompareWipe.vue';
import LossChart from '../src/editor/components/LossChart.vue';
import ParamControl from '../src/editor/components/ParamControl.vue';
import type { ParamDef } from '../src/plugin/types';

const unit: ParamDef = { kind: 'number', default: 0.25, min: 0, max: 1, description: 'how much' };
const weight: ParamDef = { kind: 'number', default: 1e-3, min: 1e-6, max: 1e3, log: true };
const free: ParamDef = { kind: 'number', default: 1 };
const count: ParamDef = { kind: 'integer', default: 4, min: 1, max: 10 };
const VGG = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1'];
const vggLayers = [
  { name: 'relu1_1', shape: [1, 64, 64, 64] },
  { name: 'relu2_1', shape: [1, 32, 32, 128] },
  { name: 'relu3_1', shape: [1, 16, 16, 256] },
  { name: 'relu4_1', shape: [1, 8, 8, 512] },
];

const param = (def: ParamDef, value: unknown, extra: Record<string, unknown> = {}) =>
  mount(ParamControl, { props: { name: 'p', def, value, ...extra } });

describe('ParamControl', () => {
  it('shows a slider and a number input for a bounded number, and emits the slider value', async () => {
    const w = param(unit, undefined);
    const slider = w.get('[data-test="slider"]');
    expect(slider.attributes('min')).toBe('0');
    expect(slider.attributes('max')).toBe('1');
    await slider.setValue('0.5');
    expect(w.emitted('update')).toEqual([[0.5]]);
    // The number input follows the slider.
    expect((w.get('[data-test="number"]').element as HTMLInputElement).value).toBe('0.5');
    expect(w.find('[role="alert"]').exists()).toBe(false);
  });

  it('emits a typed valid number', async () => {
    const w = param(unit, 0.25);
    await w.get('[data-test="number"]').setValue('0.5');
    expect(w.emitted('update')).toEqual([[0.5]]);
  });

  it('shows an inline error naming the range for an out-of-range value and emits nothing', async () => {
    const w = param(unit, 0.25);
    await w.get('[data-test="number"]').setValue('2');
    const alert = w.get('[role="alert"]');
    expect(alert.text()).toContain('must be between 0 and 1');
    expect(w.emitted('update')).toBeUndefined();
    // A valid value afterwards clears the error and is emitted.
    await w.get('[data-test="number"]').setValue('1');
    expect(w.find('[role="alert"]').exists()).toBe(false);
    expect(w.emitted('update')).toEqual([[1]]);
  });

  it('rejects text that is not a number', async () => {
    const w = param(free, undefined);
    expect(w.find('[data-test="slider"]').exists()).toBe(false);
    await w.get('[data-test="number"]').setValue('');
    expect(w.get('[role="alert"]').text()).toContain('must be a number');
    expect(w.emitted('update')).toBeUndefined();
  });

  it('integer rejects 1.5 and accepts 3', async () => {
    const w = param(count, undefined);
    await w.get('[data-test="number"]').setValue('1.5');
    expect(w.get('[role="alert"]').text()).toContain('whole number');
    expect(w.emitted('update')).toBeUndefined();
    await w.get('[data-test="number"]').setValue('3');
    expect(w.emitted('update')).toEqual([[3]]);
    expect(w.emitted('update')![0]![0]).toSatisfy(Number.isInteger);
  });

  it('log sliders move over decades and stay within the bounds', async () => {
    const w = param(weight, undefined);
    const slider = w.get('[data-test="slider"]');
    expect(Number(slider.attributes('min'))).toBeCloseTo(-6);
    expect(Number(slider.attributes('max'))).toBeCloseTo(3);
    await slider.setValue('-2');
    expect(w.emitted('update')).toEqual([[0.01]]);
    expect(w.get('[data-test="default"]').text()).toBe('default 1e-3');
  });

  it('shows the default and a reset button only when the value differs', async () => {
    const unset = param(unit, undefined);
    expect(unset.get('[data-test="default"]').text()).toBe('default 0.25');
    expect(unset.find('[data-test="reset"]').exists()).toBe(false);
    const same = param(unit, 0.25);
    expect(same.find('[data-test="reset"]').exists()).toBe(false);
    const changed = param(unit, 0.75);
    await changed.get('[data-test="reset"]').trigger('click');
    expect(changed.emitted('reset')).toHaveLength(1);
    expect(changed.emitted('update')).toBeUndefined();
    // Arrays compare by content.
    const layers: ParamDef = { kind: 'layers', default: ['relu1_1'], layers: VGG };
    expect(param(layers, ['relu1_1']).find('[data-test="reset"]').exists()).toBe(false);
    expect(param(layers, ['relu2_1']).find('[data-test="reset"]').exists()).toBe(true);
  });

  it('boolean is a checkbox that emits its state', async () => {
    const w = param({ kind: 'boolean', default: false }, undefined);
    const box = w.get('[data-test="checkbox"]');
    expect((box.element as HTMLInputElement).checked).toBe(false);
    await box.setValue(true);
    expect(w.emitted('update')).toEqual([[true]]);
  });

  it('enum select lists the options and emits the chosen one', async () => {
    const w = param({ kind: 'enum', default: 'adam', options: ['adam', 'lbfgs', 'sgd'] }, undefined);
    const select = w.get('[data-test="select"]');
    expect(select.findAll('option').map((o) => o.text())).toEqual(['adam', 'lbfgs', 'sgd']);
    expect((select.element as HTMLSelectElement).value).toBe('adam');
    await select.setValue('lbfgs');
    expect(w.emitted('update')).toEqual([['lbfgs']]);
  });

  it('string and model kinds are text inputs that emit on change', async () => {
    const w = param({ kind: 'model', default: 'models/a/model.json' }, undefined);
    const text = w.get('[data-test="text"]');
    expect((text.element as HTMLInputElement).value).toBe('models/a/model.json');
    await text.setValue('models/b/model.json');
    expect(w.emitted('update')).toEqual([['models/b/model.json']]);
  });

  it('layer select lists the layers with shapes as C×H×W and emits the choice', async () => {
    const def: ParamDef = { kind: 'layer', default: 'relu4_1', layers: VGG };
    const w = param(def, undefined, { layers: vggLayers });
    const select = w.get('[data-test="layer-select"]');
    const texts = select.findAll('option').map((o) => o.text());
    expect(texts).toContain('relu4_1 · 512×8×8');
    expect(texts).toContain('relu1_1 · 64×64×64');
    expect(texts).toHaveLength(4);
    await select.setValue('relu2_1');
    expect(w.emitted('update')).toEqual([['relu2_1']]);
  });

  it('layer select falls back to the def layers without shapes', () => {
    const w = param({ kind: 'layer', default: 'relu2_1', layers: VGG }, undefined);
    expect(
      w
        .get('[data-test="layer-select"]')
        .findAll('option')
        .map((o) => o.text()),
    ).toEqual(VGG);
  });

  it('layers checkboxes emit the checked names in network order', async () => {
    const def: ParamDef = { kind: 'layers', default: ['relu1_1'], layers: VGG, minItems: 1 };
    const w = param(def, ['relu3_1'], { layers: vggLayers });
    const boxes = w.findAll('[data-test="layers"] input[type="checkbox"]');
    expect(boxes).toHaveLength(4);
    expect(boxes.map((b) => (b.element as HTMLInputElement).checked)).toEqual([false, false, true, false]);
    expect(w.get('[data-test="layers"]').text()).toContain('512×8×8');
    await boxes[0]!.setValue(true);
    expect(w.emitted('update')).toEqual([[['relu1_1', 'relu3_1']]]);
  });

  it('layers refuses to uncheck the last layer when at least one is required', async () => {
    const def: ParamDef = { kind: 'layers', default: ['relu1_1'], layers: VGG, minItems: 1 };
    const w = param(def, ['relu3_1']);
    const box = w.get('[data-layer="relu3_1"] input');
    await box.setValue(false);
    expect(w.emitted('update')).toBeUndefined();
    expect(w.get('[role="alert"]').text()).toContain('at least 1');
    expect((box.element as HTMLInputElement).checked).toBe(true);
  });

  it('image kind lists the samples, keeps a non-sample value, and emits picked files', async () => {
    const samples = ['images/astronaut.jpg', 'images/starry.jpg'];
    const def: ParamDef = { kind: 'image', default: 'images/astronaut.jpg' };
    const w = param(def, undefined, { samples });
    const select = w.get('[data-test="image-select"]');
    expect(select.findAll('option').map((o) => o.attributes('value'))).toEqual(samples);
    await select.setValue('images/starry.jpg');
    expect(w.emitted('update')).toEqual([['images/starry.jpg']]);

    const custom = param(def, 'https://example.com/cat.png', { samples });
    const values = custom
      .get('[data-test="image-select"]')
      .findAll('option')
      .map((o) => o.attributes('value'));
    expect(values).toEqual(['https://example.com/cat.png', ...samples]);

    const file = w.get('[data-test="file"]');
    expect(file.attributes('accept')).toBe('image/*');
    const picked = new File(['x'], 'cat.png', { type: 'image/png' });
    Object.defineProperty(file.element, 'files', { value: [picked], configurable: true });
    await file.trigger('change');
    expect(w.emitted('upload')).toEqual([[picked]]);
  });

  it('renders names and descriptions as text, not HTML', () => {
    const w = mount(ParamControl, {
      props: { name: '<b>x</b>', def: { kind: 'string', default: '', description: '<i>d</i>' }, value: undefined },
    });
    expect(w.find('b').exists()).toBe(false);
    expect(w.find('i').exists()).toBe(false);
    expect(w.text()).toContain('<b>x</b>');
  });
});

describe('LossChart', () => {
  const pointsOf = (w: ReturnType<typeof mount>, series: string) => {
    const attr = w.get(`polyline[data-series="${series}"]`).attributes('points') ?? '';
    return attr.trim() === '' ? [] : attr.trim().split(/\s+/);
  };

  it('draws one polyline per series with one point per positive value', () => {
    const w = mount(LossChart, {
      props: {
        steps: [
          { step: 0, loss: 10, terms: { content: 4, style: 6 } },
          { step: 1, loss: 5, terms: { content: 0, style: 5 } },
          { step: 2, loss: 2, terms: { content: 1, style: 1, tv: 0.01 } },
        ],
      },
    });
    const lines = w.findAll('polyline');
    expect(lines.map((l) => l.attributes('data-series'))).toEqual(['total', 'content', 'style', 'tv']);
    expect(pointsOf(w, 'total')).toHaveLength(3);
    expect(pointsOf(w, 'content')).toHaveLength(2); // the zero is skipped
    expect(pointsOf(w, 'style')).toHaveLength(3);
    expect(pointsOf(w, 'tv')).toHaveLength(1);
    expect(w.html()).not.toContain('NaN');
    expect(new Set(lines.map((l) => l.attributes('stroke'))).size).toBe(4);

    const legend = w.findAll('[data-test="legend"] li');
    expect(legend.map((l) => l.attributes('data-series'))).toEqual(['total', 'content', 'style', 'tv']);
    expect(legend[0]!.text()).toContain('2');
    expect(legend[3]!.text()).toContain('0.01');
    expect(w.get('[data-test="x-first"]').text()).toBe('0');
    expect(w.get('[data-test="x-last"]').text()).toBe('2');
    expect(w.get('[data-test="y-max"]').text()).toBe('10');
    expect(w.get('[data-test="y-min"]').text()).toBe('0.01');
  });

  it('the larger value is drawn higher (log scale)', () => {
    const w = mount(LossChart, {
      props: {
        steps: [
          { step: 0, loss: 100, terms: {} },
          { step: 5, loss: 1, terms: {} },
        ],
      },
    });
    const [a, b] = pointsOf(w, 'total').map((p) => p.split(',').map(Number));
    expect(a![0]!).toBeLessThan(b![0]!);
    expect(a![1]!).toBeLessThan(b![1]!);
  });

  it('skips non-finite and negative values without producing NaN', () => {
    const w = mount(LossChart, {
      props: {
        steps: [
          { step: 0, loss: Number.NaN, terms: { a: -1 } },
          { step: 1, loss: Infinity, terms: { a: 0 } },
          { step: 2, loss: 3, terms: { a: -2 } },
        ],
      },
    });
    expect(pointsOf(w, 'total')).toHaveLength(1);
    expect(pointsOf(w, 'a')).toHaveLength(0);
    expect(w.html()).not.toContain('NaN');
    expect(w.html()).not.toContain('Infinity');
  });

  it('handles a single point', () => {
    const w = mount(LossChart, { props: { steps: [{ step: 7, loss: 0.5, terms: { style: 0.5 } }] } });
    expect(pointsOf(w, 'total')).toHaveLength(1);
    expect(w.findAll('circle')).toHaveLength(2);
    expect(w.html()).not.toContain('NaN');
    expect(w.get('[data-test="x-first"]').text()).toBe('7');
  });

  it('says "no steps yet" when empty', () => {
    const w = mount(LossChart, { props: { steps: [] } });
    expect(w.text()).toContain('no steps yet');
    expect(w.find('svg').exists()).toBe(false);
  });
});

describe('CompareWipe', () => {
  const img = (width: number, height: number) => ({
    width,
    height,
    data: new Uint8ClampedArray(width * height * 4).fill(200),
  });

  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it('says "no result yet" with no images', () => {
    const w = mount(CompareWipe, { props: { current: null, pinned: null } });
    expect(w.text()).toContain('no result yet');
    expect(w.find('canvas').exists()).toBe(false);
  });

  it('shows only the current canvas when nothing is pinned', () => {
    const w = mount(CompareWipe, { props: { current: img(4, 3), pinned: null } });
    expect(w.findAll('canvas')).toHaveLength(1);
    expect(w.find('input.wipe').exists()).toBe(false);
    const canvas = w.get('[data-test="current"]').element as HTMLCanvasElement;
    expect([canvas.width, canvas.height]).toEqual([4, 3]);
  });

  it('stacks both images and the range input moves the clip', async () => {
    const w = mount(CompareWipe, {
      props: { current: img(4, 4), pinned: img(4, 4), labels: { current: 'step 200', pinned: 'step 100' } },
    });
    expect(w.findAll('canvas')).toHaveLength(2);
    const range = w.get('input.wipe');
    expect(range.attributes('type')).toBe('range');
    expect((range.element as HTMLInputElement).value).toBe('50');
    const pinned = () => (w.get('[data-test="pinned"]').element as HTMLElement).style.clipPath;
    expect(pinned()).toBe('inset(0 50% 0 0)');
    await range.setValue('80');
    expect(pinned()).toBe('inset(0 20% 0 0)');
    expect(w.get('[data-test="label-current"]').text()).toBe('step 200');
    expect(w.get('[data-test="label-pinned"]').text()).toBe('step 100');
  });

  it('draws the pixels with putImageData when a 2D context exists', async () => {
    const put = vi.fn();
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue({ putImageData: put } as never);
    class FakeImageData {
      constructor(
        readonly data: Uint8ClampedArray,
        readonly width: number,
        readonly height: number,
      ) {}
    }
    vi.stubGlobal('ImageData', FakeImageData);
    const w = mount(CompareWipe, { props: { current: img(2, 2), pinned: null } });
    expect(put).toHaveBeenCalledTimes(1);
    const drawn = put.mock.calls[0]![0] as FakeImageData;
    expect([drawn.width, drawn.height, drawn.data.length]).toEqual([2, 2, 16]);
    await w.setProps({ current: img(3, 1) });
    expect(put).toHaveBeenCalledTimes(2);
    expect((put.mock.calls[1]![0] as FakeImageData).width).toBe(3);
  });
});

describe('Palette', () => {
  it("lists every type by category, and a search's matches best first as the canvas menu does", async () => {
    const { default: Palette } = await import('../src/editor/Palette.vue');
    const w = mount(Palette);
    expect(w.findAll('h3').map((h) => h.text())).toContain('Losses');
    await w.find('[data-test=palette-search]').setValue('gram');
    expect(w.findAll('h3').map((h) => h.text())).toEqual(['Matches']);
    expect(
      w
        .findAll('.item')
        .slice(0, 2)
        .map((b) => b.text()),
    ).toEqual(['Gram matrix', 'Gram style loss']);
    await w.findAll('.item')[0]!.trigger('click');
    expect(w.emitted('add')).toEqual([['gram']]);
  });
});
