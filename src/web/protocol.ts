import type { Diagnostic } from '../graph/diagnostics';
import type { RunEvent, RunResult } from '../runtime/executor';
import type { RunReport } from '../runtime/report';
import type { RunRequest } from '../runtime/request';
import type { SessionResult } from '../runtime/session';
import type { BackendChoice, BackendName } from '../runtime/backend';
import type { Preview } from '../ops/preview';
import type { RGBAImage } from '../ops/image';
import type { PackRecord } from '../plugin/packs';
import type { InputDefs, NodeRole, OutputDef, ParamDefs, SourceRole, ValueInfo } from '../plugin/types';

/** A cached checkpoint's bytes as the page read them from IndexedDB and checked (the sandboxed worker can do neither). */
export interface WeightBytes {
  name: string;
  source: string;
  bytes: ArrayBuffer;
}

/**
 * A pack's node type as plain data: what the page needs to show it (palette, inspector, sockets, validation).
 * Its functions stay in the sandbox; the page asks for shapes with a 'pack-query'.
 */
export interface PackTypeData {
  type: string;
  title: string;
  category: string;
  description?: string;
  role?: NodeRole;
  inputs: InputDefs;
  /** Fixed outputs, or 'dynamic' when they depend on the parameters (asked for per parameter set). */
  outputs: Record<string, OutputDef> | 'dynamic';
  params: ParamDefs;
  /** The roles' names (an optimiser's settings function stays in the sandbox). */
  roles?: {
    optimiser?: { loss: string; result?: string; steps: string; previewEvery?: string };
    loss?: { output: string; features?: string; target?: string; weight?: { input?: string; param?: string } };
    sum?: { terms: string; weight?: string };
    encoder?: { image: string; taps?: string; model?: string };
    source?: SourceRole;
  };
  /** The inputs prepared before the loop, with the socket they become. */
  prepare?: Record<string, string>;
  hasFlops: boolean;
}

/** What the page asks the sandbox about a pack's node type: its output shapes (and FLOPs), a prepared input's info, its outputs, an optimiser's settings. */
export type PackQuery =
  | {
      kind: 'infer';
      nodeType: string;
      params: Record<string, unknown>;
      inputs: Record<string, ValueInfo | ValueInfo[]>;
      size: number;
    }
  | { kind: 'prepare'; nodeType: string; params: Record<string, unknown>; input: string; info: ValueInfo }
  | { kind: 'outputs'; nodeType: string; params: Record<string, unknown> }
  | { kind: 'settings'; nodeType: string; params: Record<string, unknown> };

/** Tensor shapes of each loaded checkpoint (name -> [tensor, shape] pairs), so the editor's wires show the widths it runs at. */
export type CheckpointShapes = Record<string, [string, number[]][]>;

/** Messages between the editor and the worker that runs graphs (src/web/worker.ts). */
export type ToWorker =
  /**
   * Starts the backend. The worker runs in an opaque-origin sandbox that cannot fetch or open IndexedDB: the page
   * hands in tfjs's wasm binaries (by file name) and the cached checkpoints' bytes.
   */
  | {
      type: 'init';
      backend?: BackendName;
      /** wasm's threads (`?threads=`); absent: timed when the pool starts. */
      threads?: number;
      wasm?: Record<string, ArrayBuffer>;
      weights?: WeightBytes[];
      /** Cached checkpoints the page could not use (a checksum mismatch), reported back with the worker's own errors. */
      weightErrors?: string[];
      /** The worker runs in the pack sandbox (src/web/sandbox-host.ts): it says so where a backend is unavailable there. */
      sandboxed?: boolean;
    }
  | {
      type: 'run';
      id: number;
      /** The graph document as JSON text. */
      document: string;
      /** Relative image sources resolve against this (the page's URL). */
      base: string;
      /** Bytes of every image the run reads, by its source as the document names it: uploads, and files the page fetched. */
      uploads: Record<string, ArrayBuffer>;
      /**
       * What to run: the same RunRequest `stylegraph run` and a queue job carry (size, seed, probes, sweep, tiling...).
       * A camera frame becomes its camera input in the worker.
       */
      request: RunRequest;
      /** A camera frame (the editor's camera store), scaled to the run size: the graph's camera nodes read it. */
      frame?: ImageBitmap;
      /** One frame of the live camera loop: no events or previews, answered by 'live-done' instead of 'done'. */
      live?: boolean;
    }
  | { type: 'stop'; id: number }
  /**
   * Pause holds the run between optimisation steps, keeping its state (it says so with a 'paused' event, at the step
   * it holds after); resume lets it go on from there. A Stop while paused stops it. A run without steps just finishes.
   */
  | { type: 'pause' | 'resume'; id: number }
  /**
   * Loads one node pack (its source text) beside those loaded before; answered by 'pack-loaded' with the same id. The
   * page sends one at a time and attributes the answer itself: it is advisory (a load error, the node types as data).
   */
  | { type: 'load-pack'; id: number; origin: string; source: string }
  /** The cached checkpoints changed: their bytes, as the page read them again. */
  | { type: 'weights-changed'; weights?: WeightBytes[]; weightErrors?: string[] }
  /** A question about a pack's node type, answered by 'pack-answer' with the same id. */
  | { type: 'pack-query'; id: number; query: PackQuery }
  /** The answer to the worker's 'fetch' (bytes, or why not). */
  | { type: 'fetched'; id: number; bytes?: ArrayBuffer; error?: string }
  /** Load a tfjs model (URL, or a path relative to `base`) and report its layers, for the layer picker and shapes. */
  | { type: 'describe-model'; source: string; base: string; size: number };

export type FromWorker =
  /** A live frame's result (a 'run' with `live`): its outputs, or why it failed. */
  | {
      type: 'live-done';
      id: number;
      /** 'invalid': the graph or the request is wrong (nothing ran); 'failed': the run broke. */
      status: SessionResult['status'];
      error?: string;
      outputs: Record<string, RGBAImage>;
      ms: number;
      reused: { hits: number; misses: number };
      /** The weights each network used, as in 'done' (random ones are noted under the output). */
      weights: RunResult['weights'];
      /**
       * Where the frame's time went in the worker, in ms by stage: `parse` (the document), `pixels` (the frame's
       * bitmap to RGBA), `prepare`, `sources`, `compile`, `execute` (the executor, which holds each `step:ID` that
       * ran and the `readback` of the output).
       */
      stages?: Record<string, number>;
    }
  | { type: 'ready'; choice: BackendChoice; weights: string[]; shapes: CheckpointShapes; errors: string[] }
  | { type: 'failed-to-start'; message: string }
  | { type: 'weights'; weights: string[]; shapes: CheckpointShapes; errors: string[] }
  | { type: 'pack-disabled'; name: string; problem: string }
  /** The outcome of a 'load-pack': the pack's record and node types as plain data, or why it did not load (untrusted: pack code wrote it). */
  | { type: 'pack-loaded'; id: number; pack?: { record: PackRecord; types: PackTypeData[] }; error?: string }
  | { type: 'pack-answer'; id: number; result?: unknown; error?: string }
  /** The worker needs a file it cannot fetch itself (a tfjs model's parts): the page fetches it if the user allowed its origin. */
  | { type: 'fetch'; id: number; url: string }
  | { type: 'model-layers'; source: string; layers: [string, number[]][] | null; error?: string }
  | { type: 'event'; id: number; event: RunEvent }
  /** The worker read a Stop: the run ends after the step it is in (a worker that never answers is ended by the page). */
  | { type: 'stopping'; id: number }
  | { type: 'probe'; id: number; key: string; preview: Preview }
  | { type: 'cell'; id: number; label: string; index: number; count: number }
  | {
      type: 'done';
      id: number;
      /** 'invalid': the graph or the request is wrong (nothing ran); 'failed': the run broke, in the node its diagnostic names. */
      status: SessionResult['status'];
      error?: string;
      /** Whole, so the editor can point at the node. */
      diagnostics: Diagnostic[];
      outputs: Record<string, RGBAImage>;
      weights: RunResult['weights'];
      reused: { hits: number; misses: number };
      ms: number;
      /** The run's report, the same as the CLI's `--report` for the same graph and seed (not for sweeps). */
      report?: RunReport;
    };
