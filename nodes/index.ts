import type { NodePlugin } from '../src/plugin/registry';
import { createRegistry, type NodeRegistry } from '../src/plugin/registry';
import contentLoss from './content-loss';
import gram from './gram';
import imageInput from './image-input';
import imageVariable from './image-variable';
import noiseImage from './noise-image';
import optimiser from './optimiser';
import outputImage from './output-image';
import scalar from './scalar';
import styleLoss from './style-loss';
import tvLoss from './tv-loss';
import vgg19Encoder from './vgg19-encoder';
import weightedSum from './weighted-sum';

/** Every built-in node type, in palette order. */
export const builtinNodes: NodePlugin[] = [
  imageInput, noiseImage, scalar, vgg19Encoder, gram, contentLoss, styleLoss, tvLoss, weightedSum,
  imageVariable, optimiser, outputImage,
];

export function builtinRegistry(extra: NodePlugin[] = []): NodeRegistry {
  return createRegistry([...builtinNodes, ...extra]);
}
