/**
 * The import layering of src/ and nodes/ (docs/architecture.md). Reads the files as text (no tfjs, no
 * compiling), takes every relative import (static, `export ... from`, `import type`, dynamic `import('...')`,
 * `typeof import('...')`, a worker's `new URL('...', import.meta.url)`) and the `stylegraph/plugin` alias, and
 * fails on an import from a lower layer into a higher one, an import between two sides of the same rank, an
 * import a rule below forbids, and any file-level import cycle (type-only imports count).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The layers, lowest first. A file may import its own layer and any layer of a lower rank; layers that share a
 * rank (cli, web) may not import each other.
 */
const LAYERS = [
  { rank: 0, layer: 'codecs', folder: 'src/codecs/' }, // PNG text chunks, share links, inflate: bytes only
  { rank: 1, layer: 'ops', folder: 'src/ops/' }, // tensor maths: images, losses, colour, matmul, previews
  { rank: 2, layer: 'models', folder: 'src/models/' }, // networks, checkpoints and weight formats
  { rank: 3, layer: 'plugin', folder: 'src/plugin/' }, // the node-type contract, parameters, registry, packs
  { rank: 4, layer: 'graph', folder: 'src/graph/' }, // the document, GraphModel, edits, validation, sweeps
  { rank: 5, layer: 'compiler', folder: 'src/compiler/' }, // GraphModel -> Plan (shapes, estimates, signatures)
  { rank: 6, layer: 'runtime', folder: 'src/runtime/' }, // executes a Plan: backends, optimisers, tiling, sessions
  { rank: 7, layer: 'nodes', folder: 'nodes/' }, // the built-in node types
  { rank: 8, layer: 'cli', folder: 'src/cli/' }, // the command-line host
  { rank: 8, layer: 'web', folder: 'src/web/' }, // the browser host: worker, IndexedDB, uploads
  { rank: 9, layer: 'editor', folder: 'src/editor/' }, // the Vue app
  { rank: 9, layer: 'devserver', folder: 'src/devserver/' }, // the editor's server (Vite plugin): weights for the page, via the CLI's cache
] as const;

/** Imports the ranks allow but the design does not. */
const FORBIDDEN: readonly { from: string; to: string; why: string }[] = [
  {
    from: 'src/runtime/',
    to: 'src/graph/document.ts',
    why: 'runtime runs what it is given; it does not re-read documents',
  },
];

/** Path aliases (tsconfig.json `paths`). */
const ALIASES: Record<string, string> = { 'stylegraph/plugin': 'src/plugin/api.ts' };

const SCANNED = ['src', 'nodes'];

function layerOf(file: string): (typeof LAYERS)[number] | undefined {
  return LAYERS.find((l) => file.startsWith(l.folder));
}

/** Every specifier a module's text imports, with comments removed first. */
function importSpecifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\bnew\s+URL\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g,
  ];
  const out: string[] = [];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1] as string);
  return out;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (/\.(ts|vue)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const rel = (abs: string): string => relative(ROOT, abs).split(sep).join('/');

/** The repository-relative file a specifier names, null for a package, or an error for a relative one that is not there. */
function resolveSpecifier(fromFile: string, spec: string): string | null | { missing: string } {
  let base: string;
  if (spec in ALIASES) base = join(ROOT, ALIASES[spec] as string);
  else if (spec.startsWith('./') || spec.startsWith('../'))
    base = resolve(dirname(join(ROOT, fromFile)), spec.replace(/\?.*$/, ''));
  else return null;
  for (const candidate of [base, `${base}.ts`, `${base}.vue`, join(base, 'index.ts')])
    if (existsSync(candidate) && statSync(candidate).isFile()) return rel(candidate);
  return { missing: spec };
}

type ImportGraph = Map<string, string[]>;

function readGraph(): { graph: ImportGraph; unresolved: string[] } {
  const graph: ImportGraph = new Map();
  const unresolved: string[] = [];
  const files = SCANNED.flatMap((d) => walk(join(ROOT, d))).map(rel);
  for (const file of files) {
    const targets = new Set<string>();
    for (const spec of importSpecifiers(readFileSync(join(ROOT, file), 'utf8'))) {
      const to = resolveSpecifier(file, spec);
      if (to === null) continue;
      if (typeof to !== 'string') unresolved.push(`${file}: '${to.missing}'`);
      else if (SCANNED.some((d) => to.startsWith(`${d}/`)) && /\.(ts|vue)$/.test(to)) targets.add(to);
    }
    graph.set(file, [...targets].sort());
  }
  return { graph, unresolved };
}

/** `from -> to (why)` for every import against the layer order or the forbidden list. */
function layerViolations(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    const a = layerOf(from);
    for (const to of targets) {
      const b = layerOf(to);
      if (!a || !b) continue; // reported by the "every file has a layer" test
      if (b.rank > a.rank) out.push(`${from} -> ${to} (${a.layer} imports the higher layer ${b.layer})`);
      else if (b.rank === a.rank && b.layer !== a.layer)
        out.push(`${from} -> ${to} (${a.layer} imports its sibling ${b.layer})`);
      for (const rule of FORBIDDEN)
        if (from.startsWith(rule.from) && to === rule.to) out.push(`${from} -> ${to} (${rule.why})`);
    }
  }
  return out;
}

/** One cycle path (`a -> b -> a`) per strongly connected component of more than one file, or a file importing itself. */
function importCycles(graph: ImportGraph): string[] {
  // Tarjan's strongly connected components, iteratively.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const frame = work[work.length - 1] as { node: string; next: number };
      const targets = graph.get(frame.node) ?? [];
      if (frame.next < targets.length) {
        const to = targets[frame.next++] as string;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to))
          low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(to) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  }
  const cycles: string[] = [];
  for (const component of components) {
    const members = new Set(component);
    const first = [...component].sort()[0] as string;
    if (component.length === 1 && !(graph.get(first) ?? []).includes(first)) continue;
    // Shortest path from `first` back to itself inside the component (breadth first).
    const previous = new Map<string, string>();
    const queue = [first];
    let closing: string | undefined;
    while (queue.length && !closing) {
      const node = queue.shift() as string;
      for (const to of graph.get(node) ?? []) {
        if (to === first) {
          closing = node;
          break;
        }
        if (members.has(to) && !previous.has(to)) {
          previous.set(to, node);
          queue.push(to);
        }
      }
    }
    const path = [first];
    for (let node = closing; node && node !== first; node = previous.get(node)) path.splice(1, 0, node);
    path.push(first);
    const extra = component.length > path.length - 1 ? ` (${component.length} files in this cycle)` : '';
    cycles.push(path.join(' -> ') + extra);
  }
  return cycles.sort();
}

describe('import layering', () => {
  const { graph, unresolved } = readGraph();

  it('reads the tree', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect([...graph.values()].reduce((n, targets) => n + targets.length, 0)).toBeGreaterThan(300);
    expect(unresolved, 'relative imports that name no file').toEqual([]);
  });

  it('puts every file under src/ and nodes/ in a layer', () => {
    expect(
      [...graph.keys()].filter((f) => !layerOf(f)),
      'add the folder to LAYERS',
    ).toEqual([]);
  });

  it('imports only down the layer order', () => {
    expect(layerViolations(graph), 'imports against the order in LAYERS (lowest first)').toEqual([]);
  });

  it('has no import cycles', () => {
    expect(importCycles(graph), 'file-level import cycles').toEqual([]);
  });
});

describe('the layering checks themselves', () => {
  it('find every kind of import', () => {
    const text = [
      "import { a } from './a';",
      "import type { B } from '../b';",
      "import {\n  c,\n  type D,\n} from './c';",
      "import * as e from './e';",
      "import './side-effect';",
      "export { f } from './f';",
      "export * from './g';",
      "export type { H } from './h';",
      "const i = await import('./i');",
      "type J = typeof import('./j');",
      "new Worker(new URL('./k.ts', import.meta.url));",
      "import { tf } from '@tensorflow/tfjs';",
      "// import { x } from './commented';",
      "/* import { y } from './commented-block'; */",
      "const url = 'https://example.com/'; // a comment",
      "import { z } from './after-url';",
    ].join('\n');
    expect(importSpecifiers(text).sort()).toEqual(
      [
        './a',
        '../b',
        './c',
        './e',
        './side-effect',
        './f',
        './g',
        './h',
        './i',
        './j',
        './k.ts',
        '@tensorflow/tfjs',
        './after-url',
      ].sort(),
    );
  });

  it('report an upward import, a sibling import, a forbidden one, and allow a downward one', () => {
    const graph: ImportGraph = new Map([
      ['src/ops/losses.ts', ['src/models/adain.ts', 'src/codecs/png.ts']],
      ['src/cli/main.ts', ['src/web/worker.ts', 'nodes/index.ts']],
      ['src/runtime/session.ts', ['src/graph/document.ts', 'src/graph/model.ts']],
    ]);
    expect(layerViolations(graph)).toEqual([
      'src/ops/losses.ts -> src/models/adain.ts (ops imports the higher layer models)',
      'src/cli/main.ts -> src/web/worker.ts (cli imports its sibling web)',
      'src/runtime/session.ts -> src/graph/document.ts (runtime runs what it is given; it does not re-read documents)',
    ]);
  });

  it('report a cycle with its path, and a file importing itself', () => {
    const graph: ImportGraph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts', 'd.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    expect(importCycles(graph)).toEqual(['a.ts -> b.ts -> c.ts -> a.ts', 'e.ts -> e.ts']);
    expect(
      importCycles(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', []],
        ]),
      ),
    ).toEqual([]);
  });
});
