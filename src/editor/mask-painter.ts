import { imageHeader, MAX_IMAGE_PIXELS } from '../codecs/image-header';
import { encodeGreyPng } from '../codecs/png';

/**
 * The mask painter's logic, apart from Vue and the DOM: a painting is one grey picture per region (0 outside, 255
 * inside) at one size; brush and eraser strokes are round-capped lines, fill takes the connected area under the
 * pointer, and every change goes through an undo history of exact copies. Regions are exclusive unless told
 * otherwise: painting region A takes those pixels out of every other region.
 */

/** One region as the painter holds it: its node (or a new id), how it is named and shown, and its pixels. */
export interface PaintRegion {
  id: string;
  name: string;
  colour: string;
  /** Coverage per pixel, row by row: 0 outside, 255 inside (a loaded painting may have greys between). */
  pixels: Uint8Array;
}

export interface Painting {
  width: number;
  height: number;
  regions: PaintRegion[];
}

/** A point in painting pixels (continuous: pixel (x, y) has its centre at x + 0.5, y + 0.5). */
export interface Point {
  x: number;
  y: number;
}

export type PaintMode = 'paint' | 'erase';

/** The longest side of a painting. */
export const MAX_SIDE = 512;
/** Regions a painting can hold (fill keys pixels by the set of regions covering them, a 32-bit mask). */
export const MAX_REGIONS = 24;
/** Undo steps kept. */
export const HISTORY_STEPS = 60;
/**
 * Bytes the undo steps may hold: each is a copy of every region, so 24 regions at 512 x 512 px (6 MiB a step) keep
 * 10 steps rather than 60 (360 MiB).
 */
export const HISTORY_BYTES = 64 * 1024 * 1024;

/** The painting's size for a photo: the photo's aspect ratio, the longest side at most `max` (never enlarged). */
export function painterSize(
  photoWidth: number,
  photoHeight: number,
  max = MAX_SIDE,
): { width: number; height: number } {
  if (!(photoWidth > 0 && photoHeight > 0)) return { width: max, height: max };
  const scale = Math.min(1, max / Math.max(photoWidth, photoHeight));
  return {
    width: Math.max(1, Math.round(photoWidth * scale)),
    height: Math.max(1, Math.round(photoHeight * scale)),
  };
}

/** The pixels a brush of `radius` covers along the polyline `points` (one point: a disc), 1 where covered. */
export function strokeCover(width: number, height: number, points: readonly Point[], radius: number): Uint8Array {
  const cover = new Uint8Array(width * height);
  const r = Math.max(0.5, radius);
  if (!points.length) return cover;
  // Each segment between neighbouring points (a single point: a segment of length 0).
  for (let k = 0; k < Math.max(1, points.length - 1); k++) {
    const a = points[k]!;
    const b = points[k + 1] ?? a;
    const x0 = Math.max(0, Math.floor(Math.min(a.x, b.x) - r));
    const x1 = Math.min(width - 1, Math.ceil(Math.max(a.x, b.x) + r));
    const y0 = Math.max(0, Math.floor(Math.min(a.y, b.y) - r));
    const y1 = Math.min(height - 1, Math.ceil(Math.max(a.y, b.y) + r));
    const [dx, dy] = [b.x - a.x, b.y - a.y];
    const len2 = dx * dx + dy * dy;
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) {
        const [px, py] = [x + 0.5 - a.x, y + 0.5 - a.y];
        const t = len2 > 0 ? Math.min(1, Math.max(0, (px * dx + py * dy) / len2)) : 0;
        const [ex, ey] = [px - t * dx, py - t * dy];
        if (ex * ex + ey * ey <= r * r) cover[y * width + x] = 1;
      }
  }
  return cover;
}

/** Which regions cover each pixel (at least half), one bit per region. */
function coverKeys(p: Painting): Uint32Array {
  const keys = new Uint32Array(p.width * p.height);
  p.regions.forEach((r, k) => {
    for (let i = 0; i < keys.length; i++) if (r.pixels[i]! >= 128) keys[i]! |= 1 << k;
  });
  return keys;
}

/** What the fill compares besides the painted regions: the photo's colours (RGBA, the painting's size). */
export interface FillPhoto {
  rgba: Uint8Array | Uint8ClampedArray;
  /** The largest difference in any channel (0-255) from the colour under the pointer. */
  tolerance: number;
}

/**
 * The connected area under `seed` (4-neighbours): the pixels covered by the same regions as the seed pixel (so a
 * fill stops at every painted border), and with `photo` also within its tolerance of the seed's colour.
 */
export function fillCover(p: Painting, seed: Point, photo?: FillPhoto): Uint8Array {
  const { width, height } = p;
  const cover = new Uint8Array(width * height);
  const [sx, sy] = [Math.floor(seed.x), Math.floor(seed.y)];
  if (sx < 0 || sy < 0 || sx >= width || sy >= height) return cover;
  const start = sy * width + sx;
  const keys = coverKeys(p);
  const key = keys[start];
  const near = (i: number) => {
    if (!photo) return true;
    for (let c = 0; c < 3; c++)
      if (Math.abs(photo.rgba[i * 4 + c]! - photo.rgba[start * 4 + c]!) > photo.tolerance) return false;
    return true;
  };
  const stack = [start];
  cover[start] = 1;
  while (stack.length) {
    const i = stack.pop()!;
    const [x, y] = [i % width, (i - (i % width)) / width];
    for (const j of [
      x > 0 ? i - 1 : -1,
      x < width - 1 ? i + 1 : -1,
      y > 0 ? i - width : -1,
      y < height - 1 ? i + width : -1,
    ])
      if (j >= 0 && !cover[j] && keys[j] === key && near(j)) {
        cover[j] = 1;
        stack.push(j);
      }
  }
  return cover;
}

/**
 * Paints (255) or erases (0) region `index` where `cover` is set. Painting an exclusive region takes the pixels
 * out of every other region. Returns whether any pixel changed.
 */
export function applyCover(p: Painting, index: number, cover: Uint8Array, mode: PaintMode, exclusive = true): boolean {
  const region = p.regions[index];
  if (!region) return false;
  let changed = false;
  const value = mode === 'paint' ? 255 : 0;
  for (let i = 0; i < cover.length; i++) {
    if (!cover[i]) continue;
    if (region.pixels[i] !== value) {
      region.pixels[i] = value;
      changed = true;
    }
    if (mode !== 'paint' || !exclusive) continue;
    for (const other of p.regions)
      if (other !== region && other.pixels[i] !== 0) {
        other.pixels[i] = 0;
        changed = true;
      }
  }
  return changed;
}

/** Empties region `index`; returns whether it had any paint. */
export function clearRegion(p: Painting, index: number): boolean {
  const r = p.regions[index];
  if (!r || r.pixels.every((v) => v === 0)) return false;
  r.pixels.fill(0);
  return true;
}

/** Every region's pixels, copied, by region id. */
type Snapshot = Map<string, Uint8Array>;
const snapshot = (p: Painting): Snapshot => new Map(p.regions.map((r) => [r.id, r.pixels.slice()]));
function restore(p: Painting, s: Snapshot) {
  // A region added after the snapshot was empty then.
  for (const r of p.regions) r.pixels.set(s.get(r.id) ?? new Uint8Array(r.pixels.length));
}

/** Undo and redo of a painting: exact copies of every region before each change, the oldest dropped first. */
export class PaintHistory {
  private past: Snapshot[] = [];
  private future: Snapshot[] = [];
  constructor(
    private readonly limit = HISTORY_STEPS,
    private readonly bytes = HISTORY_BYTES,
  ) {}

  /** Call before a change: keeps the state to go back to, and forgets what was undone. */
  record(p: Painting) {
    this.past.push(snapshot(p));
    this.future = [];
    const size = (s: Snapshot) => [...s.values()].reduce((a, v) => a + v.length, 0);
    let held = this.past.reduce((a, s) => a + size(s), 0);
    // The last step is kept whatever its size.
    while (this.past.length > 1 && (this.past.length > this.limit || held > this.bytes))
      held -= size(this.past.shift()!);
  }

  /** Forgets the last record (a change that changed nothing). */
  drop() {
    this.past.pop();
  }

  get canUndo() {
    return this.past.length > 0;
  }
  get canRedo() {
    return this.future.length > 0;
  }

  undo(p: Painting): boolean {
    const s = this.past.pop();
    if (!s) return false;
    this.future.push(snapshot(p));
    restore(p, s);
    return true;
  }

  redo(p: Painting): boolean {
    const s = this.future.pop();
    if (!s) return false;
    this.past.push(snapshot(p));
    restore(p, s);
    return true;
  }
}

/** Grey coverage from an RGBA picture of the painting's size: the mean of red, green and blue (as the mask node reads it). */
export function greyFromRgba(rgba: Uint8Array | Uint8ClampedArray): Uint8Array {
  const out = new Uint8Array(rgba.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = Math.round((rgba[i * 4]! + rgba[i * 4 + 1]! + rgba[i * 4 + 2]!) / 3);
  return out;
}

/**
 * Why `name` cannot be region `k`'s new name, or null when it can: regions are picked by name (`--mask NAME=IMG`
 * in the CLI, which splits at the first '='), so a name is not empty, has no '=' and is no other region's.
 */
export function regionNameProblem(names: readonly string[], k: number, name: string): string | null {
  const n = name.trim();
  if (!n) return 'A region needs a name.';
  if (n.includes('=')) return `"${n}": a region's name cannot hold '=' (--mask NAME=IMG splits there).`;
  if (names.some((other, i) => i !== k && other === n))
    return `"${n}" is another region's name; each region needs its own (--mask picks a region by name).`;
  return null;
}

/** The most pixels a painting the painter opens may have: the CLI's limit for any picture (docs/security.md). */
export const MAX_PAINTING_PIXELS = MAX_IMAGE_PIXELS;

/**
 * Why a region's painting is not opened, or null: a PNG in a data: URL (what the painter writes, and what a shared
 * document carries) whose header says it is over {@link MAX_PAINTING_PIXELS}, read before the browser decodes it (a
 * flat 20000 x 20000 mask is 0.5 MB of base64 and 1.6 GB decoded).
 */
export function paintingProblem(source: string): string | null {
  const m = /^data:image\/png;base64,([A-Za-z0-9+/]{32})/.exec(source);
  if (!m) return null;
  // The header check the CLI and the worker run on every picture (codecs/image-header.ts): 32 base64 characters are
  // the 24 bytes up to the end of a PNG's width and height.
  const size = imageHeader(Uint8Array.from(atob(m[1]!), (c) => c.charCodeAt(0)));
  if (size?.format !== 'png' || size.width * size.height <= MAX_PAINTING_PIXELS) return null;
  const mp = ((size.width * size.height) / 1e6).toFixed(1);
  return `${size.width} x ${size.height} px (${mp} MP), over the ${MAX_PAINTING_PIXELS / 1e6} MP a picture may have`;
}

/** `#rrggbb` as [r, g, b]; grey for anything else. */
export function parseColour(colour: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour.trim());
  return m ? [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)] : [128, 128, 128];
}

/** Colours for new regions, distinct from each other and from most photos. */
export const REGION_COLOURS = ['#ff5a5a', '#4aa8ff', '#5ad25a', '#ffc83c', '#c86eff', '#3cdcd2', '#ff8c32', '#ff6ec8'];

/** The first palette colour no region uses yet (the palette again when all are taken). */
export function nextColour(used: readonly string[]): string {
  const taken = new Set(used.map((c) => c.toLowerCase()));
  return REGION_COLOURS.find((c) => !taken.has(c)) ?? REGION_COLOURS[used.length % REGION_COLOURS.length]!;
}

/**
 * The regions drawn over the photo into `out` (RGBA, the painting's size): each region in its colour at `opacity`
 * times its coverage, later regions over earlier ones; transparent where no region is painted.
 */
export function overlayRgba(p: Painting, out: Uint8ClampedArray | Uint8Array, opacity = 0.5) {
  const colours = p.regions.map((r) => parseColour(r.colour));
  for (let i = 0; i < p.width * p.height; i++) {
    let [r, g, b, a] = [0, 0, 0, 0]; // premultiplied
    p.regions.forEach((region, k) => {
      const alpha = (opacity * region.pixels[i]!) / 255;
      if (alpha <= 0) return;
      const c = colours[k]!;
      [r, g, b, a] = [
        c[0] * alpha + r * (1 - alpha),
        c[1] * alpha + g * (1 - alpha),
        c[2] * alpha + b * (1 - alpha),
        alpha + a * (1 - alpha),
      ];
    });
    out[i * 4] = a > 0 ? r / a : 0;
    out[i * 4 + 1] = a > 0 ? g / a : 0;
    out[i * 4 + 2] = a > 0 ? b / a : 0;
    out[i * 4 + 3] = Math.round(a * 255);
  }
}

/** Bytes as base64 (btoa over chunks, for large pictures). */
function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** A region's painting as the mask node reads it: a grey PNG (white inside) in a data: URL. */
export function maskDataUrl(width: number, height: number, pixels: Uint8Array): string {
  return `data:image/png;base64,${base64(encodeGreyPng(width, height, pixels))}`;
}

/** Whether two paintings of one region differ in any pixel. */
export const samePixels = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);
