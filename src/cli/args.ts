/** Parsers of the option values several commands share: numbers, the backend, threads, tiling, scales, --weights. */
import { MAX_WASM_THREADS, type BackendName } from '../runtime/backend';
import type { RunOptions } from '../runtime/executor';
import { UsageError } from './io';
import { parseWeightsSpec, type WeightsSpec } from './node/node-weights';

/** `--NAME N`: a whole number from `min` to `max`; undefined when not given. */
export function int(name: string, s: string | undefined, min: number, max: number): number | undefined {
  if (s === undefined) return undefined;
  const n = s.trim() === '' ? NaN : Number(s);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${s}"`);
  return n;
}

/** `--threads`: wasm's thread count, 1 to 8 (tfjs-wasm's pthread pool); undefined: timed at start (calibrateThreads). */
export function parseThreads(s: string | undefined): number | undefined {
  return int('threads', s, 1, MAX_WASM_THREADS);
}

/** `--backend`: one Node can start; undefined chooses (auto). */
export function parseBackend(s: string | undefined): BackendName | undefined {
  if (s && !['webgpu', 'wasm', 'cpu'].includes(s))
    throw new UsageError(`--backend must be webgpu, wasm or cpu in Node, got "${s}"`);
  return (s || undefined) as BackendName | undefined;
}

/** `--tile 512` forces tiles of at most 512 px, `--tile off` never tiles; `--memory-limit 2` tiles above 2 GiB. */
export function parseTiling(tile: string | undefined, limit: string | undefined): RunOptions['tiling'] {
  if (tile === 'off') {
    if (limit !== undefined) throw new UsageError('--memory-limit has no effect with --tile off');
    return false;
  }
  const extent = tile === undefined ? undefined : Number(tile);
  if (extent !== undefined && !(Number.isInteger(extent) && extent >= 32))
    throw new UsageError(`--tile must be a size in px (32 or more) or off, got "${tile}"`);
  const gib = limit === undefined ? undefined : Number(limit);
  if (gib !== undefined && !(gib > 0)) throw new UsageError(`--memory-limit must be a number of GiB, got "${limit}"`);
  if (extent === undefined && gib === undefined) return undefined;
  return { ...(extent !== undefined ? { extent } : {}), ...(gib !== undefined ? { limit: gib * 2 ** 30 } : {}) };
}

/** `--scales 0.25,0.5,1`: increasing fractions of the size, ending at 1. */
export function parseScales(text: string | undefined): number[] {
  if (text === undefined) return [1];
  const scales = text.split(',').map((x) => Number(x.trim()));
  const ok =
    scales.length > 0 &&
    scales.every((x, i) => x > 0 && x <= 1 && (i === 0 || x > scales[i - 1]!)) &&
    scales.at(-1) === 1;
  if (!ok)
    throw new UsageError(
      `--scales must be increasing fractions of the size ending at 1, e.g. 0.25,0.5,1 (got "${text}")`,
    );
  return scales;
}

/** `--weights NAME=PATH_OR_URL ...`, each checked; the first bad one is a usage error. */
export function parseWeightSpecs(specs: string[] | undefined): WeightsSpec[] {
  const parsed = (specs ?? []).map(parseWeightsSpec);
  const bad = parsed.find((w) => 'error' in w);
  if (bad && 'error' in bad) throw new UsageError(bad.error);
  return parsed as WeightsSpec[];
}
