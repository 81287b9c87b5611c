import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { readCheckpoint } from '../src/models/weights/read';
import {
  WINOGRAD_MODES,
  WINOGRAD_TILES,
  winogradSettings,
  type WinogradMode,
  type WinogradTile,
} from '../src/ops/winograd';
import { tf } from './helpers';

/**
 * `WINOGRAD=on` (or auto) runs the parity tests with VGG's 3x3 convolutions by Winograd (src/ops/winograd.ts), and
 * `WINOGRAD_TILE=2` with F(2x2,3x3) instead of F(4x4,3x3): the bounds stay the same.
 */
if (process.env.WINOGRAD) {
  const mode = process.env.WINOGRAD as WinogradMode;
  if (!WINOGRAD_MODES.includes(mode)) throw new Error(`WINOGRAD=${mode}: one of ${WINOGRAD_MODES.join(', ')}`);
  winogradSettings.mode = mode;
  const tile = Number(process.env.WINOGRAD_TILE ?? 4) as WinogradTile;
  if (!WINOGRAD_TILES.includes(tile)) throw new Error(`WINOGRAD_TILE=${tile}: 2 or 4`);
  winogradSettings.tile = tile;
}

/** Fixtures written by scripts/make-parity-fixtures.py (PyTorch, seeded random weights, widths / 16). */
export const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
export const readFixture = (name: string) => new Uint8Array(readFileSync(fixture(name)));
export const checkpoint = (name: string) => readCheckpoint(readFixture(name), name);

export interface Expected {
  shape: number[];
  data: number[];
}
export const expected: Record<string, unknown> & {
  widths: number[];
  content: Expected;
  style: Expected;
  style2: Expected;
  torchvision_max: Record<string, Expected>;
  torchvision_avg: Record<string, Expected>;
  gram_relu2_1: Expected;
  gatys: {
    alpha: number;
    beta: number;
    loss: number;
    content: number;
    style: Record<string, number>;
    gradNorm: number;
    grad: Expected;
  };
} = JSON.parse(readFileSync(fixture('parity.json'), 'utf8'));

export const input = (e: Expected) => tf.tensor(e.data, e.shape);

/** Largest |a - b| relative to the largest |b|: the error measure the parity table reports. */
export function relativeError(actual: ArrayLike<number>, want: Expected): number {
  expect(actual.length).toBe(want.data.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.data.length; i++) {
    err = Math.max(err, Math.abs(actual[i]! - want.data[i]!));
    scale = Math.max(scale, Math.abs(want.data[i]!));
  }
  return err / scale;
}

/** Max relative errors by quantity; `PARITY_TABLE=1 npx vitest run tests/parity-*` prints them. */
const table = new Map<string, number>();
export function record(quantity: string, error: number): void {
  table.set(quantity, error);
  if (process.env.PARITY_TABLE) console.log(`| ${quantity} | ${error.toExponential(2)} |`);
}

export async function expectClose(t: tf.Tensor, want: Expected, tolerance: number, quantity?: string): Promise<number> {
  expect(t.shape).toEqual(want.shape);
  const e = relativeError(await t.data(), want);
  if (quantity) record(quantity, e);
  expect(e).toBeLessThanOrEqual(tolerance);
  return e;
}
