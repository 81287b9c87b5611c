/**
 * Draws presets/images/landscape.jpg, a small procedural landscape (sky with clouds over rolling green and ochre
 * fields), and prints its sky as a painted region (a grey PNG data: URL, white: sky) drawn from the same horizon,
 * for presets/lesson-sky-ground.json. Everything is computed here from fixed formulas and a fixed seed: no photo.
 *   npx tsx scripts/make-landscape.ts [OUT.jpg]
 */
import { writeFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { maskPng } from './make-region-mask';

export const WIDTH = 384;
export const HEIGHT = 256;

/** The horizon's row (in pixels of a picture `height` tall) at x in [0, 1]: gentle hills. */
export function horizonAt(x: number, height: number): number {
  const t = 2 * Math.PI * x;
  return height * (0.46 + 0.05 * Math.sin(1.3 * t + 0.5) + 0.025 * Math.sin(3.1 * t + 1.2));
}

/** Smooth value noise in [0, 1] on a lattice of `cell` pixels (a fixed hash, so the same picture every run). */
function noise(x: number, y: number, cell: number, seed: number): number {
  const hash = (i: number, j: number) => {
    const s = Math.sin(i * 127.1 + j * 311.7 + seed * 74.7) * 43758.5453;
    return s - Math.floor(s);
  };
  const fx = x / cell;
  const fy = y / cell;
  const i = Math.floor(fx);
  const j = Math.floor(fy);
  const u = (fx - i) * (fx - i) * (3 - 2 * (fx - i));
  const v = (fy - j) * (fy - j) * (3 - 2 * (fy - j));
  const top = hash(i, j) + u * (hash(i + 1, j) - hash(i, j));
  const bottom = hash(i, j + 1) + u * (hash(i + 1, j + 1) - hash(i, j + 1));
  return top + v * (bottom - top);
}

const fbm = (x: number, y: number, cell: number, seed: number) =>
  0.5 * noise(x, y, cell, seed) + 0.3 * noise(x, y, cell / 2, seed + 1) + 0.2 * noise(x, y, cell / 4, seed + 2);

const mix = (a: number[], b: number[], t: number) => a.map((v, i) => v + (b[i]! - v) * Math.min(1, Math.max(0, t)));

function sky(x: number, y: number, horizon: number): number[] {
  const base = mix([38, 92, 178], [178, 208, 236], y / horizon);
  const cloud = Math.max(0, fbm(x * 0.6, y * 1.6, 48, 7) - 0.5) * 3.2;
  return mix(base, [248, 248, 252], cloud);
}

const FIELDS = [
  [64, 116, 46],
  [96, 142, 60],
  [178, 152, 74],
  [138, 104, 62],
  [80, 128, 52],
];

function ground(x: number, y: number, horizon: number): number[] {
  const depth = (y - horizon) / (HEIGHT - horizon); // 0 at the horizon, 1 at the bottom
  // A patchwork of fields seen in perspective: rows of fields narrow towards the horizon, their edges wander.
  const v = 1.1 / (0.1 + depth) + 0.8 * fbm(x, y, 40, 3);
  const row = Math.floor(v);
  const u = (x - WIDTH / 2) / (WIDTH * (0.12 + depth)) + 0.37 * row + 0.4 * fbm(x, y, 50, 4);
  const col = Math.floor(u);
  const pick = Math.abs(Math.sin(row * 12.9898 + col * 78.233) * 43758.5453) % 1;
  const field = FIELDS[Math.floor(pick * FIELDS.length)]!;
  // Furrows along each field (in perspective), grass and soil texture, darker field edges.
  const furrows = pick > 0.4 ? 0.5 + 0.5 * Math.sin(2 * Math.PI * 6 * (u - col)) : 0.5;
  const texture = fbm(x, y * 1.5, 5 + 12 * depth, 5) - 0.5;
  const edge = Math.min(v - row, 1 - (v - row), (u - col) * 4, (1 - (u - col)) * 4);
  const shade = (1 + 0.4 * texture + 0.18 * (furrows - 0.5)) * (edge < 0.06 ? 0.7 : 1);
  const near = field.map((c) => c * shade);
  return mix([118, 144, 156], near, depth * 4); // haze at the horizon
}

/** The picture as RGBA bytes, WIDTH x HEIGHT, anti-aliased along the horizon. */
export function landscape(): Uint8Array {
  const data = new Uint8Array(WIDTH * HEIGHT * 4);
  for (let y = 0; y < HEIGHT; y++)
    for (let x = 0; x < WIDTH; x++) {
      const h = horizonAt((x + 0.5) / WIDTH, HEIGHT);
      const above = Math.min(1, Math.max(0, h - y)); // the share of the pixel above the horizon
      const c = mix(ground(x, y + 0.5, h), sky(x, y + 0.5, h), above);
      data.set([...c.map((v) => Math.round(Math.min(255, Math.max(0, v)))), 255], (y * WIDTH + x) * 4);
    }
  return data;
}

/** The sky as a grey mask `w` x `h` (white: sky), from the same horizon. */
export function skyMask(w: number, h: number): Buffer {
  return maskPng(w, h, (x, y) => horizonAt((x + 0.5) / w, h) - y);
}

if (process.argv[1]?.endsWith('make-landscape.ts')) {
  const out = process.argv[2] ?? 'presets/images/landscape.jpg';
  const bytes = jpeg.encode({ data: landscape(), width: WIDTH, height: HEIGHT }, 88).data;
  writeFileSync(out, bytes);
  console.error(`wrote ${out} (${bytes.length} bytes)`);
  process.stdout.write(`data:image/png;base64,${skyMask(48, 32).toString('base64')}\n`);
}
