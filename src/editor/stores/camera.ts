import { defineStore } from 'pinia';
import { computed, markRaw, toRaw, watch } from 'vue';
import { sourceNodes } from '../../graph/edit';
import type { GraphModel } from '../../graph/model';
import { FrameScheduler } from '../live-frames';
import { registry } from '../registry';
import { useGraphStore } from './graph';
import { useRunStore } from './run';
import { useSettingsStore } from './settings';
import {
  cameraActivity,
  cameraRefs,
  grabFrame,
  frameAnswers,
  liveBlockedBy,
  offerFrames,
  sendFrame,
  openCamera,
  outputRecorder,
  pinLabel,
  sayStatus,
  stillModel,
  type CameraState,
} from './camera-parts';

export { RECORD_FPS, type CameraStatus } from './camera-parts';

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
  const refs = cameraRefs();
  const { status, error, fps, frozen, recording } = refs;
  /** The live picture, drawn for the recorder (MediaRecorder records a canvas's stream). */
  const recordCanvas = markRaw(document.createElement('canvas'));
  const video = markRaw(
    Object.assign(document.createElement('video'), { muted: true, playsInline: true, autoplay: true }),
  );
  let stream: MediaStream | null = null;
  const clock: CameraState['clock'] = { sent: new Map(), answered: 0, show: 0 };
  const state: CameraState = { graph, run, settings, recordCanvas, clock, ...refs };
  const toggleRecording = outputRecorder(state);
  /** One-shot waits for a frame's answer (Pause's last frame). */
  const waiting = new Map<number, (ok: boolean) => void>();

  const hasCamera = computed(() => sourceNodes(graph.model, registry, 'camera').length > 0);
  const liveBlocked = liveBlockedBy(state, hasCamera);

  /** The camera's picture now, scaled so its longest side is the run size. */
  const grab = () => (stream ? grabFrame(video, settings.size) : Promise.resolve(null));

  async function send(model: GraphModel = toRaw(graph.model)): Promise<number | null> {
    if (liveBlocked.value || run.phase !== 'ready') return null;
    return sendFrame(state, grab, (frame) => run.postFrame(frame, model, settings.size));
  }

  const scheduler = new FrameScheduler(() => send());

  run.onLiveFrame(frameAnswers(state, scheduler, waiting));
  run.provideFrames(grab);
  // A graph without a camera node (another graph opened, the node deleted) turns the camera off.
  watch(hasCamera, (has) => !has && stream && stop());

  sayStatus(state);

  async function start() {
    if (stream || status.value === 'starting') return;
    error.value = null;
    status.value = 'starting';
    const opened = await openCamera();
    if (typeof opened === 'string') {
      status.value = 'off';
      error.value = opened;
      return;
    }
    stream = opened;
    video.srcObject = stream;
    await video.play().catch(() => {});
    status.value = 'live';
    frozen.value = null;
    scheduler.start();
    offerFrames(video, () => stream !== null, scheduler);
  }

  function stop() {
    scheduler.stop();
    Object.assign(clock, { sent: new Map(), answered: 0 });
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

  /** Keeps the frozen frame in the history strip, pinned for the wipe. */
  function pinFrame() {
    if (frozen.value) run.keepPinned(frozen.value, pinLabel(state));
  }

  /** The frozen camera picture becomes an uploaded still the camera nodes read (stillModel); undo brings them back. */
  async function useStill() {
    const still = await stillModel(video, graph);
    if (!still) return;
    stop();
    graph.commit(still.model);
    graph.tell(`the camera's picture is now a still (${still.name}); undo brings the camera back`);
  }

  /** What the camera is doing, in words (see cameraActivity). */
  const activity = cameraActivity(state, liveBlocked);

  // prettier-ignore
  return { ...refs, activity, hasCamera, liveBlocked, video, recordCanvas, start, stop, pause, resume, pinFrame, useStill, toggleRecording };
});
