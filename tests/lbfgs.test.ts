import { describe, expect, it } from 'vitest';
import { cubicInterpolate, lbfgs, type Objective } from '../src/runtime/lbfgs';

async function minimise<T>(
  x0: number[],
  f: Objective<T>,
  maxIter: number,
  opts: Partial<Parameters<typeof lbfgs>[2]> = {},
) {
  let last;
  let evaluations = 0;
  for await (const it of lbfgs(Float64Array.from(x0), f, { history: 10, ...opts })) {
    last = it;
    evaluations += it.evaluations;
    if (it.iteration >= maxIter) break;
  }
  return { ...last!, evaluations };
}

const rosenbrock: Objective<null> = (x) => {
  const [a, b] = [x[0]!, x[1]!];
  return {
    f: (1 - a) ** 2 + 100 * (b - a * a) ** 2,
    g: Float64Array.from([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)]),
    extra: null,
  };
};

describe('L-BFGS', () => {
  it('finds the Rosenbrock minimum at (1, 1) from (-1.2, 1)', async () => {
    const r = await minimise([-1.2, 1], rosenbrock, 200);
    expect(r.x[0]).toBeCloseTo(1, 5);
    expect(r.x[1]).toBeCloseTo(1, 5);
    expect(r.f).toBeLessThan(1e-10);
  });

  it('minimises a 50-dimensional ill-conditioned quadratic to its known minimum', async () => {
    // f(x) = 1/2 sum d_i (x_i - c_i)^2 with d_i from 1 to 1000: minimum 0 at c.
    const n = 50;
    const d = Array.from({ length: n }, (_, i) => 1000 ** (i / (n - 1)));
    const c = Array.from({ length: n }, (_, i) => Math.sin(i));
    const quad: Objective<null> = (x) => ({
      f: x.reduce((s, xi, i) => s + 0.5 * d[i]! * (xi - c[i]!) ** 2, 0),
      g: x.map((xi, i) => d[i]! * (xi - c[i]!)),
      extra: null,
    });
    const r = await minimise(new Array(n).fill(0), quad, 500, { tolChange: 1e-15, tolGrad: 1e-9 });
    expect(r.f).toBeLessThan(1e-12);
    for (let i = 0; i < n; i++) expect(r.x[i]).toBeCloseTo(c[i]!, 4);
  });

  it('decreases f at every iteration (the strong Wolfe line search accepts only decreases)', async () => {
    const fs: number[] = [];
    for await (const it of lbfgs(Float64Array.from([-1.2, 1]), rosenbrock, { history: 5 })) {
      fs.push(it.f);
      if (it.iteration >= 30) break;
    }
    for (let i = 1; i < fs.length; i++) expect(fs[i]).toBeLessThan(fs[i - 1]!);
  });

  it('yields the starting point first and passes the caller data of accepted points', async () => {
    const seen: number[] = [];
    const f: Objective<number> = (x) => {
      const r = rosenbrock(x) as { f: number; g: Float64Array };
      return { ...r, extra: r.f };
    };
    for await (const it of lbfgs(Float64Array.from([0, 0]), f, { history: 3 })) {
      seen.push(it.iteration);
      expect(it.extra).toBe(it.f);
      if (it.iteration >= 3) break;
    }
    expect(seen).toEqual([0, 1, 2, 3]);
  });

  it('stops by itself at a stationary point', async () => {
    const r = await minimise(
      [3],
      (x) => ({ f: (x[0]! - 2) ** 2, g: Float64Array.from([2 * (x[0]! - 2)]), extra: null }),
      100,
    );
    expect(r.x[0]).toBeCloseTo(2, 8);
    expect(r.iteration).toBeLessThan(10);
  });
});

describe('cubicInterpolate', () => {
  it('finds the minimum of a cubic from two points and slopes', () => {
    // p(t) = t^3 - 3t on [0, 2]: minimum at t = 1. p(0) = 0, p'(0) = -3; p(2) = 2, p'(2) = 9.
    expect(cubicInterpolate(0, 0, -3, 2, 2, 9)).toBeCloseTo(1, 10);
  });
  it('clamps to the bounds and falls back to bisection without a real minimum', () => {
    expect(cubicInterpolate(0, 0, -3, 2, 2, 9, [1.5, 3])).toBe(1.5);
    // Slopes 1 and 1 with f rising by 2/3: the interpolating cubic has no local minimum.
    expect(cubicInterpolate(0, 0, 1, 1, 2 / 3, 1)).toBeCloseTo(0.5, 10);
  });
});
