import type { ConnectionOptions } from 'bullmq';

export const DEFAULT_QUEUE = 'stylegraph';

/** `redis://[user:password@]host[:port][/db]` as BullMQ's connection options. */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--redis must be a URL like redis://127.0.0.1:6379, got "${url}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`--redis must start with redis:// or rediss://, got "${url}"`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`--redis ${url}: the database must be a whole number`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // Workers block on Redis; BullMQ asks for no per-request retry limit.
    maxRetriesPerRequest: null,
  };
}

/** Where a batch's job ids are kept, for `stylegraph status ID`. */
export const batchKey = (queue: string, batch: string) => `stylegraph:${queue}:batch:${batch}`;
