import { z } from 'zod';
import { sizeProblem } from '../compiler/compile';
import type { Diagnostic } from '../graph/diagnostics';
import { inputNodes, nodeSource, sourceNodes, withInput, withPreviewEvery, withSource, withSteps } from '../graph/edit';
import type { GraphModel } from '../graph/model';
import { applyCell, sweepCells, sweepOf } from '../graph/sweep';
import { parseParamText } from '../plugin/params';
import type { NodeRegistry } from '../plugin/registry';
import { BACKEND_ORDER, MAX_WASM_THREADS } from './backend';
import type { DecodedImage } from './sources';

/**
 * What to run, as every host asks for it: the CLI's flags, a queue job and the editor worker's run message all
 * carry a RunRequest. `prepareRun` checks it once against the graph (the only place the size, the scales, the steps
 * per scale and the modes are decided), applies its inputs through the source roles the nodes that take pictures
 * declare, and expands it into run units, which the session runs one after another (src/runtime/session.ts).
 */

export const MAX_STEPS = 100000;
const stepCount = z.number().int().min(0).max(MAX_STEPS);
const scalesText = (s: readonly number[]) => s.join(',');

export const zRunRequest = z
  .object({
    /** Longest image side in pixels. */
    size: z.number().superRefine((n, ctx) => {
      const p = sizeProblem(n);
      if (p) ctx.addIssue({ code: 'custom', message: p });
    }),
    /** Seeds the random start image and random weights. */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31),
    /** Optimiser steps: one count for every scale, or one per scale. Absent: the graph's own. */
    steps: z.union([stepCount, z.array(stepCount).min(1)]).optional(),
    /** Coarse to fine: increasing fractions of `size` ending at 1; each scale starts from the last one's result. */
    scales: z.array(z.number()).optional(),
    /** Run the document's sweep (metadata.sweep) into one labelled contact sheet. */
    sweep: z.boolean().optional(),
    /** A batch: one run per content picture, reusing everything that does not depend on it. */
    batch: z.array(z.string().min(1)).optional(),
    /**
     * A stream of content frames (a video), pulled from the host one at a time: one run per frame on the content
     * slot. `warmStart`: an optimisation graph starts each frame from the previous frame's result. `flow`:
     * flow-guided video (Ruder et al. 2016; src/ops/flow.ts): the previous result is warped onto each frame by the
     * optical flow between the content frames, with occlusions masked; an optimisation graph starts from it and adds
     * the temporal loss (`weight` times the masked mean squared difference, in [0, 1] pixels), a feed-forward graph's
     * result keeps `blend` of it where the mask trusts it.
     */
    frames: z
      .object({
        warmStart: z.boolean().optional(),
        flow: z
          .object({ blend: z.number().min(0).max(0.95).optional(), weight: z.number().min(0).optional() })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    /** Tiles of at most `extent` px, or tiling above `limit` bytes; false: never tile. */
    tiling: z
      .union([
        z.literal(false),
        z.object({ extent: z.number().int().min(32).optional(), limit: z.number().positive().optional() }).strict(),
      ])
      .optional(),
    backend: z.enum(BACKEND_ORDER).optional(),
    /** wasm's threads; absent: the host's default (every core). */
    threads: z.number().int().min(1).max(MAX_WASM_THREADS).optional(),
    /**
     * VGG's 3x3 convs by Winograd (src/ops/winograd.ts): off, on, auto (per layer where timed faster), or kernel
     * (where our wasm kernel runs it; the default when absent).
     */
    winograd: z.enum(['off', 'on', 'auto', 'kernel']).optional(),
    /** Value keys to preview (the editor's node previews); each arrives as a `probe` event. */
    probe: z.array(z.string()).optional(),
    /**
     * Pictures by the input they fill (the nodes' declared source roles, src/plugin/types.ts SourceRole): `content`
     * every content slot (a camera included), `style` the style slots in document order, `camera` the cameras only,
     * if any (a live frame the host holds under that name); `masks` the painted regions by name (the `mask` source
     * role's name parameter; `--mask NAME=file.png`), each a grey picture.
     */
    inputs: z
      .object({
        content: z.string().min(1).optional(),
        style: z.array(z.string().min(1)).optional(),
        camera: z.string().min(1).optional(),
        masks: z.record(z.string().min(1), z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
    /** Parameter values, `NODE_ID.PARAM=VALUE` (as text, read by each parameter's kind). */
    set: z.array(z.string()).optional(),
    /**
     * The style pictures' own size, apart from the output (set on every image node with slot "style"): `styleSize`
     * px on the longest side, or `styleScale` times the run size. A smaller style paints larger strokes.
     */
    styleSize: z.number().int().min(1).max(4096).optional(),
    styleScale: z.number().positive().max(8).optional(),
    /** Steps between preview images, set on every optimiser that has a preview interval. */
    previewEvery: z.number().int().min(0).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const scales = r.scales ?? [1];
    if (!(
      scales.length > 0 &&
      scales.every((x, i) => x > 0 && x <= 1 && (i === 0 || x > scales[i - 1]!)) &&
      scales.at(-1) === 1
    ))
      ctx.addIssue({
        code: 'custom',
        path: ['scales'],
        message: `scales must be increasing fractions of the size ending at 1, e.g. 0.25,0.5,1 (got ${scalesText(scales)})`,
      });
    if (Array.isArray(r.steps) && r.steps.length !== scales.length)
      ctx.addIssue({
        code: 'custom',
        path: ['steps'],
        message: `steps: ${r.steps.length} counts for ${scales.length} scales`,
      });
    if ([r.sweep, r.batch !== undefined, scales.length > 1].filter(Boolean).length > 1)
      ctx.addIssue({ code: 'custom', path: [], message: 'a run is one of: a sweep, a batch, or coarse to fine' });
    if (r.styleSize !== undefined && r.styleScale !== undefined)
      ctx.addIssue({ code: 'custom', path: ['styleScale'], message: 'give the style a size or a scale, not both' });
    if (r.frames && (r.sweep || r.batch !== undefined || scales.length > 1))
      ctx.addIssue({
        code: 'custom',
        path: ['frames'],
        message: 'a stream of frames runs alone: no sweep, batch or coarse to fine',
      });
  });

export type RunRequest = z.infer<typeof zRunRequest>;

/** One problem of a request, where in it (`scales`, `inputs.style`; empty: the whole request). */
export interface RequestProblem {
  path: string;
  message: string;
}

/** Checks a request's shape and its rules; its values come back typed, or every problem. */
export function parseRunRequest(
  input: unknown,
): { request: RunRequest; problems?: undefined } | { request?: undefined; problems: RequestProblem[] } {
  const r = zRunRequest.safeParse(input);
  if (r.success) return { request: r.data };
  return {
    problems: r.error.issues.map((i) => ({
      path: i.path.join('.'),
      message: i.code === 'custom' || i.path[0] === 'size' ? i.message : `${i.path.join('.')}: ${i.message}`,
    })),
  };
}

/** Problems with a request itself, as messages. */
export function checkRequest(r: unknown): string[] {
  return parseRunRequest(r).problems?.map((p) => p.message) ?? [];
}

/** What a unit is: the whole run, a sweep cell, a batch item, a frame of a stream. */
export type UnitKind = 'run' | 'cell' | 'item' | 'frame';

/** One pass of a unit at one size: coarse to fine has one per scale, each starting from the last one's result. */
export interface ScalePass {
  size: number;
  model: GraphModel;
}

/** One run of the graph: what it runs, at which sizes, and how the session treats its end. */
export interface RunUnit {
  kind: UnitKind;
  /** Counted from 0 among the units of its kind; `count` where known (a stream's is not). */
  index: number;
  count?: number;
  /** A sweep cell's label. */
  label?: string;
  /** A batch item's picture, or a frame's name. */
  item?: string;
  /** The graph this unit runs: the request's inputs, values and steps applied, and its own cell, picture or frame. */
  model: GraphModel;
  passes: ScalePass[];
  /** A frame's pixels, held under `item` for this unit only. */
  image?: DecodedImage;
  /** Start from the previous unit's result (a stream's warm start). */
  warmStart: boolean;
  /** Value previews are sent (the single run only). */
  probe: boolean;
}

/** A request checked against its graph: the graph with the request applied, and the units to run. */
export interface PreparedRun {
  request: RunRequest;
  registry: NodeRegistry;
  /** The graph with the request's inputs, values and steps applied (what a single run runs, what a sheet carries). */
  model: GraphModel;
  /** A sweep's contact sheet: its columns (the units are its cells, in reading order). */
  sheet?: { columns: number };
  /** The units in order; a stream's are made as its frames arrive. */
  units(frames?: AsyncIterable<DecodedImage>): AsyncGenerator<RunUnit>;
}

const problem = (message: string, more: Partial<Diagnostic> = {}): Diagnostic => ({
  severity: 'error',
  path: '$',
  message,
  ...more,
});

/** `NODE_ID.PARAM=VALUE` assignments applied to a copy of the model, or each wrong one said (on its node). */
export function applyAssignments(
  model: GraphModel,
  registry: NodeRegistry,
  set: readonly string[],
): { model: GraphModel; problems: Diagnostic[] } {
  const problems: Diagnostic[] = [];
  const copy: GraphModel = { ...model, nodes: model.nodes.map((n) => ({ ...n, params: { ...n.params } })) };
  for (const [i, assignment] of set.entries()) {
    const m = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(assignment);
    if (!m) {
      problems.push(
        problem(`${assignment}: expected NODE_ID.PARAM=VALUE, e.g. optim.method=adam`, { path: `$.set[${i}]` }),
      );
      continue;
    }
    const [, id, param, text] = m as unknown as [string, string, string, string];
    const index = copy.nodes.findIndex((n) => n.id === id);
    const node = copy.nodes[index];
    if (!node) {
      problems.push(
        problem(`${assignment}: no node "${id}" (nodes: ${copy.nodes.map((n) => n.id).join(', ')})`, {
          path: `$.set[${i}]`,
        }),
      );
      continue;
    }
    const def = registry.get(node.type)?.params[param];
    const where = { nodeId: id, path: `$.nodes[${index}].params.${param}` };
    if (!def) {
      const known = Object.keys(registry.get(node.type)?.params ?? {});
      problems.push(
        problem(
          `${assignment}: node "${id}" has no parameter "${param}" (parameters: ${known.join(', ') || 'none'})`,
          where,
        ),
      );
      continue;
    }
    const parsed = parseParamText(def, text);
    if ('error' in parsed) problems.push(problem(`${assignment}: ${parsed.error}`, { ...where, code: 'param' }));
    else node.params[param] = parsed.value;
  }
  return { model: copy, problems };
}

/**
 * The graph a request runs: its `set` values, its pictures (through the nodes' source roles), its step count and
 * preview interval applied. Problems name the request's field (`inputs.style`, `set`) in their message.
 */
export function applyRequest(
  model: GraphModel,
  registry: NodeRegistry,
  r: Pick<RunRequest, 'inputs' | 'set' | 'steps' | 'previewEvery' | 'styleSize' | 'styleScale'>,
): { model: GraphModel; problems: Diagnostic[] } {
  const assigned = applyAssignments(model, registry, r.set ?? []);
  const problems = assigned.problems;
  let m = assigned.model;
  const { content, style, camera } = r.inputs ?? {};
  if (content !== undefined) {
    if (!inputNodes(m, registry, 'content').length)
      problems.push(problem('content: this graph has no image node with slot "content"', { path: '$.inputs.content' }));
    m = withInput(m, registry, 'content', content);
  }
  if (style?.length) {
    const slots = inputNodes(m, registry, 'style');
    if (style.length > slots.length)
      problems.push(
        problem(
          `style: ${style.length} style images given but the graph has ${slots.length} image node(s) with slot "style"`,
          { path: '$.inputs.style' },
        ),
      );
    style.forEach((s, i) => {
      const id = slots[i]?.id;
      if (id) m = withSource(m, registry, (_, n) => n.id === id, s);
    });
  }
  if (r.styleSize !== undefined || r.styleScale !== undefined) {
    const slots = inputNodes(m, registry, 'style');
    const field = r.styleSize !== undefined ? 'styleSize' : 'styleScale';
    if (!slots.length)
      problems.push(problem(`${field}: this graph has no image node with slot "style"`, { path: `$.${field}` }));
    m = withStyleSize(m, registry, new Set(slots.map((n) => n.id)), r.styleSize ?? 0, r.styleScale ?? 0);
  }
  // A live frame goes to the cameras the graph has (none: nothing to fill, as a still graph run with the camera on).
  if (camera !== undefined) m = withSource(m, registry, (s) => s.kind === 'camera', camera);
  if (r.inputs?.masks) m = withMasks(m, registry, r.inputs.masks, problems);
  if (r.steps !== undefined) {
    if (!m.nodes.some((n) => registry.get(n.type)?.roles?.optimiser))
      problems.push(problem('steps: this graph has no optimiser', { path: '$.steps' }));
    // One count per scale: the graph carries the last (each pass sets its own).
    m = withSteps(m, registry, typeof r.steps === 'number' ? r.steps : r.steps.at(-1)!);
  }
  if (r.previewEvery !== undefined) m = withPreviewEvery(m, registry, r.previewEvery);
  return { model: m, problems };
}

/**
 * Each painted region named in `masks` reads its picture (the nodes whose source role is kind `mask`, by the name
 * their role's parameter holds); a name no region has is a problem naming the regions there are.
 */
function withMasks(
  model: GraphModel,
  registry: NodeRegistry,
  masks: Readonly<Record<string, string>>,
  problems: Diagnostic[],
): GraphModel {
  const names = sourceNodes(model, registry, 'mask').map((n) => nodeSource(registry, n)!.name ?? '');
  let m = model;
  for (const [name, picture] of Object.entries(masks)) {
    if (!names.includes(name)) {
      const there = names.length ? `regions: ${[...new Set(names)].join(', ')}` : 'the graph has no painted regions';
      problems.push(problem(`no painted region named ${name} (${there})`, { path: `$.inputs.masks.${name}` }));
      continue;
    }
    m = withSource(m, registry, (s) => s.kind === 'mask' && s.name === name, picture);
  }
  return m;
}

/** The style slots' own size (`size` px, else `scale` of the run size) on the nodes that declare those parameters. */
function withStyleSize(
  model: GraphModel,
  registry: NodeRegistry,
  ids: Set<string>,
  size: number,
  scale: number,
): GraphModel {
  return {
    ...model,
    nodes: model.nodes.map((n) => {
      const params = registry.get(n.type)?.params ?? {};
      if (!ids.has(n.id) || !('size' in params) || !('scale' in params)) return n;
      return { ...n, params: { ...n.params, size, scale } };
    }),
  };
}

/** The sizes of a unit's passes: each scale's share of the size (at least 16 px), the last one the size itself. */
function passesOf(model: GraphModel, registry: NodeRegistry, r: RunRequest): ScalePass[] {
  const scales = r.scales ?? [1];
  return scales.map((s, i) => ({
    size: i === scales.length - 1 ? r.size : Math.max(16, Math.round(r.size * s)),
    model: Array.isArray(r.steps) ? withSteps(model, registry, r.steps[i]!) : model,
  }));
}

/**
 * Checks a request once against its graph and expands it into units: one run; a sweep's cells; a batch's items;
 * a stream's frames. `frames`: whether the host can give a stream. Problems come back as diagnostics (nothing ran).
 */
export function prepareRun(
  model: GraphModel,
  registry: NodeRegistry,
  input: unknown,
  host: { frames?: boolean } = {},
): { run: PreparedRun; problems?: undefined } | { run?: undefined; problems: Diagnostic[] } {
  const parsed = parseRunRequest(input);
  if (parsed.problems)
    return { problems: parsed.problems.map((p) => problem(p.message, p.path ? { path: `$.${p.path}` } : {})) };
  const r = parsed.request;
  const applied = applyRequest(model, registry, r);
  const problems = applied.problems;
  const base = applied.model;
  const hasContent = inputNodes(base, registry, 'content').length > 0;
  if (r.batch && !hasContent) problems.push(problem('a batch needs an image node with slot "content"'));
  if (r.frames && !hasContent) problems.push(problem('a video needs an image node with slot "content"'));
  if (r.frames && !host.frames) problems.push(problem('a stream of frames needs a host that reads them (host.frames)'));
  const sweep = r.sweep ? sweepOf(base) : null;
  if (sweep?.error) problems.push(problem(sweep.error));
  if (sweep && !sweep.error && !sweep.sweep) problems.push(problem('the graph has no sweep (metadata.sweep)'));
  const cells = sweep?.sweep ? sweepCells(sweep.sweep) : [];
  const cellModels = cells.map((c) => applyCell(base, c));
  for (const c of cellModels) if (c.error) problems.push(problem(c.error));
  if (problems.length) return { problems };

  const unit = (kind: UnitKind, index: number, m: GraphModel, more: Partial<RunUnit> = {}): RunUnit => ({
    kind,
    index,
    model: m,
    passes: passesOf(m, registry, r),
    warmStart: false,
    probe: false,
    ...more,
  });
  async function* units(frames?: AsyncIterable<DecodedImage>): AsyncGenerator<RunUnit> {
    if (sweep?.sweep) {
      for (const [i, c] of cells.entries())
        yield unit('cell', i, cellModels[i]!.model, { count: cells.length, label: c.label });
    } else if (r.batch) {
      for (const [i, source] of r.batch.entries())
        yield unit('item', i, withInput(base, registry, 'content', source), { count: r.batch.length, item: source });
    } else if (r.frames) {
      let i = 0;
      for await (const image of frames ?? []) {
        const key = `frame:${i}`;
        yield unit('frame', i, withInput(base, registry, 'content', key), {
          item: key,
          image,
          warmStart: r.frames.warmStart === true,
        });
        i++;
      }
    } else yield unit('run', 0, base, { probe: Boolean(r.probe?.length) });
  }
  return {
    run: {
      request: r,
      registry,
      model: base,
      ...(sweep?.sweep ? { sheet: { columns: sweep.sweep.columns.length } } : {}),
      units,
    },
  };
}
