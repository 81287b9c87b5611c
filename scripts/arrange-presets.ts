/**
 * Lays out every preset with the editor's Arrange (columns by depth, rows by the drawn height of each node), so
 * presets open tidy: `npx tsx scripts/arrange-presets.ts`.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { builtinRegistry } from '../nodes';
import { parseDocument, serialiseDocument } from '../src/graph/document';
import { layOut } from '../src/editor/view';

const registry = builtinRegistry();
const dir = new URL('../presets/', import.meta.url);
for (const name of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const { model } = parseDocument(readFileSync(new URL(name, dir), 'utf8'));
  if (!model) throw new Error(`${name} does not read`);
  writeFileSync(new URL(name, dir), serialiseDocument(layOut(model, registry)));
  console.log(`arranged ${name}`);
}
