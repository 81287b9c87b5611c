/**
 * The import layering (docs/architecture.md). Reads every file of src/, nodes/, scripts/, tests/, examples/ and
 * vite.config.ts with the TypeScript parser (no tfjs, no compiling; a .vue file's <script> blocks), takes every
 * import a module makes (static, `export ... from`, `import type`, dynamic `import('...')`, `typeof import('...')`,
 * a worker's `new URL('...', import.meta.url)`) and the `stylegraph/plugin` alias, and fails on an import from a
 * lower layer into a higher one, an import between two sides of the same rank, an import a rule below forbids,
 * any file-level import cycle (type-only imports count), a pack in examples/ importing anything but
 * `stylegraph/plugin`, and a built-in node type's name spelled outside nodes/ where a node type is meant.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
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
  { rank: 10, layer: 'examples', folder: 'examples/' }, // packs as a user writes them: only stylegraph/plugin (PACK_RULE)
  { rank: 11, layer: 'tools', folder: 'tests/' }, // tests, benchmarks and the build config may import anything
  { rank: 11, layer: 'tools', folder: 'scripts/' },
  { rank: 11, layer: 'tools', folder: 'vite.config.ts' },
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

const SCANNED = ['src', 'nodes', 'scripts', 'tests', 'examples', 'vite.config.ts'];
/** What a scanned folder holds that is code (fixtures are data, node_modules someone else's). */
const CODE = /\.(ts|vue|js|mjs|cjs)$/;
const SKIPPED = new Set(['node_modules', 'dist', 'fixtures']);

function layerOf(file: string): (typeof LAYERS)[number] | undefined {
  return LAYERS.find((l) => file.startsWith(l.folder));
}

/** The <script> blocks of a .vue file, each with the line it starts on; the whole text for any other file. */
function scriptBlocks(file: string, text: string): string[] {
  if (!file.endsWith('.vue')) return [text];
  return [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1] as string);
}

const stringOf = (n: ts.Node | undefined): string | undefined =>
  n && (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) ? n.text : undefined;

/** Every specifier a module imports, read from its syntax tree (strings and comments cannot hide or fake one). */
function importSpecifiers(text: string, file = 'module.ts'): string[] {
  const out: string[] = [];
  for (const block of scriptBlocks(file, text)) {
    const source = ts.createSourceFile(file.replace(/\.vue$/, '.ts'), block, ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      let spec: string | undefined;
      if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) spec = stringOf(n.moduleSpecifier);
      else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) spec = stringOf(n.argument.literal);
      else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword)
        spec = stringOf(n.arguments[0]);
      else if (
        ts.isNewExpression(n) &&
        ts.isIdentifier(n.expression) &&
        n.expression.text === 'URL' &&
        n.arguments?.[1]?.getText(source) === 'import.meta.url' &&
        CODE.test(stringOf(n.arguments[0]) ?? '')
      )
        // A worker's module (a folder or a data file named this way is not an import).
        spec = stringOf(n.arguments[0]);
      if (spec !== undefined) out.push(spec);
      ts.forEachChild(n, visit);
    };
    visit(source);
  }
  return out;
}

function walk(dir: string, out: string[] = []): string[] {
  if (!statSync(dir).isDirectory()) return CODE.test(dir) ? [dir] : [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SKIPPED.has(name)) walk(path, out);
    } else if (CODE.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The repository-relative file a specifier names, null for a package, or an error for a relative one that is not there. */
function resolveSpecifier(root: string, fromFile: string, spec: string): string | null | { missing: string } {
  let base: string;
  if (spec in ALIASES) base = join(root, ALIASES[spec] as string);
  else if (spec.startsWith('./') || spec.startsWith('../'))
    base = resolve(dirname(join(root, fromFile)), spec.replace(/\?.*$/, ''));
  else return null;
  for (const candidate of [base, `${base}.ts`, `${base}.vue`, join(base, 'index.ts')])
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(root, candidate).split(sep).join('/');
  return { missing: spec };
}

type ImportGraph = Map<string, string[]>;

/** Every scanned file's imports (of scanned code files), and every module each names (packages and aliases as written, files by path; for the pack rule). */
function readGraph(
  root = ROOT,
  scanned = SCANNED,
): { graph: ImportGraph; packages: Map<string, string[]>; unresolved: string[]; texts: Map<string, string> } {
  const graph: ImportGraph = new Map();
  const packages = new Map<string, string[]>();
  const texts = new Map<string, string>();
  const unresolved: string[] = [];
  const rel = (abs: string): string => relative(root, abs).split(sep).join('/');
  const files = scanned
    .filter((d) => existsSync(join(root, d)))
    .flatMap((d) => walk(join(root, d)))
    .map(rel);
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    texts.set(file, text);
    const targets = new Set<string>();
    const named: string[] = [];
    for (const spec of importSpecifiers(text, file)) {
      const to = resolveSpecifier(root, file, spec);
      if (to === null) named.push(spec);
      else if (typeof to !== 'string') unresolved.push(`${file}: '${to.missing}'`);
      else {
        named.push(spec in ALIASES ? spec : to);
        if (scanned.some((d) => to === d || to.startsWith(`${d}/`)) && CODE.test(to)) targets.add(to);
      }
    }
    graph.set(file, [...targets].sort());
    packages.set(file, named);
  }
  return { graph, packages, unresolved, texts };
}

/**
 * A pack in examples/ is written as a user would write one: it imports `stylegraph/plugin` and nothing else (not
 * tfjs, not a file of src/; a pack's own tests may import what they need).
 */
function packViolations(graph: ImportGraph, packages: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const file of graph.keys()) {
    if (!file.startsWith('examples/') || /\/tests?\//.test(file) || /\.test\.[jt]s$/.test(file)) continue;
    const pack = file.split('/').slice(0, 2).join('/') + '/';
    // Bare specifiers and aliases as written; relative ones as the files they name (a pack's own files are its own).
    for (const spec of packages.get(file) ?? [])
      if (spec !== 'stylegraph/plugin' && !spec.startsWith(pack))
        out.push(`${file} imports ${spec} (a pack imports only stylegraph/plugin)`);
  }
  return out;
}

/** The `type` of every node type defined in nodes/ (`defineNodeType({ type: '...' })`), read from the source. */
function builtinTypeNames(texts: Map<string, string>): Set<string> {
  const names = new Set<string>();
  for (const [file, text] of texts) {
    if (!file.startsWith('nodes/')) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) && n.expression.getText(source) === 'defineNodeType') {
        const def = n.arguments[0];
        if (def && ts.isObjectLiteralExpression(def))
          for (const p of def.properties)
            if (ts.isPropertyAssignment(p) && p.name.getText(source) === 'type') {
              const name = stringOf(p.initializer);
              if (name) names.add(name);
            }
      }
      ts.forEachChild(n, visit);
    };
    visit(source);
  }
  return names;
}

/**
 * Where a file of src/ names a built-in node type where a node type is meant (docs/architecture.md): compared
 * with a `.type` (`n.type === 'camera'`, a `case` of `switch (n.type)`), assigned to one (`n.type = 'image'`),
 * given to `add(...)` (the graph store's add), or listed in an array or Set held by a name ending in TYPE or TYPES
 * (`FOLDER_NODE_TYPES = new Set(['image-folder'])`). Other uses of the same word (a CSS class, a parameter kind
 * `'image'`, an event type, a checkpoint named like its node) are not node types. Code finds such nodes through
 * their declared roles instead (`sourceNodes(model, registry, 'camera')`).
 */
function typeNameUses(file: string, text: string, types: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const block of scriptBlocks(file, text)) {
    const source = ts.createSourceFile(file.replace(/\.vue$/, '.ts'), block, ts.ScriptTarget.Latest, true);
    const isType = (n: ts.Node): boolean =>
      (ts.isPropertyAccessExpression(n) && n.name.text === 'type') ||
      (ts.isParenthesizedExpression(n) && isType(n.expression)) ||
      (ts.isNonNullExpression(n) && isType(n.expression));
    const say = (n: ts.Node, name: string) =>
      out.push(`${file}:${source.getLineAndCharacterOfPosition(n.getStart(source)).line + 1} '${name}'`);
    const visit = (n: ts.Node): void => {
      const name = stringOf(n);
      if (name !== undefined && types.has(name)) {
        const p = n.parent;
        const compared =
          ts.isBinaryExpression(p) &&
          [
            ts.SyntaxKind.EqualsEqualsEqualsToken,
            ts.SyntaxKind.ExclamationEqualsEqualsToken,
            ts.SyntaxKind.EqualsEqualsToken,
            ts.SyntaxKind.ExclamationEqualsToken,
            ts.SyntaxKind.EqualsToken,
          ].includes(p.operatorToken.kind) &&
          isType(p.left === n ? p.right : p.left);
        const caseOfType = ts.isCaseClause(p) && isType(p.parent.parent.expression);
        const added =
          ts.isCallExpression(p) &&
          p.arguments[0] === n &&
          ts.isPropertyAccessExpression(p.expression) &&
          ['add', 'addNode'].includes(p.expression.name.text);
        let holder: ts.Node = p;
        while (ts.isArrayLiteralExpression(holder) || ts.isNewExpression(holder) || ts.isAsExpression(holder))
          holder = holder.parent;
        const listed =
          (ts.isArrayLiteralExpression(p) || ts.isNewExpression(p)) &&
          ts.isVariableDeclaration(holder) &&
          /types?$/i.test(holder.name.getText(source));
        if (compared || caseOfType || added || listed) say(n, name);
      }
      ts.forEachChild(n, visit);
    };
    visit(source);
  }
  return out;
}

/** Every use of a built-in node type name outside nodes/ and tests/. */
function typeNameViolations(texts: Map<string, string>): string[] {
  const types = builtinTypeNames(texts);
  const out: string[] = [];
  for (const [file, text] of texts) {
    if (!file.startsWith('src/')) continue;
    out.push(...typeNameUses(file, text, types));
  }
  return out;
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
  const { graph, packages, unresolved, texts } = readGraph();

  it('reads the tree', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect([...graph.values()].reduce((n, targets) => n + targets.length, 0)).toBeGreaterThan(300);
    expect(unresolved, 'relative imports that name no file').toEqual([]);
  });

  it('puts every scanned file in a layer', () => {
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

  it('keeps the packs in examples/ to stylegraph/plugin', () => {
    expect([...graph.keys()].filter((f) => f.startsWith('examples/')).length).toBeGreaterThan(0);
    expect(packViolations(graph, packages)).toEqual([]);
  });

  it('names no built-in node type outside nodes/ where a node type is meant', () => {
    expect(builtinTypeNames(texts).size).toBeGreaterThan(20);
    expect(typeNameViolations(texts), 'find such nodes through their roles (docs/architecture.md)').toEqual([]);
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
      "const presets = import.meta.glob('../presets/*.json');",
      "import { afterGlob } from './after-glob';",
      'const text = "import { fake } from \'./in-a-string\';";',
      '/* a comment */ export { afterComment } from "./after-comment";',
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
        './after-glob',
        './after-comment',
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

describe('the guard on a tree written for it', () => {
  /** Writes `files` under a fresh folder and reads them as the test reads the repository. */
  function readTree(files: Record<string, string>) {
    const root = mkdtempSync(join(tmpdir(), 'layers-'));
    try {
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      return readGraph(root, ['src', 'nodes', 'examples']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }

  it('finds a cycle hidden behind a glob string (a comment-stripping pattern missed the import after /*)', () => {
    const { graph, unresolved } = readTree({
      'src/graph/a.ts':
        "const presets = import.meta.glob('../../presets/*.json');\nimport { b } from './b';\nexport const a = b;",
      'src/graph/b.ts': "import { a } from './a';\nexport const b = 1;\nexport const c = a;",
    });
    expect(unresolved).toEqual([]);
    expect(graph.get('src/graph/a.ts')).toEqual(['src/graph/b.ts']);
    expect(importCycles(graph)).toEqual(['src/graph/a.ts -> src/graph/b.ts -> src/graph/a.ts']);
  });

  it("reads a .vue file's script blocks, and an upward import from one", () => {
    const { graph } = readTree({
      'src/graph/low.ts': "import View from '../editor/View.vue';\nexport const v = View;",
      'src/editor/View.vue':
        '<template><div class="image">{{ x }}</div></template>\n<script setup lang="ts">\nimport { helper } from \'./helper\';\nconst x = helper;\n</script>',
      'src/editor/helper.ts': 'export const helper = 1;',
    });
    expect(graph.get('src/editor/View.vue')).toEqual(['src/editor/helper.ts']);
    expect(layerViolations(graph)).toEqual([
      'src/graph/low.ts -> src/editor/View.vue (graph imports the higher layer editor)',
    ]);
  });

  it('holds a pack to stylegraph/plugin', () => {
    const { graph, packages } = readTree({
      'src/plugin/api.ts': 'export const api = 1;',
      'examples/good/index.js': "import { api } from 'stylegraph/plugin';\nexport default api;",
      'examples/bad/index.js':
        "import * as tf from '@tensorflow/tfjs';\nimport { api } from '../../src/plugin/api';\nexport default [tf, api];",
      'examples/bad/tests/bad.test.ts':
        "import { it } from 'vitest';\nimport pack from '../index.js';\nit('loads', () => pack);",
    });
    expect(packViolations(graph, packages)).toEqual([
      'examples/bad/index.js imports @tensorflow/tfjs (a pack imports only stylegraph/plugin)',
      'examples/bad/index.js imports src/plugin/api.ts (a pack imports only stylegraph/plugin)',
    ]);
  });

  it('finds a node type name where a node type is meant, and not the same word used otherwise', () => {
    const { texts } = readTree({
      'nodes/image.ts': "export const image = defineNodeType({ type: 'image', params: {} });",
      'nodes/folder.ts': "export const folder = defineNodeType({ type: 'image-folder', params: {} });",
      'src/editor/uses.ts': [
        "const cams = model.nodes.filter((n) => n.type === 'image');",
        "if ('image' !== node.value?.type) skip();",
        "switch (n.type) { case 'image': break; }",
        "n.type = 'image';",
        "graph.add('image', at);",
        "const FOLDER_NODE_TYPES = new Set(['image-folder']);",
        // A checkpoint named like its node type is a checkpoint name.
        "const weights = { name: 'image-folder' };",
        // Not node types: a parameter kind, a CSS class, an event's type, a message.
        "if (p.kind === 'image') ok();",
        "const cls = { class: 'image' };",
        "if (e.type === 'preview') ok();",
        "say('image');",
      ].join('\n'),
    });
    expect(builtinTypeNames(texts)).toEqual(new Set(['image', 'image-folder']));
    expect(typeNameViolations(texts)).toEqual([
      "src/editor/uses.ts:1 'image'",
      "src/editor/uses.ts:2 'image'",
      "src/editor/uses.ts:3 'image'",
      "src/editor/uses.ts:4 'image'",
      "src/editor/uses.ts:5 'image'",
      "src/editor/uses.ts:6 'image-folder'",
    ]);
  });
});
