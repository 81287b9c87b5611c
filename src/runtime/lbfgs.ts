/**
 * L-BFGS (Nocedal & Wright, algorithms 7.4 and 3.5/3.6): the two-loop recursion over the last `history`
 * correction pairs and a line search satisfying the strong Wolfe conditions, with safeguarded cubic
 * interpolation. Works on plain Float64Arrays, so it is independent of tfjs and testable on known functions.
 */

export interface Evaluation<T> {
  f: number;
  g: Float64Array;
  /** Whatever the caller wants back for the accepted point (per-term losses). */
  extra: T;
}

export type Objective<T> = (x: Float64Array) => Evaluation<T> | Promise<Evaluation<T>>;

export interface LbfgsOptions {
  history: number;
  /** Initial step length of each line search (1 is the natural step of a quasi-Newton method). */
  lr?: number;
  /** Stop when the largest gradient component is at most this. */
  tolGrad?: number;
  /** Stop when a step, or the change in f, is at most this. */
  tolChange?: number;
  lineSearch?: 'strong-wolfe' | 'none';
  maxLineSearch?: number;
}

export interface LbfgsIterate<T> {
  iteration: number;
  x: Float64Array;
  f: number;
  g: Float64Array;
  extra: T;
  /** Function evaluations this iteration took. */
  evaluations: number;
  /** Set on the last iterate when the method stopped by itself. */
  converged?: string;
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const maxAbs = (a: Float64Array): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};
const axpy = (x: Float64Array, t: number, d: Float64Array): Float64Array => {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + t * d[i]!;
  return out;
};

/**
 * Yields iteration 0 (the starting point) and then one iterate per L-BFGS iteration, forever or until
 * convergence; the caller decides how many to take.
 */
export async function* lbfgs<T>(
  x0: Float64Array,
  objective: Objective<T>,
  options: LbfgsOptions,
): AsyncGenerator<LbfgsIterate<T>> {
  const m = options.history;
  const lr = options.lr ?? 1;
  const tolGrad = options.tolGrad ?? 1e-7;
  const tolChange = options.tolChange ?? 1e-9;
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  const rho: number[] = [];

  let x: Float64Array = Float64Array.from(x0);
  let cur = await objective(x);
  yield { iteration: 0, x, f: cur.f, g: cur.g, extra: cur.extra, evaluations: 1 };

  for (let k = 1; ; k++) {
    if (maxAbs(cur.g) <= tolGrad) return;
    const d = twoLoop(cur.g, s, y, rho);
    const gtd = dot(cur.g, d);
    if (gtd > -tolChange) return;
    const t0 = k === 1 ? Math.min(1, 1 / l1(cur.g)) * lr : lr;

    let next: Evaluation<T> & { t: number; evaluations: number };
    if (options.lineSearch === 'none') {
      next = { ...(await objective(axpy(x, t0, d))), t: t0, evaluations: 1 };
    } else {
      const phi = async (t: number) => {
        const e = await objective(axpy(x, t, d));
        return { t, ...e, gtd: dot(e.g, d) };
      };
      // The start (t = 0) is returned when no point decreased f; its gradient is not needed then.
      const start: Point<T> = { t: 0, f: cur.f, gtd, g: new Float64Array(0), extra: cur.extra };
      const r = await strongWolfe(phi, t0, start, maxAbs(d), tolChange, options.maxLineSearch ?? 25);
      next = { ...r.best, evaluations: r.evaluations };
    }
    if (next.t === 0) return; // the line search found no decrease along a descent direction
    const step = new Float64Array(d.length);
    const dg = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) {
      step[i] = next.t * d[i]!;
      dg[i] = next.g[i]! - cur.g[i]!;
    }
    const ys = dot(dg, step);
    if (ys > 1e-10) {
      if (s.length === m) {
        s.shift();
        y.shift();
        rho.shift();
      }
      s.push(step);
      y.push(dg);
      rho.push(1 / ys);
    }
    x = axpy(x, next.t, d);
    const fPrev = cur.f;
    cur = next;
    const converged =
      maxAbs(cur.g) <= tolGrad
        ? 'gradient below tolerance'
        : maxAbs(step) <= tolChange
          ? 'step below tolerance'
          : Math.abs(cur.f - fPrev) < tolChange
            ? 'loss change below tolerance'
            : undefined;
    yield {
      iteration: k,
      x,
      f: cur.f,
      g: cur.g,
      extra: cur.extra,
      evaluations: next.evaluations,
      ...(converged ? { converged } : {}),
    };
    if (converged) return;
  }
}

const l1 = (a: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]!);
  return s;
};

/** d = -H g, with H0 = (s'y / y'y) I from the newest pair. */
function twoLoop(g: Float64Array, s: Float64Array[], y: Float64Array[], rho: number[]): Float64Array {
  const q = Float64Array.from(g, (v) => -v);
  const alpha: number[] = new Array(s.length);
  for (let i = s.length - 1; i >= 0; i--) {
    alpha[i] = rho[i]! * dot(s[i]!, q);
    const yi = y[i]!;
    for (let j = 0; j < q.length; j++) q[j]! -= alpha[i]! * yi[j]!;
  }
  if (s.length) {
    const last = s.length - 1;
    const gamma = dot(s[last]!, y[last]!) / dot(y[last]!, y[last]!);
    for (let j = 0; j < q.length; j++) q[j]! *= gamma;
  }
  for (let i = 0; i < s.length; i++) {
    const beta = rho[i]! * dot(y[i]!, q);
    const si = s[i]!;
    for (let j = 0; j < q.length; j++) q[j]! += (alpha[i]! - beta) * si[j]!;
  }
  return q;
}

/** Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to the bounds. */
export function cubicInterpolate(
  x1: number,
  f1: number,
  g1: number,
  x2: number,
  f2: number,
  g2: number,
  bounds?: [number, number],
): number {
  const [lo, hi] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2sq = d1 * d1 - g1 * g2;
  if (d2sq >= 0 && Number.isFinite(d2sq)) {
    const d2 = Math.sqrt(d2sq);
    const t =
      x1 <= x2
        ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    if (Number.isFinite(t)) return Math.min(Math.max(t, lo), hi);
  }
  return (lo + hi) / 2;
}

interface Point<T> extends Evaluation<T> {
  t: number;
  gtd: number;
}

/** A point along the search line x + t d: the function and its directional derivative there. */
export interface LinePoint {
  t: number;
  f: number;
  gtd: number;
}

/**
 * torch.optim.LBFGS's _strong_wolfe: finds t with f(t) <= f(0) + c1 t f'(0) and |f'(t)| <= c2 |f'(0)| by
 * extrapolating until the minimum is bracketed, then zooming in. Returns the best point found: `start` (t = 0) if
 * none decreased f. Used by both loops (host float64 and device float32): `keepOnly` hears which points are still
 * needed whenever others are dropped, so the device loop can free their gradients.
 */
export async function strongWolfe<P extends LinePoint>(
  phi: (t: number) => Promise<P>,
  t: number,
  start: P,
  dMax: number,
  tolChange: number,
  maxIter: number,
  keepOnly: (...keep: P[]) => void = () => {},
): Promise<{ best: P; evaluations: number }> {
  const c1 = 1e-4;
  const c2 = 0.9;
  const [f0, gtd0] = [start.f, start.gtd];
  let evaluations = 1;
  let prev = start;
  let p = await phi(t);
  let bracket: P[] | null = null;
  let done = false;
  let iter = 0;
  while (iter < maxIter) {
    if (p.f > f0 + c1 * p.t * gtd0 || (iter > 1 && p.f >= prev.f)) {
      bracket = [prev, p];
      break;
    }
    if (Math.abs(p.gtd) <= -c2 * gtd0) {
      bracket = [p];
      done = true;
      break;
    }
    if (p.gtd >= 0) {
      bracket = [prev, p];
      break;
    }
    const next = cubicInterpolate(prev.t, prev.f, prev.gtd, p.t, p.f, p.gtd, [p.t + 0.01 * (p.t - prev.t), p.t * 10]);
    prev = p;
    keepOnly(prev);
    p = await phi(next);
    evaluations++;
    iter++;
  }
  if (!bracket) bracket = [start, p];
  keepOnly(...bracket);

  let insufficientProgress = false;
  let [lo, hi] = bracket.length === 1 || bracket[0]!.f <= bracket[1]!.f ? [0, 1] : [1, 0];
  while (!done && iter < maxIter && bracket.length === 2) {
    const a = bracket[0]!;
    const b = bracket[1]!;
    if (Math.abs(b.t - a.t) * dMax < tolChange) break;
    let tNew = cubicInterpolate(a.t, a.f, a.gtd, b.t, b.f, b.gtd);
    const tMax = Math.max(a.t, b.t);
    const tMin = Math.min(a.t, b.t);
    const eps = 0.1 * (tMax - tMin);
    if (Math.min(tMax - tNew, tNew - tMin) < eps) {
      if (insufficientProgress || tNew >= tMax || tNew <= tMin) {
        tNew = Math.abs(tNew - tMax) < Math.abs(tNew - tMin) ? tMax - eps : tMin + eps;
        insufficientProgress = false;
      } else insufficientProgress = true;
    } else insufficientProgress = false;
    const q = await phi(tNew);
    evaluations++;
    iter++;
    if (q.f > f0 + c1 * q.t * gtd0 || q.f >= bracket[lo]!.f) {
      bracket[hi] = q;
      [lo, hi] = bracket[0]!.f <= bracket[1]!.f ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(q.gtd) <= -c2 * gtd0) done = true;
      else if (q.gtd * (bracket[hi]!.t - bracket[lo]!.t) >= 0) bracket[hi] = bracket[lo]!;
      bracket[lo] = q;
    }
    keepOnly(...bracket);
  }
  const best = bracket[lo]!;
  keepOnly(best);
  return { best, evaluations };
}
