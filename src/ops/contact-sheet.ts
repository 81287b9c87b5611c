import type { RGBAImage } from './image';

/** A 3x5 pixel font for labels (lower-case letters, digits and . _ = - , : +); other characters draw as blanks. */
const GLYPHS: Record<string, string> = {
  'a': '.#.#.#####.##.#', 'b': '##.#.###.#.###.', 'c': '.###..#..#...##', 'd': '##.#.##.##.###.', 'e': '####..##.#..###', 'f': '####..##.#..#..',
  'g': '.###..#.##.#.##', 'h': '#.##.#####.##.#', 'i': '###.#..#..#.###', 'j': '..#..#..##.#.#.', 'k': '#.##.###.#.##.#', 'l': '#..#..#..#..###',
  'm': '#.########.##.#', 'n': '##.#.##.##.##.#', 'o': '.#.#.##.##.#.#.', 'p': '##.#.###.#..#..', 'q': '.#.#.##.###..##', 'r': '##.#.###.#.##.#',
  's': '.###...#...###.', 't': '###.#..#..#..#.', 'u': '#.##.##.##.####', 'v': '#.##.##.##.#.#.', 'w': '#.##.########.#', 'x': '#.##.#.#.#.##.#',
  'y': '#.##.#.#..#..#.', 'z': '###..#.#.#..###', '0': '####.##.##.####', '1': '.#.##..#..#.###', '2': '##...#.#.#..###', '3': '##...#.#...###.',
  '4': '#.##.####..#..#', '5': '####..##...###.', '6': '.###..####.####', '7': '###..#.#..#..#.', '8': '####.#####.####', '9': '####.####..###.',
  '.': '.............#.', '_': '............###', '=': '...###...###...', '-': '......###......', ',': '..........#.#..', ':': '....#.....#....',
  '+': '....#.###.#....',
};

function glyph(ch: string): string {
  return GLYPHS[ch.toLowerCase()] ?? '...............';
}

/** Tiles in a grid, each with its label drawn above it (scale 2), on a white sheet. */
export function contactSheet(tiles: { image: RGBAImage; label: string }[], columns: number): RGBAImage {
  const scale = 2;
  const pad = 6;
  const labelH = 5 * scale + 6;
  const tw = Math.max(...tiles.map((t) => t.image.width), ...tiles.map((t) => t.label.length * 4 * scale));
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
      for (let gy = 0; gy < 5; gy++)
        for (let gx = 0; gx < 3; gx++)
          if (g[gy * 3 + gx] === '#')
            for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) put(ox + (c * 4 + gx) * scale + sx, oy + gy * scale + sy, 30, 35, 48);
    });
    for (let y = 0; y < t.image.height; y++)
      for (let x = 0; x < t.image.width; x++) {
        const i = (y * t.image.width + x) * 4;
        put(ox + x, oy + labelH + y, t.image.data[i]!, t.image.data[i + 1]!, t.image.data[i + 2]!);
      }
  });
  return { width, height, data };
}
