import type { Diagnostic } from '../graph/diagnostics';
import type { RunEvent, RunResult } from '../runtime/executor';
import type { RunReport } from '../runtime/report';
import type { BackendChoice, BackendName } from '../runtime/backend';
import type { Preview } from '../ops/preview';
import type { RGBAImage } from '../ops/image';

/** Tensor shapes of each loaded checkpoint (name -> [tensor, shape] pairs), so the editor's wires show the widths it runs at. */
export type CheckpointShapes = Record<string, [string, number[]][]>;

/** Messages between the editor and the worker that runs graphs (src/web/worker.ts). */
export type ToWorker =
  | { type: 'init'; backend?: BackendName }
  | {
      type: 'run';
      id: number;
      /** The graph document as JSON text. */
      document: string;
      size: number;
      /** Seeds the random start image and random weights, as `--seed` does on the command line. */
      seed: number;
      /** Relative image sources resolve against this (the page's URL). */
      base: string;
      /** Bytes of images the user dropped or pasted, by their `upload:` source. */
      uploads: Record<string, ArrayBuffer>;
      /** Value keys whose previews the editor shows. */
      probe: string[];
      /** Run the document's sweep (metadata.sweep) into one contact sheet instead of a single run. */
      sweep: boolean;
      /** Tiles of at most this many px (`?tile=`); otherwise the run tiles when it would not fit the backend. */
      tile?: number;
      /** A camera frame (the editor's camera store), scaled to the run size: the graph's camera nodes read it. */
      frame?: ImageBitmap;
      /** One frame of the live camera loop: no events or previews, answered by 'live-done' instead of 'done'. */
      live?: boolean;
    }
  | { type: 'stop'; id: number }
  /** The node packs installed in the editor (their source text), replacing what the worker had. */
  | { type: 'packs'; packs: { origin: string; source: string }[] }
  | { type: 'weights-changed' }
  /** Load a tfjs model (URL, or a path relative to `base`) and report its layers, for the layer picker and shapes. */
  | { type: 'describe-model'; source: string; base: string; size: number };

export type FromWorker =
  /** A live frame's result (a 'run' with `live`): its outputs, or why it failed. */
  | { type: 'live-done'; id: number; status: RunResult['status']; error?: string; outputs: Record<string, RGBAImage>; ms: number; reused: { hits: number; misses: number } }
  | { type: 'ready'; choice: BackendChoice; weights: string[]; shapes: CheckpointShapes; errors: string[] }
  | { type: 'failed-to-start'; message: string }
  | { type: 'weights'; weights: string[]; shapes: CheckpointShapes; errors: string[] }
  | { type: 'pack-disabled'; name: string; problem: string }
  | { type: 'packs-loaded'; errors: string[] }
  | { type: 'model-layers'; source: string; layers: [string, number[]][] | null; error?: string }
  | { type: 'event'; id: number; event: RunEvent }
  | { type: 'probe'; id: number; key: string; preview: Preview }
  | { type: 'cell'; id: number; label: string; index: number; count: number }
  | {
      type: 'done';
      id: number;
      status: RunResult['status'];
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
