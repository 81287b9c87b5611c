import type * as tfjs from '@tensorflow/tfjs';
import type { LbfgsPlacement } from '../plugin/types';
import { strongWolfe, type LbfgsOptions } from './lbfgs';

/**
 * L-BFGS on the backend's device: the same algorithm, line search and stopping rules as `lbfgs` (lbfgs.ts, which
 * follows torch.optim.LBFGS), but the point, the gradient, the direction and the history (s, y) are float32 tensors
 * that never leave the device. Only scalars are read back, in one read per function evaluation (the loss and the
 * caller's terms, the directional derivative g.d, max |g|, and on the first evaluation sum |g|) and one per
 * iteration (g.d and max |d| of the new direction). On a GPU that replaces reading the whole gradient back and a
 * JavaScript two-loop recursion at every evaluation.
 *
 * Ownership: the optimiser owns every tensor it is given or makes. A yielded `x` is valid until the generator is
 * resumed; leaving the loop (break, return, throw) frees everything.
 */

type TF = typeof tfjs;
type Tensor = tfjs.Tensor;

export interface DeviceEvaluation<T> {
  /** The gradient at the point, flat (float32), handed to the optimiser. */
  g: Tensor;
  /** Scalars to read back with the optimiser's own in the same read, the loss first; handed to the optimiser. */
  scalars: Tensor;
  /** The caller's data for the point, from the read values of `scalars` (values[0] is the loss). */
  extra(values: Float32Array): T;
}

/** Evaluates the objective at a flat point (which the objective must not keep or dispose). */
export type DeviceObjective<T> = (x: Tensor) => DeviceEvaluation<T> | Promise<DeviceEvaluation<T>>;

export interface DeviceIterate<T> {
  iteration: number;
  /** The accepted point, flat; valid until the generator resumes. */
  x: Tensor;
  f: number;
  extra: T;
  evaluations: number;
  converged?: string;
}

/** An evaluated point along the search line x + t d, with what was read of it. */
interface Point<T> {
  t: number;
  f: number;
  gtd: number;
  /** The gradient there; null for the starting point of a line search, whose gradient the caller holds. */
  g: Tensor | null;
  gMax: number;
  extra: T | undefined;
}

/**
 * Yields iteration 0 (the starting point, `x0` is copied) and then one iterate per L-BFGS iteration, until
 * convergence or until the caller stops taking them.
 */
export async function* lbfgsDevice<T>(
  tf: TF,
  x0: Tensor,
  objective: DeviceObjective<T>,
  options: LbfgsOptions,
): AsyncGenerator<DeviceIterate<T>> {
  const m = options.history;
  const lr = options.lr ?? 1;
  const tolGrad = options.tolGrad ?? 1e-7;
  const tolChange = options.tolChange ?? 1e-9;
  const maxLineSearch = options.maxLineSearch ?? 25;
  let x = tf.tidy(() => tf.clone(tf.reshape(x0, [-1])));
  const history = new History(tf, x, m);
  let d: Tensor | null = null;
  /** Gradients held by the current iteration's points, freed once no point needs them. */
  const held = new Set<Tensor>();

  /** Evaluates at x + t d (or at x when d is null), reading the scalars back in one read. */
  const evaluate = async (t: number, first = false): Promise<Point<T> & { l1?: number }> => {
    const point = await evaluateAt(tf, objective, x, d, t, first);
    held.add(point.g);
    return point;
  };
  /** The accepted point; its gradient is never released while it is. */
  let cur: (Point<T> & { l1?: number }) | null = null;
  /** Frees every held gradient but the current point's and those of `keep`. */
  const release = (...keep: (Point<T> | null)[]) => {
    for (const g of [...held])
      if (g !== cur?.g && !keep.some((p) => p?.g === g)) {
        g.dispose();
        held.delete(g);
      }
  };

  try {
    cur = await evaluate(0, true);
    const l1 = cur.l1!;
    yield { iteration: 0, x, f: cur.f, extra: cur.extra!, evaluations: 1 };

    for (let k = 1; ; k++) {
      if (cur.gMax <= tolGrad) return;
      const g = cur.g!;
      const dir = history.direction(g);
      d?.dispose();
      d = dir;
      const read = tf.tidy(() => tf.stack([sumAll(tf, tf.mul(g, dir)), tf.max(tf.abs(dir))]));
      const v = await read.data();
      read.dispose();
      const [gtd, dMax] = [v[0]!, v[1]!];
      if (gtd > -tolChange) return;
      const t0 = k === 1 ? Math.min(1, 1 / l1) * lr : lr;

      let next: Point<T> & { evaluations: number };
      if (options.lineSearch === 'none') next = { ...(await evaluate(t0)), evaluations: 1 };
      else {
        // lbfgs.ts's strong Wolfe search on points whose gradients stay here: only f and g.d are compared, and the
        // gradients of the points it drops are freed as it goes. The start's gradient (null) is cur's.
        const r = await strongWolfe(
          evaluate,
          t0,
          { t: 0, f: cur.f, gtd, g: null, gMax: cur.gMax, extra: cur.extra },
          dMax,
          tolChange,
          maxLineSearch,
          release,
        );
        next = { ...r.best, evaluations: r.evaluations };
      }
      if (next.t === 0 || !next.g) return; // the line search found no decrease along a descent direction
      // y.s = t (g_new.d - g.d): both directional derivatives are known here, so no read is needed.
      const ys = next.t * (next.gtd - gtd);
      const stepMax = next.t * dMax;
      const xNext = tf.keep(tf.tidy(() => tf.add(x, tf.mul(dir, next.t))));
      if (ys > 1e-10) history.push(dir, next.t, next.g, g, ys);
      x.dispose();
      x = xNext;
      const fPrev = cur.f;
      cur = next;
      release(cur);
      const converged = stopReason(cur.gMax, stepMax, cur.f - fPrev, tolGrad, tolChange);
      yield {
        iteration: k,
        x,
        f: cur.f,
        extra: cur.extra!,
        evaluations: next.evaluations,
        ...(converged ? { converged } : {}),
      };
      if (converged) return;
    }
  } finally {
    cur = null;
    release();
    tf.dispose(x);
    history.dispose();
    d?.dispose();
  }
}

/**
 * The (s, y) pairs: a ring of m slots made up front and overwritten in place, so the number of tensors stays the
 * same from one iteration to the next (the runs' reports check that nothing leaks).
 */
class History {
  private readonly slots: { s: tfjs.Variable; y: tfjs.Variable }[];
  /** The pairs in use, oldest first. */
  private readonly s: tfjs.Variable[] = [];
  private readonly y: tfjs.Variable[] = [];
  /** 1 / (y.s) of each pair, as the host computed it from the line search's directional derivatives. */
  private readonly rho: number[] = [];

  constructor(
    private readonly tf: TF,
    like: Tensor,
    private readonly m: number,
  ) {
    this.slots = tf.tidy(() =>
      Array.from({ length: m }, () => ({
        s: tf.variable(tf.zerosLike(like), false),
        y: tf.variable(tf.zerosLike(like), false),
      })),
    );
  }

  /** The search direction -H g. */
  direction(g: Tensor): Tensor {
    return twoLoop(this.tf, g, this.s, this.y, this.rho);
  }

  /** Adds the pair s = t dir, y = gNext - g, whose y.s is `ys`, dropping the oldest when the history is full. */
  push(dir: Tensor, t: number, gNext: Tensor, g: Tensor, ys: number): void {
    const { tf, s, y, rho } = this;
    // The oldest pair's slot when the history is full, else the next unused one.
    const slot = s.length === this.m ? { s: s.shift()!, y: y.shift()! } : this.slots[s.length]!;
    if (rho.length === this.m) rho.shift();
    tf.tidy(() => {
      slot.s.assign(tf.mul(dir, t));
      slot.y.assign(tf.sub(gNext, g));
    });
    s.push(slot.s);
    y.push(slot.y);
    rho.push(1 / ys);
  }

  dispose(): void {
    this.tf.dispose(this.slots.flatMap((p) => [p.s, p.y]));
  }
}

/**
 * Evaluates the objective at x + t d (or at x when d is null), reading the caller's scalars, g.d, max |g| and (on
 * the first evaluation) sum |g| back in one read. The returned gradient is the caller's to free.
 */
async function evaluateAt<T>(
  tf: TF,
  objective: DeviceObjective<T>,
  x: Tensor,
  d: Tensor | null,
  t: number,
  first: boolean,
): Promise<Point<T> & { g: Tensor; l1?: number }> {
  const at = d ? tf.tidy(() => tf.add(x, tf.mul(d, t))) : x;
  let e: DeviceEvaluation<T>;
  try {
    e = await objective(at);
  } finally {
    if (at !== x) at.dispose();
  }
  const g = tf.keep(tf.reshape(e.g, [-1]));
  if (g !== e.g) e.g.dispose();
  const ours = tf.tidy(() => {
    const absG = tf.abs(g);
    const parts = [d ? sumAll(tf, tf.mul(g, d)) : tf.scalar(0), tf.max(absG), ...(first ? [sumAll(tf, absG)] : [])];
    return tf.concat([tf.reshape(e.scalars, [-1]), tf.stack(parts)]);
  });
  e.scalars.dispose();
  const values = (await ours.data()) as Float32Array;
  ours.dispose();
  const n = values.length - (first ? 3 : 2);
  const own = values.subarray(n);
  return {
    t,
    f: values[0]!,
    gtd: own[0]!,
    g,
    gMax: own[1]!,
    extra: e.extra(values.subarray(0, n)),
    ...(first ? { l1: own[2]! } : {}),
  };
}

/** Why L-BFGS stops after an iteration (torch.optim.LBFGS's tests, in its order), or undefined to go on. */
function stopReason(
  gMax: number,
  stepMax: number,
  fChange: number,
  tolGrad: number,
  tolChange: number,
): string | undefined {
  if (gMax <= tolGrad) return 'gradient below tolerance';
  if (stepMax <= tolChange) return 'step below tolerance';
  if (Math.abs(fChange) < tolChange) return 'loss change below tolerance';
  return undefined;
}

/** d = -H g on the device, with H0 = (s'y / y'y) I from the newest pair; the alphas and betas stay on the device. */
function twoLoop(tf: TF, g: Tensor, s: Tensor[], y: Tensor[], rho: number[]): Tensor {
  return tf.tidy(() => {
    let q = tf.neg(g);
    const alpha: Tensor[] = new Array(s.length);
    for (let i = s.length - 1; i >= 0; i--) {
      alpha[i] = tf.mul(sumAll(tf, tf.mul(s[i]!, q)), rho[i]!);
      q = tf.sub(q, tf.mul(y[i]!, alpha[i]!));
    }
    if (s.length) {
      const last = s.length - 1;
      // s'y is 1 / rho of the newest pair.
      q = tf.mul(q, tf.div(1 / rho[last]!, sumAll(tf, tf.square(y[last]!))));
    }
    for (let i = 0; i < s.length; i++) {
      const beta = tf.mul(sumAll(tf, tf.mul(y[i]!, q)), rho[i]!);
      q = tf.add(q, tf.mul(s[i]!, tf.sub(alpha[i]!, beta)));
    }
    return q;
  });
}

/**
 * The sum of a flat float32 tensor, in two levels: rows of about sqrt(n) summed, then the row sums. tfjs-wasm's sum
 * is one float32 running total, whose error grows with n (measured on g.d-like sums: 2.4e-4 relative at 786k elements,
 * a 512 px image, and 2.5e-3 at 3.1M); L-BFGS's curvature y.s is a difference of two such sums. Two levels keep it
 * near float32 rounding at any size. Small tensors are summed directly.
 */
export function sumAll(tf: TF, x: Tensor): Tensor {
  const n = x.size;
  if (n <= 4096) return tf.sum(x);
  return tf.tidy(() => {
    const width = Math.ceil(Math.sqrt(n));
    const rows = Math.ceil(n / width);
    const flat = tf.reshape(x, [-1]);
    const padded = rows * width > n ? tf.concat([flat, tf.zeros([rows * width - n])]) : flat;
    return tf.sum(tf.sum(tf.reshape(padded, [rows, width]), 1));
  });
}

/** Backends on which `auto` keeps L-BFGS on the device: there a read-back of the gradient costs a GPU sync. */
export const LBFGS_DEVICE_BY_DEFAULT: ReadonlySet<string> = new Set(['webgpu', 'webgl']);

/** Whether an L-BFGS loop set to `on` runs on the device on `backend`. */
export const lbfgsOnDevice = (on: LbfgsPlacement, backend: string): boolean =>
  on === 'device' || (on === 'auto' && LBFGS_DEVICE_BY_DEFAULT.has(backend));
