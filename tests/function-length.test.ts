/**
 * scripts/long-functions.ts, which lists the functions over N lines, and the rule it serves (issue 25): no function in
 * src/ over 120 lines.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { longFunctions, longFunctionsIn } from '../scripts/long-functions';

/** A function of `lines` lines in all (its first and last line included). */
const fn = (name: string, lines: number) =>
  `function ${name}() {\n${Array.from({ length: lines - 2 }, (_, i) => `  const a${i} = ${i};`).join('\n')}\n}\n`;

describe('long functions', () => {
  it('finds a function one line over the limit and not one at it, nested ones counted on their own', () => {
    const text = `${fn('atLimit', 10)}\n${fn('over', 11)}\nconst outer = () => {\n${fn('inner', 11)}};\n`;
    const found = longFunctionsIn('src/x.ts', text, 10);
    expect(found.map((f) => [f.name, f.lines, f.line])).toEqual([
      ['over', 11, 12],
      ['outer', 13, 24],
      ['inner', 11, 25],
    ]);
  });

  it("reads a .vue file's script block, with lines counted from the top of the file", () => {
    const vue = `<template>\n  <div>{{ x }}</div>\n</template>\n<script setup lang="ts">\n${fn('setupHelper', 6)}</script>\n`;
    expect(longFunctionsIn('src/View.vue', vue, 5)).toEqual([
      { file: 'src/View.vue', line: 5, name: 'setupHelper', lines: 6 },
    ]);
  });

  it("names a store's setup function by the store, and walks a folder longest first", () => {
    const root = mkdtempSync(join(tmpdir(), 'long-functions-'));
    try {
      mkdirSync(join(root, 'src', 'stores'), { recursive: true });
      writeFileSync(join(root, 'src', 'a.ts'), fn('short', 3) + fn('long', 8));
      writeFileSync(
        join(root, 'src', 'stores', 'b.ts'),
        `export const useB = defineStore('b', () => {\n${fn('x', 3)}${fn('y', 3)}${fn('z', 3)}});\n`,
      );
      const found = longFunctions(root, ['src'], 6);
      expect(found.map((f) => `${f.file} ${f.name} ${f.lines}`)).toEqual([
        "src/stores/b.ts (argument of defineStore('b')) 11",
        'src/a.ts long 8',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('finds no function in src/ over 120 lines', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..');
    expect(longFunctions(root, ['src'], 120).map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`)).toEqual(
      [],
    );
  });
});
