import { resolve } from 'node:path';
import type { Diagnostic } from '../../graph/diagnostics';
import type { GraphModel } from '../../graph/model';
import type { NodeRegistry } from '../../plugin/registry';
import { applyRequest } from '../../runtime/request';

export interface Overrides {
  content?: string | undefined;
  style?: string[] | undefined;
  /** `NODE_ID.PARAM=VALUE` */
  set?: string[] | undefined;
  steps?: number | number[] | undefined;
  /** `--style-size PX` / `--style-scale F`: the style pictures' own size. */
  styleSize?: number | undefined;
  styleScale?: number | undefined;
}

/**
 * A RunRequest's problem in the command line's words: the option that gave it (`--content: ...`, `--set a.b=1: ...`).
 * The request's fields are named as the options are, so the message is the request's own.
 */
export function flagProblem(d: Pick<Diagnostic, 'path' | 'message'>, set: readonly string[] = []): string {
  if (d.path.startsWith('$.set') || set.some((a) => d.message.startsWith(`${a}:`))) return `--set ${d.message}`;
  if (/^\$\.(styleSize|styleScale)\b/.test(d.path))
    return `--${d.message.replace(/^style(Size|Scale)/, (_, w: string) => `style-${w.toLowerCase()}`)}`;
  if (/^\$\.(inputs\.)?(content|style|steps|scales|size|seed|threads)\b/.test(d.path)) return `--${d.message}`;
  return d.message;
}

/**
 * The RunRequest's inputs, values and steps (src/runtime/request.ts applyRequest) from command-line options: image
 * paths given on the command line are relative to the working directory. Returns error messages a person can act on.
 */
export function applyOverrides(
  model: GraphModel,
  registry: NodeRegistry,
  o: Overrides,
  cwd: string,
): { model: GraphModel; errors: string[] } {
  const inputs = {
    ...(o.content !== undefined ? { content: resolve(cwd, o.content) } : {}),
    ...(o.style?.length ? { style: o.style.map((s) => resolve(cwd, s)) } : {}),
  };
  const applied = applyRequest(model, registry, {
    ...(Object.keys(inputs).length ? { inputs } : {}),
    ...(o.set?.length ? { set: o.set } : {}),
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    ...(o.styleSize !== undefined ? { styleSize: o.styleSize } : {}),
    ...(o.styleScale !== undefined ? { styleScale: o.styleScale } : {}),
  });
  return { model: applied.model, errors: applied.problems.map((d) => flagProblem(d, o.set)) };
}
