import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { z } from 'zod';
import { serialiseDocument } from '../../graph/document';
import { slotNodes, withSlotSource } from '../../graph/edit';
import type { GraphModel } from '../../graph/model';
import { applyCell, sweepCells, type Sweep } from '../../graph/sweep';

/**
 * A queue job: one run of a graph on one content image, one style and one sweep cell. It carries everything a
 * worker on another machine needs: the document with its image sources set (paths on a shared folder, or
 * data: URLs for small images), the run's settings, the checkpoint names it wants, and where its picture goes.
 */
export const zJob = z.object({
  v: z.literal(1),
  batch: z.string().max(64),
  /** What the job is, for people: `a.jpg x starry.jpg, alpha=0.5`. */
  label: z.string().max(400),
  document: z.string().max(32 * 2 ** 20),
  size: z.number().int().min(8).max(4096),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31),
  steps: z.number().int().min(0).max(100000).optional(),
  /** Checkpoint names the graph asks for; each worker resolves them from its own `--weights` and cache. */
  weights: z.array(z.string().max(100)).max(64),
  /** The picture's path on the shared folder; written under a temporary name, then renamed. Empty for frames. */
  out: z.string().max(4096),
  /**
   * A batch of a video's frames (PNG data: URLs), run in order as one stream on the content slot (the style side once);
   * the styled frames come back in the job's return value, not as files.
   */
  frames: z
    .array(z.string().max(8 * 2 ** 20))
    .max(64)
    .optional(),
  /** With `frames`: each frame of the batch starts from the previous frame's result (an optimisation graph). */
  warmStart: z.boolean().optional(),
  /** The picture may replace an existing file at `out` (`submit --overwrite`); without it a worker never replaces one. */
  overwrite: z.boolean().optional(),
});
export type JobData = z.infer<typeof zJob>;

/** What a finished job returns (kept by BullMQ as the job's return value). */
export interface JobResult {
  worker: string;
  out: string;
  status: string;
  loss: [number, number] | null;
  weights: string[];
  ms: number;
  /** A frames job's styled frames, in order, as base64 PNGs. */
  frames?: string[];
}

/** Progress a worker reports while a job runs. */
export interface JobProgress {
  step: number;
  total: number;
  loss: number;
}

/** Images up to this size travel inside the job, so a worker need not see the submitter's files. */
export const EMBED_LIMIT = 256 * 1024;

const sha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');

/** An image as a job carries it: a data: URL when small, else its path; with its content hash either way. */
export async function jobImage(path: string): Promise<{ source: string; hash: string }> {
  const bytes = await readFile(path);
  const hash = sha(bytes);
  if (bytes.length > EMBED_LIMIT) return { source: path, hash };
  const type = /\.png$/i.test(path) ? 'image/png' : 'image/jpeg';
  return { source: `data:${type};base64,${bytes.toString('base64')}`, hash };
}

const stem = (p: string) => basename(p, extname(p)).replace(/[^A-Za-z0-9._-]+/g, '_');

export interface PlannedJob {
  id: string;
  data: JobData;
}

/**
 * One job per content x style x sweep cell. A job's id is derived from what decides its result (the graph with
 * the images' content hashes in place of their sources, the settings, the output path), so resubmitting a
 * batch finds the finished jobs and does not run them again.
 */
export async function planJobs(o: {
  model: GraphModel;
  contents: string[];
  styles: string[];
  sweep: Sweep | null;
  outDir: string;
  size: number;
  seed: number;
  steps?: number;
  weights: string[];
  overwrite?: boolean;
}): Promise<{ batch: string; jobs: PlannedJob[]; errors: string[] }> {
  const errors: string[] = [];
  const jobs: PlannedJob[] = [];
  const images = new Map<string, { source: string; hash: string }>();
  const image = async (p: string) => images.get(p) ?? images.set(p, await jobImage(p)).get(p)!;
  const cells = o.sweep ? sweepCells(o.sweep) : [null];
  const styles = o.styles.length ? o.styles : [null];
  const contents = o.contents.length ? o.contents : [null];
  if (o.styles.length && !slotNodes(o.model, 'style').length)
    errors.push('--style: this graph has no image node with slot "style"');
  if (o.contents.length && !slotNodes(o.model, 'content').length)
    errors.push('--content: this graph has no image node with slot "content"');
  if (errors.length) return { batch: '', jobs, errors };
  for (const content of contents)
    for (const style of styles)
      for (const cell of cells) {
        let m = o.model;
        let key = o.model;
        const parts: string[] = [];
        for (const [slot, path] of [
          ['content', content],
          ['style', style],
        ] as const) {
          if (!path) continue;
          const img = await image(path).catch((e: Error) => void errors.push(`${path}: ${e.message}`));
          if (!img) continue;
          m = withSlotSource(m, slot, img.source);
          key = withSlotSource(key, slot, `sha256:${img.hash}`);
          parts.push(stem(path));
        }
        if (cell) {
          const applied = applyCell(m, cell);
          if (applied.error) {
            errors.push(applied.error);
            continue;
          }
          m = applied.model;
          key = applyCell(key, cell).model;
          parts.push(stem(cell.label));
        }
        const out = join(o.outDir, `${parts.join('__') || 'result'}.png`);
        const settings = { size: o.size, seed: o.seed, ...(o.steps !== undefined ? { steps: o.steps } : {}) };
        const id = sha(JSON.stringify({ graph: serialiseDocument(key), ...settings, out })).slice(0, 32);
        const label =
          [content && basename(content), style && basename(style)].filter(Boolean).join(' x ') +
          (cell ? `${content || style ? ', ' : ''}${cell.label}` : '');
        jobs.push({
          id,
          data: {
            v: 1,
            batch: '',
            label: label || 'the graph as it is',
            document: serialiseDocument(m),
            ...settings,
            weights: o.weights,
            out,
            ...(o.overwrite ? { overwrite: true } : {}),
          },
        });
      }
  const batch = sha(jobs.map((j) => j.id).join(',')).slice(0, 16);
  for (const j of jobs) j.data.batch = batch;
  return { batch, jobs, errors };
}
