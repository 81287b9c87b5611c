import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { z } from 'zod';
import { serialiseDocument } from '../../graph/document';
import { inputNodes, withInput } from '../../graph/edit';
import type { GraphModel } from '../../graph/model';
import type { NodeRegistry } from '../../plugin/registry';
import type { RunReport } from '../../runtime/report';
import { zRunRequest, type RunRequest } from '../../runtime/request';
import { applyCell, sweepCells, type Sweep } from '../../graph/sweep';

/**
 * A queue job: one run of a graph on one content image, one style and one sweep cell. It carries everything a
 * worker on another machine needs: the document with its image sources set (paths on a shared folder, or
 * data: URLs for small images), the run's settings, the checkpoint names it wants, and where its picture goes.
 */
export const zJob = z.object({
  v: z.literal(2),
  batch: z.string().max(64),
  /** What the job is, for people: `a.jpg x starry.jpg, alpha=0.5`. */
  label: z.string().max(400),
  document: z.string().max(32 * 2 ** 20),
  /**
   * What to run: the same RunRequest `stylegraph run` and the editor's worker carry (checked by its own rules). The
   * worker's backend and threads are its own; a frames job's request has `frames`.
   */
  request: zRunRequest,
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
  /** The picture may replace an existing file at `out` (`submit --overwrite`); without it a worker never replaces one. */
  overwrite: z.boolean().optional(),
});
export type JobData = z.infer<typeof zJob>;

/**
 * The part of a run's request a job carries: what decides its picture (size, seed, steps, scales, tiling, frames).
 * The values and pictures are in the job's graph already; a worker's backend and threads are its own.
 */
export function jobRequest(r: RunRequest): RunRequest {
  const { size, seed, steps, scales, tiling, frames } = r;
  return {
    size,
    seed,
    ...(steps !== undefined ? { steps } : {}),
    ...(scales ? { scales } : {}),
    ...(tiling !== undefined ? { tiling } : {}),
    ...(frames ? { frames } : {}),
  };
}

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
  /** The run's report, as `stylegraph run --report` writes it (a frames job: its first frame's). */
  report?: RunReport;
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
  registry: NodeRegistry;
  contents: string[];
  styles: string[];
  sweep: Sweep | null;
  outDir: string;
  request: RunRequest;
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
  if (o.styles.length && !inputNodes(o.model, o.registry, 'style').length)
    errors.push('--style: this graph has no image node with slot "style"');
  if (o.contents.length && !inputNodes(o.model, o.registry, 'content').length)
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
          m = withInput(m, o.registry, slot, img.source);
          key = withInput(key, o.registry, slot, `sha256:${img.hash}`);
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
        const id = sha(JSON.stringify({ graph: serialiseDocument(key), ...o.request, out })).slice(0, 32);
        const label =
          [content && basename(content), style && basename(style)].filter(Boolean).join(' x ') +
          (cell ? `${content || style ? ', ' : ''}${cell.label}` : '');
        jobs.push({
          id,
          data: {
            v: 2,
            batch: '',
            label: label || 'the graph as it is',
            document: serialiseDocument(m),
            request: o.request,
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
