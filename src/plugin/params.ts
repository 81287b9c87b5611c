import type { ParamDef, ParamDefs, ParamValue, ParamValues } from './types';

export interface ParamProblem {
  param: string;
  message: string;
}

/** Checks one value against its definition; returns a message a person can act on, or null. */
export function checkParam(def: ParamDef, value: unknown): string | null {
  switch (def.kind) {
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `expected a number, got ${show(value)}`;
      if (def.kind === 'integer' && !Number.isInteger(value)) return `expected a whole number, got ${value}`;
      if (def.min !== undefined && value < def.min) return `${value} is below the minimum ${def.min}`;
      if (def.max !== undefined && value > def.max) return `${value} is above the maximum ${def.max}`;
      return null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : `expected true or false, got ${show(value)}`;
    case 'enum':
      return typeof value === 'string' && def.options.includes(value)
        ? null
        : `${show(value)} is not one of ${def.options.join(', ')}`;
    case 'string':
    case 'image':
    case 'model':
      return typeof value === 'string' ? null : `expected text, got ${show(value)}`;
    case 'layer':
      return typeof value === 'string' && def.layers.includes(value)
        ? null
        : `${show(value)} is not a layer of this network (e.g. ${def.layers.slice(0, 3).join(', ')})`;
    case 'layers': {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
        return `expected a list of layer names, got ${show(value)}`;
      const unknown = value.filter((v) => !def.layers.includes(v as string));
      if (unknown.length) return `unknown layer${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`;
      if (new Set(value).size !== value.length) return 'a layer is listed twice';
      if (def.minItems !== undefined && value.length < def.minItems) return `pick at least ${def.minItems} layer(s)`;
      return null;
    }
  }
}

/** Defaults overlaid with the given values. Values that fail their check fall back to the default. */
export function resolveParams(defs: ParamDefs, given: Record<string, unknown>): ParamValues {
  const out: ParamValues = {};
  for (const [name, def] of Object.entries(defs)) {
    const v = given[name];
    out[name] = v !== undefined && checkParam(def, v) === null ? (v as ParamValue) : defaultOf(def);
  }
  return out;
}

export function defaultOf(def: ParamDef): ParamValue {
  return Array.isArray(def.default) ? [...(def.default as readonly string[])] : (def.default as ParamValue);
}

/** Every problem with a node's parameters, including names the type does not know. */
export function checkParams(defs: ParamDefs, given: Record<string, unknown>): ParamProblem[] {
  const problems: ParamProblem[] = [];
  for (const [name, value] of Object.entries(given)) {
    const def = defs[name];
    if (!def) {
      problems.push({ param: name, message: `unknown parameter "${name}" (kept, but ignored)` });
      continue;
    }
    const msg = checkParam(def, value);
    if (msg) problems.push({ param: name, message: msg });
  }
  return problems;
}

/**
 * Parses text typed by a person (a CLI `--set`, an inspector field) into a parameter value.
 * Returns the value or an error message.
 */
export function parseParamText(def: ParamDef, text: string): { value: ParamValue } | { error: string } {
  let value: unknown = text;
  if (def.kind === 'number' || def.kind === 'integer') value = text.trim() === '' ? NaN : Number(text);
  else if (def.kind === 'boolean') value = text === 'true' ? true : text === 'false' ? false : text;
  else if (def.kind === 'layers')
    value = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const msg = checkParam(def, value);
  return msg ? { error: msg } : { value: value as ParamValue };
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
