import type { ModelCache } from '../plugin/types';

/** Holds networks and weights between runs; everything in it is freed by `dispose`. */
export function createModelCache(): ModelCache {
  const entries = new Map<string, { dispose(): void }>();
  return {
    get<T extends { dispose(): void }>(key: string, create: () => T): T {
      let v = entries.get(key);
      if (!v) entries.set(key, (v = create()));
      return v as T;
    },
    dispose() {
      for (const v of entries.values()) v.dispose();
      entries.clear();
    },
  };
}
