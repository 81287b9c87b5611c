import { parseDocument } from '../graph/document';
import type { TfjsModel } from '../models/tfjs-models';
import type { NodeRegistry } from '../plugin/registry';
import type { CheckpointStore, TF } from '../plugin/types';
import { runSession, type SessionState } from '../runtime/session';
import type { DecodedImage } from '../runtime/sources';
import type { FromWorker, ToWorker } from './protocol';
import { CAMERA_SOURCE, withCameraSource } from '../../nodes/camera-input';

export type RunMessage = Extract<ToWorker, { type: 'run' }>;

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
 * One editor run: the editor's adapter over the run session. Events, previews and the end of the run go back
 * as messages; problems keep their path, node and code so the editor can point at the node.
 */
export async function runInWorker(m: RunMessage, deps: WorkerDeps, signal: AbortSignal): Promise<void> {
  const started = performance.now();
  const { post } = deps;
  const parsed = parseDocument(m.document);
  const base = { type: 'done' as const, id: m.id, outputs: {}, weights: [], reused: { hits: 0, misses: 0 } };
  if (!parsed.model) {
    if (m.live)
      return post({
        type: 'live-done',
        id: m.id,
        status: 'failed',
        error: 'the graph could not be read',
        outputs: {},
        ms: performance.now() - started,
        reused: base.reused,
        weights: [],
      });
    post({
      ...base,
      status: 'failed',
      error: 'the graph could not be read',
      diagnostics: parsed.diagnostics,
      ms: performance.now() - started,
    });
    return;
  }
  // A camera frame is an image named for this run only: the camera nodes read it, and it is dropped afterwards, so
  // the memo keeps what does not depend on the camera (the style side) and recomputes the rest.
  let model = parsed.model;
  const frameSource = m.frame && deps.pixels ? `${CAMERA_SOURCE}frame/${m.id}` : null;
  if (m.frame && frameSource) {
    deps.state.images.set(frameSource, deps.pixels!(m.frame));
    model = withCameraSource(model, frameSource);
  }
  const live = m.live === true;
  const result = await runSession(
    model,
    deps.registry,
    {
      size: m.size,
      seed: m.seed,
      sweep: m.sweep,
      probe: m.probe,
      ...(m.tile ? { tiling: { extent: m.tile } } : {}),
    },
    {
      tf: deps.tf,
      readImage: (s) => deps.decode(s, m.base),
      readModel: (s) => deps.loadModel(s, m.base),
      readWeights: async () => deps.checkpoints,
      state: deps.state,
      signal,
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
        else if (event.type === 'step' || (!m.sweep && (event.type === 'status' || event.type === 'tile')))
          post({ type: 'event', id: m.id, event });
      },
    },
  ).finally(() => frameSource && deps.state.images.delete(frameSource));
  if (live) {
    post(
      {
        type: 'live-done',
        id: m.id,
        status: result.status === 'invalid' ? 'failed' : result.status,
        ...(result.error ? { error: result.error } : {}),
        outputs: result.outputs,
        ms: performance.now() - started,
        reused: result.reused,
        weights: result.runs.at(-1)?.weights ?? [],
      },
      Object.values(result.outputs).map((o) => o.data.buffer),
    );
    return;
  }
  const report = result.runs.at(-1);
  post({
    ...base,
    status: result.status === 'invalid' ? 'failed' : result.status,
    ...(result.error ? { error: result.error } : {}),
    diagnostics: result.diagnostics,
    outputs: result.outputs,
    weights: report?.weights ?? [],
    reused: result.reused,
    ms: performance.now() - started,
    ...(report && !m.sweep ? { report } : {}),
  });
}
