/**
 * Lists the functions (declarations, methods, function expressions, arrow functions, accessors, constructors)
 * longer than N lines, read with the TypeScript parser (a .vue file's <script> blocks).
 *
 *   npx tsx scripts/long-functions.ts [max=120] [folder...=src]
 *
 * A function's length counts every line from its first to its last, nested functions included.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

export interface LongFunction {
  file: string;
  line: number;
  name: string;
  lines: number;
}

const CODE = /\.(ts|vue)$/;
const SKIPPED = new Set(['node_modules', 'dist', 'fixtures']);

/** The <script> blocks of a .vue file with the line each starts on; the whole text, from line 1, otherwise. */
function scriptBlocks(file: string, text: string): { text: string; firstLine: number }[] {
  if (!file.endsWith('.vue')) return [{ text, firstLine: 1 }];
  return [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => {
    const start = (m.index ?? 0) + m[0].indexOf('>') + 1;
    return { text: m[1] as string, firstLine: text.slice(0, start).split('\n').length };
  });
}

/** A readable name for a function: its own, its variable's, its property's, or `(anonymous)`. */
function functionName(node: ts.FunctionLikeDeclaration, source: ts.SourceFile): string {
  if (node.name) return node.name.getText(source);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(source);
  if (ts.isCallExpression(parent)) {
    const first = parent.arguments[0];
    const label = first && ts.isStringLiteral(first) ? `'${first.text}'` : '';
    return `(argument of ${parent.expression.getText(source).slice(0, 40)}(${label}))`;
  }
  return '(anonymous)';
}

/** Every function of one file's text longer than `max` lines. */
export function longFunctionsIn(file: string, text: string, max: number): LongFunction[] {
  const out: LongFunction[] = [];
  for (const block of scriptBlocks(file, text)) {
    const source = ts.createSourceFile(file.replace(/\.vue$/, '.ts'), block.text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const fn = node as ts.FunctionLikeDeclaration;
        const first = source.getLineAndCharacterOfPosition(fn.getStart(source)).line;
        const last = source.getLineAndCharacterOfPosition(fn.getEnd()).line;
        const lines = last - first + 1;
        if (lines > max) out.push({ file, line: first + block.firstLine, name: functionName(fn, source), lines });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return out;
}

function codeFiles(root: string, path: string): string[] {
  const full = join(root, path);
  if (!statSync(full).isDirectory()) return CODE.test(path) ? [path] : [];
  return readdirSync(full)
    .filter((name) => !SKIPPED.has(name))
    .flatMap((name) => codeFiles(root, join(path, name)));
}

/** Every function longer than `max` lines in the given folders (relative to `root`), longest first. */
export function longFunctions(root: string, folders: readonly string[], max: number): LongFunction[] {
  return folders
    .flatMap((folder) => codeFiles(root, folder))
    .flatMap((file) => longFunctionsIn(file.split('\\').join('/'), readFileSync(join(root, file), 'utf8'), max))
    .sort((a, b) => b.lines - a.lines);
}

const invoked = process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename ?? '');
if (invoked) {
  const [maxArg, ...folders] = process.argv.slice(2);
  const max = maxArg ? Number(maxArg) : 120;
  const root = resolve(import.meta.dirname ?? '.', '..');
  const found = longFunctions(root, folders.length ? folders : ['src'], max);
  for (const f of found)
    console.log(`${String(f.lines).padStart(5)}  ${relative('.', join(root, f.file))}:${f.line}  ${f.name}`);
  console.log(`${found.length} function(s) over ${max} lines`);
}
