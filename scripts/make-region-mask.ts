/**
 * Writes a painted region as the mask painter does: a grey PNG (white inside) as a data: URL, for presets.
 *   npx tsx scripts/make-region-mask.ts WIDTH HEIGHT top FRACTION   # the top FRACTION of the rows white
 *   npx tsx scripts/make-region-mask.ts WIDTH HEIGHT rows R0,R1,...  # row y of the region's top edge per column
 *                                                                     # (linearly spread over the width): a horizon
 * Prints the data: URL on stdout. Uses pngjs (a dependency already) to write an 8-bit greyscale PNG.
 */
import { PNG } from 'pngjs';

export function maskPng(width: number, height: number, inside: (x: number, y: number) => number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  const data = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data[y * width + x] = Math.round(255 * Math.min(1, Math.max(0, inside(x, y))));
  png.data = data;
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
}

/** A row per column, linear between the given control rows (in the mask's pixels). */
export function horizon(width: number, rows: number[]): (x: number) => number {
  return (x) => {
    if (rows.length === 1) return rows[0]!;
    const t = (x / Math.max(1, width - 1)) * (rows.length - 1);
    const i = Math.min(rows.length - 2, Math.floor(t));
    return rows[i]! + (t - i) * (rows[i + 1]! - rows[i]!);
  };
}

function main(argv: string[]): void {
  const [w, h, kind, arg] = argv;
  const width = Number(w);
  const height = Number(h);
  if (!(width > 0 && height > 0) || (kind !== 'top' && kind !== 'rows') || !arg)
    throw new Error('usage: make-region-mask.ts WIDTH HEIGHT top FRACTION | rows R0,R1,...');
  const edge = kind === 'top' ? () => Number(arg) * height : horizon(width, arg.split(',').map(Number));
  // Pixel centre y + 0.5 above the edge is inside; the pixel the edge crosses is grey by the part above it.
  const png = maskPng(width, height, (x, y) => edge(x) - y);
  process.stdout.write(`data:image/png;base64,${png.toString('base64')}\n`);
}

if (process.argv[1]?.endsWith('make-region-mask.ts')) main(process.argv.slice(2));
