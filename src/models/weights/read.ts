import { looksLikeDlManifest } from './dl-checkpoint';
import { readPth } from './pth';
import { readSafetensors } from './safetensors';
import { WeightsError, type StateDict } from './state-dict';
import { isZip } from './zip';

/** `dl-checkpoint`: a deeplearn.js checkpoint folder's manifest.json (ml5's fast style networks; dl-checkpoint.ts). */
export type CheckpointFormat = 'pth' | 'safetensors' | 'tfjs' | 'dl-checkpoint';

/**
 * Recognises a checkpoint by its first bytes: a zip or pickle stream (.pth), a safetensors header, or JSON: a tfjs
 * model.json, or a deeplearn.js manifest.json (variables with "filename" and "shape", told apart by content).
 */
export function detectFormat(bytes: Uint8Array): CheckpointFormat | null {
  if (isZip(bytes) || (bytes[0] === 0x80 && bytes[1]! <= 5)) return 'pth';
  if (bytes.length > 9 && bytes[8] === 0x7b && bytes[6] === 0 && bytes[7] === 0) return 'safetensors';
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] === 0x7b)
    return looksLikeDlManifest(new TextDecoder().decode(bytes.subarray(i, i + 65536))) ? 'dl-checkpoint' : 'tfjs';
  return null;
}

/** Reads a single-file checkpoint (.pth or .safetensors); tfjs models need their shards (see tfjs-model.ts). */
export function readCheckpoint(bytes: Uint8Array, name = 'checkpoint'): StateDict {
  switch (detectFormat(bytes)) {
    case 'pth':
      return readPth(bytes);
    case 'safetensors':
      return readSafetensors(bytes);
    case 'tfjs':
      throw new WeightsError(`${name} is a tfjs model.json; load it with its weight shards`);
    case 'dl-checkpoint':
      throw new WeightsError(
        `${name} is a deeplearn.js checkpoint manifest.json; load it with the files of its folder`,
      );
    default:
      throw new WeightsError(`${name} is not a PyTorch .pth, safetensors or tfjs model file`);
  }
}
