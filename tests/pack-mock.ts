import type { PackManifest } from '../src/plugin/packs';
import { defineNodeType } from '../src/plugin/types';

/**
 * A fake pack store's import for editor tests (tests/pack-records.test.ts, tests/plugins-consent.test.ts): importing a
 * pack's text runs it, which happy-dom cannot, so the text names the pack instead and gets {@link passPack}.
 */

/** A pack named `name` whose one node type, 'pass', hands its image on. */
export function passPack(name: string): PackManifest {
  return {
    name,
    version: '1.0.0',
    api: '^1.0.0',
    description: 'test',
    nodes: [
      defineNodeType({
        type: 'pass',
        title: 'Pass',
        category: 'Test',
        inputs: { image: { type: 'Image' } },
        outputs: { image: { type: 'Image' } },
        params: {},
        infer: (ctx) => ({ image: ctx.inputs.image as { shape: number[] } }),
        compute: (ctx) => ({ image: ctx.inputs.image as never }),
      }),
    ],
  };
}

/** pack-store's importSource for a test: the pack the text names by `pattern`'s first group. */
export const importByName = (pattern: RegExp) => async (text: string) => ({
  default: passPack(pattern.exec(text)![1]!),
});
