/**
 * What every CLI host writes and says the same way: a result as a PNG that carries its graph (`run` in every mode
 * and the queue worker), and the line naming the backend a run started on.
 */
import { embedText } from '../../codecs/png';
import { serialiseDocument } from '../../graph/document';
import type { GraphModel } from '../../graph/model';
import type { RGBAImage } from '../../ops/image';
import { backendLabel, type BackendChoice } from '../../runtime/backend';
import { encodePng } from '../node/node-images';

/** A result picture as PNG bytes with `model`'s document in a text chunk (open it in the editor, or run it again). */
export function graphPng(image: RGBAImage, model: GraphModel): Uint8Array {
  return embedText(encodePng(image), serialiseDocument(model));
}

/** "backend wasm (4 threads) (webgpu: no adapter)": the backend started and the ones passed over, with why. */
export const backendLine = (choice: BackendChoice): string =>
  `backend ${backendLabel(choice)}${choice.skipped.length ? ` (${choice.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')})` : ''}`;
