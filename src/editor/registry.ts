import { builtinRegistry } from '../../nodes';

/** The node types the editor offers (main thread: palette, inspector, validation). */
export const registry = builtinRegistry();
