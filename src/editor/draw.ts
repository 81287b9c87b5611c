/** RGBA bytes, width x height x 4, on any buffer (a worker's transfer, a shared one). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** Draws an RGBA image into a canvas, sizing the canvas to it. */
export function drawRgba(canvas: HTMLCanvasElement | null, img: RgbaImage | null): void {
  if (!canvas || !img) return;
  const { width, height, data } = img;
  if (!(width > 0 && height > 0) || data.length < width * height * 4) return;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx || typeof ImageData === 'undefined') return;
  // ImageData wants bytes on a plain ArrayBuffer; copy only when they are not.
  const bytes =
    data.buffer instanceof ArrayBuffer ? (data as Uint8ClampedArray<ArrayBuffer>) : new Uint8ClampedArray(data);
  const exact = bytes.length === width * height * 4 ? bytes : bytes.subarray(0, width * height * 4);
  ctx.putImageData(new ImageData(exact, width, height), 0, 0);
}
