import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { nodeSource } from '../../graph/edit';
import type { GraphModel } from '../../graph/model';
import type { RunRequest } from '../../runtime/request';
import { sweepOf } from '../../graph/sweep';
import { requiredCheckpoints } from '../../compiler/checkpoints';
import type { NodeRegistry } from '../../plugin/registry';
import { batchSources, checkOutputs } from '../files';
import { UsageError, type Io } from '../io';
import { readSource } from '../node/node-images';
import {
  checkLocalFile,
  documentSourceAccess,
  isRemote,
  SourceRefused,
  type SourceAccess,
} from '../security/source-access';
import type { SourceOptions } from '../node/node-session';
import { planJobs } from './jobs';
import { readBatch, report, submitBatch, summaryLine, watchBatch } from './submit';

/**
 * The document's image sources as a worker reads them (another folder, maybe another machine), checked on the
 * submitter's machine by the same rules as `run` (docs/security.md): a path must lie inside the document's folder
 * (unless given on the command line) and be a regular file, and becomes absolute; a remote source is fetched here,
 * only with consent (--allow-remote, a trusted config's "remoteHosts"; a private address with
 * --allow-private-network), and travels as a data: URL. Workers fetch nothing and read only absolute paths.
 */
export async function jobSources(
  model: GraphModel,
  registry: NodeRegistry,
  access: SourceAccess,
  replaced: string[],
): Promise<{ model: GraphModel; errors: string[] }> {
  const errors: string[] = [];
  const nodes: GraphModel['nodes'] = [];
  for (const n of model.nodes) {
    const params = { ...n.params };
    // An image --content or --style replaces is not read.
    const slot = nodeSource(registry, n)?.slot;
    const skip = slot !== undefined && replaced.includes(slot);
    for (const [name, p] of Object.entries(registry.get(n.type)?.params ?? {})) {
      const v = params[name] ?? p.default;
      if (skip) continue;
      if (p.kind !== 'image' || typeof v !== 'string' || !v || v.startsWith('data:') || v.startsWith('upload:'))
        continue;
      try {
        if (isRemote(v)) {
          const bytes = Buffer.from(await readSource(v, access));
          params[name] = `data:${bytes[0] === 0x89 ? 'image/png' : 'image/jpeg'};base64,${bytes.toString('base64')}`;
        } else if (/^[a-z][a-z0-9+.-]+:/i.test(v))
          throw new SourceRefused(`${v}: not read: only file paths, http(s) and data: URLs are sources`);
        else params[name] = (await checkLocalFile(v, access)).real;
      } catch (e) {
        errors.push(`node "${n.id}": cannot use image ${v.slice(0, 200)}: ${(e as Error).message}`);
      }
    }
    nodes.push({ ...n, params });
  }
  return { model: { ...model, nodes }, errors };
}

/** Files, or every .jpg/.png in each folder given. */
async function expandImages(cwd: string, given: readonly string[], flag: string): Promise<string[]> {
  const out: string[] = [];
  for (const g of given) {
    const path = resolve(cwd, g);
    const s = await stat(path).catch(() => null);
    if (!s) throw new UsageError(`${flag} ${g}: no such file or folder`);
    if (s.isDirectory()) {
      const files = await batchSources(path);
      if (!files.length) throw new UsageError(`${flag} ${g}: the folder has no .jpg or .png images`);
      out.push(...files);
    } else out.push(path);
  }
  return out;
}

export interface SubmitOptions {
  file: string;
  model: GraphModel;
  registry: NodeRegistry;
  redis: string;
  queue: string;
  content: string[];
  style: string[];
  sweep: boolean;
  out: string;
  /** What each job runs (the pictures and values are in its graph). */
  request: RunRequest;
  detach: boolean;
  signal?: AbortSignal;
  /** What the user gave on the command line (--set) and the remote fetching they consented to. */
  sources?: SourceOptions;
  /** `--overwrite`: the jobs may replace existing pictures in --out (a worker never does otherwise). */
  overwrite?: boolean;
}

/** `stylegraph submit`: one job per content x style x sweep cell, then (unless --detach) waits for them all. */
export async function submitCommand(io: Io, o: SubmitOptions): Promise<number> {
  const sweep = o.sweep ? sweepOf(o.model) : null;
  if (sweep?.error) throw new UsageError(sweep.error);
  if (o.sweep && !sweep?.sweep) throw new UsageError('--sweep: the graph has no sweep (metadata.sweep)');
  const checked = await jobSources(
    o.model,
    o.registry,
    documentSourceAccess(dirname(resolve(io.cwd, o.file)), o.sources),
    [o.content.length ? 'content' : '', o.style.length ? 'style' : ''].filter(Boolean),
  );
  if (checked.errors.length) throw new UsageError(checked.errors.join('\n'));
  const model = checked.model;
  const contents = await expandImages(io.cwd, o.content, '--content');
  const styles = await expandImages(io.cwd, o.style, '--style');
  // The output folder is checked (created, writable, not an input) before any job is queued, as `run` checks its own.
  const problems = await checkOutputs({
    files: [],
    folders: [o.out],
    inputs: [o.file, ...contents, ...styles],
    cwd: io.cwd,
  });
  const outAbs = resolve(io.cwd, o.out);
  if ([...contents, ...styles].some((p) => dirname(p) === outAbs && /\.png$/i.test(p)))
    problems.push(
      `--out ${o.out}: the results (.png) would replace input photos in that folder; choose another folder`,
    );
  if (problems.length) throw new UsageError(problems.join('\n'));
  const planned = await planJobs({
    model,
    contents,
    styles,
    sweep: sweep?.sweep ?? null,
    outDir: resolve(io.cwd, o.out),
    registry: o.registry,
    request: o.request,
    weights: requiredCheckpoints(model, o.registry),
    ...(o.overwrite ? { overwrite: true } : {}),
  });
  if (planned.errors.length) throw new UsageError(planned.errors.join('\n'));
  const { added, done, retried } = await submitBatch({
    redis: o.redis,
    queue: o.queue,
    graph: o.file,
    batch: planned.batch,
    jobs: planned.jobs,
  });
  io.err(
    `batch ${planned.batch}: ${planned.jobs.length} jobs (${added} new${done ? `, ${done} already done` : ''}${retried ? `, ${retried} failed before and retried` : ''}) on queue "${o.queue}"`,
  );
  if (o.detach) {
    io.out(planned.batch);
    io.err(
      `follow it with: stylegraph status ${planned.batch} --redis ${o.redis}${o.queue !== 'stylegraph' ? ` --queue ${o.queue}` : ''}`,
    );
    return 0;
  }
  return watchBatch(io, {
    redis: o.redis,
    queue: o.queue,
    batch: planned.batch,
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

/** `stylegraph status ID`: where a batch stands; exit 1 when any job failed for good. */
export async function statusCommand(io: Io, o: { redis: string; queue: string; batch: string }): Promise<number> {
  const read = await readBatch(o.redis, o.queue, o.batch);
  if (!read) throw new UsageError(`no batch ${o.batch} in queue "${o.queue}" (batches are kept for 7 days)`);
  io.out(`batch ${o.batch}: ${read.record.graph}, submitted ${read.record.created}`);
  io.out(summaryLine(read.states, Date.parse(read.record.created)));
  const open = read.states.filter((s) => s.state !== 'completed' && s.state !== 'failed' && s.state !== 'missing');
  for (const s of open)
    io.out(
      `  ${s.label}: ${s.state}${s.progress ? ` (step ${s.progress.step}/${s.progress.total}, loss ${s.progress.loss.toPrecision(4)})` : ''}`,
    );
  if (open.length) return 0;
  return report(io, read.states, 0);
}
