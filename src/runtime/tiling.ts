import type * as tfjs from '@tensorflow/tfjs';
import type { Plan, PlanStep } from '../compiler/plan';
import type { NodeRegistry } from '../plugin/registry';
import { encoderRole, lossRole, numberParam } from '../plugin/roles';
import type { TF, TiledLoss, Value, ValueInfo } from '../plugin/types';
import { addMany } from '../ops/sum';
import { maskFor } from '../ops/losses';

type Tensor = tfjs.Tensor;

/**
 * Large images, tile by tile. A Gatys-style loop is: encoder passes over the image variable, losses on
 * their taps that depend on the features only through sums over positions (Grams, squared differences,
 * channel sums), and weighted sums of those losses. Such a loop is evaluated exactly on tiles:
 *
 * 1. forward each tile (core plus a halo that covers the deepest tap's receptive field), crop its taps to
 *    the core, and add up each loss's statistics S = sum_t s(F_t);
 * 2. finish each loss L(S), and take dL/dS times the loss's multiplier in the total;
 * 3. forward and backward each tile again with <dL/dS, s(F_t)> as its loss: its gradient is the tile's
 *    share of dTotal/dx, added into the whole image's gradient where the tile lies.
 *
 * Memory is one tile's activations instead of the whole image's; the cost is one extra forward pass and
 * the halos' overlap. Image-level terms (total variation) run on the whole image as usual.
 */

/** A tile: its core (where its taps are kept) and its extent (core plus halo, clipped to the image). */
export interface Tile {
  y0: number;
  y1: number;
  x0: number;
  x1: number;
  ey0: number;
  ey1: number;
  ex0: number;
  ex1: number;
}

/**
 * Cores of at most `maxExtent - 2 * halo` px per side, multiples of `align` (the deepest tap's stride) so each
 * tap's grid splits exactly, spread evenly over H x W.
 */
export function tileGrid(h: number, w: number, maxExtent: number, halo: number, align: number): Tile[] {
  const most = Math.max(align, Math.floor((maxExtent - 2 * halo) / align) * align);
  const split = (n: number): [number, number][] => {
    const size = Math.ceil(n / Math.ceil(n / most) / align) * align;
    const out: [number, number][] = [];
    for (let a = 0; a < n; a += size) out.push([a, Math.min(n, a + size)]);
    return out;
  };
  return split(h).flatMap(([y0, y1]) =>
    split(w).map(([x0, x1]) => ({
      y0,
      y1,
      x0,
      x1,
      ey0: Math.max(0, y0 - halo),
      ey1: Math.min(h, y1 + halo),
      ex0: Math.max(0, x0 - halo),
      ex1: Math.min(w, x1 + halo),
    })),
  );
}

/**
 * Where a tile's core lies in a tap of stride `stride` whose whole shape is `info.shape` ([1, H/s, W/s, C]):
 * its first row and column in the whole tap, in the tile's own tap (`inTile`), and how many rows and columns.
 * The last tile along an axis takes what is left, as the whole image's pooling does.
 */
export function coreOf(t: Tile, stride: number, info: ValueInfo, size: [number, number]) {
  const [, th, tw] = info.shape as [number, number, number];
  const r0 = t.y0 / stride;
  const c0 = t.x0 / stride;
  const rows = (t.y1 === size[0] ? th : t.y1 / stride) - r0;
  const cols = (t.x1 === size[1] ? tw : t.x1 / stride) - c0;
  return {
    r0,
    c0,
    rows,
    cols,
    inTile: [r0 - t.ey0 / stride, c0 - t.ex0 / stride] as const,
    empty: rows <= 0 || cols <= 0,
  };
}

interface TiledTerm {
  step: PlanStep;
  loss: TiledLoss;
  input: string;
  target: string;
  weight: string | number;
  multiplier: number;
  output: string;
  /** The mask's value key (roles.loss.mask), when one is wired. */
  mask?: string;
}

/** The loop split for tiling: passes over the variable, losses on their taps, and the rest (whole image). */
export interface TiledLoop {
  variable: string;
  /** Image height and width. */
  size: [number, number];
  passes: PlanStep[];
  /** Tap value key -> its stride and the whole tap's info. */
  taps: Map<string, { stride: number; info: ValueInfo }>;
  halo: number;
  align: number;
  terms: TiledTerm[];
  rest: PlanStep[];
  /** Whether any of the rest reads the image (total variation): otherwise the image's gradient is the tiles' alone. */
  restReadsImage: boolean;
}

const outputName = (key: string) => key.slice(key.lastIndexOf('.') + 1);

/** The tiles of an H x W image for a pass with this halo and alignment, never narrower than its halos plus a stride. */
function tilesFor(h: number, w: number, extent: number, halo: number, align: number): Tile[] {
  return tileGrid(h, w, Math.max(extent, 2 * halo + align), halo, align);
}

/** How the plan's loop splits into tiles, or why it cannot. */
export function tiledLoop(plan: Plan, registry: NodeRegistry): TiledLoop | { reason: string } {
  const opt = plan.optimiser;
  if (!opt) return { reason: 'the graph has no optimiser' };
  if (opt.variables.length !== 1 || opt.variables[0]!.socket !== 'Image')
    return { reason: 'it trains model weights, not one image' };
  const variable = opt.variables[0]!.key;
  const infoOf = new Map(plan.steps.flatMap((s) => s.outputs.map((o) => [o.key, o.info] as const)));
  const shape = infoOf.get(variable)!.shape;
  if (shape[0] !== 1) return { reason: 'the image variable is a batch' };
  const loop = plan.steps.filter((s) => s.phase === 'loop');
  const computedInLoop = new Set(loop.flatMap((s) => s.outputs.map((o) => o.key)));
  const taps = new Map<string, { stride: number; info: ValueInfo }>();
  const passes: PlanStep[] = [];
  const terms: TiledTerm[] = [];
  const rest: PlanStep[] = [];
  let halo = 0;
  let align = 1;
  for (const step of loop) {
    const def = registry.get(step.type)!;
    const named = `"${step.nodes.join('", "')}" (${step.type})`;
    if (step.kind === 'pass') {
      const tiling = def.shared?.tiling?.(step.taps!, plan.params[step.nodes[0]!]!);
      if (!tiling) return { reason: `the encoder ${named} cannot run on tiles` };
      if (step.inputs[encoderRole(def).image] !== variable)
        return { reason: `the encoder ${named} does not read the image variable directly` };
      halo = Math.max(halo, tiling.halo);
      for (const o of step.outputs) {
        const stride = tiling.strides[outputName(o.key)]!;
        taps.set(o.key, { stride, info: o.info });
        align = Math.max(align, stride);
      }
      passes.push(step);
      continue;
    }
    const keys = Object.values(step.inputs).flat();
    if (!keys.some((k) => taps.has(k))) {
      rest.push(step);
      continue;
    }
    const params = plan.params[step.nodes[0]!]!;
    const loss = def.tiled?.(params);
    if (!loss) return { reason: `${named} has no tiled form${def.role === 'loss' ? ' with these settings' : ''}` };
    // Which inputs are the features, the target and the weight: the loss's declared roles (the registry checked them).
    const role = lossRole(def);
    const [features, against] = [role.features!, role.target!];
    const weightInput = role.weight?.input;
    const other = Object.keys(step.inputs).find(
      (k) => k !== features && k !== against && k !== weightInput && k !== role.mask,
    );
    if (other) return { reason: `${named} has an input "${other}" that its tiled form does not take` };
    const input = step.inputs[features];
    const target = step.inputs[against];
    if (typeof input !== 'string' || !taps.has(input) || typeof target !== 'string' || computedInLoop.has(target))
      return { reason: `${named} compares the image's features with a target that changes in the loop` };
    const w = weightInput === undefined ? undefined : step.inputs[weightInput];
    if (w !== undefined && (typeof w !== 'string' || computedInLoop.has(w)))
      return { reason: `the weight of ${named} changes in the loop` };
    const multiplier = plan.terms.find((t) => t.nodeId === step.nodes[0])?.multiplier;
    if (multiplier === undefined || multiplier === null)
      return { reason: `${named} does not reach the total through weighted sums` };
    const weight = w ?? (role.weight?.param === undefined ? 1 : numberParam(params, role.weight.param));
    const output = step.outputs.find((o) => outputName(o.key) === role.output);
    if (!output) return { reason: `${named} has no output "${role.output}"` };
    const mask = role.mask === undefined ? undefined : step.inputs[role.mask];
    if (mask !== undefined && (typeof mask !== 'string' || computedInLoop.has(mask)))
      return { reason: `the mask of ${named} changes in the loop` };
    terms.push({ step, loss, input, target, weight, multiplier, output: output.key, ...(mask ? { mask } : {}) });
  }
  // Align halos to the deepest stride of every pass.
  halo = Math.ceil(halo / align) * align;
  const fromImage = new Set([variable]);
  for (const step of rest)
    if (
      Object.values(step.inputs)
        .flat()
        .some((k) => fromImage.has(k))
    )
      for (const o of step.outputs) fromImage.add(o.key);
  const restReadsImage = rest.some((s) => s.outputs.some((o) => fromImage.has(o.key)));
  return { variable, size: [shape[1]!, shape[2]!], passes, taps, halo, align, terms, rest, restReadsImage };
}

type RunStep = (step: PlanStep, values: Map<string, Value>, iteration: number) => void | Promise<void>;
/** Progress: which tile of how many is being worked on. */
export type OnTile = (phase: 'targets' | 'forward' | 'backward', tile: number, tiles: number) => void;

/** One evaluation of the loop on tiles: the values the rest of the loop sees, and the image gradient if asked. */
export interface TiledEvaluation {
  /** env plus the tiled losses' values: run `loop.rest` on it for the total. */
  values: Map<string, Value>;
  /** Adds the tiled terms' gradient into `grad` (the gradient of the rest), returning the sum. */
  addGradient(grad: Tensor): Tensor;
  dispose(): void;
}

/** Evaluates the tiled terms at the variable's current value (pass 1 and the losses' gradients in their statistics). */
export function evaluateTiles(
  tf: TF,
  loop: TiledLoop,
  tiles: Tile[],
  env: Map<string, Value>,
  runStep: RunStep,
  iteration: number,
  withGradient: boolean,
  onTile: OnTile = () => {},
): TiledEvaluation {
  const view = tileView(tf, loop, env, runStep, iteration);
  const weightOf = (term: TiledTerm) =>
    typeof term.weight === 'number' ? term.weight : (env.get(term.weight) as Tensor);
  const finish = (term: TiledTerm, stats: Tensor[]) =>
    term.loss.finish(stats, env.get(term.target) as Tensor, loop.taps.get(term.input)!.info, weightOf(term), tf);

  // 1. Statistics summed over tiles.
  let sums = sumTileStatistics(tf, loop, tiles, view, onTile);
  // Everything built outside a tidy is disposed if a step throws.
  const losses: Tensor[] = [];
  const slopes: Tensor[][] = [];
  const release = () => tf.dispose([...sums.flat(), ...losses, ...slopes.flat()]);
  const values = new Map(env);
  try {
    // 2. Each loss from its statistics, and (for the gradient) dTotal/dS.
    for (const [i, term] of loop.terms.entries()) {
      const loss = sums[i]!.length ? finish(term, sums[i]!) : tf.scalar(0);
      losses.push(loss);
      values.set(term.output, loss);
      if (withGradient)
        slopes.push(
          sums[i]!.length
            ? tf.tidy(() => {
                const grads = tf.grads((...s: Tensor[]) => finish(term, s))(sums[i]!);
                // A statistic the loss ignores has no gradient: zero.
                return grads.map((g, j) => (g ? tf.mul(g, term.multiplier) : tf.zerosLike(sums[i]![j]!)));
              })
            : [],
        );
    }
  } catch (e) {
    release();
    throw e;
  }
  tf.dispose(sums.flat());
  sums = [];

  return {
    values,
    // 3. Each tile's gradient of <dTotal/dS, s(F_tile)>, added where the tile lies.
    addGradient: (grad: Tensor): Tensor => addTileGradients(tf, loop, tiles, view, slopes, grad, onTile),
    dispose: release,
  };
}

/** What the passes over the tiles read of one tile at the variable's current value. */
interface TileView {
  /** The tile's extent (core and halo) of the image variable. */
  extent(t: Tile): Tensor;
  /** Each term's features on the tile's core (null when the core is empty at that tap), its target and mask there. */
  termInputs(image: Tensor, t: Tile): ([Tensor, Tensor, Tensor | undefined] | null)[];
  /** A tile whose core is empty at every term's tap (a sliver at the edge of a deep tap) adds nothing. */
  idle(t: Tile): boolean;
}

function tileView(tf: TF, loop: TiledLoop, env: Map<string, Value>, runStep: RunStep, iteration: number): TileView {
  const x = env.get(loop.variable) as Tensor;
  return {
    extent: (t) => tf.slice(x, [0, t.ey0, t.ex0, 0], [1, t.ey1 - t.ey0, t.ex1 - t.ex0, x.shape[3]!]),
    termInputs: (image, t) => {
      const values = new Map(env);
      values.set(loop.variable, image);
      for (const p of loop.passes) void runStep(p, values, iteration);
      return loop.terms.map((term) => {
        const { stride, info } = loop.taps.get(term.input)!;
        const r = coreOf(t, stride, info, loop.size);
        if (r.empty) return null;
        const c = info.shape[3]!;
        const f = tf.slice(values.get(term.input) as Tensor, [0, ...r.inTile, 0], [1, r.rows, r.cols, c]);
        const target = env.get(term.target) as Tensor;
        // The mask resized to the whole tap (as the untiled loss resizes it), then cut as the features are.
        const mask = term.mask
          ? tf.slice(maskFor(tf, env.get(term.mask) as Tensor, info), [0, r.r0, r.c0, 0], [1, r.rows, r.cols, 1])
          : undefined;
        return [
          f,
          term.loss.target === 'local' ? tf.slice(target, [0, r.r0, r.c0, 0], [1, r.rows, r.cols, c]) : target,
          mask,
        ];
      });
    },
    idle: (t) =>
      loop.terms.every(
        (term) => coreOf(t, loop.taps.get(term.input)!.stride, loop.taps.get(term.input)!.info, loop.size).empty,
      ),
  };
}

/** Each term's loss statistics summed over the tiles (none for a term no tile's core reaches); freed if a tile throws. */
function sumTileStatistics(tf: TF, loop: TiledLoop, tiles: Tile[], view: TileView, onTile: OnTile): Tensor[][] {
  let sums: Tensor[][] = loop.terms.map(() => []);
  try {
    for (const [k, t] of tiles.entries()) {
      onTile('forward', k + 1, tiles.length);
      if (view.idle(t)) continue;
      const next = tf.tidy(() =>
        view.termInputs(view.extent(t), t).map((pair, i) => {
          if (!pair) return sums[i]!;
          const stats = loop.terms[i]!.loss.stats(pair[0], pair[1], tf, pair[2]);
          return sums[i]!.length ? stats.map((s, j) => tf.add(s, sums[i]![j]!)) : stats;
        }),
      );
      const kept = new Set(next.flat());
      tf.dispose(sums.flat().filter((s) => !kept.has(s)));
      sums = next;
    }
  } catch (e) {
    tf.dispose(sums.flat());
    throw e;
  }
  return sums;
}

/**
 * `grad` plus each tile's gradient of <dTotal/dS, s(F_tile)> (`slopes` is dTotal/dS per term), padded to where the
 * tile lies. Always a tensor of its own: the caller disposes `grad`.
 */
function addTileGradients(
  tf: TF,
  loop: TiledLoop,
  tiles: Tile[],
  view: TileView,
  slopes: Tensor[][],
  grad: Tensor,
  onTile: OnTile,
): Tensor {
  const [h, w] = loop.size;
  let total = grad;
  try {
    for (const [k, t] of tiles.entries()) {
      onTile('backward', k + 1, tiles.length);
      if (view.idle(t)) continue;
      const next = tf.tidy(() => {
        const g = tf.grad((image: Tensor) => {
          const parts = view
            .termInputs(image, t)
            .flatMap((pair, i) =>
              pair
                ? loop.terms[i]!.loss.stats(pair[0], pair[1], tf, pair[2]).map((s, j) =>
                    tf.sum(tf.mul(s, slopes[i]![j]!)),
                  )
                : [],
            );
          return addMany(tf, parts);
        })(view.extent(t));
        return tf.add(
          total,
          tf.pad(g, [
            [0, 0],
            [t.ey0, h - t.ey1],
            [t.ex0, w - t.ex1],
            [0, 0],
          ]),
        );
      });
      if (total !== grad) total.dispose();
      total = next;
    }
  } catch (e) {
    if (total !== grad) total.dispose();
    throw e;
  }
  return total === grad ? tf.clone(grad) : total;
}

/** How large a tile may be so that one tile's step stays within `budget` bytes, given the untiled step's estimate. */
export function tileExtent(plan: Plan, budget: number): number {
  const [, h, w] = plan.steps.flatMap((s) => s.outputs).find((o) => o.key === plan.optimiser!.variables[0]!.key)!.info
    .shape as number[];
  const perPixel = plan.estimate.peakBytes / (h! * w!);
  return Math.floor(Math.sqrt(budget / perPixel));
}

/** Memory a backend can hold before a run should tile: wasm's heap stops at 4 GiB; GPUs share theirs with the page. */
const LIMITS: Record<string, number> = {
  wasm: 3 * 2 ** 30,
  cpu: 12 * 2 ** 30,
  webgl: 2 * 2 ** 30,
  webgpu: 2 * 2 ** 30,
};
/** WebGPU binds at most 128 MiB of one storage buffer by default: no single activation may exceed it. */
const WEBGPU_BINDING = 128 * 2 ** 20;

export interface TilingChoice {
  loop: TiledLoop;
  tiles: Tile[];
  /** The largest tile side, halos included, of a loop step; the targets' forward passes take twice that. */
  extent: number;
  /** For the run's status line. */
  message: string;
}

/**
 * Tiles when asked (`extent`), or when the untiled loop's estimate exceeds what the backend holds (`limit`,
 * or its default). Returns null when the run fits, or a warning when it does not fit and cannot be tiled.
 */
export function chooseTiling(
  plan: Plan,
  registry: NodeRegistry,
  backend: string,
  options: { extent?: number; limit?: number } = {},
): TilingChoice | { warning: string } | null {
  if (!plan.optimiser) return null;
  const limit = options.limit ?? LIMITS[backend] ?? LIMITS.webgl!;
  const loopValues = plan.steps.filter((s) => s.phase === 'loop').flatMap((s) => s.outputs);
  const largest = Math.max(0, ...loopValues.map((o) => o.bytes));
  const binding = backend === 'webgpu' && largest > WEBGPU_BINDING;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  if (options.extent === undefined && plan.estimate.peakBytes <= limit && !binding) return null;
  const loop = tiledLoop(plan, registry);
  if ('reason' in loop) {
    const why =
      options.extent !== undefined
        ? 'tiles were asked for'
        : `the loop needs about ${mib(plan.estimate.peakBytes)}, more than ${backend} holds (${mib(limit)})`;
    return { warning: `not tiled (${why}): ${loop.reason}` };
  }
  const [h, w] = loop.size;
  let extent = options.extent ?? tileExtent(plan, limit * 0.6);
  if (binding) extent = Math.min(extent, Math.floor(Math.sqrt(WEBGPU_BINDING / (largest / (h * w)))));
  const tiles = tilesFor(h, w, extent, loop.halo, loop.align);
  extent = Math.max(extent, 2 * loop.halo + loop.align);
  const core = tiles[0]!;
  const [ch, cw] = [core.y1 - core.y0, core.x1 - core.x0];
  const why =
    options.extent !== undefined
      ? ''
      : plan.estimate.peakBytes > limit
        ? `: untiled it needs about ${mib(plan.estimate.peakBytes)}, ${backend} holds ${mib(limit)}`
        : `: one activation would be ${mib(largest)}, over WebGPU's ${mib(WEBGPU_BINDING)} binding`;
  return {
    loop,
    tiles,
    extent,
    message: `tiling ${h}x${w} into ${tiles.length} tiles of ${ch === cw ? ch : `${ch}x${cw}`} px (+${loop.halo} px halo)${why}`,
  };
}

/**
 * A forward pass over a large image (a content or style target before the loop) run tile by tile: each tap is
 * stitched from the tiles' cores in host memory, so the backend holds one tile's activations and the taps.
 */
export async function stitchedPass(
  tf: TF,
  run: (image: Tensor) => Record<string, Tensor>,
  image: Tensor,
  tiling: { strides: Record<string, number>; halo: number },
  extent: number,
  infos: Record<string, ValueInfo>,
  onTile: OnTile = () => {},
): Promise<Record<string, Tensor>> {
  const [, h, w, channels] = image.shape as [number, number, number, number];
  const align = Math.max(...Object.values(tiling.strides));
  const tiles = tilesFor(h, w, extent, tiling.halo, align);
  const buffers = Object.fromEntries(
    Object.entries(infos).map(([tap, info]) => [tap, new Float32Array(info.shape.reduce((a, b) => a * b, 1))]),
  );
  for (const [k, t] of tiles.entries()) {
    onTile('targets', k + 1, tiles.length);
    // Where each tap's core lies, in the whole tap and in the tile's.
    const places = Object.entries(infos)
      .map(([tap, info]) => ({ tap, info, ...coreOf(t, tiling.strides[tap]!, info, [h, w]) }))
      .filter((p) => !p.empty);
    const pieces = tf.tidy(() => {
      const taps = run(tf.slice(image, [0, t.ey0, t.ex0, 0], [1, t.ey1 - t.ey0, t.ex1 - t.ex0, channels]));
      return places.map((p) => tf.slice(taps[p.tap]!, [0, ...p.inTile, 0], [1, p.rows, p.cols, p.info.shape[3]!]));
    });
    for (const [i, p] of places.entries()) {
      const data = (await pieces[i]!.data()) as Float32Array;
      const [, , tw, c] = p.info.shape as [number, number, number, number];
      const row = p.cols * c;
      for (let r = 0; r < p.rows; r++)
        buffers[p.tap]!.set(data.subarray(r * row, (r + 1) * row), ((p.r0 + r) * tw + p.c0) * c);
    }
    tf.dispose(pieces);
  }
  return Object.fromEntries(Object.entries(infos).map(([tap, info]) => [tap, tf.tensor(buffers[tap]!, info.shape)]));
}
