/**
 * Parts of the camera store (stores/camera.ts) as plain functions over the store's refs: the recorder of the live
 * output, Use as still, the frame offers, the answer to each frame and the activity line.
 */
import {
  computed,
  markRaw,
  nextTick,
  ref,
  shallowRef,
  toRaw,
  watch,
  type ComputedRef,
  type Ref,
  type ShallowRef,
} from 'vue';
import { nodeSource } from '../../graph/edit';
import { fitSize, type RGBAImage } from '../../ops/image';
import { putUpload, uploadSource } from '../../web/uploads';
import { withDuration } from '../../codecs/webm';
import { drawRgba } from '../draw';
import { download } from '../files';
import type { FrameScheduler } from '../live-frames';
import { registry } from '../registry';
import type { useGraphStore } from './graph';
import type { useRunStore } from './run';
import type { useSettingsStore } from './settings';

/** Frames a second of a recording of the live output. */
export const RECORD_FPS = 10;

export type CameraStatus = 'off' | 'starting' | 'live' | 'pausing' | 'paused';

type GraphStore = ReturnType<typeof useGraphStore>;
type RunStore = ReturnType<typeof useRunStore>;
type SettingsStore = ReturnType<typeof useSettingsStore>;
type LiveFrame = Parameters<Parameters<RunStore['onLiveFrame']>[0]>[0];

export interface CameraStats {
  frames: number;
  dropped: number;
  reused: number;
  ms: number;
  /**
   * Where the last frame's time went, in ms: the worker's stages (the 'live-done' message's `stages`) and the page's:
   * `page:grab` (the camera's picture scaled to a bitmap), `page:post` (the run message made and posted), `page:transit`
   * (from posting to the answer, less the worker's time: messages, transfers, waiting for the worker), `page:gap` (from
   * the previous answer to this frame's post: the worker idle in between), `page:show` (the previous answer made the
   * output and drawn). bench-camera.ts reads them (the camera panel's data-stages).
   */
  stages: Record<string, number>;
}

/** When each frame in flight was grabbed and posted (performance.now()), and when the last answer came. */
export interface FrameClock {
  sent: Map<number, { grab: number; post: number; at: number }>;
  answered: number;
  /** The last answer's handling, up to its picture drawn. */
  show: number;
}

/** The camera store's state the parts read and write. */
export interface CameraState {
  graph: GraphStore;
  run: RunStore;
  settings: SettingsStore;
  status: Ref<CameraStatus>;
  error: Ref<string | null>;
  fps: Ref<number>;
  stats: Ref<CameraStats>;
  sent: Ref<number>;
  frozen: ShallowRef<RGBAImage | null>;
  recording: Ref<boolean>;
  recordCanvas: HTMLCanvasElement;
  clock: FrameClock;
}

/**
 * Starts recording the live output, or stops and downloads the recording as .webm (the returned toggle). The canvas
 * is captured at a steady RECORD_FPS (each tick draws the live picture again and asks for a frame), whatever rate the
 * worker keeps up: a canvas stream only makes frames when the canvas is painted, so at 1 fps a recording held 2
 * frames and no length. Chromium's recorder writes no duration either; it is added when the recording stops
 * (src/codecs/webm.ts).
 */
export function outputRecorder(c: CameraState): () => void {
  let recorder: MediaRecorder | null = null;
  let recordTimer: ReturnType<typeof setInterval> | undefined;
  let recordEnd = 0;
  const { run, graph, settings, recordCanvas } = c;
  return function toggleRecording() {
    if (recorder) {
      recordEnd = performance.now();
      recorder.stop();
      recorder = null;
      clearInterval(recordTimer);
      c.recording.value = false;
      return;
    }
    const type = ['video/webm;codecs=vp9', 'video/webm;codecs=vp8', 'video/webm'].find((t) =>
      MediaRecorder.isTypeSupported(t),
    );
    if (!type) {
      c.error.value = 'this browser cannot record webm video';
      return;
    }
    if (run.output) drawRgba(recordCanvas, run.output);
    else {
      // Nothing stylised yet: black at the run size until the first picture comes.
      recordCanvas.width = recordCanvas.height = settings.size;
      recordCanvas.getContext('2d')?.fillRect(0, 0, settings.size, settings.size);
    }
    const stream = recordCanvas.captureStream(0);
    const track = stream.getVideoTracks()[0] as CanvasCaptureMediaStreamTrack | undefined;
    const chunks: Blob[] = [];
    const r = new MediaRecorder(stream, { mimeType: type });
    const began = performance.now();
    const pictures = c.stats.value.frames;
    let ticks = 0;
    recordTimer = setInterval(() => {
      if (run.output) drawRgba(recordCanvas, run.output);
      track?.requestFrame();
      ticks++;
    }, 1000 / RECORD_FPS);
    r.ondataavailable = (e) => e.data.size && chunks.push(e.data);
    r.onstop = async () => {
      const ms = recordEnd - began;
      const raw = new Uint8Array(await new Blob(chunks).arrayBuffer());
      let bytes: Uint8Array = raw;
      try {
        bytes = withDuration(raw, ms);
      } catch {
        // Not the WebM expected: kept as the browser wrote it.
      }
      const name = `${graph.fileName.replace(/\.json$/, '')}-live.webm`;
      download(name, bytes.slice().buffer, 'video/webm');
      const changed = c.stats.value.frames - pictures;
      graph.tell(
        `recorded ${(ms / 1000).toFixed(1)} s as ${name}: ${ticks} frames at ${RECORD_FPS} fps, of ${changed} stylised ` +
          `picture${changed === 1 ? '' : 's'} (${(changed / (ms / 1000)).toFixed(1)} a second; each is held until the next)`,
      );
    };
    r.start(250);
    recorder = r;
    c.recording.value = true;
  };
}

/**
 * The frozen camera picture (at the camera's resolution) as an uploaded image, and the model whose camera nodes
 * turned into the node type that takes one picture, filled as the content (by their declared roles); null without
 * a picture.
 */
export async function stillModel(
  video: HTMLVideoElement,
  graph: GraphStore,
): Promise<{ name: string; model: GraphStore['model'] } | null> {
  if (!video.videoWidth) return null;
  const canvas = new OffscreenCanvas(video.videoWidth, video.videoHeight);
  canvas.getContext('2d')!.drawImage(video, 0, 0);
  const bytes = await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer();
  const name = `camera-${new Date().toISOString().replace(/[:.]/g, '-')}.png`;
  const source = await uploadSource(name, bytes);
  await putUpload(source, bytes);
  const next = structuredClone(toRaw(graph.model));
  const still = registry.list().find((t) => t.roles?.source?.kind === 'image' && t.roles.source.slot);
  const role = still?.roles?.source;
  for (const n of next.nodes)
    if (still && role?.slot && nodeSource(registry, n)?.kind === 'camera') {
      n.type = still.type;
      n.params = { [role.param]: source, [role.slot]: 'content' };
      n.title = 'Still from the camera';
    }
  return { name, model: next };
}

/** Offers each new camera frame to the scheduler (requestVideoFrameCallback, or about 30 a second without it). */
export function offerFrames(video: HTMLVideoElement, streaming: () => boolean, scheduler: FrameScheduler): void {
  const rvfc = (video as HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number })
    .requestVideoFrameCallback;
  if (rvfc) {
    const next = () => {
      if (!streaming()) return;
      scheduler.offer();
      rvfc.call(video, next);
    };
    rvfc.call(video, next);
  } else {
    const timer = setInterval(() => (streaming() ? scheduler.offer() : clearInterval(timer)), 33);
  }
}

/**
 * What to do with the worker's answer to a frame: it becomes the output (and the recording's picture, and the frozen
 * one while pausing); a failed or invalid frame stops the frames and pauses. `waiting` holds one-shot waits by id.
 */
export function frameAnswers(
  c: CameraState,
  scheduler: FrameScheduler,
  waiting: Map<number, (ok: boolean) => void>,
): (m: LiveFrame) => void {
  const { run, status, error } = c;
  return (m) => {
    const answered = performance.now();
    const timed = c.clock.sent.get(m.id);
    c.clock.sent.delete(m.id);
    const out = Object.values(m.outputs)[0];
    const ok = m.status === 'done' && !!out;
    const broke = m.status === 'failed' || m.status === 'invalid';
    // A failed frame stops the loop before its answer can let a waiting frame go (complete sends the next one).
    if (broke) scheduler.stop();
    scheduler.complete(m.id);
    waiting.get(m.id)?.(ok);
    waiting.delete(m.id);
    if (!ok) {
      if (broke) {
        error.value = m.error ?? 'the frame failed';
        if (status.value === 'live') status.value = 'paused';
      }
      return;
    }
    // The answer of a frame sent before Pause is not the frozen picture.
    if (status.value === 'paused') return;
    error.value = null;
    // Which weights the networks ran on: the output panel notes random ones, as after a run.
    if (JSON.stringify(m.weights) !== JSON.stringify(run.runWeights)) run.runWeights = m.weights;
    const image = markRaw(out);
    run.output = image;
    run.outputStep = null;
    if (c.recording.value) drawRgba(c.recordCanvas, image);
    c.fps.value = scheduler.fps;
    const s = scheduler.stats;
    const page = timed
      ? {
          'page:grab': timed.grab,
          'page:post': timed.post,
          'page:transit': answered - timed.at - m.ms,
          ...(c.clock.answered ? { 'page:gap': Math.max(0, timed.at - c.clock.answered) } : {}),
          'page:show': c.clock.show,
        }
      : {};
    c.clock.answered = answered;
    const stages = { ...m.stages, ...page };
    c.stats.value = { frames: s.done, dropped: s.dropped, reused: m.reused.hits, ms: m.ms, stages };
    if (status.value === 'pausing') c.frozen.value = image;
    // Drawn by the output panel once Vue has patched the page (CompareWipe's post-flush watch).
    void nextTick(() => (c.clock.show = performance.now() - answered));
  };
}

/** What the camera is doing, in words, where the frames per second would read "0.0 fps" before anything came back. */
export function cameraActivity(c: CameraState, liveBlocked: ComputedRef<string | null>): ComputedRef<string> {
  const { run, status, stats, fps } = c;
  return computed(() => {
    if (status.value !== 'live') return status.value;
    if (run.phase === 'starting') return 'starting TensorFlow.js…';
    if (run.phase === 'no-backend') return 'no backend';
    if (liveBlocked.value) return 'not live';
    if (stats.value.frames === 0) {
      if (run.phase === 'running' || run.phase === 'stopping') return 'waiting for the run to end';
      return c.sent.value ? 'first frame: loading the networks…' : 'waiting for the first frame';
    }
    return fps.value > 0
      ? `${fps.value.toFixed(1)} fps`
      : `${stats.value.frames} frame${stats.value.frames === 1 ? '' : 's'}`;
  });
}

/** The camera store's own state, fresh. */
export function cameraRefs() {
  return {
    status: ref<CameraStatus>('off'),
    error: ref<string | null>(null),
    fps: ref(0),
    stats: ref<CameraStats>({ frames: 0, dropped: 0, reused: 0, ms: 0, stages: {} }),
    /** Frames sent to the worker since the camera started (the first one's answer waits for the networks to load). */
    sent: ref(0),
    /** The frozen frame's result (while paused). */
    frozen: shallowRef<RGBAImage | null>(null),
    recording: ref(false),
  };
}

/** Why the graph cannot run live, or null: it needs a camera node, no optimiser loop and nothing to fix. */
export function liveBlockedBy(c: CameraState, hasCamera: ComputedRef<boolean>): ComputedRef<string | null> {
  const { graph, run } = c;
  return computed<string | null>(() => {
    if (!hasCamera.value) return 'the graph has no camera node';
    const plan = graph.compiled.plan;
    if (plan?.optimiser)
      return `live mode needs a feed-forward graph (no optimiser loop): this graph optimises with "${plan.optimiser.nodeId}". Run runs it once on the camera's current picture.`;
    if (run.phase === 'no-backend') return `no backend: ${run.startError}`;
    return run.graphBlocked;
  });
}

const LIVE =
  'live camera: each frame is stylised as the worker keeps up; Run runs the graph once on the current picture';
const PAUSED = 'camera paused: the frozen frame is in the output (Pin, Export PNG, Use as still)';

/** The status line says what the camera is doing while no run is going on (and 'ready' again when it stops). */
export function sayStatus(c: CameraState): void {
  const { run } = c;
  watch(c.status, (s) => {
    if (run.phase !== 'ready' || !['ready', LIVE, PAUSED].includes(run.message)) return;
    run.message = s === 'live' ? LIVE : s === 'paused' ? PAUSED : 'ready';
  });
}

/** The camera's stream, or why there is none. */
export async function openCamera(): Promise<MediaStream | string> {
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
  } catch (e) {
    return `no camera: ${(e as Error).message || (e as Error).name}`;
  }
}

/** The history strip's label of a pinned camera frame. */
export const pinLabel = (c: CameraState): string =>
  `camera frame · ${c.graph.fileName} · ${c.settings.size} px · ${new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })}`;

/**
 * Grabs the camera's picture and posts it; its ticket, or null when nothing was sent. Notes how long the grab and the
 * post took and when the frame went (CameraState.clock), for the answer's stages.
 */
export async function sendFrame(
  c: CameraState,
  grab: () => Promise<ImageBitmap | null>,
  post: (frame: ImageBitmap) => Promise<number | null>,
): Promise<number | null> {
  const t0 = performance.now();
  const frame = await grab();
  if (!frame) return null;
  const t1 = performance.now();
  const id = await post(frame);
  const at = performance.now();
  if (id === null) frame.close();
  else {
    c.sent.value++;
    c.clock.sent.set(id, { grab: t1 - t0, post: at - t1, at });
  }
  return id;
}

/** The camera's picture now, scaled so its longest side is `size`; null before the video has a picture. */
export async function grabFrame(video: HTMLVideoElement, size: number): Promise<ImageBitmap | null> {
  if (!video.videoWidth) return null;
  const [h, w] = fitSize(video.videoHeight, video.videoWidth, size);
  return createImageBitmap(video, { resizeWidth: w, resizeHeight: h, resizeQuality: 'medium' });
}
