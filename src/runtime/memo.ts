import type { Value } from '../plugin/types';

/**
 * Values of `once` steps by signature, owned by the memo and kept between runs (the editor re-running after
 * a weight change, a sweep over a parameter). After each run it keeps only what that run used.
 * Clear it when loaded weights or image files change under the same names.
 */
export class RunMemo {
  private values = new Map<string, Value>();
  private used = new Set<string>();
  hits = 0;
  misses = 0;
  get(key: string): Value | undefined {
    const v = this.values.get(key);
    if (v) this.used.add(key);
    return v;
  }
  set(key: string, v: Value): void {
    this.values.set(key, v);
    this.used.add(key);
  }
  owns(v: Value): boolean {
    return [...this.values.values()].includes(v);
  }
  /** Frees what the last run did not use. */
  trim(): void {
    for (const [k, v] of this.values)
      if (!this.used.has(k)) {
        v.dispose();
        this.values.delete(k);
      }
    this.used.clear();
  }
  clear(): void {
    for (const v of this.values.values()) v.dispose();
    this.values.clear();
    this.used.clear();
  }
}
