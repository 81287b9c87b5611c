import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { serialiseDocument } from '../../graph/document';
import type { GraphModel } from '../../graph/model';
import type { RunRequest } from '../../runtime/request';
import type { DecodedImage } from '../../runtime/sources';
import { decodeImage, encodePng } from '../node/node-images';
import type { JobData, JobResult } from '../queue/jobs';
import { redisConnection } from '../queue/redis';

/**
 * A video's frames through the queue's workers (`run --content clip.mp4 --redis URL`): frames go out in batches, one
 * job each (PNG data: URLs inside the job), each batch runs as one stream on a worker (the style side once per
 * worker), and the styled frames come back in the job's return value. Results are taken in order, with at most
 * `inFlight` batches queued at a time, so memory stays bounded however long the clip.
 */

export interface QueuedFrames {
  redis: string;
  queue: string;
  /** The graph, its image sources made readable by workers (absolute paths or data: URLs). */
  model: GraphModel;
  /** The run's request (its `frames` says whether each frame starts from the previous result). */
  request: RunRequest;
  weights: string[];
  frames: AsyncIterable<DecodedImage>;
  /** Frames per job. */
  batch: number;
  /** Jobs queued at once. */
  inFlight: number;
  signal?: AbortSignal;
  label: string;
  /** Each styled frame, in order. */
  onFrame: (frame: DecodedImage) => Promise<void>;
}

export async function queueFrames(
  o: QueuedFrames,
): Promise<{ status: 'done' | 'failed' | 'cancelled'; error?: string; frames: number; workers: Set<string> }> {
  const queue = new Queue<JobData>(o.queue, { connection: redisConnection(o.redis) });
  const run = randomBytes(6).toString('hex');
  const document = serialiseDocument(o.model);
  const pending: { id: string; count: number }[] = [];
  const workers = new Set<string>();
  let frames = 0;
  let jobs = 0;

  const submit = async (batch: DecodedImage[]) => {
    const id = `video-${run}-${jobs++}`;
    const data: JobData = {
      v: 2,
      batch: run,
      label: `${o.label} frames ${frames + pending.reduce((n, p) => n + p.count, 0)}+${batch.length}`,
      document,
      request: o.request,
      weights: o.weights,
      out: '',
      // The decoder's frames are views of plain ArrayBuffers (never shared memory).
      frames: batch.map(
        (f) =>
          `data:image/png;base64,${encodePng({ width: f.width, height: f.height, data: new Uint8ClampedArray(f.data.buffer as ArrayBuffer, f.data.byteOffset, f.data.byteLength) }).toString('base64')}`,
      ),
    };
    await queue.add(data.label, data, {
      jobId: id,
      attempts: 3,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 3600 },
    });
    pending.push({ id, count: batch.length });
  };

  /** Waits for the oldest job and hands its frames on, in order. */
  const collect = async () => {
    const head = pending.shift()!;
    for (let emptyReads = 0; ;) {
      if (o.signal?.aborted) throw new Cancelled();
      // The state first, then the job: a job read while active and found completed after has no return value yet.
      const state = await queue.getJobState(head.id);
      const job = state === 'unknown' ? undefined : await queue.getJob(head.id);
      if (!job) throw new Error(`job ${head.id} is no longer in the queue`);
      const result = job.returnvalue as JobResult | null;
      if (state === 'completed' && result) {
        workers.add(result.worker);
        for (const b64 of result.frames ?? []) {
          await o.onFrame(decodeImage(Buffer.from(b64, 'base64'), 'a styled frame'));
          frames++;
        }
        await job.remove().catch(() => {});
        return;
      }
      if (state === 'completed' && ++emptyReads > 20) throw new Error(`job ${head.id} completed without its frames`);
      if (state === 'failed') throw new Error(job.failedReason || 'a worker failed the job');
      await new Promise((r) => setTimeout(r, 150));
    }
  };

  try {
    let batch: DecodedImage[] = [];
    for await (const f of o.frames) {
      if (o.signal?.aborted) throw new Cancelled();
      batch.push(f);
      if (batch.length < o.batch) continue;
      await submit(batch);
      batch = [];
      if (pending.length >= o.inFlight) await collect();
    }
    if (batch.length) await submit(batch);
    while (pending.length) await collect();
    return { status: 'done', frames, workers };
  } catch (e) {
    // Jobs not yet taken are removed; one a worker holds finishes there and is dropped with the queue's age limit.
    for (const p of pending) await queue.remove(p.id).catch(() => {});
    if (e instanceof Cancelled) return { status: 'cancelled', frames, workers };
    return { status: 'failed', error: (e as Error).message, frames, workers };
  } finally {
    await queue.close();
  }
}

class Cancelled extends Error {}
