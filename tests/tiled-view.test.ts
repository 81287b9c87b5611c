// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import TiledView from '../src/editor/components/TiledView.vue';
import { tileRgba } from '../src/editor/tiled';

// A 2x1 picture: a red pixel, then a blue one.
const red = [255, 0, 0, 255];
const blue = [0, 0, 255, 255];
const picture = { width: 2, height: 1, data: new Uint8ClampedArray([...red, ...blue]) };

describe('tileRgba', () => {
  it('repeats the picture 2x2: red blue red blue on each of two rows', () => {
    const t = tileRgba(picture, 2, 2);
    expect([t.width, t.height]).toEqual([4, 2]);
    const row = [...red, ...blue, ...red, ...blue];
    expect(Array.from(t.data)).toEqual([...row, ...row]);
  });
  it('3 across, 1 down', () => {
    const t = tileRgba(picture, 3, 1);
    expect(Array.from(t.data)).toEqual([...red, ...blue, ...red, ...blue, ...red, ...blue]);
  });
});

describe('TiledView', () => {
  it('draws the output on a canvas twice its size', () => {
    const w = mount(TiledView, { props: { image: { width: 8, height: 6, data: new Uint8ClampedArray(8 * 6 * 4) } } });
    const canvas = w.find('canvas').element as HTMLCanvasElement;
    expect([canvas.width, canvas.height]).toEqual([16, 12]);
    expect(w.text()).toContain('tiled 2x2');
  });
});
