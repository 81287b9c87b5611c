import type { ComputeServices, LoadedCheckpoint } from '../src/plugin/types';

/**
 * A network's weights: the named checkpoint when the host loaded it, else seeded random weights.
 * Both are cached across runs under a key that names where they came from.
 */
export function networkWeights<T extends { dispose(): void; source: string }>(
  services: ComputeServices,
  kind: string,
  name: string,
  seed: number,
  fromCheckpoint: (c: LoadedCheckpoint) => T,
  random: () => T,
): T {
  const ckpt = services.checkpoints.get(name);
  return ckpt
    ? services.models.get(`${kind}/${name}@${ckpt.source}`, () => fromCheckpoint(ckpt))
    : services.models.get(`${kind}/random/${seed}`, random);
}

/** "VGG19 torchvision: /path/vgg19.pth", or the random fallback and what was missing. */
export function describeNetwork(services: ComputeServices, title: string, name: string, seed: number): string {
  const ckpt = services.checkpoints.get(name);
  return ckpt
    ? `${title}: ${name} from ${ckpt.source}`
    : `${title}: random (seed ${seed}); no weights named "${name}" were loaded`;
}

export const weightsParam = (def: string) =>
  ({
    kind: 'string',
    default: def,
    label: 'weights',
    description:
      'Name of a loaded checkpoint (see the weights manifest). Seeded random weights are used until it is loaded.',
  }) as const;
