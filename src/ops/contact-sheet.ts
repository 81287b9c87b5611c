import type { RGBAImage } from './image';

/**
 * A 5x7 pixel font for labels, with real lower-case letters (their x-height is the lower five rows; g, j, p, q, y
 * and the comma and underscore reach two rows below the baseline), capitals, digits and . , _ = - + : ( ) / ' %.
 * Each glyph is its rows from the top, space-separated, `#` for ink; other characters draw as blanks.
 */
export const GLYPH_WIDTH = 5;
/** Seven rows to the baseline and two below it. */
export const GLYPH_HEIGHT = 9;
const FONT: Record<string, string> = {
  a: '..... ..... .###. ....# .#### #...# .####',
  b: '#.... #.... ####. #...# #...# #...# ####.',
  c: '..... ..... .#### #.... #.... #.... .####',
  d: '....# ....# .#### #...# #...# #...# .####',
  e: '..... ..... .###. #...# ##### #.... .###.',
  f: '..##. .#... ####. .#... .#... .#... .#...',
  g: '..... ..... .#### #...# #...# #...# .#### ....# .###.',
  h: '#.... #.... ####. #...# #...# #...# #...#',
  i: '..#.. ..... .##.. ..#.. ..#.. ..#.. .###.',
  j: '...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..',
  k: '#.... #.... #..#. #.#.. ##... #.#.. #..#.',
  l: '.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  m: '..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#',
  n: '..... ..... ####. #...# #...# #...# #...#',
  o: '..... ..... .###. #...# #...# #...# .###.',
  p: '..... ..... ####. #...# #...# #...# ####. #.... #....',
  q: '..... ..... .#### #...# #...# #...# .#### ....# ....#',
  r: '..... ..... #.##. ##..# #.... #.... #....',
  s: '..... ..... .#### #.... .###. ....# ####.',
  t: '.#... .#... ####. .#... .#... .#..# ..##.',
  u: '..... ..... #...# #...# #...# #..## .##.#',
  v: '..... ..... #...# #...# #...# .#.#. ..#..',
  w: '..... ..... #...# #...# #.#.# #.#.# .#.#.',
  x: '..... ..... #...# .#.#. ..#.. .#.#. #...#',
  y: '..... ..... #...# #...# #...# #...# .#### ....# .###.',
  z: '..... ..... ##### ...#. ..#.. .#... #####',
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '####. #...# #...# #...# #...# #...# ####.',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '####. ....# ....# .###. ....# ....# ####.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  ',': '..... ..... ..... ..... ..... ..... .##.. ..#.. .#...',
  _: '..... ..... ..... ..... ..... ..... ..... #####',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '-': '..... ..... ..... .###. ..... ..... .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  ':': '..... ..... .##.. .##.. ..... .##.. .##..',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '/': '....# ....# ...#. ..#.. .#... #.... #....',
  "'": '..#.. ..#.. ..... ..... ..... ..... .....',
  '%': '##..# ##.#. ...#. ..#.. .#... .#.## #..##',
};
const BLANK = Array.from({ length: GLYPH_HEIGHT }, () => '.'.repeat(GLYPH_WIDTH));
const GLYPHS = new Map(
  Object.entries(FONT).map(([ch, rows]) => {
    const r = rows.split(' ');
    return [ch, [...r, ...BLANK.slice(r.length)]] as const;
  }),
);

/** A character's rows from the top (GLYPH_HEIGHT rows of GLYPH_WIDTH, `#` for ink); a blank for unknown ones. */
export function glyph(ch: string): readonly string[] {
  return GLYPHS.get(ch) ?? (ch === '\u00d7' ? GLYPHS.get('x')! : BLANK);
}

/** Tiles in a grid, each with its label drawn above it (scale 2), on a white sheet. */
export function contactSheet(tiles: { image: RGBAImage; label: string }[], columns: number): RGBAImage {
  const scale = 2;
  const pad = 6;
  const advance = GLYPH_WIDTH + 1;
  const labelH = GLYPH_HEIGHT * scale + 6;
  const tw = Math.max(...tiles.map((t) => t.image.width), ...tiles.map((t) => t.label.length * advance * scale));
  const th = Math.max(...tiles.map((t) => t.image.height));
  const rows = Math.ceil(tiles.length / columns);
  const width = columns * (tw + pad) + pad;
  const height = rows * (th + labelH + pad) + pad;
  const data = new Uint8ClampedArray(width * height * 4).fill(255);
  const put = (x: number, y: number, r: number, g: number, b: number) => {
    const i = (y * width + x) * 4;
    data[i] = r;
    data[i + 1] = g;
    data[i + 2] = b;
  };
  tiles.forEach((t, n) => {
    const ox = pad + (n % columns) * (tw + pad);
    const oy = pad + Math.floor(n / columns) * (th + labelH + pad);
    [...t.label].forEach((ch, c) => {
      const g = glyph(ch);
      for (let gy = 0; gy < GLYPH_HEIGHT; gy++)
        for (let gx = 0; gx < GLYPH_WIDTH; gx++)
          if (g[gy]![gx] === '#')
            for (let sy = 0; sy < scale; sy++)
              for (let sx = 0; sx < scale; sx++)
                put(ox + (c * advance + gx) * scale + sx, oy + gy * scale + sy, 30, 35, 48);
    });
    for (let y = 0; y < t.image.height; y++)
      for (let x = 0; x < t.image.width; x++) {
        const i = (y * t.image.width + x) * 4;
        put(ox + x, oy + labelH + y, t.image.data[i]!, t.image.data[i + 1]!, t.image.data[i + 2]!);
      }
  });
  return { width, height, data };
}
