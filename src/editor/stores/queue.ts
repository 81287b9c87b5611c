import { defineStore } from 'pinia';
import { ref, shallowRef, toRaw } from 'vue';
import type { GraphModel } from '../../graph/model';

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
  let keys = 0;

  /** A new key for a run or a kept picture (the history strip shares the numbering: "#3"). */
  const nextKey = () => ++keys;

  const add = (run: QueuedRun) => void (items.value = [...items.value, run]);

  /** Takes the first queued run (as plain data the worker can clone), or null when none waits. */
  function take(): QueuedRun | null {
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

  const cancel = (key: number) => void (items.value = items.value.filter((q) => q.key !== key));
  const clear = () => void (items.value = []);

  return { items, current, nextKey, add, take, move, cancel, clear };
});
