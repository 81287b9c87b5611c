import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, expect } from 'vitest';
import { MANIFEST } from '../../src/models/weights/manifest';
import type { Rgba } from '../picture-stats';

/** The official MicroAST networks (../shared/fixtures/microast); tests that need them skip where it is absent. */
export const microastFixtures = new URL('../../../shared/fixtures/microast/', import.meta.url).pathname;

/** A sample picture of presets/images, decoded. */
export function presetPicture(name: string): Rgba {
  const d = jpeg.decode(readFileSync(new URL(`../../presets/images/${name}`, import.meta.url)), { useTArray: true });
  return { data: d.data, width: d.width, height: d.height };
}

/**
 * A loopback mirror of MicroAST's four checkpoints, served by their file names under /weights/ as a mirror of the
 * manifest serves single-file checkpoints, with the editor's server pointed at it and at a fresh weights cache.
 * Call before useEditor (its hooks must run first, so the editor's server reads the mirror). Returns whether the
 * fixtures are present (log a skip message where not) and the paths the mirror was asked for.
 */
export function useMicroastMirror(label: string): { present: boolean; hits: string[] } {
  const present = existsSync(microastFixtures);
  if (!present)
    console.warn(`${label} e2e skipped: ${microastFixtures} is absent (clone the project with shared/ beside it)`);
  const hits: string[] = [];
  let mirror: Server | undefined;
  beforeAll(async () => {
    if (!present) return;
    const files = new Map<string, Buffer>(
      MANIFEST.filter((e) => e.name.startsWith('microast-')).map((e) => {
        const file = new URL(e.url).pathname.split('/').at(-1)!;
        return [`/weights/${file}`, readFileSync(join(microastFixtures, file))] as const;
      }),
    );
    expect(files.size).toBe(4);
    mirror = createServer((req, res) => {
      hits.push(req.url ?? '');
      const body = files.get(req.url ?? '');
      if (!body) return res.writeHead(404).end();
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
      res.end(body);
    });
    await new Promise<void>((r) => mirror!.listen(0, '127.0.0.1', r));
    process.env.STYLEGRAPH_WEIGHTS_MIRROR = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/weights/`;
    process.env.STYLEGRAPH_CACHE = mkdtempSync(join(tmpdir(), `stylegraph-${label}-`));
  });
  afterAll(() => {
    mirror?.close();
  });
  return { present, hits };
}
