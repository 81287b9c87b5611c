/**
 * Lays out presets so their first view at 1600x1000 shows the inputs and the output at a readable zoom (issue 28,
 * item 5): the editor's Arrange (columns by depth, rows by the drawn height of each node), folded into the columns
 * that fit beside the panels (src/editor/view.ts, FIRST_VIEW). `npx tsx scripts/arrange-presets.ts [NAME.json ...]`
 * (every preset when none is named; hand-made layouts that already fit, such as microast.json, are best left out).
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { builtinRegistry } from '../nodes';
import { parseDocument, serialiseDocument } from '../src/graph/document';
import { FIRST_VIEW, layOutFolded } from '../src/editor/view';

const registry = builtinRegistry();
const dir = new URL('../presets/', import.meta.url);
const named = process.argv.slice(2);
for (const name of named.length ? named : readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const { model } = parseDocument(readFileSync(new URL(name, dir), 'utf8'));
  if (!model) throw new Error(`${name} does not read`);
  const laidOut = layOutFolded(model, registry, FIRST_VIEW.columns, FIRST_VIEW.endsWithin, FIRST_VIEW.inputsWithin);
  writeFileSync(new URL(name, dir), serialiseDocument(laidOut));
  console.log(`arranged ${name}`);
}
