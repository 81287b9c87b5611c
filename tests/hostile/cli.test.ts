import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/models/weights/safetensors';
import { printable } from '../../src/cli/files';
import { runCli } from '../run-cli';

/**
 * The hostile-input corpus (issue 16), the command line: no lost work. Output paths are checked before the run
 * (within seconds, before the backend starts), a result that cannot be written is saved elsewhere, reserved ids are
 * refused, a checkpoint of another network is bad input (exit 2), and text from files is escaped.
 */
const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-hostile-'));
const rescueDir = join(tmp, 'rescue');
mkdirSync(rescueDir);
const env = { ...process.env, STYLEGRAPH_CACHE: join(tmp, 'cache'), TMPDIR: rescueDir };
const images = ['--content', 'presets/images/astronaut.jpg', '--style', 'presets/images/swirls.jpg'];

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

const cli = (...args: string[]): Promise<Ran> => runCli(args, { env });

const noStack = (r: Ran) => expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('hostile input: output paths are checked before the run starts', () => {
  it('refuses --out in a folder that does not exist, before starting the backend (it failed after the run)', async () => {
    const r = await cli(
      'run',
      'presets/gatys.json',
      '--size',
      '24',
      '--steps',
      '2',
      '--out',
      join(tmp, 'missing', 'x.png'),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the folder .*missing does not exist/);
    expect(r.stderr).not.toMatch(/backend wasm/);
    noStack(r);
  });

  it('refuses --out equal to the --content image and leaves the image as it was', async () => {
    const photo = join(tmp, 'photo.jpg');
    copyFileSync(join(root, 'presets/images/astronaut.jpg'), photo);
    const before = readFileSync(photo);
    const r = await cli(
      'run',
      'presets/gatys.json',
      '--size',
      '24',
      '--steps',
      '1',
      '--content',
      photo,
      '--out',
      photo,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/photo.jpg is an input of this run .*would overwrite it/);
    expect(readFileSync(photo).equals(before)).toBe(true);
  });

  it('refuses --out equal to the graph file', async () => {
    const graph = join(tmp, 'graph.json');
    copyFileSync(join(root, 'presets/gatys.json'), graph);
    const before = readFileSync(graph, 'utf8');
    const r = await cli('run', graph, ...images, '--size', '24', '--steps', '1', '--out', graph);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/graph.json is an input of this run/);
    expect(readFileSync(graph, 'utf8')).toBe(before);
  });

  it('refuses --out that is a folder, for a single run', async () => {
    const r = await cli('run', 'presets/gatys.json', '--size', '24', '--steps', '1', '--out', tmp);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a folder; give a file name for the result/);
  });

  it('refuses a batch whose --out folder is its --content folder when a result would replace a photo', async () => {
    const photos = join(tmp, 'photos');
    mkdirSync(photos);
    const png = new PNG({ width: 16, height: 16 });
    png.data.fill(128);
    writeFileSync(join(photos, 'a.png'), PNG.sync.write(png));
    const before = readFileSync(join(photos, 'a.png'));
    const r = await cli(
      'run',
      'presets/gatys.json',
      '--size',
      '16',
      '--steps',
      '1',
      '--content',
      photos,
      '--out',
      photos,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a.png is an input of this run/);
    expect(readFileSync(join(photos, 'a.png')).equals(before)).toBe(true);
  });

  it('saves the result to the temp folder and says where when the write fails after the run (exit 1, no stack trace)', async () => {
    const outDir = join(tmp, 'vanishing');
    mkdirSync(outDir);
    const r = await new Promise<Ran>((resolve) => {
      const child = spawn(
        'node',
        [
          'scripts/stylegraph.mjs',
          'run',
          'presets/gatys.json',
          '--size',
          '24',
          '--steps',
          '8',
          '--out',
          join(outDir, 'r.png'),
        ],
        { cwd: root, env },
      );
      let [stdout, stderr, swapped] = ['', '', false];
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
        // Once the run has started, the output folder becomes a file: the write at the end cannot succeed.
        if (!swapped && /backend /.test(stderr)) {
          swapped = true;
          rmSync(outDir, { recursive: true });
          writeFileSync(outDir, 'not a folder');
        }
      });
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
    expect(r.code).toBe(1);
    const m = /cannot write .*r\.png: .*; saved it to (\S+) instead/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const png = PNG.sync.read(readFileSync(m![1]!));
    expect([png.width, png.height]).toEqual([24, 24]);
    expect(m![1]!.startsWith(rescueDir)).toBe(true);
    noStack(r);
  });

  it('writes through a temporary name: no .tmp file is left beside the result', async () => {
    const outDir = join(tmp, 'atomic');
    mkdirSync(outDir);
    const r = await cli('run', 'presets/gatys.json', '--size', '16', '--steps', '1', '--out', join(outDir, 'o.png'));
    expect(r.code).toBe(0);
    expect(readdirSync(outDir)).toEqual(['o.png']);
  });
});

describe('hostile input: ids, checkpoints and terminal text', () => {
  it('refuses an output node with id "__proto__" (it exited 0 and wrote nothing)', async () => {
    const doc = readFileSync(join(root, 'presets/gatys.json'), 'utf8').replace(
      /"output"(?=[,\n\s}])/g,
      (m, offset: number, all: string) =>
        all.slice(Math.max(0, offset - 12), offset).includes('"type"') ? m : '"__proto__"',
    );
    expect(doc).toContain('"__proto__"');
    const graph = join(tmp, 'proto.json');
    writeFileSync(graph, doc);
    const out = join(tmp, 'proto.png');
    const r = await cli('run', graph, ...images, '--size', '16', '--steps', '1', '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"__proto__" is reserved and cannot be a node id/);
  });

  it('exits 2 for a checkpoint of another network, and escapes the control characters in its keys', async () => {
    const evil = '\u001b[2J\u001b[31mEVIL\u001b]0;title\u0007';
    const path = join(tmp, 'evil.safetensors');
    writeFileSync(path, writeSafetensors(new Map([[evil, { shape: [1], data: new Float32Array(1) }]])));
    const r = await cli('run', 'presets/adain.json', '--size', '32', '--weights', `adain-decoder=${path}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not fit the network');
    expect(r.stderr).toContain('\\x1b[2J\\x1b[31mEVIL\\x1b]0;title\\x07');
    expect(r.stderr).not.toContain('\u001b');
    expect(r.stderr).not.toContain('\u0007');
  });

  it('printable() keeps newlines and tabs and escapes every other control character', () => {
    expect(printable('a\tb\nc')).toBe('a\tb\nc');
    expect(printable('\u001b[1m\r\u0008\u009b\u202e')).toBe('\\x1b[1m\\x0d\\x08\\x9b\\u202e');
    expect(existsSync(root)).toBe(true);
  });
});
