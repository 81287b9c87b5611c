import type { RGBAImage } from '../../ops/image';
import type { DecodedImage } from '../../runtime/sources';

/**
 * Flicker and its remedy. Frame-by-frame feed-forward style transfer (AdaIN, SANet) flickers: a still scene with a
 * little sensor noise comes out different in every frame. `--blend K` keeps K of the previous output in each new
 * one (an exponential moving average of the outputs): out_t = (1 - K) * styled_t + K * out_(t-1).
 */

/** (1 - k) * next + k * previous, per byte, rounded; alpha from `next`. A new image: neither input changes. */
export function blendFrames(previous: RGBAImage, next: RGBAImage, k: number): RGBAImage {
  if (previous.width !== next.width || previous.height !== next.height)
    throw new Error(
      `cannot blend a ${next.width}x${next.height} frame with a ${previous.width}x${previous.height} one`,
    );
  const a = previous.data;
  const b = next.data;
  const out = new Uint8ClampedArray(b.length);
  for (let i = 0; i < b.length; i++) out[i] = (i & 3) === 3 ? b[i]! : (1 - k) * b[i]! + k * a[i]!;
  return { width: next.width, height: next.height, data: out };
}

/** Mean absolute difference of the RGB bytes (0-255) of two frames of one size. */
export function frameDifference(a: DecodedImage, b: DecodedImage): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error('frames of different sizes');
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) if ((i & 3) !== 3) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / ((a.data.length / 4) * 3);
}

/**
 * Flicker of a clip: the mean absolute difference between consecutive frames (RGB, 0-255). On a clip whose content
 * is still, all of it is flicker. Reads the frames one at a time.
 */
export async function flicker(frames: AsyncIterable<DecodedImage>): Promise<{ flicker: number; frames: number }> {
  let previous: DecodedImage | null = null;
  let sum = 0;
  let n = 0;
  for await (const f of frames) {
    if (previous) sum += frameDifference(previous, f);
    previous = f;
    n++;
  }
  return { flicker: n > 1 ? sum / (n - 1) : 0, frames: n };
}
