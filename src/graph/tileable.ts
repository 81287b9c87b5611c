import type { NodeRegistry } from '../plugin/registry';
import type { GraphModel } from './model';

/**
 * Seamless, tileable pictures: networks whose `padding` parameter offers 'circular' wrap the image around (see
 * src/ops/pad.ts). A graph whose networks all do so makes a picture that tiles without a seam.
 */

/** The nodes whose type has a `padding` parameter that can be circular. */
function paddedNodes(model: GraphModel, registry: NodeRegistry): string[] {
  return model.nodes
    .filter((n) => {
      const p = registry.get(n.type)?.params?.padding;
      return p?.kind === 'enum' && p.options.includes('circular');
    })
    .map((n) => n.id);
}

/** `NODE.padding=circular` for every such node: what `--tileable` adds to the run's `--set` values. */
export function tileableSettings(model: GraphModel, registry: NodeRegistry): string[] {
  return paddedNodes(model, registry).map((id) => `${id}.padding=circular`);
}

/** Whether some network of the graph pads circularly (the editor shows its result tiled 2x2). */
export function isTileable(model: GraphModel): boolean {
  return model.nodes.some((n) => n.params.padding === 'circular');
}
