import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef, toRaw, watch } from 'vue';
import { nodeSource, sourceNodes } from '../../graph/edit';
import type { GraphModel } from '../../graph/model';
import { fitSize, type RGBAImage } from '../../ops/image';
import { putUpload, uploadSource } from '../../web/uploads';
import { withDuration } from '../../codecs/webm';
import { drawRgba } from '../draw';
import { download } from '../files';
import { FrameScheduler } from '../live-frames';
import { registry } from '../registry';
import { useGraphStore } from './graph';
import { useRunStore } from './run';
import { useSettingsStore } from './settings';

/** Frames a second of a recording of the live output. */
export const RECORD_FPS = 10;

export type CameraStatus = 'off' | 'starting' | 'live' | 'pausing' | 'paused';

/**
 * The live camera: getUserMedia on the page (the worker has no camera), frames scaled to the run size and sent to
 * the run worker one at a time through the run store (FrameScheduler: at most one in flight, newer frames replace
 * waiting ones). Each answer becomes the output, so the output panel, its wipe against a pinned picture and Export
 * PNG all work on the live picture. Pause runs the graph once more on the frozen camera picture and keeps that.
 */
export const useCameraStore = defineStore('camera', () => {
  const graph = useGraphStore();
  const run = useRunStore();
  const settings = useSettingsStore();
  const status = ref<CameraStatus>('off');
  const error = ref<string | null>(null);
  const fps = ref(0);
  const stats = ref({ frames: 0, dropped: 0, reused: 0, ms: 0 });
  /** Frames sent to the worker since the camera started (the first one's answer waits for the networks to load). */
  const sent = ref(0);
  /** The frozen frame's result (while paused). */
  const frozen = shallowRef<RGBAImage | null>(null);
  const recording = ref(false);
  /** The live picture, drawn for the recorder (MediaRecorder records a canvas's stream). */
  const recordCanvas = markRaw(document.createElement('canvas'));
  const video = markRaw(
    Object.assign(document.createElement('video'), { muted: true, playsInline: true, autoplay: true }),
  );
  let stream: MediaStream | null = null;
  let recorder: MediaRecorder | null = null;
  let recordTimer: ReturnType<typeof setInterval> | undefined;
  let recordEnd = 0;
  /** One-shot waits for a frame's answer (Pause's last frame). */
  const waiting = new Map<number, (ok: boolean) => void>();

  const hasCamera = computed(() => sourceNodes(graph.model, registry, 'camera').length > 0);
  /** Why the graph cannot run live, or null: it needs a camera node, no optimiser loop and nothing to fix. */
  const liveBlocked = computed<string | null>(() => {
    if (!hasCamera.value) return 'the graph has no camera node';
    const plan = graph.compiled.plan;
    if (plan?.optimiser)
      return `live mode needs a feed-forward graph (no optimiser loop): this graph optimises with "${plan.optimiser.nodeId}". Run runs it once on the camera's current picture.`;
    if (run.phase === 'no-backend') return `no backend: ${run.startError}`;
    return run.graphBlocked;
  });

  /** The camera's picture now, scaled so its longest side is the run size. */
  async function grab(): Promise<ImageBitmap | null> {
    if (!stream || !video.videoWidth) return null;
    const [h, w] = fitSize(video.videoHeight, video.videoWidth, settings.size);
    return createImageBitmap(video, { resizeWidth: w, resizeHeight: h, resizeQuality: 'medium' });
  }

  async function send(model: GraphModel = toRaw(graph.model)): Promise<number | null> {
    if (liveBlocked.value || run.phase !== 'ready') return null;
    const frame = await grab();
    if (!frame) return null;
    const id = await run.postFrame(frame, model, settings.size);
    if (id === null) frame.close();
    else sent.value++;
    return id;
  }

  const scheduler = new FrameScheduler(() => send());

  run.onLiveFrame((m) => {
    scheduler.complete(m.id);
    const out = Object.values(m.outputs)[0];
    const ok = m.status === 'done' && !!out;
    waiting.get(m.id)?.(ok);
    waiting.delete(m.id);
    if (!ok) {
      if (m.status === 'failed' || m.status === 'invalid') {
        error.value = m.error ?? 'the frame failed';
        scheduler.stop();
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
    if (recording.value) drawRgba(recordCanvas, image);
    fps.value = scheduler.fps;
    const s = scheduler.stats;
    stats.value = { frames: s.done, dropped: s.dropped, reused: m.reused.hits, ms: m.ms };
    if (status.value === 'pausing') frozen.value = image;
  });
  run.provideFrames(grab);
  // A graph without a camera node (another graph opened, the node deleted) turns the camera off.
  watch(hasCamera, (has) => !has && stream && stop());

  // The status line says what the camera is doing while no run is going on (and 'ready' again when it stops).
  const LIVE =
    'live camera: each frame is stylised as the worker keeps up; Run runs the graph once on the current picture';
  const PAUSED = 'camera paused: the frozen frame is in the output (Pin, Export PNG, Use as still)';
  watch(status, (s) => {
    if (run.phase !== 'ready' || !['ready', LIVE, PAUSED].includes(run.message)) return;
    run.message = s === 'live' ? LIVE : s === 'paused' ? PAUSED : 'ready';
  });

  /** Offers each new camera frame to the scheduler (requestVideoFrameCallback, or about 30 a second without it). */
  function watchFrames() {
    const rvfc = (video as HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number })
      .requestVideoFrameCallback;
    if (rvfc) {
      const next = () => {
        if (!stream) return;
        scheduler.offer();
        rvfc.call(video, next);
      };
      rvfc.call(video, next);
    } else {
      const timer = setInterval(() => (stream ? scheduler.offer() : clearInterval(timer)), 33);
    }
  }

  async function start() {
    if (stream || status.value === 'starting') return;
    error.value = null;
    status.value = 'starting';
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 } },
        audio: false,
      });
    } catch (e) {
      status.value = 'off';
      error.value = `no camera: ${(e as Error).message || (e as Error).name}`;
      return;
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    status.value = 'live';
    frozen.value = null;
    scheduler.start();
    watchFrames();
  }

  function stop() {
    scheduler.stop();
    if (recording.value) toggleRecording();
    for (const t of stream?.getTracks() ?? []) t.stop();
    stream = null;
    video.srcObject = null;
    status.value = 'off';
    fps.value = 0;
  }

  /**
   * Freezes the camera picture and runs the graph once more on exactly that picture (so the frozen result and a
   * still taken from it match); the result stays in the output to pin, export or compare.
   */
  async function pause() {
    if (status.value !== 'live') return;
    status.value = 'pausing';
    scheduler.stop();
    video.pause();
    // Wait for the frame in flight, then send the frozen picture.
    for (let i = 0; i < 600 && scheduler.busy; i++) await new Promise((r) => setTimeout(r, 50));
    const id = await send();
    if (id !== null) await new Promise<boolean>((r) => waiting.set(id, r));
    if (status.value === 'pausing') {
      frozen.value = run.output;
      status.value = 'paused';
    }
  }

  async function resume() {
    if (status.value !== 'paused' || !stream) return;
    error.value = null;
    frozen.value = null;
    await video.play().catch(() => {});
    status.value = 'live';
    scheduler.start();
  }

  const stamp = () => new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

  /** Keeps the frozen frame in the history strip, pinned for the wipe. */
  function pinFrame() {
    if (frozen.value)
      run.keepPinned(frozen.value, `camera frame · ${graph.fileName} · ${settings.size} px · ${stamp()}`);
  }

  /**
   * The frozen camera picture (at the camera's resolution) becomes an uploaded image: every camera node turns into
   * an image node (slot content) reading it, so the graph runs on it as on any photo. Undo brings the camera back.
   */
  async function useStill() {
    if (!video.videoWidth) return;
    const canvas = new OffscreenCanvas(video.videoWidth, video.videoHeight);
    canvas.getContext('2d')!.drawImage(video, 0, 0);
    const bytes = await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer();
    const name = `camera-${new Date().toISOString().replace(/[:.]/g, '-')}.png`;
    const source = await uploadSource(name, bytes);
    await putUpload(source, bytes);
    const next = structuredClone(toRaw(graph.model));
    // The camera nodes become the node type that takes one picture, filled as the content (by its declared roles).
    const still = registry.list().find((t) => t.roles?.source?.kind === 'image' && t.roles.source.slot);
    const role = still?.roles?.source;
    for (const n of next.nodes)
      if (still && role?.slot && nodeSource(registry, n)?.kind === 'camera') {
        n.type = still.type;
        n.params = { [role.param]: source, [role.slot]: 'content' };
        n.title = 'Still from the camera';
      }
    stop();
    graph.commit(next);
    graph.tell(`the camera's picture is now a still (${name}); undo brings the camera back`);
  }

  /**
   * Starts recording the live output, or stops and downloads the recording as .webm. The canvas is captured at a
   * steady RECORD_FPS (each tick draws the live picture again and asks for a frame), whatever rate the worker keeps
   * up: a canvas stream only makes frames when the canvas is painted, so at 1 fps a recording held 2 frames and no
   * length. Chromium's recorder writes no duration either; it is added when the recording stops (src/codecs/webm.ts).
   */
  function toggleRecording() {
    if (recorder) {
      recordEnd = performance.now();
      recorder.stop();
      recorder = null;
      clearInterval(recordTimer);
      recording.value = false;
      return;
    }
    const type = ['video/webm;codecs=vp9', 'video/webm;codecs=vp8', 'video/webm'].find((t) =>
      MediaRecorder.isTypeSupported(t),
    );
    if (!type) {
      error.value = 'this browser cannot record webm video';
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
    const pictures = stats.value.frames;
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
      const changed = stats.value.frames - pictures;
      graph.tell(
        `recorded ${(ms / 1000).toFixed(1)} s as ${name}: ${ticks} frames at ${RECORD_FPS} fps, of ${changed} stylised ` +
          `picture${changed === 1 ? '' : 's'} (${(changed / (ms / 1000)).toFixed(1)} a second; each is held until the next)`,
      );
    };
    r.start(250);
    recorder = r;
    recording.value = true;
  }

  /** What the camera is doing, in words, where the frames per second would read "0.0 fps" before anything came back. */
  const activity = computed(() => {
    if (status.value !== 'live') return status.value;
    if (run.phase === 'starting') return 'starting TensorFlow.js…';
    if (run.phase === 'no-backend') return 'no backend';
    if (liveBlocked.value) return 'not live';
    if (stats.value.frames === 0) {
      if (run.phase === 'running' || run.phase === 'stopping') return 'waiting for the run to end';
      return sent.value ? 'first frame: loading the networks…' : 'waiting for the first frame';
    }
    return fps.value > 0
      ? `${fps.value.toFixed(1)} fps`
      : `${stats.value.frames} frame${stats.value.frames === 1 ? '' : 's'}`;
  });

  return {
    status,
    error,
    fps,
    activity,
    sent,
    stats,
    frozen,
    recording,
    hasCamera,
    liveBlocked,
    video,
    recordCanvas,
    start,
    stop,
    pause,
    resume,
    pinFrame,
    useStill,
    toggleRecording,
  };
});
