import { defineNodeType } from '../src/plugin/types';

/**
 * Minimises the connected loss by changing the image variable. The runtime owns the loop
 * (src/runtime/optimisers); this node declares it and its settings.
 */
export default defineNodeType({
  type: 'optimiser',
  title: 'Optimiser',
  category: 'Optimisation',
  role: 'optimiser',
  inputs: { variable: { type: 'Image', label: 'image variable' }, loss: { type: 'Scalar' } },
  outputs: { image: { type: 'Image', label: 'result' } },
  params: {
    method: {
      kind: 'enum',
      default: 'lbfgs',
      options: ['lbfgs', 'adam', 'sgd'],
      description: 'L-BFGS as in the paper; Adam is steadier at a fixed step count.',
    },
    steps: { kind: 'integer', default: 300, min: 0, max: 100000 },
    learningRate: {
      kind: 'number',
      default: 0.02,
      min: 0,
      log: true,
      label: 'learning rate',
      description: 'Adam and SGD step size, in image units (pixels span 0..1).',
    },
    history: { kind: 'integer', default: 20, min: 1, max: 200, description: 'L-BFGS: correction pairs kept.' },
    lineSearch: {
      kind: 'enum',
      default: 'strong-wolfe',
      options: ['strong-wolfe', 'none'],
      label: 'line search',
      description: "L-BFGS: strong Wolfe, or none (a fixed step of the learning rate; torch.optim.LBFGS's default).",
    },
    lbfgsLr: {
      kind: 'number',
      default: 1,
      min: 0,
      label: 'L-BFGS step',
      description: 'L-BFGS: initial step length (the lr of torch.optim.LBFGS).',
    },
    iterationsPerStep: {
      kind: 'integer',
      default: 1,
      min: 1,
      max: 1000,
      label: 'iterations per step',
      description: 'L-BFGS iterations per reported step (torch.optim.LBFGS max_iter: 20).',
    },
    lbfgsOn: {
      kind: 'enum',
      default: 'auto',
      options: ['auto', 'device', 'host'],
      label: 'L-BFGS on',
      description:
        'L-BFGS: history and two-loop recursion on the device in float32 (only scalars read back) or in JavaScript in float64 (the gradient read back each evaluation); auto: the device on webgpu and webgl.',
    },
    clamp: { kind: 'boolean', default: true, description: 'Keep pixels in [0, 1] after each Adam/SGD step.' },
    previewEvery: {
      kind: 'integer',
      default: 10,
      min: 0,
      label: 'preview every',
      description: 'Steps between preview images (0: none).',
    },
  },
  roles: {
    optimiser: {
      loss: 'loss',
      result: 'image',
      steps: 'steps',
      previewEvery: 'previewEvery',
      settings: (p) => ({
        method: p.method,
        learningRate: p.learningRate,
        clamp: p.clamp,
        history: p.history,
        lbfgsStep: p.lbfgsLr,
        lineSearch: p.lineSearch,
        iterationsPerStep: p.iterationsPerStep,
        lbfgsOn: p.lbfgsOn,
      }),
    },
  },
  infer: (ctx) => {
    const v = ctx.inputs.variable;
    if (!v || Array.isArray(v)) throw new Error('input "variable" is not connected');
    return { image: { shape: [...v.shape] } };
  },
});
