import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeGreyPng } from '../src/codecs/png';
import { ownCache, runCli } from './run-cli';

/** `stylegraph run --mask NAME=IMG`: a painted region's picture given on the command line (issue 26). */
const root = new URL('..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-mask-'));
cpSync(join(root, 'presets/images'), join(tmp, 'images'), { recursive: true });

const cli = (...args: string[]) => runCli(args, { env: ownCache(tmp) });

interface Doc {
  nodes: { id: string; type: string; position: { x: number; y: number }; params: Record<string, unknown> }[];
  edges: { from: { node: string; output: string }; to: { node: string; input: string } }[];
}

/** Gatys with two painted regions: sky (relu1_1's style goes there) and ground (relu2_1's style goes there). */
function regionsDoc(names = ['sky', 'ground']): string {
  const doc = JSON.parse(readFileSync(join(root, 'presets/gatys.json'), 'utf8')) as Doc;
  for (const [i, name] of names.entries()) {
    doc.nodes.push({ id: `region${i}`, type: 'mask', position: { x: 0, y: 0 }, params: { name } });
    doc.edges.push({
      from: { node: `region${i}`, output: 'mask' },
      to: { node: i === 0 ? 'style_relu1_1' : 'style_relu2_1', input: 'mask' },
    });
  }
  const path = join(tmp, `regions-${names.join('-')}.json`);
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

/** A grey PNG file: `width` x `height`, the top `rows` rows white, the rest black. */
function maskFile(name: string, width: number, height: number, rows: number): string {
  const grey = new Uint8Array(width * height).fill(255, 0, rows * width);
  const path = join(tmp, name);
  writeFileSync(path, encodeGreyPng(width, height, grey));
  return path;
}

const base = ['--size', '32', '--steps', '2', '--backend', 'wasm'];

describe('stylegraph run --mask', () => {
  it('gives the named region its picture: the masked term changes, the other does not', async () => {
    const doc = regionsDoc();
    const sky = maskFile('sky.png', 32, 32, 12);
    const run = async (...more: string[]) => {
      const report = join(tmp, `r${more.length}.json`);
      const r = await cli('run', doc, ...base, '--out', join(tmp, 'o.png'), '--report', report, ...more);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(readFileSync(report, 'utf8')) as { steps: { terms: Record<string, number> }[] };
    };
    // Without --mask the regions are the whole picture (the unmasked loss); with it, sky is the top 12 rows.
    const whole = await run();
    const masked = await run('--mask', `sky=${sky}`);
    const [w, m] = [whole.steps[0]!.terms, masked.steps[0]!.terms];
    expect(Math.abs(m.style_relu1_1! - w.style_relu1_1!) / w.style_relu1_1!).toBeGreaterThan(1e-3);
    expect(m.style_relu2_1).toBeCloseTo(w.style_relu2_1!, 10);
    expect(m.content_loss).toBeCloseTo(w.content_loss!, 10);
  }, 120_000);

  it('shows the mask at its own aspect in the plan', async () => {
    const wide = maskFile('wide.png', 40, 20, 5);
    const r = await cli('plan', regionsDoc(), '--size', '32', '--mask', `ground=${wide}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/region1 \(mask\)\s+mask 1x16x32x1/);
    expect(r.stdout).toMatch(/region0 \(mask\)\s+mask 1x32x32x1/);
    // The photo is square: the 2:1 painting is stretched onto it, and the plan says so (the square one is not named).
    expect(r.stdout).toMatch(
      /note: painted region "ground" \(region1\) is 40x20 px, the content photo \(content\) \d+x\d+: the run stretches/,
    );
    expect(r.stdout).not.toMatch(/region "sky"/);
  }, 60_000);

  it('names the regions there are for an unknown name, and refuses a malformed flag', async () => {
    const sky = maskFile('sky2.png', 8, 8, 4);
    const r = await cli('plan', regionsDoc(), '--size', '32', '--mask', `sea=${sky}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no painted region named sea \(regions: sky, ground\)/);
    const none = await cli('plan', 'presets/gatys.json', '--size', '32', '--mask', `sky=${sky}`);
    expect(none.stderr).toMatch(/no painted region named sky \(the graph has no painted regions\)/);
    const bad = await cli('plan', regionsDoc(), '--size', '32', '--mask', sky);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--mask .*expected NAME=IMG/);
  }, 60_000);

  it('refuses two regions with one name at validation', async () => {
    const r = await cli('validate', regionsDoc(['sky', 'sky']));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/painted regions "region0", "region1" are all named "sky"/);
  }, 60_000);
});
