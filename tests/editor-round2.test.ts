import { describe, expect, it } from 'vitest';
import { compile } from '../src/compiler/compile';
import { formatPlan } from '../src/compiler/format';
import type { Plan } from '../src/compiler/plan';
import { hostLimit } from '../src/editor/host-limits';
import {
  classroomSteps,
  fromSlider,
  measuredGflops,
  runFlops,
  runSeconds,
  sliderRange,
  SLIDER_STEPS,
  toSlider,
} from '../src/editor/lesson';
import { imageType } from '../src/editor/thumbnails';
import { contactSheet, glyph, GLYPH_HEIGHT, GLYPH_WIDTH } from '../src/ops/contact-sheet';
import type { NumberParam } from '../src/plugin/types';
import { loadPreset, registry } from './helpers';

/** Issue 18, items 8-10: the pure parts. */
describe('contact-sheet labels (item 10)', () => {
  const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=-,:+()/%'";

  it('has a glyph of the font size for every letter, digit and the punctuation labels use', () => {
    for (const ch of chars) {
      const g = glyph(ch);
      expect(g, ch).toHaveLength(GLYPH_HEIGHT);
      for (const row of g) expect(row, ch).toMatch(new RegExp(`^[.#]{${GLYPH_WIDTH}}$`));
      expect(g.join('').includes('#'), `${ch} has ink`).toBe(true);
    }
  });

  it('draws lower case as lower case: every letter differs from its capital, and no two glyphs are the same', () => {
    for (const ch of 'abcdefghijklmnopqrstuvwxyz')
      expect(glyph(ch).join(), ch).not.toBe(glyph(ch.toUpperCase()).join());
    const seen = new Map<string, string>();
    for (const ch of chars) {
      const key = glyph(ch).join();
      expect(seen.get(key), `${ch} looks like ${seen.get(key)}`).toBeUndefined();
      seen.set(key, ch);
    }
    // x-height letters leave the ascender rows empty; g, p, q, y reach below the baseline.
    for (const ch of 'acemnorsuvwxz') expect(glyph(ch).slice(0, 2).join(''), ch).not.toContain('#');
    for (const ch of 'gpqy') expect(glyph(ch).slice(7).join(''), ch).toContain('#');
    for (const ch of 'bdhkl') expect(glyph(ch)[0], ch).toContain('#');
  });

  it('puts the glyphs of a sweep label above its tile, pixel for pixel', () => {
    const tile = { width: 16, height: 8, data: new Uint8ClampedArray(16 * 8 * 4).fill(128) };
    const label = 'a=1 b=1000';
    const sheet = contactSheet(
      [
        { image: tile, label },
        { image: tile, label: 'a=10 b=1000' },
      ],
      2,
    );
    const ink = (x: number, y: number) => sheet.data[(y * sheet.width + x) * 4] === 30;
    const scale = 2;
    const pad = 6;
    [...label].forEach((ch, c) => {
      const g = glyph(ch);
      for (let gy = 0; gy < GLYPH_HEIGHT; gy++)
        for (let gx = 0; gx < GLYPH_WIDTH; gx++)
          expect(ink(pad + (c * (GLYPH_WIDTH + 1) + gx) * scale, pad + gy * scale), `${ch} at ${gx},${gy}`).toBe(
            g[gy]![gx] === '#',
          );
    });
    // The label fits: the tile column is as wide as its longest label.
    expect(sheet.width).toBeGreaterThanOrEqual(2 * 'a=10 b=1000'.length * (GLYPH_WIDTH + 1) * scale);
  });
});

describe('plan text (item 10)', () => {
  it("reports a feed-forward graph's one pass, not a per-step or before-the-loop cost", () => {
    const text = formatPlan(compile(loadPreset('adain.json'), registry, { size: 64 }).plan!);
    expect(text).toMatch(/^one pass: +\d+(\.\d+)? GFLOP \(feed-forward, no optimisation loop\)$/m);
    expect(text).not.toMatch(/per step|per iteration|before the loop/);
  });

  it("keeps the loop's lines for an optimised graph", () => {
    const text = formatPlan(compile(loadPreset('gatys.json'), registry, { size: 64 }).plan!);
    expect(text).toMatch(/^before the loop: /m);
    expect(text).toMatch(/^per iteration: /m);
    expect(text).not.toMatch(/one pass/);
  });
});

describe('training graphs in the browser (item 8)', () => {
  it('names the folder nodes and gives the command with a --set per folder', () => {
    const m = loadPreset('train-adain-decoder.json');
    const limit = hostLimit(m, registry, 'train-adain-decoder.json', null, ['gatys.json', 'train-adain-decoder.json'])!;
    expect(limit.nodes).toEqual(['contents', 'styles']);
    expect(limit.reason).toBe(
      'this graph trains on image folders (Content images, Style images), which a web page cannot read: run it from the command line',
    );
    expect(limit.command).toBe(
      'npx stylegraph run presets/train-adain-decoder.json --set contents.folder=CONTENTS_FOLDER --set styles.folder=STYLES_FOLDER',
    );
  });

  it("quotes a saved file's name, and leaves out bypassed folder nodes and ones the plan drops", () => {
    const m = loadPreset('train-sanet.json');
    const folders = m.nodes.filter((n) => n.type === 'image-folder').map((n) => n.id);
    expect(folders.length).toBeGreaterThan(0);
    expect(hostLimit(m, registry, 'my graph.json', null)!.command).toMatch(
      /^npx stylegraph run 'my graph\.json' --set /,
    );
    expect(hostLimit(m, registry, 'x.json', new Set(folders.slice(1)))?.nodes ?? []).toEqual(folders.slice(1));
    const bypassed = { ...m, nodes: m.nodes.map((n) => (n.type === 'image-folder' ? { ...n, bypass: true } : n)) };
    expect(hostLimit(bypassed, registry, 'x.json', null)).toBeNull();
  });

  it('says nothing about graphs without folders', () => {
    for (const p of ['gatys.json', 'adain.json', 'lesson-alpha-beta.json'])
      expect(hostLimit(loadPreset(p), registry, p, null)).toBeNull();
  });
});

describe('lesson sliders and run costs (item 9)', () => {
  const weight: NumberParam = { kind: 'number', default: 1, min: 0, log: true };

  it("takes the spec's range, a lesson's own bounds first, and log scale where the spec says log", () => {
    expect(sliderRange({ kind: 'number', default: 0.5, min: 0, max: 1 }, 0.2)).toEqual({
      min: 0,
      max: 1,
      log: false,
      integer: false,
    });
    expect(sliderRange({ kind: 'integer', default: 4, min: 1, max: 64 }, undefined)).toEqual({
      min: 1,
      max: 64,
      log: false,
      integer: true,
    });
    expect(sliderRange(weight, 1, { min: 0.01, max: 100 })).toEqual({ min: 0.01, max: 100, log: true, integer: false });
    // A log weight with no upper bound (and min 0) spans decades around its value.
    expect(sliderRange(weight, 1e4)).toEqual({ min: 10, max: 1e8, log: true, integer: false });
    expect(sliderRange(weight, 0)).toEqual({ min: 1e-3, max: 1e4, log: true, integer: false });
    expect(sliderRange({ kind: 'string', default: '' }, 'x')).toBeNull();
  });

  it('moves a log slider over decades and reads round values back', () => {
    const r = sliderRange(weight, 1, { min: 0.01, max: 100 })!;
    expect(toSlider(r, 1)).toBe(SLIDER_STEPS / 2);
    expect(toSlider(r, 10)).toBe(750);
    expect(fromSlider(r, 750)).toBe(10);
    expect(fromSlider(r, 0)).toBe(0.01);
    expect(fromSlider(r, SLIDER_STEPS)).toBe(100);
    for (let p = 0; p <= SLIDER_STEPS; p += 50)
      expect(Math.abs(toSlider(r, fromSlider(r, p)) - p)).toBeLessThanOrEqual(12);
    const lin = sliderRange({ kind: 'integer', default: 4, min: 1, max: 64 }, 4)!;
    expect(fromSlider(lin, 500)).toBe(33);
    expect(Number.isInteger(fromSlider(lin, 123))).toBe(true);
  });

  const plan = (size: number): Plan => compile(loadPreset('lesson-alpha-beta.json'), registry, { size }).plan!;

  it('estimates a run from the plan: the pass before the loop plus each L-BFGS step with its line search', () => {
    const p = plan(64);
    const e = p.estimate;
    expect(runFlops(p, 0)).toBe(e.flopsOnce + e.flopsAfter);
    expect(runFlops(p, 10) - runFlops(p, 0)).toBeCloseTo(e.flopsPerIteration * 1.25 * 10, -3);
    expect(runSeconds(p, 10)).toBeCloseTo(runFlops(p) / 1e10, 6);
    const adain = compile(loadPreset('adain.json'), registry, { size: 64 }).plan!;
    expect(runFlops(adain)).toBe(adain.estimate.flopsOnce + adain.estimate.flopsAfter);
  });

  it("lowers a cell's steps to what fits a minute, and leaves a cheap one as written", () => {
    const small = plan(32);
    expect(classroomSteps(small, 20)).toBe(40);
    const big = plan(256);
    const fit = classroomSteps(big, 20);
    expect(fit).toBeGreaterThan(0);
    expect(fit).toBeLessThan(40);
    expect(runSeconds(big, 20, fit)).toBeLessThanOrEqual(60);
    expect(runSeconds(big, 20, fit + 5)).toBeGreaterThan(54);
    // Even a hopeless backend runs one step.
    expect(classroomSteps(big, 1e-6)).toBe(1);
  });

  it('measures a backend from a finished run', () => {
    const p = plan(32);
    expect(measuredGflops(p, 40, 1, runFlops(p, 40) / 5e9)).toBeCloseTo(5, 6);
    expect(measuredGflops(p, 40, 6, (6 * runFlops(p, 40)) / 5e9)).toBeCloseTo(5, 6);
    expect(measuredGflops(p, 0, 1, 3)).toBeNull();
    expect(measuredGflops(p, 40, 1, 0)).toBeNull();
  });
});

describe('dropped images (item 10)', () => {
  it('are shown with the type their name says', () => {
    expect(imageType('upload:ab12/cat.PNG')).toBe('image/png');
    expect(imageType('upload:ab12/cat.webp')).toBe('image/webp');
    expect(imageType('upload:ab12/my_cat.jpg')).toBe('image/jpeg');
  });
});
