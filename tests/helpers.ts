import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinRegistry } from '../nodes';
import { parseDocument } from '../src/graph/document';
import type { GraphModel } from '../src/graph/model';
import { startNodeBackend } from '../src/cli/node/node-tf';

export { tf };

/** The wasm backend, as the CLI uses it (cpu is about 25x slower). */
export async function useWasm(): Promise<void> {
  await startNodeBackend('wasm');
}

export const registry = builtinRegistry();

export function loadPreset(name: string): GraphModel {
  // A path, not a URL: component tests replace the global URL with the DOM's.
  const { model, diagnostics } = parseDocument(
    readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../presets', name), 'utf8'),
  );
  if (!model) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  return model;
}

/** A small graph document from compact node and edge lists. */
export function graph(
  nodes: [id: string, type: string, params?: Record<string, unknown>][],
  edges: [from: string, to: string][],
): GraphModel {
  return {
    nodes: nodes.map(([id, type, params]) => ({ id, type, position: { x: 0, y: 0 }, params: params ?? {} })),
    edges: edges.map(([a, b]) => {
      const [fn, fo] = a.split('.') as [string, string];
      const [tn, ti] = b.split('.') as [string, string];
      return { from: { node: fn, output: fo }, to: { node: tn, input: ti } };
    }),
    metadata: {},
    extra: {},
  };
}

import { documentAccess, loadDocumentImages } from '../src/cli/node/node-session';
import { compileWithImages, makeServices } from '../src/runtime/sources';
import { execute, type RunOptions } from '../src/runtime/executor';
import { createModelCache } from '../src/runtime/models';
import type { NodeRegistry } from '../src/plugin/registry';
import type { LoadedCheckpoint } from '../src/plugin/types';

const docPath = new URL('../presets/doc.json', import.meta.url).pathname;

/** Compiles a model whose image paths are relative to presets/. */
export async function planOf(model: GraphModel, size: number, reg: NodeRegistry = registry) {
  const { images, errors } = await loadDocumentImages(model, reg, docPath);
  if (errors.length) throw new Error(errors.join('\n'));
  const { plan, diagnostics } = compileWithImages(model, reg, images, size);
  if (!plan) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  return { plan, images };
}

/** Compiles and runs a model whose image paths are relative to presets/, on the current backend. */
export async function run(
  model: GraphModel,
  size: number,
  options: RunOptions = {},
  reg: NodeRegistry = registry,
  checkpoints: LoadedCheckpoint[] = [],
) {
  const { plan, images } = await planOf(model, size, reg);
  const models = createModelCache();
  try {
    const store = { get: (name: string) => checkpoints.find((c) => c.name === name) };
    // Absolute paths a test sets (a training folder in the temp dir) are given as --set gives them: the user's own.
    const given = model.nodes
      .flatMap((n) => Object.values(n.params))
      .filter((v): v is string => typeof v === 'string' && v.startsWith('/'));
    return await execute(
      plan,
      reg,
      makeServices(tf, images, size, 0, models, store, documentAccess(docPath, { given })),
      options,
    );
  } finally {
    models.dispose();
  }
}

/** Sets parameters on a copy of a model: { 'optim.steps': 10 }. */
export function withParams(model: GraphModel, values: Record<string, unknown>): GraphModel {
  const copy = structuredClone(model);
  for (const [k, v] of Object.entries(values)) {
    const [id, param] = k.split('.') as [string, string];
    const node = copy.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id}`);
    node.params[param] = v;
  }
  return copy;
}
