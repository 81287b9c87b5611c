import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The hostile-input corpus (issue 29, item 5), video: each case runs `stylegraph run` in a process group of its own,
 * killed (with every ffmpeg it started) when it passes its time, and asserts how long it took. Hostile files are made
 * here: playlists and lists that name other files and addresses (under innocent names), a GIF whose 4.6 KB declare a
 * 16000 x 16000 screen, a clip cut short, a FIFO; then the time limits (a decoder and an ffprobe that never answer)
 * and Ctrl+C, which keeps the frames finished.
 */

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
if (!hasFfmpeg && process.env.CI) throw new Error('ffmpeg is missing: .ci/run installs it (apt-get install ffmpeg)');

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-hostile-video-'));
const doc = join(tmp, 'doc'); // where the hostile clips lie
const secret = join(tmp, 'secret'); // a folder they must not reach
const weights = [
  '--weights',
  'vgg_normalised=tests/fixtures/vgg_normalised-tiny.pth',
  '--weights',
  'adain-decoder=tests/fixtures/decoder-tiny.pth',
];
const baseEnv = { ...process.env, STYLEGRAPH_CACHE: join(tmp, 'cache'), TMPDIR: tmp };

interface Ran {
  code: number | null;
  signal: string | null;
  stderr: string;
  ms: number;
  killed: boolean;
}

/**
 * `stylegraph run presets/adain.json --content CLIP --out OUT` at 32 px in its own process group; the group is killed
 * after `limitMs` (so a hanging ffprobe of today's code goes too). `onLine` sees stderr as it comes.
 */
function run(
  content: string,
  out: string,
  o: {
    limitMs?: number;
    env?: Record<string, string>;
    extra?: string[];
    onLine?: (text: string, pid: number) => void;
  } = {},
): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn(
      process.execPath,
      [
        'scripts/stylegraph.mjs',
        'run',
        'presets/adain.json',
        '--content',
        content,
        '--out',
        out,
        '--size',
        '32',
        '--backend',
        'wasm',
        ...weights,
        ...(o.extra ?? []),
      ],
      {
        cwd: root,
        env: { ...baseEnv, ...o.env },
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    let killed = false;
    p.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      o.onLine?.(stderr, p.pid!);
    });
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        p.kill('SIGKILL');
      }
    }, o.limitMs ?? 60_000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, ms: performance.now() - t0, killed });
    });
  });
}

const ffmpeg = (...args: string[]) => execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
/** Frames counted by decoding. */
const countFrames = (file: string) =>
  Number(
    execFileSync(
      'ffprobe',
      [
        '-v',
        'error',
        '-count_frames',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=nb_read_frames',
        '-of',
        'csv=p=0',
        file,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .toString()
      .trim(),
  );
const noStack = (r: Ran) => expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);

/** A GIF of `frames` 1x1 frames on a `w` x `h` logical screen, written byte by byte (GIF89a, a 2-colour table). */
function gif(w: number, h: number, frames: number): Buffer {
  const parts: Buffer[] = [Buffer.from('GIF89a', 'latin1')];
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(w, 0);
  screen.writeUInt16LE(h, 2);
  screen[4] = 0x80; // a global colour table of 2 entries
  parts.push(screen, Buffer.from([0, 0, 0, 255, 255, 255]));
  for (let i = 0; i < frames; i++) {
    parts.push(Buffer.from([0x21, 0xf9, 0x04, 0x00, 10, 0, 0, 0])); // graphic control: 1/10 s
    const d = Buffer.alloc(10);
    d[0] = 0x2c;
    d.writeUInt16LE(i % w, 1);
    d.writeUInt16LE(1, 5);
    d.writeUInt16LE(1, 7);
    parts.push(d);
    // LZW, minimum code size 2: clear (4), index 0, end (5), 3 bits each, least significant bit first.
    parts.push(Buffer.from([0x02, 0x02, 0x44, 0x01, 0x00]));
  }
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

let server: Server;
let port = 0;
const requests: string[] = [];
const hls = (...segments: string[]) =>
  ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', ...segments.flatMap((s) => ['#EXTINF:1.0,', s])].join(
    '\n',
  ) + '\n';

beforeAll(async () => {
  if (!hasFfmpeg) return;
  mkdirSync(doc);
  mkdirSync(secret);
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.end('not for you');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
  // A clip outside the document's folder, whose frames must not be read, and segments inside it.
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=64x48:rate=8:duration=1',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    join(secret, 'outside.mp4'),
  );
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=64x48:rate=8:duration=1',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    '-f',
    'mpegts',
    join(doc, 'seg0.ts'),
  );
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=64x48:rate=8:duration=1',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    join(doc, 'inside.mp4'),
  );
  // A live HLS playlist (no #EXT-X-ENDLIST) named like a clip: ffprobe reloads it for ever.
  writeFileSync(join(doc, 'live.mp4'), '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n');
  // Playlists that name another local video, by a path out of the folder, an absolute path and a file:// URL.
  writeFileSync(join(doc, 'relative.mp4'), hls('../secret/outside.mp4') + '#EXT-X-ENDLIST\n');
  writeFileSync(join(doc, 'absolute.mp4'), hls(join(secret, 'outside.mp4')) + '#EXT-X-ENDLIST\n');
  writeFileSync(join(doc, 'fileurl.mkv'), hls(`file://${join(secret, 'outside.mp4')}`) + '#EXT-X-ENDLIST\n');
  writeFileSync(join(doc, 'remote.webm'), hls(`http://127.0.0.1:${port}/seg.ts`) + '#EXT-X-ENDLIST\n');
  // A playlist whose second segment ffmpeg cannot open (it skips it): 16 frames announced, 8 there.
  writeFileSync(join(doc, 'segments.m3u8'), hls('seg0.ts', 'gone.ts') + '#EXT-X-ENDLIST\n');
  // ffconcat lists: one naming a file beside it (a "safe" name, read today), one naming a file elsewhere, one a URL.
  writeFileSync(join(doc, 'concat.mp4'), 'ffconcat version 1.0\nfile inside.mp4\nfile inside.mp4\n');
  writeFileSync(join(doc, 'concat-out.mov'), `ffconcat version 1.0\nfile '${join(secret, 'outside.mp4')}'\n`);
  writeFileSync(join(doc, 'concat-url.avi'), `ffconcat version 1.0\nfile 'http://127.0.0.1:${port}/x.mp4'\n`);
  // 4.6 KB that declare a 16000 x 16000 screen: 200 frames of 256 MP each to decode.
  writeFileSync(join(doc, 'screen.gif'), gif(16000, 16000, 200));
  // A clip cut short: the header announces 16 frames, the data holds fewer.
  const whole = join(tmp, 'whole.mp4');
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=64x48:rate=8:duration=2,noise=alls=40:allf=t',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    '-g',
    '1',
    '-movflags',
    '+faststart',
    whole,
  );
  const bytes = readFileSync(whole);
  writeFileSync(join(doc, 'cut.mp4'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  execFileSync('mkfifo', [join(doc, 'fifo.mp4')]);
  // Programs that never answer, for the time limits: a decoder that sends no frame, an ffprobe that says nothing.
  const stall = join(tmp, 'stall');
  const deaf = join(tmp, 'deaf');
  mkdirSync(stall);
  mkdirSync(deaf);
  const real = (name: string) =>
    execFileSync('sh', ['-c', `command -v ${name}`])
      .toString()
      .trim();
  const script = (path: string, body: string) => (writeFileSync(path, `#!/bin/sh\n${body}\n`), chmodSync(path, 0o755));
  script(
    join(stall, 'ffmpeg'),
    `for a in "$@"; do [ "$a" = pipe:1 ] && exec sleep 600; done\nexec ${real('ffmpeg')} "$@"`,
  );
  script(join(stall, 'ffprobe'), `exec ${real('ffprobe')} "$@"`);
  script(join(deaf, 'ffmpeg'), `exec ${real('ffmpeg')} "$@"`);
  script(join(deaf, 'ffprobe'), 'exec sleep 600');
  // A minute at 8 frames/s, for Ctrl+C.
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=64x48:rate=8:duration=60',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:duration=60',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-shortest',
    join(tmp, 'long.mp4'),
  );
}, 120_000);

afterAll(() => server?.close());

/** A refusal: exit 2 within `ms`, the message, no result, no stack, nothing fetched. */
async function refused(name: string, pattern: RegExp, ms = 30_000, extra: string[] = []) {
  const out = join(tmp, `${name.replace(/\W/g, '_')}.mp4`);
  const r = await run(join(doc, name), out, { limitMs: 60_000, extra });
  expect(r.killed, `${name} was still running after 60 s: ${r.stderr.slice(-500)}`).toBe(false);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(pattern);
  expect(r.ms).toBeLessThan(ms);
  expect(existsSync(out)).toBe(false);
  noStack(r);
  return r;
}

describe.skipIf(!hasFfmpeg)('hostile video: playlists and lists are refused, whatever they are called', () => {
  it('refuses a live HLS playlist named clip.mp4 at once (it hung in ffprobe for ever, printing nothing)', async () => {
    await refused('live.mp4', /live\.mp4: not read: it is an HLS playlist \(m3u8\), which can name other files/);
  }, 90_000);

  it('refuses playlists naming a video outside the folder (a relative path, an absolute one, a file:// URL) and an http:// segment, fetching nothing', async () => {
    await refused('relative.mp4', /not read: it is an HLS playlist/);
    await refused('absolute.mp4', /not read: it is an HLS playlist/);
    await refused('fileurl.mkv', /not read: it is an HLS playlist/);
    await refused('remote.webm', /not read: it is an HLS playlist/);
    expect(requests).toEqual([]);
  }, 240_000);

  it('refuses a playlist with a segment ffmpeg skips (it announced 16 frames, wrote 8 and exited 0 without a word)', async () => {
    await refused('segments.m3u8', /segments\.m3u8: not read: it is an HLS playlist/);
  }, 90_000);

  it('refuses ffconcat lists, one naming a file beside it (read today), one a file elsewhere, one a URL', async () => {
    await refused('concat.mp4', /concat\.mp4: not read: it is an ffconcat list/);
    await refused('concat-out.mov', /not read: it is an ffconcat list/);
    await refused('concat-url.avi', /not read: it is an ffconcat list/);
    expect(requests).toEqual([]);
  }, 200_000);

  it('reads only local regular files: a FIFO named clip.mp4 (ffprobe waited for a writer for ever), a device, an address', async () => {
    await refused('fifo.mp4', /fifo\.mp4 is a FIFO \(named pipe\), not a video file/);
    const dev = await run('/dev/zero', join(tmp, 'dev.mp4'), { limitMs: 60_000 });
    expect(dev.code, dev.stderr).toBe(2);
    expect(dev.stderr).toMatch(/\/dev\/zero is a device, not a video file/);
    const url = await run(`http://127.0.0.1:${port}/clip.mp4`, join(tmp, 'url.mp4'), { limitMs: 60_000 });
    expect(url.code, url.stderr).toBe(2);
    expect(url.stderr).toMatch(/a video is read from a local file, not an address/);
    expect(requests).toEqual([]);
  }, 200_000);
});

describe.skipIf(!hasFfmpeg)('hostile video: sizes, short reads and time limits', () => {
  it('refuses a 4.6 KB GIF whose screen is 16000 x 16000 from its header, before decoding a frame (it took 14 s a frame)', async () => {
    expect(readFileSync(join(doc, 'screen.gif')).length).toBeLessThan(6000);
    await refused(
      'screen.gif',
      /screen\.gif: its frames are 16000 x 16000 px \(256\.0 MP\); the limit is 40 MP, as for images/,
    );
  }, 90_000);

  it('warns with both counts when a clip gives fewer frames than it announces (it exited 0 without a word)', async () => {
    const cut = join(doc, 'cut.mp4');
    const announced = Number(
      execFileSync('ffprobe', [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=nb_frames',
        '-of',
        'csv=p=0',
        cut,
      ])
        .toString()
        .trim(),
    );
    const there = countFrames(cut);
    expect(announced).toBe(16);
    expect(there).toBeGreaterThan(0);
    expect(there).toBeLessThan(announced);
    const out = join(tmp, 'cut-styled.mp4');
    const r = await run(cut, out, { limitMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(
        `warning: .*cut\\.mp4 gave ${there} of the 16 frames it announces \\(it is cut short or damaged; ffmpeg said: .*partial file\\); .*cut-styled\\.mp4 has ${there} frames`,
      ),
    );
    expect(countFrames(out)).toBe(there);
    expect(r.ms).toBeLessThan(60_000);
  }, 150_000);

  it('stops a decoder that sends no frame within the stall limit, and an ffprobe that does not answer within the probe limit', async () => {
    const clip = join(doc, 'inside.mp4');
    const s = await run(clip, join(tmp, 'stalled.mp4'), {
      limitMs: 90_000,
      env: { STYLEGRAPH_VIDEO_STALL_SECONDS: '2' },
      extra: ['--ffmpeg', join(tmp, 'stall', 'ffmpeg')],
    });
    expect(s.killed, s.stderr).toBe(false);
    expect(s.code, s.stderr).toBe(1);
    expect(s.stderr).toMatch(/ffmpeg gave no frame of .*inside\.mp4 for 2 s \(after 0 frames\) and was stopped/);
    expect(s.ms).toBeLessThan(45_000);
    expect(existsSync(join(tmp, 'stalled.mp4'))).toBe(false);
    const p = await run(clip, join(tmp, 'deaf.mp4'), {
      limitMs: 90_000,
      env: { STYLEGRAPH_VIDEO_PROBE_SECONDS: '2' },
      extra: ['--ffmpeg', join(tmp, 'deaf', 'ffmpeg')],
    });
    expect(p.killed, p.stderr).toBe(false);
    expect(p.code, p.stderr).toBe(2);
    expect(p.stderr).toMatch(/cannot read the video .*inside\.mp4: ffprobe gave no answer within 2 s and was stopped/);
    expect(p.ms).toBeLessThan(30_000);
    noStack(p);
  }, 200_000);
});

describe.skipIf(!hasFfmpeg)('hostile video: Ctrl+C keeps the frames finished', () => {
  it('exits 130 and keeps a playable NAME.partial.mp4 with the frames encoded (every one was discarded)', async () => {
    const out = join(tmp, 'styled.mp4');
    let sent = false;
    const r = await run(join(tmp, 'long.mp4'), out, {
      limitMs: 180_000,
      onLine: (text, pid) => {
        // The progress says frame 1, then every 48 frames: stop after the 49th.
        if (!sent && /frame 49\/480/.test(text)) {
          sent = true;
          process.kill(pid, 'SIGINT');
        }
      },
    });
    expect(sent, r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/stylegraph: stopped/);
    const kept = /kept the (\d+) frames finished in (\S+)/.exec(r.stderr);
    expect(kept, r.stderr).not.toBeNull();
    const partial = join(tmp, 'styled.partial.mp4');
    expect(kept![2]).toBe(partial);
    expect(existsSync(out)).toBe(false);
    // Playable, whole frames: ffprobe decodes as many as were said, at least the 49 seen, fewer than the clip's 480.
    const frames = countFrames(partial);
    expect(frames).toBe(Number(kept![1]));
    expect(frames).toBeGreaterThanOrEqual(49);
    expect(frames).toBeLessThan(480);
    // No temporary file is left beside it.
    expect(readdirSync(tmp).filter((n) => n.startsWith('.styled'))).toEqual([]);
    expect(r.ms).toBeLessThan(150_000);
  }, 200_000);
});
