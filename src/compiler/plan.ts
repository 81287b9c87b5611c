import type { OptimiserLoop } from '../plugin/roles';
import type { ParamValues, SocketType, ValueInfo } from '../plugin/types';

/**
 * once: computed before the loop (images, style Grams, content targets); loop: recomputed every
 * optimiser step (everything that depends on the image variable); after: runs on the final result.
 * A graph without an optimiser is all `once`.
 */
export type Phase = 'once' | 'loop' | 'after';

export interface PlanValue {
  /** `nodeId.output`, or `nodeId.input:prepared` for a representation prepared before the loop. */
  key: string;
  socket: SocketType;
  info: ValueInfo;
  bytes: number;
}

export interface PlanStep {
  index: number;
  /** A node id; `pass:<node ids>` for a merged encoder pass; `<node>.<input>:prepare`. */
  id: string;
  kind: 'node' | 'pass' | 'prepare';
  /** The graph nodes this step computes (several for a merged pass). */
  nodes: string[];
  type: string;
  phase: Phase;
  /** Input name -> value key (or keys, for inputs that take several edges). */
  inputs: Record<string, string | string[]>;
  outputs: PlanValue[];
  /** For passes: the taps computed, in network order. */
  taps?: string[];
  /** Forward FLOPs of one evaluation. */
  flops: number;
  /** Of `flops`, those of stride-1 3x3 convolutions, which Winograd can run. */
  winogradFlops?: number;
  /** Memory a step needs while it runs beyond its outputs (an encoder's inner activations). */
  transientBytes: number;
  /** Keys whose last use is this step: the executor frees them after it (once and after phases). */
  release: string[];
  /**
   * What the step computes, as a hash of its node types, parameters, the run size and its inputs' signatures:
   * equal signatures give equal results, so a later run can reuse them. Absent when the step reads a variable.
   */
  signature?: string;
}

export interface LossTerm {
  nodeId: string;
  key: string;
  /** The product of the weighted sums between this term and the optimiser's loss; null when not a plain sum. */
  multiplier: number | null;
}

export interface PlanVariable {
  node: string;
  /** Its initial value in `once`, the current value in `loop`, the result in `after`. */
  key: string;
  socket: 'Image' | 'Model';
}

export interface PlanOptimiser {
  nodeId: string;
  /** What it updates: one image, or the weights of one or more models. */
  variables: PlanVariable[];
  lossKey: string;
  /** The optimiser's own output (the final image), if it has one. */
  resultKey: string | null;
  /** The loop its parameters describe (read through the node type's roles.optimiser). */
  loop: OptimiserLoop;
  /** Bytes the optimiser keeps besides the variable (Adam moments, L-BFGS history). */
  stateBytes: number;
}

export interface PlanEstimate {
  flopsOnce: number;
  /** Forward + backward of the loop steps, about 3x their forward cost. */
  flopsPerIteration: number;
  flopsAfter: number;
  weightBytes: number;
  peakBytes: number;
  /**
   * Where the loop has 3x3 convolutions Winograd can run (`--winograd on`, or auto where it measures faster):
   * flopsPerIteration with each of them, forward and input gradient, at F(4x4,3x3)'s multiplications (4x fewer in
   * the products; the transforms, a few percent of the products at VGG's widths, not counted).
   */
  winograd?: { tile: 4; flopsPerIteration: number };
}

export interface Plan {
  size: number;
  steps: PlanStep[];
  params: Record<string, ParamValues>;
  optimiser: PlanOptimiser | null;
  terms: LossTerm[];
  outputs: { nodeId: string; key: string }[];
  /** `once` values the loop reads; they live until the run ends. */
  retained: string[];
  /** Nodes that reach no output, dropped from the plan. */
  dropped: string[];
  estimate: PlanEstimate;
}
