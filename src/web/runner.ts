import { parseDocument } from '../graph/document';
import type { TfjsModel } from '../models/tfjs-models';
import type { NodeRegistry } from '../plugin/registry';
import type { CheckpointStore, TF } from '../plugin/types';
import { PauseGate, runSession, type SessionState } from '../runtime/session';
import type { DecodedImage } from '../runtime/sources';
import type { FromWorker, ToWorker } from './protocol';
import { CAMERA_SOURCE } from '../../nodes/camera-input';

export type RunMessage = Extract<ToWorker, { type: 'run' }>;

/**
 * The pause gates of the runs sent to the worker, by run id: 'pause' and 'resume' act on them. A run's gate is made
 * when its 'run' message arrives, so a Pause sent right after it holds it at its first step.
 */
export class PauseGates {
  private readonly gates = new Map<number, PauseGate>();

  /** The run's gate, made on first use. */
  of(id: number): PauseGate {
    let gate = this.gates.get(id);
    if (!gate) this.gates.set(id, (gate = new PauseGate()));
    return gate;
  }

  /** The run ended: its gate is dropped. */
  end(id: number): void {
    this.gates.delete(id);
  }

  /** Pauses or resumes a run the worker knows; false for one it does not (ended, or never sent). */
  receive(m: Extract<ToWorker, { type: 'pause' | 'resume' }>): boolean {
    const gate = this.gates.get(m.id);
    if (!gate) return false;
    if (m.type === 'pause') gate.pause();
    else gate.resume();
    return true;
  }
}

/** What the worker's run needs from its surroundings; the browser gives its own, a test gives Node's. */
export interface WorkerDeps {
  tf: TF;
  registry: NodeRegistry;
  /** Networks, decoded images and results kept between runs. */
  state: SessionState;
  checkpoints: CheckpointStore;
  decode(source: string, base: string): Promise<DecodedImage>;
  loadModel(source: string, base: string): Promise<TfjsModel>;
  post(m: FromWorker, transfer?: Transferable[]): void;
  /** A camera frame's pixels (the worker draws the ImageBitmap); absent: frames are refused. */
  pixels?(frame: ImageBitmap): DecodedImage;
}

/**
 * One editor run: the editor's adapter over the run session. It parses the document, runs the message's
 * RunRequest (a camera frame becomes the request's camera input) and turns the session's events into messages;
 * problems keep their path, node and code so the editor can point at the node, and 'invalid' (a wrong graph or
 * request) stays apart from 'failed' (the run broke, in the node its diagnostic names). `pause` held, the run
 * waits between steps (the editor's Pause) until it opens or `signal` aborts; a live camera frame is never held.
 */
export async function runInWorker(
  m: RunMessage,
  deps: WorkerDeps,
  signal: AbortSignal,
  pause?: PauseGate,
): Promise<void> {
  const started = performance.now();
  const { post } = deps;
  const live = m.live === true;
  /** A live frame's time by stage (RunHost.timing), summed by name: the camera's figures and bench-camera.ts's. */
  const stages: Record<string, number> = {};
  const timing = (what: string, ms: number) => void (stages[what] = (stages[what] ?? 0) + ms);
  const parsed = parseDocument(m.document);
  timing('parse', performance.now() - started);
  if (!parsed.model) {
    const error = 'the graph could not be read';
    const reused = { hits: 0, misses: 0 };
    if (live)
      return post({
        type: 'live-done',
        id: m.id,
        status: 'invalid',
        error,
        outputs: {},
        ms: performance.now() - started,
        reused,
        weights: [],
      });
    return post({
      type: 'done',
      id: m.id,
      status: 'invalid',
      error,
      diagnostics: parsed.diagnostics,
      outputs: {},
      weights: [],
      reused,
      ms: performance.now() - started,
    });
  }
  // A camera frame is an image named for this run only: the camera nodes read it, and it is dropped afterwards, so
  // the memo keeps what does not depend on the camera (the style side) and recomputes the rest.
  const frameSource = m.frame && deps.pixels ? `${CAMERA_SOURCE}frame/${m.id}` : null;
  const t0 = performance.now();
  if (m.frame && frameSource) deps.state.images.set(frameSource, deps.pixels!(m.frame));
  timing('pixels', performance.now() - t0);
  const request = frameSource ? { ...m.request, inputs: { ...m.request.inputs, camera: frameSource } } : m.request;
  const sweep = request.sweep === true;
  const result = await runSession(parsed.model, deps.registry, request, {
    tf: deps.tf,
    readImage: (s) => deps.decode(s, m.base),
    readModel: (s) => deps.loadModel(s, m.base),
    readWeights: async () => deps.checkpoints,
    state: deps.state,
    signal,
    ...(live ? { timing } : {}),
    ...(pause && !live ? { pause } : {}),
    onEvent: (event) => {
      if (live) return;
      if (event.type === 'cell')
        post({ type: 'cell', id: m.id, label: event.label, index: event.index, count: event.count });
      else if (event.type === 'probe')
        post(
          { type: 'probe', id: m.id, key: event.key, preview: event.preview },
          'image' in event.preview ? [event.preview.image.data.buffer] : [],
        );
      else if (event.type === 'preview') post({ type: 'event', id: m.id, event }, [event.image.data.buffer]);
      else if (
        event.type === 'step' ||
        event.type === 'paused' ||
        event.type === 'resumed' ||
        (!sweep && (event.type === 'status' || event.type === 'tile'))
      )
        post({ type: 'event', id: m.id, event });
    },
  }).finally(() => frameSource && deps.state.images.delete(frameSource));
  const report = result.runs.at(-1);
  const ended = {
    id: m.id,
    status: result.status,
    ...(result.error ? { error: result.error } : {}),
    outputs: result.outputs,
    ms: performance.now() - started,
    reused: result.reused,
    weights: report?.weights ?? [],
  };
  if (live)
    return post(
      { type: 'live-done', ...ended, stages },
      Object.values(result.outputs).map((o) => o.data.buffer),
    );
  post({ type: 'done', ...ended, diagnostics: result.diagnostics, ...(report && !sweep ? { report } : {}) });
}
