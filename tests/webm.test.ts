import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { webmDuration, withDuration } from '../src/codecs/webm';

/** A float64's 8 big-endian bytes, written out by hand for 2500 (0x40A3880000000000) and 2.5e6 (0x414312D000000000). */
const F2500 = [0x40, 0xa3, 0x88, 0, 0, 0, 0, 0];
const F2500000 = [0x41, 0x43, 0x12, 0xd0, 0, 0, 0, 0];

/** The EBML header of a WebM: DocType "webm", DocTypeVersion 2 (11 bytes of children). */
const EBML = [0x1a, 0x45, 0xdf, 0xa3, 0x8b, 0x42, 0x82, 0x84, 0x77, 0x65, 0x62, 0x6d, 0x42, 0x87, 0x81, 0x02];
/** A Cluster of unknown size, as MediaRecorder streams it: Timecode 0 and one SimpleBlock. */
const CLUSTER = [
  0x1f, 0x43, 0xb6, 0x75, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe7, 0x81, 0x00, 0xa3, 0x84, 0x81, 0x00,
  0x00, 0x80,
];
/** Info: TimecodeScale (3-byte value) and MuxingApp "x": 11 bytes of children. */
const info = (scale: number[]) => [
  0x15,
  0x49,
  0xa9,
  0x66,
  0x8b,
  0x2a,
  0xd7,
  0xb1,
  0x83,
  ...scale,
  0x4d,
  0x80,
  0x81,
  0x78,
];
const MS = [0x0f, 0x42, 0x40]; // 1,000,000 ns: milliseconds
const US = [0x00, 0x03, 0xe8]; // 1,000 ns: microseconds

describe('WebM duration (issue 28 item 6: a recording that players can measure)', () => {
  it('adds Duration to the Info of a streamed recording (unknown-size Segment), byte for byte', () => {
    const segment = [0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    const file = Uint8Array.from([...EBML, ...segment, ...info(MS), ...CLUSTER]);
    expect(webmDuration(file)).toBeNull();
    const out = withDuration(file, 2500);
    // Info's size goes from 11 to 22: its children and Duration (0x4489, size 8, the float64 2500).
    const infoOut = [0x15, 0x49, 0xa9, 0x66, 0x96, ...info(MS).slice(5), 0x44, 0x89, 0x88, ...F2500];
    expect([...out]).toEqual([...EBML, ...segment, ...infoOut, ...CLUSTER]);
    expect(webmDuration(out)).toBe(2500);
  });

  it('counts in the Info own timecode units, and grows a known Segment size by the bytes added', () => {
    const segment = (size: number) => [0x18, 0x53, 0x80, 0x67, 0x80 | size];
    const body = [...info(US), ...CLUSTER.slice(0, 4), 0x89, ...CLUSTER.slice(12)];
    const file = Uint8Array.from([...EBML, ...segment(body.length), ...body]);
    const out = withDuration(file, 2500);
    expect([...out]).toEqual([
      ...EBML,
      ...segment(body.length + 11),
      ...[0x15, 0x49, 0xa9, 0x66, 0x96, ...info(US).slice(5), 0x44, 0x89, 0x88, ...F2500000],
      ...body.slice(info(US).length),
    ]);
    expect(webmDuration(out)).toBe(2500);
  });

  it('sets a Duration that is there, and refuses what is not WebM', () => {
    const segment = [0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    const once = withDuration(Uint8Array.from([...EBML, ...segment, ...info(MS), ...CLUSTER]), 1000);
    const twice = withDuration(once, 2500);
    expect(twice.length).toBe(once.length);
    expect(webmDuration(twice)).toBe(2500);
    expect(() => withDuration(Uint8Array.from([0x89, 0x50, 0x4e, 0x47]), 1)).toThrow(/not a WebM/);
  });

  let ffmpeg = true;
  try {
    execFileSync('ffprobe', ['-version'], { stdio: 'ignore' });
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
  } catch {
    ffmpeg = false;
  }
  it.skipIf(!ffmpeg)(
    'a live WebM from ffmpeg (SeekHead, no Duration): ffprobe reads the duration added and every frame',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'stylegraph-webm-'));
      const live = join(dir, 'live.webm');
      execFileSync('ffmpeg', [
        '-v',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=32x32:rate=10',
        '-t',
        '2',
        '-c:v',
        'libvpx',
        '-f',
        'webm',
        '-live',
        '1',
        live,
      ]);
      const probe = (file: string, args: string[]) =>
        execFileSync('ffprobe', ['-v', 'error', ...args, '-of', 'default=nw=1:nk=1', file])
          .toString()
          .trim();
      expect(probe(live, ['-show_entries', 'format=duration'])).toBe('N/A');
      const fixed = join(dir, 'fixed.webm');
      writeFileSync(fixed, withDuration(new Uint8Array(readFileSync(live)), 2000));
      expect(Number(probe(fixed, ['-show_entries', 'format=duration']))).toBeCloseTo(2, 3);
      expect(probe(fixed, ['-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames'])).toBe(
        '20',
      );
    },
  );
});
