import type { NodeTypeDef, ParamValues } from '../plugin/types';
import type { PlanStep } from './plan';

/** 64-bit FNV-1a as hex: short, stable signatures. */
function hash(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) h = BigInt.asUintN(64, (h ^ BigInt(text.charCodeAt(i))) * 0x100000001b3n);
  return h.toString(16);
}

/**
 * Gives each step a signature: a hash of its kind, node type, parameters (or shared-pass key and taps), the run
 * size and its inputs' signatures. Steps that read a variable or a stream get none.
 */
export function signSteps(
  steps: PlanStep[],
  params: (id: string) => ParamValues,
  size: number,
  defOf: (s: PlanStep) => NodeTypeDef,
): void {
  const valueSig = new Map<string, string>();
  for (const s of steps) {
    const inputs: Record<string, string | string[] | null> = {};
    let bound = true;
    for (const [name, v] of Object.entries(s.inputs)) {
      const sigs = (Array.isArray(v) ? v : [v]).map((k) => valueSig.get(k) ?? null);
      if (sigs.includes(null)) bound = false;
      inputs[name] = Array.isArray(v) ? (sigs as string[]) : sigs[0]!;
    }
    if (!bound || defOf(s).role === 'variable' || defOf(s).role === 'stream') continue;
    const what =
      s.kind === 'pass'
        ? { key: defOf(s).shared!.key(params(s.nodes[0]!)), taps: [...s.taps!].sort() }
        : { params: params(s.nodes[0]!) };
    s.signature = hash(
      JSON.stringify({
        kind: s.kind,
        id: s.kind === 'prepare' ? s.id.split('.').at(-1) : undefined,
        type: s.type,
        size,
        what,
        inputs,
      }),
    );
    for (const o of s.outputs) valueSig.set(o.key, `${s.signature}|${o.key.slice(o.key.lastIndexOf('.') + 1)}`);
  }
}
