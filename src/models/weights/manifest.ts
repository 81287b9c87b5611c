import { z } from 'zod';
import raw from './manifest.json';

/** One file of a checkpoint that is a folder: its path below the repository root (`models/style-transfer/wave/Variable_1`). */
export const zManifestFile = z.object({
  path: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/)
    .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'no . or .. segments'),
  size: z.number().int().nonnegative(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
});
export type ManifestFile = z.infer<typeof zManifestFile>;

/**
 * Known public checkpoints. A checkpoint is one file (`url`), or a folder of files (`files`, each with its path below
 * `root`, the repository's root at a pinned commit; `url` is then the folder's URL). Sizes of entries with a sha256
 * (or files with one) were computed from the bytes; the others are as their hosts gave them. None is fetched in tests.
 */
export const zManifestEntry = z
  .object({
    name: z.string().regex(/^[a-z0-9_.-]+$/),
    network: z.enum([
      'vgg19',
      'resnet50',
      'decoder',
      'sanet-transformer',
      'microast-content-encoder',
      'microast-style-encoder',
      'microast-modulator',
      'microast-decoder',
      'fast-style',
    ]),
    variant: z.enum(['torchvision', 'caffe', 'normalised']).optional(),
    /** `dl-checkpoint`: a deeplearn.js checkpoint folder (manifest.json and one raw float32 file per variable). */
    format: z.enum(['pth', 'safetensors', 'tfjs', 'dl-checkpoint']),
    sizeBytes: z.number().int().positive(),
    url: z.url(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .nullable(),
    /** A folder checkpoint: the repository root its files' paths are below (ends with `/`). */
    root: z.url().optional(),
    files: z.array(zManifestFile).min(1).optional(),
    licence: z.string().min(1),
    notes: z.string().optional(),
  })
  .superRefine((e, ctx) => {
    if (!e.files !== !e.root)
      ctx.addIssue({ code: 'custom', message: `${e.name}: a folder checkpoint has both root and files` });
    if (!e.files || !e.root) return;
    if (!e.root.endsWith('/')) ctx.addIssue({ code: 'custom', message: `${e.name}: root must end with /` });
    const folder = folderOfFiles(e.files);
    if (!folder || e.url !== new URL(`${folder}/`, e.root).href)
      ctx.addIssue({
        code: 'custom',
        message: `${e.name}: url must be the folder that holds every file (${e.root}${folder}/)`,
      });
    if (e.files.reduce((s, f) => s + f.size, 0) !== e.sizeBytes)
      ctx.addIssue({ code: 'custom', message: `${e.name}: sizeBytes must be the files' total` });
  });
export type ManifestEntry = z.infer<typeof zManifestEntry>;

export const zManifest = z.object({ checkpoints: z.array(zManifestEntry) });

export const MANIFEST: ManifestEntry[] = zManifest.parse(raw).checkpoints;

export const manifestEntry = (name: string): ManifestEntry | undefined => MANIFEST.find((e) => e.name === name);

/** The folder every file's path lies in (`models/style-transfer/wave`), or null when they share none. */
function folderOfFiles(files: readonly { path: string }[]): string | null {
  const dirs = new Set(files.map((f) => f.path.split('/').slice(0, -1).join('/')));
  const [dir] = [...dirs];
  return dirs.size === 1 && dir ? dir : null;
}

/** Whether a checkpoint is a folder of files (`files`) rather than one file. */
export const isFolderEntry = (
  e: Pick<ManifestEntry, 'files'>,
): e is ManifestEntry & { files: ManifestFile[]; root: string } => Boolean(e.files);

/** One file of a folder checkpoint, with where to get it. */
export interface FolderFile extends ManifestFile {
  /** Its name inside the checkpoint's folder (`manifest.json`, `Variable_1`). */
  name: string;
  url: string;
}

const base = (mirror: string) => (mirror.endsWith('/') ? mirror : `${mirror}/`);

/**
 * Where to download a checkpoint: its manifest URL, or the same file name under a mirror (an organisation's or a
 * classroom's copy; `STYLEGRAPH_WEIGHTS_MIRROR` or the config key `weightsMirror` on the command line, the same
 * setting in the editor). Only the base changes: `https://mirror.example/weights/` + `vgg_normalised.pth`. For a
 * folder checkpoint, the folder's URL: a mirror serves each file at its path below the repository root
 * (`https://mirror.example/weights/models/style-transfer/wave/`).
 */
export function weightsUrl(entry: Pick<ManifestEntry, 'url' | 'files'>, mirror?: string | null): string {
  if (!mirror) return entry.url;
  if (entry.files) return new URL(`${folderOfFiles(entry.files)}/`, base(mirror)).href;
  const file = new URL(entry.url).pathname.split('/').filter(Boolean).at(-1) ?? '';
  return new URL(file, base(mirror)).href;
}

/** The files of a folder checkpoint and where each comes from: below its repository root, or the same path below a mirror. */
export function folderFiles(entry: ManifestEntry, mirror?: string | null): FolderFile[] {
  if (!isFolderEntry(entry)) return [];
  const from = mirror ? base(mirror) : entry.root;
  return entry.files.map((f) => ({ ...f, name: f.path.split('/').at(-1)!, url: new URL(f.path, from).href }));
}

/**
 * The leading hex digits of the sha256 a file name carries (torchvision's `vgg19-dcbb9e9d.pth`), checked on
 * download where the source publishes no full hash.
 */
export function hashPrefix(entry: Pick<ManifestEntry, 'url'>): string | null {
  const file = new URL(entry.url).pathname.split('/').at(-1) ?? '';
  return /-([0-9a-f]{8,64})\.[a-z]+$/.exec(file)?.[1] ?? null;
}
