import type * as tfjs from '@tensorflow/tfjs';

/** A module with weights (a decoder, a SANet transformer): what a Model socket carries. */
export interface ModelHandle {
  kind: 'model';
  name: string;
  /** The weights an optimiser may update. */
  variables: tfjs.Variable[];
  /**
   * The weights as a state dict in the published checkpoint's names and PyTorch layout, for saving. Read
   * asynchronously: a synchronous read-back is unavailable on WebGPU in Node (tfjs needs an OffscreenCanvas for it).
   */
  stateDict(): Promise<Map<string, { shape: number[]; data: Float32Array }>>;
  dispose(): void;
}
