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

/** Tensor shapes include the batch axis: an Image is [1, H, W, 3], a Gram [C, C], a Scalar []. */
export type Shape = number[];

/** What shape inference knows about one value: its shape and, for Features, which layer it is. */
export interface ValueInfo {
  shape: Shape;
  layer?: string;
}

export interface ShapeContext {
  params: ParamValues;
  /** Single inputs map to one info, `multiple` inputs to an array; unconnected optional inputs are absent. */
  inputs: Record<string, ValueInfo | ValueInfo[]>;
  /** The run's requested size (longest image side in pixels). */
  size: number;
  /** Decoded sizes of image sources, where the host knows them. */
  imageSize?: (source: string) => [number, number] | undefined;
  /** Output shapes (batch axis included) of every layer of a loaded tfjs model, by layer name. */
  /** For `input` ([1, H, W, 3]): a graph model's shapes follow its input size; a Layers model's are fixed. */
  modelLayers?: (source: string, input?: readonly number[]) => Map<string, number[]> | undefined;
}

export type Tensor = tfjs.Tensor;
export type TF = typeof tfjs;
/** A runtime value: tensors for every socket type but Model. */
export type Value = Tensor | ModelHandle;
/** A module with weights: what a Model socket carries (src/models/handle.ts). */
export type { ModelHandle };

export const isTensor = (v: unknown): v is Tensor => typeof v === 'object' && v !== null && 'dtype' in v;
export const isModel = (v: unknown): v is ModelHandle => typeof v === 'object' && v !== null && (v as ModelHandle).kind === 'model';

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

export interface ComputeContext extends ComputeServices {
  nodeId: string;
  params: ParamValues;
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
export interface SharedPass {
  /** Nodes whose keys are equal compute the same function of their image. */
  key(params: ParamValues): string;
  /** Which taps this node wants (its output names). */
  taps(params: ParamValues): string[];
  /** Info of every tap for an input image of the given shape. */
  tapInfo(tap: string, image: Shape, params: ParamValues): ValueInfo;
  /** Forward FLOPs, bytes of all activations up to the deepest tap, and bytes of weights. */
  cost(taps: string[], image: Shape, params: ParamValues): { flops: number; activationBytes: number; weightBytes: number };
  /** Runs once for all merged nodes; returns one tensor per tap. Synchronous so it can run under a gradient. */
  run(image: Tensor, taps: string[], params: ParamValues, services: ComputeServices): Record<string, Tensor>;
  /**
   * How the pass can run on tiles of a large image: each tap's stride in pixels, and the halo (a multiple of
   * the largest stride, at least the deepest tap's receptive-field radius) around a tile that makes the taps
   * inside it equal to the whole image's. Absent: the pass cannot be tiled.
   */
  tiling?(taps: string[], params: ParamValues): { strides: Record<string, number>; halo: number };
}

/** A loss that can be evaluated tile by tile (defined with the losses in src/ops/losses.ts). */
export type { TiledLoss };

export interface PreparedInput {
  /** What the prepared value is (a style target's features become a Gram). */
  socket: SocketType;
  info(input: ValueInfo, params: ParamValues): ValueInfo;
  run(input: Tensor, params: ParamValues, tf: TF): Tensor;
}

export interface NodeTypeDef {
  type: string;
  title: string;
  category: string;
  description?: string;
  role?: NodeRole;
  inputs: Record<string, InputDef>;
  /** Fixed outputs, or outputs that depend on the parameters (an encoder's taps). */
  outputs: Record<string, OutputDef> | ((params: ParamValues) => Record<string, OutputDef>);
  params: ParamDefs;
  /**
   * Inputs whose representation does not depend on the optimised variable are prepared once,
   * before the loop (a style loss turns its target features into a Gram matrix here).
   */
  prepare?: Record<string, PreparedInput>;
  infer(ctx: ShapeContext): Record<string, ValueInfo>;
  /** Estimated FLOPs of one evaluation, given the inferred shapes. */
  flops?(ctx: ShapeContext, outputs: Record<string, ValueInfo>): number;
  compute?(ctx: ComputeContext): Record<string, Value> | Promise<Record<string, Value>>;
  /** Asynchronous set-up before the run (a stream decodes its images); the result reaches compute as `state`. */
  load?(ctx: Omit<ComputeContext, 'inputs' | 'step' | 'state'>): Promise<{ dispose(): void }>;
  shared?: SharedPass;
  /** The loss's tiled form for these parameters, if it has one (see TiledLoss). */
  tiled?(params: ParamValues): TiledLoss | undefined;
  /** Which weights the node computes with (a checkpoint, or seeded random weights), for reports and the UI. */
  describeWeights?(params: ParamValues, services: ComputeServices, connected: ReadonlySet<string>): string;
}

/** Declares a node type. Kept as an identity so plugins get types and the registry does the checking. */
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
