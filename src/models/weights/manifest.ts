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

/**
 * Where to download a checkpoint: its manifest URL, or the same file name under a mirror (an organisation's or a
 * classroom's copy; `STYLEGRAPH_WEIGHTS_MIRROR` or the config key `weightsMirror` on the command line, the same
 * setting in the editor). Only the base changes: `https://mirror.example/weights/` + `vgg_normalised.pth`.
 */
export function weightsUrl(entry: Pick<ManifestEntry, 'url'>, mirror?: string | null): string {
  if (!mirror) return entry.url;
  const file = new URL(entry.url).pathname.split('/').filter(Boolean).at(-1) ?? '';
  return new URL(file, mirror.endsWith('/') ? mirror : `${mirror}/`).href;
}

/**
 * The leading hex digits of the sha256 a file name carries (torchvision's `vgg19-dcbb9e9d.pth`), checked on
 * download where the source publishes no full hash.
 */
export function hashPrefix(entry: Pick<ManifestEntry, 'url'>): string | null {
  const file = new URL(entry.url).pathname.split('/').at(-1) ?? '';
  return /-([0-9a-f]{8,64})\.[a-z]+$/.exec(file)?.[1] ?? null;
}
