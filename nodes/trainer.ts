import { defineNodeType } from '../src/plugin/types';

/**
 * Trains models: minimises the connected loss by updating the weights of every connected model
 * (a decoder, a SANet transformer) over batches from image folders. The runtime owns the loop.
 */
export default defineNodeType({
  type: 'trainer',
  title: 'Trainer',
  category: 'Optimisation',
  role: 'optimiser',
  inputs: { models: { type: 'Model', multiple: true }, loss: { type: 'Scalar' } },
  outputs: {},
  params: {
    method: { kind: 'enum', default: 'adam', options: ['adam', 'sgd', 'lbfgs'] },
    steps: { kind: 'integer', default: 1000, min: 0, max: 10_000_000 },
    learningRate: { kind: 'number', default: 1e-4, min: 0, log: true, label: 'learning rate' },
    lrDecay: {
      kind: 'number',
      default: 5e-5,
      min: 0,
      label: 'lr decay',
      description: 'lr / (1 + decay * step), as in the AdaIN and SANet training code.',
    },
    history: { kind: 'integer', default: 20, min: 1, max: 200, description: 'L-BFGS: correction pairs kept.' },
  },
  roles: {
    optimiser: {
      loss: 'loss',
      steps: 'steps',
      settings: (p) => ({ method: p.method, learningRate: p.learningRate, decay: p.lrDecay, history: p.history }),
    },
  },
  infer: () => ({}),
});
