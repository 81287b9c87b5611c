import { z } from 'zod';
import raw from './manifest.json';

/** Known public checkpoints. Sizes are approximate until verified on a first download; none is fetched in tests. */
export const zManifestEntry = z.object({
  name: z.string().regex(/^[a-z0-9_.-]+$/),
  network: z.enum(['vgg19', 'resnet50', 'decoder', 'sanet-transformer']),
  variant: z.enum(['torchvision', 'caffe', 'normalised']).optional(),
  format: z.enum(['pth', 'safetensors', 'tfjs']),
  sizeBytes: z.number().int().positive(),
  url: z.url(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  licence: z.string().min(1),
  notes: z.string().optional(),
});
export type ManifestEntry = z.infer<typeof zManifestEntry>;

export const zManifest = z.object({ checkpoints: z.array(zManifestEntry) });

export const MANIFEST: ManifestEntry[] = zManifest.parse(raw).checkpoints;

export const manifestEntry = (name: string): ManifestEntry | undefined => MANIFEST.find((e) => e.name === name);
