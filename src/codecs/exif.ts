import { jpegSegments } from './image-header';

/**
 * A JPEG's EXIF orientation (tag 0x0112 of IFD0 in the first APP1 "Exif" segment before the scan) and turning
 * decoded pixels upright by it, as browsers do (`image-orientation: from-image`). Reading is bounded by the APP1
 * segment: every offset is checked against the segment's end, only IFD0's entries are read (at most its declared
 * count, none past the segment), and anything malformed (a bad byte order, an offset outside the segment, a value
 * that is not a SHORT from 1 to 8) gives orientation 1.
 */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

const ORIENTATION_TAG = 0x0112;
const SHORT = 3;

/** The orientation in an APP1 segment's data (from `start` to `end` of `b`), or 1. */
function app1Orientation(b: Uint8Array, start: number, end: number): Orientation {
  // "Exif\0\0", then the TIFF header: "II" or "MM", 42, the offset of IFD0 from the TIFF header.
  if (end - start < 14 || String.fromCharCode(...b.subarray(start, start + 6)) !== 'Exif\0\0') return 1;
  const t = start + 6;
  const little = b[t] === 0x49 && b[t + 1] === 0x49;
  if (!little && !(b[t] === 0x4d && b[t + 1] === 0x4d)) return 1;
  const u16 = (p: number) => (little ? b[p]! | (b[p + 1]! << 8) : (b[p]! << 8) | b[p + 1]!);
  const u32 = (p: number) => (little ? u16(p) + u16(p + 2) * 0x10000 : u16(p) * 0x10000 + u16(p + 2));
  if (u16(t + 2) !== 42) return 1;
  const ifd = t + u32(t + 4);
  if (ifd < t + 8 || ifd + 2 > end) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > end) return 1;
    if (u16(e) !== ORIENTATION_TAG) continue;
    const value = u16(e + 8);
    return u16(e + 2) === SHORT && u32(e + 4) === 1 && value >= 1 && value <= 8 ? (value as Orientation) : 1;
  }
  return 1;
}

/** A JPEG's EXIF orientation; 1 (as stored) for other bytes, no EXIF, or EXIF that is malformed. */
export function jpegOrientation(b: Uint8Array): Orientation {
  for (const s of jpegSegments(b)) if (s.marker === 0xe1) return app1Orientation(b, s.start, s.end);
  return 1;
}

/** Whether an orientation swaps width and height (5-8: a quarter turn, with or without a flip). */
export const swapsSides = (o: Orientation) => o >= 5;

interface Pixels {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/**
 * RGBA pixels turned upright: the picture as shown for `orientation` (2 mirrored, 3 half turn, 4 flipped, 5
 * transposed, 6 a quarter turn clockwise, 7 transverse, 8 a quarter turn anticlockwise). 1 returns `image` itself.
 */
export function orientPixels(image: Pixels, orientation: Orientation): Pixels {
  if (orientation === 1) return image;
  const { width: w, height: h, data } = image;
  const swap = swapsSides(orientation);
  const [ow, oh] = swap ? [h, w] : [w, h];
  const out = new Uint8Array(ow * oh * 4);
  // The stored pixel shown at (x, y) of the upright picture.
  const from: (x: number, y: number) => number = {
    2: (x: number, y: number) => y * w + (w - 1 - x),
    3: (x: number, y: number) => (h - 1 - y) * w + (w - 1 - x),
    4: (x: number, y: number) => (h - 1 - y) * w + x,
    5: (x: number, y: number) => x * w + y,
    6: (x: number, y: number) => (h - 1 - x) * w + y,
    7: (x: number, y: number) => (h - 1 - x) * w + (w - 1 - y),
    8: (x: number, y: number) => x * w + (w - 1 - y),
  }[orientation];
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      const [s, d] = [from(x, y) * 4, (y * ow + x) * 4];
      for (let c = 0; c < 4; c++) out[d + c] = data[s + c]!;
    }
  return { width: ow, height: oh, data: out };
}
