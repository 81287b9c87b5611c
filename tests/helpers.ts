import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { builtinRegistry } from '../nodes';
import { parseDocument } from '../src/graph/document';
import type { GraphModel } from '../src/graph/model';
import { startNodeBackend } from '../src/cli/node-tf';

export { tf };

/** The wasm backend, as the CLI uses it (cpu is about 25x slower). */
export async function useWasm(): Promise<void> {
  await startNodeBackend('wasm');
}

export const registry = builtinRegistry();

export function loadPreset(name: string): GraphModel {
  const { model, diagnostics } = parseDocument(readFileSync(new URL(`../presets/${name}`, import.meta.url), 'utf8'));
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
