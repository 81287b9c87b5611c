import { defineStore } from 'pinia';
import { markRaw, shallowRef } from 'vue';
import type { RGBAImage } from '../../ops/image';

/** A finished run in the history strip. */
export interface HistoryItem {
  key: number;
  label: string;
  image: RGBAImage | null;
  status: string;
  seconds: number;
  steps: number;
  /** Pinned items stay at the front and are not dropped when the history is full. */
  pinned?: boolean;
}

const HISTORY = 20;

/** Newest first, at most HISTORY items: the oldest unpinned ones go first. */
export function keepHistory(items: HistoryItem[]): HistoryItem[] {
  const out = [...items];
  for (let i = out.length - 1; out.length > HISTORY && i >= 0; i--) if (!out[i]!.pinned) out.splice(i, 1);
  return out;
}

/** Finished runs, newest first: their picture, to show again or pin for comparison. */
export const useHistoryStore = defineStore('history', () => {
  const items = shallowRef<HistoryItem[]>([]);

  /** Adds a finished run at the front (its picture is kept as it is, not made reactive). */
  function add(item: HistoryItem) {
    items.value = keepHistory([{ ...item, image: item.image ? markRaw(item.image) : null }, ...items.value]);
  }

  const find = (key: number): HistoryItem | undefined => items.value.find((x) => x.key === key);

  /** Marks an item pinned; returns it, or undefined when it has no picture. */
  function pin(key: number): HistoryItem | undefined {
    const h = find(key);
    if (!h?.image) return undefined;
    items.value = items.value.map((x) => (x.key === key ? { ...x, pinned: true } : x));
    return h;
  }

  return { items, add, find, pin };
});
