import { builtinRegistry } from '../nodes';
import { tf } from '../src/cli/node/node-tf';
import type { NodeRegistry } from '../src/plugin/registry';
import { RunMemo } from '../src/runtime/memo';
import { createModelCache } from '../src/runtime/models';
import { noCheckpoints } from '../src/runtime/sources';
import type { WorkerDeps } from '../src/web/runner';

/**
 * Fixtures for tests of the hosts around a run session: a small optimisation graph (tests/hosts.test.ts,
 * tests/run-pause.test.ts) and the editor's worker's surroundings in Node (those and tests/session.test.ts,
 * tests/editor-cli-lbfgs.test.ts).
 */

/**
 * A small optimisation graph's document: the variable `x` (noise) pulled to the content photo (content.png) by a
 * pixel loss, smoothed by a total-variation term (weight 0.1), the sum minimised by `optimiser` (learning rate 0.05).
 */
export function pixelTvDocument(title: string, optimiser: { method: 'adam' | 'lbfgs'; steps: number }) {
  const node = (id: string, type: string, params: Record<string, unknown> = {}) => ({
    id,
    type,
    position: { x: 0, y: 0 },
    params,
  });
  const edges = [
    ['content', 'image', 'x', 'content'],
    ['x', 'image', 'pixels', 'input'],
    ['content', 'image', 'pixels', 'target'],
    ['x', 'image', 'tv', 'image'],
    ['pixels', 'loss', 'total', 'terms'],
    ['tv', 'loss', 'total', 'terms'],
    ['x', 'image', 'optim', 'variable'],
    ['total', 'total', 'optim', 'loss'],
    ['optim', 'image', 'output', 'image'],
  ] as const;
  return {
    format: 'stylegraph',
    version: 1,
    metadata: { title },
    nodes: [
      node('content', 'image', { source: 'content.png', slot: 'content' }),
      node('x', 'variable', { init: 'noise' }),
      node('pixels', 'image-loss', { weight: 1 }),
      node('tv', 'tv-loss', { weight: 0.1 }),
      node('total', 'sum', { weight: 1 }),
      node('optim', 'optimiser', { ...optimiser, learningRate: 0.05 }),
      node('output', 'output'),
    ],
    edges: edges.map(([a, o, b, i]) => ({ from: { node: a, output: o }, to: { node: b, input: i } })),
  };
}

/**
 * The editor's worker's surroundings in Node, as a test gives them: tfjs on the backend the test started, fresh
 * session state, no checkpoints and no networks to load; `decode` reads the pictures, `post` gets every message.
 */
export function nodeWorkerDeps(
  decode: WorkerDeps['decode'],
  post: WorkerDeps['post'],
  registry: NodeRegistry = builtinRegistry(),
): WorkerDeps {
  return {
    tf,
    registry,
    state: { models: createModelCache(), memo: new RunMemo(), images: new Map() },
    checkpoints: noCheckpoints,
    decode,
    loadModel: () => Promise.reject(new Error('no models here')),
    post,
  };
}
