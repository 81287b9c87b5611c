import { describe, expect, it } from 'vitest';
import { colourDistance, colourStats, edgeCorrelation, resizeNearest, type Rgba } from './picture-stats';

/** A width x height RGB picture from f(x, y) -> [r, g, b]. */
const picture = (width: number, height: number, f: (x: number, y: number) => [number, number, number]): Rgba => {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  return { data, width, height, channels: 3 };
};

describe('picture statistics for real-picture tests', () => {
  it('computes per-channel mean and spread (hand-computed)', () => {
    // Two pixels: red 0 and 100 (mean 50, std 50), green 10 and 10 (std 0), blue 0 and 30 (mean 15, std 15).
    const s = colourStats(picture(2, 1, (x) => (x ? [100, 10, 30] : [0, 10, 0])));
    expect(s.mean).toEqual([50, 10, 15]);
    expect(s.std).toEqual([50, 0, 15]);
    // Distance between that and a flat [50, 10, 15]: the three spreads only, sqrt(50^2 + 15^2).
    expect(
      colourDistance(
        picture(2, 1, (x) => (x ? [100, 10, 30] : [0, 10, 0])),
        picture(2, 1, () => [50, 10, 15]),
      ),
    ).toBeCloseTo(Math.hypot(50, 15), 10);
  });

  it('tells pictures with the same edges from unrelated and flat ones', () => {
    const disc = (x: number, y: number): [number, number, number] =>
      (x - 20) ** 2 + (y - 16) ** 2 < 100 ? [230, 200, 40] : [20, 30, 90];
    const a = picture(40, 32, disc);
    // The same shape in other colours: the edges are where they were.
    const recoloured = picture(40, 32, (x, y) => (disc(x, y)[0] > 100 ? [10, 10, 10] : [250, 120, 250]));
    expect(edgeCorrelation(a, recoloured)).toBeGreaterThan(0.99);
    // A picture whose one edge (a vertical line at x = 36) lies away from the disc's.
    const elsewhere = picture(40, 32, (x) => (x < 36 ? [0, 0, 0] : [255, 255, 255]));
    expect(edgeCorrelation(a, elsewhere)).toBeLessThan(0.2);
    expect(
      edgeCorrelation(
        a,
        picture(40, 32, () => [128, 128, 128]),
      ),
    ).toBeNaN();
    expect(() => edgeCorrelation(a, picture(20, 16, disc))).toThrow(/40x32 against 20x16/);
  });

  it('resizes by nearest neighbour', () => {
    const r = resizeNearest(
      picture(2, 2, (x, y) => [x * 100, y * 100, 7]),
      4,
      4,
    );
    expect(Array.from(r.data).slice(0, 16)).toEqual([0, 0, 7, 255, 0, 0, 7, 255, 100, 0, 7, 255, 100, 0, 7, 255]);
    expect(r.data[(3 * 4 + 3) * 4]).toBe(100);
    expect(r.data[(3 * 4 + 3) * 4 + 1]).toBe(100);
  });
});
