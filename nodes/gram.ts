import { defineNodeType } from '../src/plugin/types';
import { gramMatrix } from '../src/ops/losses';
import { inputInfo, inputTensor } from './shared';

/** Channel correlations G = F^T F of one layer's features; spatial layout is discarded. */
export default defineNodeType({
  type: 'gram',
  title: 'Gram matrix',
  category: 'Style statistics',
  inputs: { features: { type: 'Features' } },
  outputs: { gram: { type: 'Gram' } },
  params: {
    normalise: {
      kind: 'enum',
      default: 'none',
      options: ['none', 'positions', 'chw'],
      description: 'none: sum over positions (Gatys); positions: divide by H*W; chw: divide by C*H*W (neural-style).',
    },
  },
  infer: (ctx) => {
    const f = inputInfo(ctx, 'features');
    const c = f.shape[f.shape.length - 1]!;
    return { gram: { shape: [c, c], layer: f.layer } };
  },
  flops: (ctx) => {
    const f = inputInfo(ctx, 'features');
    const c = f.shape[f.shape.length - 1]!;
    return 2 * c * c * (f.shape.reduce((a, b) => a * b, 1) / c);
  },
  compute: (ctx) => {
    const f = inputTensor(ctx, 'features');
    const c = f.shape[f.shape.length - 1]!;
    const g = gramMatrix(ctx.tf, f);
    const mode = ctx.params.normalise;
    if (mode === 'none') return { gram: g };
    const scaled = ctx.tf.div(g, mode === 'chw' ? f.size : f.size / c);
    g.dispose();
    return { gram: scaled };
  },
});
