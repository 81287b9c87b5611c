import type { NodePlugin } from '../src/plugin/registry';
import { createRegistry, type NodeRegistry } from '../src/plugin/registry';
import adain from './adain';
import contentLoss from './content-loss';
import decoder from './decoder';
import efdm from './efdm';
import fastStyle from './fast-style';
import fastStyleModel from './fast-style-model';
import featureBlend from './feature-blend';
import gram from './gram';
import histogramLoss from './histogram-loss';
import imageFolder from './image-folder';
import imageInput from './image-input';
import camera from './camera-input';
import imageLoss from './image-loss';
import mask from './mask';
import meanstdLoss from './meanstd-loss';
import microastContentEncoder from './microast-content-encoder';
import microastDecoder from './microast-decoder';
import microastModel from './microast-model';
import microastModulator from './microast-modulator';
import microastResidual from './microast-residual';
import microastStyleEncoder from './microast-style-encoder';
import { decoderModel, sanetModel } from './models';
import saveWeights from './save-weights';
import trainer from './trainer';
import imageVariable from './image-variable';
import noiseImage from './noise-image';
import optimiser from './optimiser';
import outputImage from './output-image';
import pick from './pick';
import preserveColour from './preserve-colour';
import { regionBlend, regionComposite } from './region-blend';
import resnet50Encoder from './resnet50-encoder';
import tfjsEncoder from './tfjs-encoder';
import sanet from './sanet';
import scalar from './scalar';
import styleLoss from './style-loss';
import tvLoss from './tv-loss';
import vgg19Encoder from './vgg19-encoder';
import weightedSum from './weighted-sum';

/** Every built-in node type, in palette order. */
export const builtinNodes: NodePlugin[] = [
  imageInput,
  camera,
  imageFolder,
  mask,
  noiseImage,
  scalar,
  vgg19Encoder,
  resnet50Encoder,
  tfjsEncoder,
  gram,
  adain,
  efdm,
  featureBlend,
  regionBlend,
  sanet,
  decoder,
  fastStyle,
  decoderModel,
  sanetModel,
  fastStyleModel,
  microastModel,
  microastContentEncoder,
  microastStyleEncoder,
  microastModulator,
  microastResidual,
  microastDecoder,
  preserveColour,
  regionComposite,
  pick,
  contentLoss,
  styleLoss,
  histogramLoss,
  meanstdLoss,
  imageLoss,
  tvLoss,
  weightedSum,
  imageVariable,
  optimiser,
  trainer,
  outputImage,
  saveWeights,
];

export function builtinRegistry(extra: NodePlugin[] = []): NodeRegistry {
  return createRegistry([...builtinNodes, ...extra]);
}
