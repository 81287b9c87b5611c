import { registerWasmFilterGradient } from '../src/models/conv';
import { defineNodeType, defineParams, type ParamsOf } from '../src/plugin/types';
import { tapOutputs } from './shared';
import { isGraphEncoder, runGraphTaps } from '../src/models/tfjs-models';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

const params = defineParams({
  model: {
    kind: 'model',
    default: 'model.json',
    description: 'A tfjs Layers or graph model.json (weight files beside it), or its URL.',
  },
  taps: { kind: 'string', default: '', description: 'Layer (or graph node) names, comma-separated.' },
  inputRange: {
    kind: 'enum',
    default: '0-1',
    options: ['0-1', '-1-1', '0-255'],
    description: 'What the model expects of RGB pixels.',
  },
});
type Params = ParamsOf<typeof params>;

const taps = (p: Params) =>
  p.taps
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const SCALE: Record<Params['inputRange'], [number, number]> = { '0-1': [1, 0], '-1-1': [2, -1], '0-255': [255, 0] };

/**
 * Any tfjs Layers or graph model as an encoder: tap layers (graph nodes) by name; one forward pass that ends at the
 * tapped layers serves them all (layers after the deepest tap are never run). A graph model's other inputs get zeros.
 */
export default defineNodeType({
  type: 'tfjs-encoder',
  title: 'tfjs model encoder',
  category: 'Encoders',
  description: 'Plan shows every layer of the loaded model with its shape in the diagnostics when a tap is unknown.',
  inputs: { image: { type: 'Image' } },
  outputs: (p) => tapOutputs(taps(p)),
  params,
  roles: { encoder: { image: 'image', taps: 'taps', model: 'model' } },
  infer: (ctx) => {
    const image = ctx.inputs.image;
    if (!image || Array.isArray(image)) throw new Error('input "image" is not connected');
    const layers = ctx.modelLayers?.(ctx.params.model, image.shape);
    if (!layers) throw new Error(`the model ${ctx.params.model} is not loaded`);
    const list = taps(ctx.params);
    if (!list.length)
      throw new Error(`name at least one layer to tap, e.g. ${[...layers.keys()].slice(1, 4).join(', ')}`);
    return Object.fromEntries(
      list.map((t) => {
        const shape = layers.get(t);
        if (!shape)
          throw new Error(
            `the model has no layer "${t}"; its layers: ${[...layers].map(([n, s]) => `${n} ${s.join('x')}`).join(', ')}`,
          );
        return [t, { shape: [image.shape[0]!, ...shape.slice(1)], layer: t }];
      }),
    );
  },
  compute: (ctx) => {
    const { tf } = ctx;
    const source = ctx.params.model;
    const base = ctx.tfjsModel?.(source);
    if (!base) throw new Error(`the model ${source} is not loaded`);
    const list = taps(ctx.params);
    const [scale, shift] = SCALE[ctx.params.inputRange];
    const scaled = (image: Tensor) => ctx.tf.add(ctx.tf.mul(image, scale), shift);
    if (isGraphEncoder(base)) {
      // A graph model: one execution returns every tapped node (gradients flow through its ops to the image).
      const outs = tf.tidy(() => runGraphTaps(base, scaled(ctx.inputs.image as Tensor), list));
      return Object.fromEntries(list.map((t, i) => [t, outs[i]!]));
    }
    const tapModel = ctx.models.get(`tfjs/${source}/${list.join(',')}`, () => {
      const m = tf.model({
        inputs: base.inputs,
        outputs: list.map((t) => base.getLayer(t).output as import('@tensorflow/tfjs').SymbolicTensor),
      });
      m.trainable = false; // an encoder is fixed; gradients flow to the image only
      return { m, dispose: () => {} }; // shares the base model's weights, which the host owns
    }).m as LayersModel;
    registerWasmFilterGradient(tf);
    const outs = tf.tidy(() => {
      const x = scaled(ctx.inputs.image as Tensor);
      const y = tapModel.apply(x, { training: false });
      return Array.isArray(y) ? (y as import('@tensorflow/tfjs').Tensor[]) : [y as import('@tensorflow/tfjs').Tensor];
    });
    return Object.fromEntries(list.map((t, i) => [t, outs[i]!]));
  },
});
