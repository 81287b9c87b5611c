import type { NodeTypeDef } from '../../plugin/types';

/** One colour per socket type, shared by sockets, wires and the palette. */
export const SOCKET_COLOURS: Record<string, string> = {
  Image: '#f2b53a',
  Features: '#4fa3f7',
  Gram: '#c471ed',
  Stats: '#39c6a5',
  Scalar: '#e8e8e8',
  Model: '#f06a6a',
  missing: '#777777',
};

/** A node type's colour in the palette and the canvas menu: that of its first output. */
export function typeColour(d: Pick<NodeTypeDef, 'outputs'>): string | undefined {
  const out = typeof d.outputs === 'function' ? 'Features' : Object.values(d.outputs)[0]?.type;
  return SOCKET_COLOURS[out ?? 'missing'];
}
