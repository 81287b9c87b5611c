import { PADDINGS, type Padding } from '../src/ops/pad';
import {
  isTensor,
  type ComputeContext,
  type OutputDef,
  type ShapeContext,
  type Tensor,
  type TF,
  type ValueInfo,
} from '../src/plugin/types';

/** The info of a single (not `multiple`) input, or an error naming it. */
export function inputInfo(ctx: ShapeContext, name: string): ValueInfo {
  const v = ctx.inputs[name];
  if (!v || Array.isArray(v)) throw new Error(`input "${name}" is not connected`);
  return v;
}

export function inputTensor(ctx: ComputeContext, name: string): Tensor {
  const v = ctx.inputs[name];
  if (!isTensor(v)) throw new Error(`input "${name}" has no tensor`);
  return v;
}

/** An optional input's tensor, or undefined when it is not connected. */
export function optionalTensor(ctx: Pick<ComputeContext, 'inputs'>, name: string): Tensor | undefined {
  const v = ctx.inputs[name];
  return isTensor(v) ? v : undefined;
}

/** A loss's optional mask: where on the image being made it applies (a painted region, white inside). */
export const maskInput = { type: 'Image', optional: true, label: 'mask (where it applies)' } as const;

/** A loss term's weight: the connected Scalar if there is one, else the `weight` parameter. */
export function lossWeight(ctx: Pick<ComputeContext, 'inputs'> & { params: { weight: number } }): Tensor | number {
  const w = ctx.inputs.weight;
  return isTensor(w) ? w : ctx.params.weight;
}

export const weightParam = (def: number, description: string) =>
  ({ kind: 'number', default: def, min: 0, log: true, label: 'weight', description }) as const;

export const SCALAR: ValueInfo = { shape: [] };

export function sameShape(a: ValueInfo, b: ValueInfo, what: string): void {
  if (a.shape.join('x') !== b.shape.join('x'))
    throw new Error(
      `${what}: input is ${a.shape.join('x')}${a.layer ? ` (${a.layer})` : ''} but target is ${b.shape.join('x')}${b.layer ? ` (${b.layer})` : ''}; tap the same layer of images of the same size`,
    );
}

/** The sockets every feature-comparing loss has: the image's features, a target's, and an optional weight. */
export const featureLossInputs = (target: string) =>
  ({
    input: { type: 'Features', label: 'image features' },
    target: { type: 'Features', label: target },
    weight: { type: 'Scalar', optional: true },
  }) as const;

/** What a feature-comparing loss's sockets and parameter mean (with featureLossInputs and a `weight` parameter). */
export const featureLossRole = {
  output: 'loss',
  features: 'input',
  target: 'target',
  weight: { input: 'weight', param: 'weight' },
} as const;

/** featureLossRole with a `mask` input (a painted region): a tiled run cuts it with the features. */
export const maskedLossRole = { ...featureLossRole, mask: 'mask' } as const;

/** An encoder's outputs: one Features socket per tapped layer, named by it. */
export const tapOutputs = (taps: readonly string[]): Record<string, OutputDef> =>
  Object.fromEntries(taps.map((t): [string, OutputDef] => [t, { type: 'Features', label: t }]));

/**
 * A network's padding: what its convs see past the image's edges (src/ops/pad.ts). circular wraps around, so the
 * picture tiles without a seam (`--tileable` sets it on every node that has it).
 */
export const paddingParam = (def: Padding) =>
  ({
    kind: 'enum',
    default: def,
    options: PADDINGS,
    description: `What the convs see past the edges: ${def} as trained; circular wraps around, so the picture tiles without a seam.`,
  }) as const;

/** The content-style trade-off of a feature transfer (AdaIN, EFDM): 0 keeps the content features, 1 is `name` in full. */
export const alphaParam = (name: string) =>
  ({
    kind: 'number',
    default: 1,
    min: 0,
    max: 1,
    step: 0.05,
    description: `Content-style trade-off: 0 keeps the content features, 1 is full ${name}.`,
  }) as const;

/** A feature transfer's output info: the content's, once content and style come from layers with the same channels. */
export function transferInfo(ctx: ShapeContext): ValueInfo {
  const c = inputInfo(ctx, 'content');
  const s = inputInfo(ctx, 'style');
  if (c.shape.at(-1) !== s.shape.at(-1))
    throw new Error(
      `content has ${c.shape.at(-1)} channels but style has ${s.shape.at(-1)}; encode both to the same layer`,
    );
  return { shape: [...c.shape], layer: c.layer };
}

/** alpha t + (1 - alpha) content: the transferred features blended back towards the content's. */
export function blendAlpha(tf: TF, t: Tensor, content: Tensor, alpha: number): Tensor {
  return alpha === 1 ? t : tf.add(tf.mul(t, alpha), tf.mul(content, 1 - alpha));
}
