import { defineStore } from 'pinia';
import { computed, ref, shallowRef, toRaw } from 'vue';
import type { GraphModel } from '../../graph/model';
import { registry, registryVersion } from '../registry';
import { variantDifference } from '../variant-label';
import { useGraphStore } from './graph';
import { useSettingsStore } from './settings';

/** A run waiting its turn: the graph and settings as they were when the user asked for it. */
export interface QueuedRun {
  key: number;
  label: string;
  model: GraphModel;
  size: number;
  seed: number;
  sweep: boolean;
  probe: string[];
}

/** Runs waiting their turn (snapshots of the graph and its settings, taken when the user asked) and the one going on. */
export const useQueueStore = defineStore('queue', () => {
  const items = ref<QueuedRun[]>([]);
  /** The run going on now. */
  const current = shallowRef<QueuedRun | null>(null);
  /**
   * Whether the queue is held (Pause): the run going on pauses between its steps (the worker's pause gate; a run
   * without steps finishes), and no waiting run starts until Resume, which lets both go on.
   */
  const paused = ref(false);
  /** Who hears Pause (the run store pauses the run going on). */
  const pauseListeners = new Set<() => void>();
  /** Who hears Resume (the run store resumes the run going on, or starts the next waiting run). */
  const resumeListeners = new Set<() => void>();
  let keys = 0;

  /** A new key for a run or a kept picture (the history strip shares the numbering: "#3"). */
  const nextKey = () => ++keys;

  const add = (run: QueuedRun) => void (items.value = [...items.value, run]);

  /** Takes the first queued run (as plain data the worker can clone), or null when none waits or the queue is paused. */
  function take(): QueuedRun | null {
    if (paused.value) return null;
    const [next, ...rest] = items.value;
    if (!next) return null;
    items.value = rest;
    return toRaw(next);
  }

  /** Moves a queued run earlier (-1) or later (+1). */
  function move(key: number, by: -1 | 1) {
    const list = [...items.value];
    const i = list.findIndex((q) => q.key === key);
    const j = i + by;
    if (i < 0 || j < 0 || j >= list.length) return;
    [list[i], list[j]] = [list[j]!, list[i]!];
    items.value = list;
  }

  /**
   * What the running and each waiting run change against the graph and settings as they are now ("steps 40",
   * "Style (beta) weight 1e4", "128 px"), by key; null where nothing differs. Runs queued from one graph otherwise
   * read alike ("gatys.json, 64 px, seed 0").
   */
  const graph = useGraphStore();
  const settings = useSettingsStore();
  const differences = computed(() => {
    void registryVersion.value;
    const now = { model: graph.model, size: settings.size, seed: settings.seed };
    const runs = [...(current.value ? [current.value] : []), ...items.value];
    return new Map(runs.map((q) => [q.key, variantDifference(q, now, registry)]));
  });

  const cancel = (key: number) => void (items.value = items.value.filter((q) => q.key !== key));
  const clear = () => void (items.value = []);

  /** Holds the queue (no waiting run starts until resume()), and tells who listens (the run going on pauses). */
  function pause() {
    if (paused.value) return;
    paused.value = true;
    for (const listener of pauseListeners) listener();
  }
  const onPause = (listener: () => void) => void pauseListeners.add(listener);
  /** Lets the queue go on again, and tells who listens (the next waiting run starts). */
  function resume() {
    if (!paused.value) return;
    paused.value = false;
    for (const listener of resumeListeners) listener();
  }
  const onResume = (listener: () => void) => void resumeListeners.add(listener);

  return {
    items,
    current,
    paused,
    differences,
    nextKey,
    add,
    take,
    move,
    cancel,
    clear,
    pause,
    resume,
    onPause,
    onResume,
  };
});
