import type { RgbaImage } from './draw';

/**
 * The picture repeated `across` times in a row and `down` times in a column: how a seamless texture (a graph whose
 * networks pad circularly) is shown, so a seam would be seen where the copies meet.
 */
export function tileRgba(img: RgbaImage, across = 2, down = 2): RgbaImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8ClampedArray(w * across * h * down * 4);
  const row = w * 4;
  for (let ty = 0; ty < down; ty++)
    for (let y = 0; y < h; y++) {
      const src = data.subarray(y * row, (y + 1) * row);
      const base = (ty * h + y) * w * across * 4;
      for (let tx = 0; tx < across; tx++) out.set(src, base + tx * row);
    }
  return { width: w * across, height: h * down, data: out };
}
