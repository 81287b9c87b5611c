import type * as tfjs from '@tensorflow/tfjs';
import type { ModelHandle } from '../models/handle';
import type { TfjsModel } from '../models/tfjs-models';
import type { TiledLoss } from '../ops/losses';

/** The kinds of value that travel along an edge. */
export const SOCKET_TYPES = ['Image', 'Features', 'Gram', 'Stats', 'Scalar', 'Model'] as const;
export type SocketType = (typeof SOCKET_TYPES)[number];

export interface InputDef {
  type: SocketType;
  label?: string;
  /** The node can run without this input connected. */
  optional?: boolean;
  /** More than one edge may end here; compute receives an array. */
  multiple?: boolean;
}

export interface OutputDef {
  type: SocketType;
  label?: string;
}

interface ParamBase {
  label?: string;
  description?: string;
}
export interface NumberParam extends ParamBase {
  kind: 'number';
  default: number;
  min?: number;
  max?: number;
  step?: number;
  /** Sliders should move on a log scale (loss weights span decades). */
  log?: boolean;
}
export interface IntegerParam extends ParamBase {
  kind: 'integer';
  default: number;
  min?: number;
  max?: number;
}
export interface BooleanParam extends ParamBase {
  kind: 'boolean';
  default: boolean;
}
export interface EnumParam extends ParamBase {
  kind: 'enum';
  default: string;
  options: readonly string[];
}
export interface StringParam extends ParamBase {
  kind: 'string';
  default: string;
}
/** An image source: `images/x.jpg` (relative to the document), a URL, or a data: URL. */
export interface ImageParam extends ParamBase {
  kind: 'image';
  default: string;
}
/** A tfjs Layers model: `models/x/model.json` (relative to the document) or a URL. */
export interface ModelParam extends ParamBase {
  kind: 'model';
  default: string;
}
/** One layer of an encoder, e.g. `relu4_2`. */
export interface LayerParam extends ParamBase {
  kind: 'layer';
  default: string;
  layers: readonly string[];
}
/** Several layers of an encoder, in network order. */
export interface LayersParam extends ParamBase {
  kind: 'layers';
  default: readonly string[];
  layers: readonly string[];
  minItems?: number;
}

export type ParamDef =
  | NumberParam
  | IntegerParam
  | BooleanParam
  | EnumParam
  | StringParam
  | ImageParam
  | ModelParam
  | LayerParam
  | LayersParam;
export type ParamDefs = Record<string, ParamDef>;
export type ParamValue = number | boolean | string | string[];
export type ParamValues = Record<string, ParamValue>;

/** The value a parameter of this declaration holds: a number, true/false, one of an enum's options, a list of layers, or text. */
export type ParamValueOf<D extends ParamDef> = D extends { kind: 'number' | 'integer' }
  ? number
  : D extends { kind: 'boolean' }
    ? boolean
    : D extends { kind: 'enum'; options: readonly (infer O extends string)[] }
      ? O
      : D extends { kind: 'layers' }
        ? string[]
        : string;
/**
 * A node's parameter values typed from their declarations (ParamValues when the declarations are not known).
 * NoInfer: a node type's P is inferred from its `params` declarations alone, not from functions that read them.
 */
export type ParamsOf<P extends ParamDefs> = NoInfer<{ -readonly [K in keyof P]: ParamValueOf<P[K]> }>;
/** Names of the parameters in P of the given kinds (any string when P is not known). */
export type ParamName<P extends ParamDefs, K extends ParamDef['kind'] = ParamDef['kind']> = string extends keyof P
  ? string
  : { [N in keyof P]: P[N] extends { kind: K } ? N : never }[keyof P] & string;
/** Declares parameters outside a node type (to type helpers with `ParamsOf<typeof params>`); an identity. */
export function defineParams<const P extends ParamDefs>(params: P): P {
  return params;
}

export type InputDefs = Record<string, InputDef>;
/** Names of the inputs in I. */
export type InputName<I extends InputDefs> = keyof I & string;

/** Tensor shapes include the batch axis: an Image is [1, H, W, 3], a Gram [C, C], a Scalar []. */
export type Shape = number[];

/** What shape inference knows about one value: its shape and, for Features, which layer it is. */
export interface ValueInfo {
  shape: Shape;
  layer?: string;
}

export interface ShapeContext<P extends ParamDefs = ParamDefs> {
  params: ParamsOf<P>;
  /** Single inputs map to one info, `multiple` inputs to an array; unconnected optional inputs are absent. */
  inputs: Record<string, ValueInfo | ValueInfo[]>;
  /** The run's requested size (longest image side in pixels). */
  size: number;
  /** Decoded sizes of image sources, where the host knows them. */
  imageSize?: (source: string) => [number, number] | undefined;
  /** Output shapes (batch axis included) of every layer of a loaded tfjs model, by layer name. */
  /** For `input` ([1, H, W, 3]): a graph model's shapes follow its input size; a Layers model's are fixed. */
  modelLayers?: (source: string, input?: readonly number[]) => Map<string, number[]> | undefined;
  /**
   * Tensor shapes of a checkpoint the host has loaded, by tensor name: a network loaded at other widths than the
   * standard ones (a reduced-width checkpoint) infers the widths it will compute with, so plans and wires show them.
   */
  checkpointShapes?: (name: string) => ReadonlyMap<string, readonly number[]> | undefined;
}

export type Tensor = tfjs.Tensor;
export type TF = typeof tfjs;
/** A runtime value: tensors for every socket type but Model. */
export type Value = Tensor | ModelHandle;
/** A module with weights: what a Model socket carries (src/models/handle.ts). */
export type { ModelHandle };

export const isTensor = (v: unknown): v is Tensor => typeof v === 'object' && v !== null && 'dtype' in v;
export const isModel = (v: unknown): v is ModelHandle =>
  typeof v === 'object' && v !== null && (v as ModelHandle).kind === 'model';

/** Services the host (CLI, browser worker, test) gives nodes while they compute. */
export interface ComputeServices {
  tf: TF;
  size: number;
  seed: number;
  /** Loads an image source as a [1, H, W, 3] float tensor in [0, 1], longest side = size. */
  loadImage(source: string, size: number): Promise<Tensor>;
  /** Networks and weights that outlive one run (kept between runs in the editor). */
  models: ModelCache;
  /** Checkpoints the host has loaded, by name (`--weights vgg19=...`, a file picked in the editor). */
  checkpoints: CheckpointStore;
  /** Image files in a folder (relative to the document), where the host has folders (the CLI). */
  listImages?(folder: string): Promise<string[]>;
  /** tfjs models named by `model` parameters, loaded by the host before the run. */
  tfjsModel?(source: string): TfjsModel | undefined;
}

/** A checkpoint's tensors in their source layout (PyTorch's for .pth and safetensors). */
export interface LoadedCheckpoint {
  name: string;
  /** Where it came from: a path, URL or cache entry, for reports. */
  source: string;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

export interface CheckpointStore {
  get(name: string): LoadedCheckpoint | undefined;
}

export interface ModelCache {
  get<T extends { dispose(): void }>(key: string, create: () => T): T;
  dispose(): void;
}

export interface ComputeContext<P extends ParamDefs = ParamDefs> extends ComputeServices {
  nodeId: string;
  params: ParamsOf<P>;
  inputs: Record<string, Value | Value[]>;
  /** Static information about each output, from shape inference. */
  outputInfo: Record<string, ValueInfo>;
  /** The optimiser iteration (0 outside the loop): streams draw a new batch each step. */
  step: number;
  /** What the node's `load` returned. */
  state?: unknown;
}

/**
 * Roles the compiler treats specially. `source`: reads the outside world (images).
 * `stream`: a source that gives new data at every optimiser step (a training batch).
 * `variable`: what an optimiser updates (an image, or a model's weights). `optimiser`: owns the loop.
 * `loss`: a named term of the objective. `output`: a result the host collects.
 */
export type NodeRole = 'source' | 'stream' | 'variable' | 'optimiser' | 'loss' | 'output';

/**
 * An encoder that many nodes may share: nodes with the same `key` reading the same image
 * are merged by the compiler into one forward pass that stops at the deepest requested tap.
 */
export interface SharedPass<P extends ParamDefs = ParamDefs> {
  /** Nodes whose keys are equal compute the same function of their image. */
  key(params: ParamsOf<P>): string;
  /** Which taps this node wants (its output names). */
  taps(params: ParamsOf<P>): string[];
  /** Info of every tap for an input image of the given shape. */
  tapInfo(tap: string, image: Shape, params: ParamsOf<P>): ValueInfo;
  /** Forward FLOPs, bytes of all activations up to the deepest tap, and bytes of weights. */
  cost(
    taps: string[],
    image: Shape,
    params: ParamsOf<P>,
  ): {
    flops: number;
    activationBytes: number;
    weightBytes: number;
    /** Of `flops`, those of stride-1 3x3 convolutions, which Winograd can run (src/ops/winograd.ts). */
    winogradFlops?: number;
  };
  /** Runs once for all merged nodes; returns one tensor per tap. Synchronous so it can run under a gradient. */
  run(image: Tensor, taps: string[], params: ParamsOf<P>, services: ComputeServices): Record<string, Tensor>;
  /**
   * How the pass can run on tiles of a large image: each tap's stride in pixels, and the halo (a multiple of
   * the largest stride, at least the deepest tap's receptive-field radius) around a tile that makes the taps
   * inside it equal to the whole image's. Absent or undefined: the pass cannot be tiled (with these parameters).
   */
  tiling?(taps: string[], params: ParamsOf<P>): { strides: Record<string, number>; halo: number } | undefined;
}

/** A loss that can be evaluated tile by tile (defined with the losses in src/ops/losses.ts). */
export type { TiledLoss };

export interface PreparedInput<P extends ParamDefs = ParamDefs> {
  /** What the prepared value is (a style target's features become a Gram). */
  socket: SocketType;
  /**
   * Other inputs the preparation reads (since 1.4.0; a style loss's style mask): their values reach `run` as
   * `others` (an optional input that is not connected is absent). The preparation consumes them: the node's compute
   * does not see them. Packs in the sandbox cannot declare them yet.
   */
  with?: readonly string[];
  info(input: ValueInfo, params: ParamsOf<P>): ValueInfo;
  run(input: Tensor, params: ParamsOf<P>, tf: TF, others?: Readonly<Record<string, Tensor>>): Tensor;
}

/** The optimisation methods the runtime implements (src/runtime/optimisers.ts, src/runtime/lbfgs.ts). */
export const OPTIMISER_METHODS = ['lbfgs', 'adam', 'sgd'] as const;
export type OptimiserMethod = (typeof OPTIMISER_METHODS)[number];

/** How an optimiser's loop runs, read from its parameters by its `roles.optimiser.settings`. */
export interface OptimiserSettings {
  method: OptimiserMethod;
  /** Adam and SGD step size. */
  learningRate: number;
  /** lr_t = lr / (1 + decay * t) (default 0). */
  decay?: number;
  /** Keep an image variable in [0, 1] after each Adam/SGD step (default false). */
  clamp?: boolean;
  /** L-BFGS: correction pairs kept (default 20). */
  history?: number;
  /** L-BFGS: initial step length, torch.optim.LBFGS's lr (default 1). */
  lbfgsStep?: number;
  /** L-BFGS: strong Wolfe line search, or a fixed step (default strong-wolfe). */
  lineSearch?: 'strong-wolfe' | 'none';
  /** L-BFGS iterations per reported step (default 1). */
  iterationsPerStep?: number;
  /** L-BFGS: history and two-loop recursion on the backend's device (float32) or in JavaScript (float64); default auto. */
  lbfgsOn?: LbfgsPlacement;
}

/** Where L-BFGS keeps its state: `auto` is the device on webgpu and webgl (src/runtime/lbfgs-device.ts). */
export const LBFGS_PLACEMENTS = ['auto', 'device', 'host'] as const;
export type LbfgsPlacement = (typeof LBFGS_PLACEMENTS)[number];

/** What the compiler and the runtime need of an optimiser (role 'optimiser'). */
export interface OptimiserRole<P extends ParamDefs = ParamDefs> {
  /** The Scalar input the objective arrives on; every other input is something the optimiser updates. */
  loss: string;
  /** The output that carries the final variable (the result image), if the node has one. */
  result?: string;
  /** The integer parameter holding the number of steps (`--steps` and the editor's run bar set it). */
  steps: string;
  /** The integer parameter holding the steps between preview images, if the node has one (the editor sets it). */
  previewEvery?: string;
  /** The loop's settings from the node's parameters. */
  settings(params: ParamsOf<P>): OptimiserSettings;
}

/** What the compiler and tiling need of a loss term (role 'loss'). */
export interface LossRole {
  /** The Scalar output that carries the term (listed per step under the node's id). */
  output: string;
  /** The image's features, which a tiled run cuts into tiles (needed with `tiled`). */
  features?: string;
  /** What the features are compared with (needed with `tiled`). */
  target?: string;
  /** The term's weight: an optional Scalar input that overrides it, and the number parameter used otherwise. */
  weight?: { input?: string; param?: string };
  /**
   * An optional Image input saying where on the image the loss applies (a painted region; since 1.4.0). A tiled run
   * gives `stats` the mask resized to the whole tap and cut to the tile like the features.
   */
  mask?: string;
}

/** A weighted sum of loss terms: the compiler follows each term's multiplier through it. */
export interface SumRole {
  /** The `multiple` Scalar input whose terms are added. */
  terms: string;
  /** The number parameter that multiplies the sum (1 when absent). */
  weight?: string;
}

/** An encoder: the image it reads and the parameter that names its taps. */
export interface EncoderRole {
  /** The Image input (a shared pass runs on it). */
  image: string;
  /** The parameter naming the tapped layers: a `layers` list, or text naming a loaded model's layers. */
  taps?: string;
  /** The `model` parameter whose layers the taps name, for an encoder of a loaded model. */
  model?: string;
}

/**
 * Which parameters and sockets carry the meanings other layers need: the compiler, the runtime, tiling, the
 * command line and the editor read a node through these, never through parameter names of their own.
 * The registry checks that every name here is declared (see src/plugin/roles.ts).
 */
export interface NodeRoles<P extends ParamDefs = ParamDefs> {
  optimiser?: OptimiserRole<P>;
  loss?: LossRole;
  sum?: SumRole;
  encoder?: EncoderRole;
  source?: SourceRole;
}

/**
 * What a node that takes pictures reads: one picture, a live camera's frames, a folder of pictures, or a painted
 * region (a grey picture, since 1.4.0: `--mask NAME=file.png` replaces it by the region's name).
 */
export const SOURCE_KINDS = ['image', 'camera', 'folder', 'mask'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];
/** The run inputs that replace a picture node's source (`--content`, `--style`, a batch's photos, a video's frames). */
export const INPUT_SLOTS = ['content', 'style'] as const;
export type InputSlot = (typeof INPUT_SLOTS)[number];

/**
 * A node that takes pictures (role 'source' or 'stream'): what it reads and which of a run's inputs replaces it.
 * Hosts fill a run's pictures through this (src/runtime/request.ts), never through type or parameter names.
 */
export interface SourceRole {
  /**
   * `image`: one picture; `camera`: a live camera's frames (a picture per run); `folder`: a folder of pictures;
   * `mask`: a painted region's grey picture (since 1.4.0), replaced by the run input `masks[name]`.
   */
  kind: SourceKind;
  /** The parameter naming what it reads: an `image` parameter (image, camera), or a `string` one (folder). */
  param: string;
  /** The `enum` parameter whose value names the run input that replaces it (`content`, `style`; other values: none). */
  slot?: string;
  /** The run input that always replaces it (a camera is the content). Not with `slot`. */
  fills?: InputSlot;
  /** For kind `mask` (required there): the `string` parameter naming the region (RunRequest.inputs.masks's keys). */
  name?: string;
}

/**
 * The roles as defineNodeType checks them: each name must be a declared input, or a declared parameter of the
 * right kind. (NodeRoles keeps them as strings so that every typed node type is still a NodeTypeDef.)
 */
export interface DeclaredRoles<P extends ParamDefs, I extends InputDefs> {
  optimiser?: { loss: InputName<I>; steps: ParamName<P, 'integer'>; previewEvery?: ParamName<P, 'integer'> };
  loss?: {
    features?: InputName<I>;
    target?: InputName<I>;
    weight?: { input?: InputName<I>; param?: ParamName<P, 'number' | 'integer'> };
    mask?: InputName<I>;
  };
  sum?: { terms: InputName<I>; weight?: ParamName<P, 'number' | 'integer'> };
  encoder?: { image: InputName<I>; taps?: ParamName<P, 'layers' | 'string'>; model?: ParamName<P, 'model'> };
  source?: {
    kind: SourceKind;
    param: ParamName<P, 'image' | 'string'>;
    slot?: ParamName<P, 'enum'>;
    fills?: InputSlot;
    name?: ParamName<P, 'string'>;
  };
}

/**
 * Outputs as a function of the parameters. Written as a method's type so that a node type with typed
 * parameters is still a NodeTypeDef (methods compare their parameters both ways; the registry resolves every
 * node's parameters against its declarations before calling it).
 */
type OutputsFn<P extends ParamDefs> = { outputs(params: ParamsOf<P>): Record<string, OutputDef> }['outputs'];

export interface NodeTypeDef<P extends ParamDefs = ParamDefs> {
  type: string;
  title: string;
  category: string;
  description?: string;
  role?: NodeRole;
  inputs: InputDefs;
  /** Fixed outputs, or outputs that depend on the parameters (an encoder's taps). */
  outputs: Record<string, OutputDef> | OutputsFn<P>;
  params: P;
  /** The parameters and sockets that carry an optimiser's, a loss's, a sum's or an encoder's meaning. */
  roles?: NodeRoles<P>;
  /**
   * Inputs whose representation does not depend on the optimised variable are prepared once,
   * before the loop (a style loss turns its target features into a Gram matrix here).
   */
  prepare?: Record<string, PreparedInput<P>>;
  infer(ctx: ShapeContext<P>): Record<string, ValueInfo>;
  /** Estimated FLOPs of one evaluation, given the inferred shapes. */
  flops?(ctx: ShapeContext<P>, outputs: Record<string, ValueInfo>): number;
  compute?(ctx: ComputeContext<P>): Record<string, Value> | Promise<Record<string, Value>>;
  /** Asynchronous set-up before the run (a stream decodes its images); the result reaches compute as `state`. */
  load?(ctx: Omit<ComputeContext<P>, 'inputs' | 'step' | 'state'>): Promise<{ dispose(): void }>;
  shared?: SharedPass<P>;
  /** The loss's tiled form for these parameters, if it has one (see TiledLoss). */
  tiled?(params: ParamsOf<P>): TiledLoss | undefined;
  /**
   * The checkpoint (by manifest name) the node's network loads, if it loads one: how `validate`, queue jobs and the
   * weights panel know which weights a graph needs.
   */
  checkpoint?(params: ParamsOf<P>): string | undefined;
  /** Which weights the node computes with (a checkpoint, or seeded random weights), for reports and the UI. */
  describeWeights?(params: ParamsOf<P>, services: ComputeServices, connected: ReadonlySet<string>): string;
}

/** A node type as defineNodeType checks it: parameters typed from P, role names checked against P and the inputs I. */
export type TypedNodeType<P extends ParamDefs, I extends InputDefs> = NodeTypeDef<P> & {
  inputs: I;
  roles?: DeclaredRoles<P, I>;
};

/**
 * Declares a node type. An identity that gives types: inside it, `params` are typed from the declarations (a
 * number parameter is a number, an enum one of its options, `layers` a string[]), and roles may name only declared
 * parameters and inputs. The registry does the checking at run time.
 */
export function defineNodeType<const P extends ParamDefs, const I extends InputDefs>(
  def: TypedNodeType<P, I>,
): TypedNodeType<P, I>;
// The implementation sees the erased type: TypeScript cannot relate NodeTypeDef<P> to NodeTypeDef for an unknown P,
// though every concrete one is assignable (tests/roles.test.ts checks that it is).
export function defineNodeType(def: NodeTypeDef): NodeTypeDef {
  return def;
}

export function outputsOf(def: NodeTypeDef, params: ParamValues): Record<string, OutputDef> {
  return typeof def.outputs === 'function' ? def.outputs(params) : def.outputs;
}

/** Sockets connect only when their types are equal; the reason is shown to the user otherwise. */
export function checkConnection(from: SocketType, to: SocketType): { ok: true } | { ok: false; reason: string } {
  if (from === to) return { ok: true };
  return { ok: false, reason: `a ${from} output cannot feed a ${to} input` };
}
