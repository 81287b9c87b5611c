import { ref, shallowRef } from 'vue';
import { builtinRegistry } from '../../nodes';
import { PackHost } from '../plugin/packs';

/** The node types the editor offers (main thread: palette, inspector, validation), built-ins and installed packs. */
export const registry = builtinRegistry();
export const packs = new PackHost(registry);
/** Bumped whenever the registry changes, so everything computed from it is recomputed. */
export const registryVersion = ref(0);
packs.onChange = () => registryVersion.value++;

/** Layers (name -> output shape) of the tfjs models graphs name, as the worker reported them; null while unknown. */
export const modelLayers = shallowRef(new Map<string, Map<string, number[]> | { error: string }>());

/** Tensor shapes of the checkpoints the worker has loaded, by name: a reduced-width network's wires show its widths. */
export const checkpointShapes = shallowRef(new Map<string, ReadonlyMap<string, readonly number[]>>());
