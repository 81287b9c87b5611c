import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../nodes';
import { main, type Io } from '../src/cli/main';
import { documentAccess } from '../src/cli/node/node-session';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { parseDocument } from '../src/graph/document';
import { formatDiagnostic } from '../src/graph/diagnostics';
import { checkGraph } from '../src/compiler/check';
import type { RunReport } from '../src/runtime/report';
import { checkRequest, runSession, type SessionEvent } from '../src/runtime/session';
import type { FromWorker } from '../src/web/protocol';
import { runInWorker } from '../src/web/runner';
import { nodeWorkerDeps } from './small-run';

const root = new URL('..', import.meta.url).pathname;
const presets = join(root, 'presets');
const tmp = mkdtempSync(join(tmpdir(), 'stylegraph-session-'));
// A document reads only files in its own folder (docs/security.md): documents written here get the sample images beside them.
cpSync(join(presets, 'images'), join(tmp, 'images'), { recursive: true });
// A weight cache of its own: checkpoints cached on this machine would change what runs use.
process.env.STYLEGRAPH_CACHE = join(tmp, 'cache');

async function cli(...args: string[]): Promise<{ code: number; err: string }> {
  const lines: string[] = [];
  const io: Io = { out: () => {}, err: (l) => lines.push(l), isTTY: false, cwd: root };
  const code = await main(args, io);
  return { code, err: lines.join('\n') };
}
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

/** What must not depend on the host: everything but timings and where the files went. */
function comparable(r: RunReport & { image?: string; out?: string; graph?: string }) {
  // The thread count, like the timings, is the machine's and the host's (the editor's worker here starts no backend).
  const { msPerStep: _m, outputs: _o, label: _l, item: _i, image: _im, out: _out, graph: _g, threads: _t, ...rest } = r;
  return { ...rest, steps: r.steps.map(({ ms: _ms, ...s }) => s) };
}

/** The Gatys preset with its image paths made absolute, so it can be written anywhere. */
function gatysWith(metadata: Record<string, unknown> = {}) {
  const doc = readJson(join(presets, 'gatys.json'));
  doc.metadata = { ...doc.metadata, ...metadata };
  return doc;
}

describe('one run session for every host', () => {
  it('gives the same report for a CLI run, a sweep cell, a batch item and the editor worker with the same seed', async () => {
    const common = ['--size', '24', '--steps', '2', '--seed', '7', '--backend', 'wasm'];
    const single = await cli(
      'run',
      'presets/gatys.json',
      ...common,
      '--out',
      join(tmp, 'single.png'),
      '--report',
      join(tmp, 'single.json'),
    );
    expect(single.code, single.err).toBe(0);

    // A one-cell sweep whose setting is the graph's own value.
    const doc = gatysWith();
    const weight = doc.nodes.find((n: { id: string }) => n.id === 'content_loss').params.weight;
    const sweepDoc = join(tmp, 'sweep.json');
    writeFileSync(
      sweepDoc,
      JSON.stringify({
        ...doc,
        metadata: { ...doc.metadata, sweep: { columns: [{ label: 'same', set: { 'content_loss.weight': weight } }] } },
      }),
    );
    const sweep = await cli(
      'run',
      sweepDoc,
      ...common,
      '--out',
      join(tmp, 'sweep.png'),
      '--report',
      join(tmp, 'sweep-report.json'),
    );
    expect(sweep.code, sweep.err).toBe(0);

    // A batch of one: the same photo in a folder.
    const photos = join(tmp, 'photos');
    mkdirSync(photos, { recursive: true });
    const content = doc.nodes.find((n: { params: { slot?: string } }) => n.params.slot === 'content').params.source;
    copyFileSync(join(tmp, content), join(photos, 'photo.jpg'));
    const batch = await cli(
      'run',
      'presets/gatys.json',
      '--content',
      photos,
      ...common,
      '--out',
      join(tmp, 'batch'),
      '--report',
      join(tmp, 'batch.json'),
    );
    expect(batch.code, batch.err).toBe(0);

    // The editor's worker, given the document as the editor sends it (steps set in the graph, the seed alongside).
    const workerDoc = readJson(join(presets, 'gatys.json'));
    workerDoc.nodes.find((n: { id: string }) => n.id === 'optim').params.steps = 2;
    const posted: FromWorker[] = [];
    const access = documentAccess(join(presets, 'gatys.json'));
    await runInWorker(
      {
        type: 'run',
        id: 1,
        document: JSON.stringify(workerDoc),
        base: presets,
        uploads: {},
        request: { size: 24, seed: 7, probe: [], sweep: false },
      },
      nodeWorkerDeps(
        (s) => access.decode(s),
        (m) => posted.push(m),
      ),
      new AbortController().signal,
    );
    const done = posted.find((m) => m.type === 'done');
    expect(done?.type === 'done' && done.status, JSON.stringify(done?.type === 'done' && done.error)).toBe('done');

    const reference = comparable(readJson(join(tmp, 'single.json')));
    expect(reference.steps).toHaveLength(3);
    expect(reference.seed).toBe(7);
    expect(comparable(readJson(join(tmp, 'sweep-report.json')).cells[0])).toEqual(reference);
    expect(comparable(readJson(join(tmp, 'batch.json')).items[0])).toEqual(reference);
    expect(done?.type === 'done' && done.report && comparable(done.report)).toEqual(reference);
    // The seed matters: another seed starts from other noise.
    await cli(
      'run',
      'presets/gatys.json',
      ...common.slice(0, 4),
      '--seed',
      '8',
      '--backend',
      'wasm',
      '--out',
      join(tmp, 'seed8.png'),
      '--report',
      join(tmp, 'seed8.json'),
    );
    expect(readJson(join(tmp, 'seed8.json')).steps[0].loss).not.toBe(reference.steps[0]!.loss);
  });

  it('loads --weights for a sweep (lesson sheets use the given networks)', async () => {
    const doc = readJson(join(presets, 'adain.json'));
    doc.metadata.sweep = {
      columns: [
        { label: 'alpha=0.5', set: { 'adain.alpha': 0.5 } },
        { label: 'alpha=1', set: { 'adain.alpha': 1 } },
      ],
    };
    const path = join(tmp, 'adain-sweep.json');
    writeFileSync(path, JSON.stringify(doc));
    const report = join(tmp, 'adain-sweep-report.json');
    const r = await cli(
      'run',
      path,
      '--size',
      '32',
      '--out',
      join(tmp, 'adain-sheet.png'),
      '--report',
      report,
      '--weights',
      'vgg_normalised=tests/fixtures/vgg_normalised-tiny.pth',
      '--weights',
      'adain-decoder=tests/fixtures/decoder-tiny.pth',
    );
    expect(r.code, r.err).toBe(0);
    const cells: RunReport[] = readJson(report).cells;
    expect(cells.map((c) => c.label)).toEqual(['alpha=0.5', 'alpha=1']);
    for (const c of cells) {
      expect(c.weights.map((w) => w.weights)).toContain('Decoder: adain-decoder from tests/fixtures/decoder-tiny.pth');
      expect(c.weights.map((w) => w.weights)).toContain(
        'VGG19 normalised: vgg_normalised from tests/fixtures/vgg_normalised-tiny.pth',
      );
    }
  });

  it('emits scale, probe and run-done events, and refuses a request that mixes modes', async () => {
    expect(checkRequest({ size: 32, seed: 0, sweep: true, batch: ['a.jpg'] })).toEqual([
      'a run is one of: a sweep, a batch, or coarse to fine',
    ]);
    expect(checkRequest({ size: 32, seed: 0, scales: [0.5, 1], steps: [1, 2, 3] })).toEqual([
      'steps: 3 counts for 2 scales',
    ]);
    expect(checkRequest({ size: 4, seed: 0 })[0]).toMatch(/at least 8/);
    await startNodeBackend('wasm');
    const { model } = parseDocument(JSON.stringify(gatysWith()));
    const events: SessionEvent[] = [];
    const access = documentAccess(join(presets, 'gatys.json'));
    const result = await runSession(
      model!,
      builtinRegistry(),
      { size: 32, seed: 1, steps: [1, 1], scales: [0.5, 1], probe: ['enc_x.relu1_1'] },
      {
        tf,
        readImage: access.decode,
        onEvent: (e) => events.push(e),
      },
    );
    expect(result.status, result.error).toBe('done');
    expect(events.filter((e) => e.type === 'scale').map((e) => e.type === 'scale' && e.size)).toEqual([16, 32]);
    expect(events.some((e) => e.type === 'probe' && e.key === 'enc_x.relu1_1')).toBe(true);
    expect(events.filter((e) => e.type === 'run-done')).toHaveLength(1);
    expect(result.runs[0]!.scales!.map((s) => [s.size, s.steps])).toEqual([
      [16, 1],
      [32, 1],
    ]);
    // A graph that does not compile is invalid and says where: nothing runs.
    const broken = {
      ...model!,
      nodes: model!.nodes.filter((n) => n.type !== 'output'),
      edges: model!.edges.filter((e) => e.to.node !== 'output'),
    };
    const bad = await runSession(broken, builtinRegistry(), { size: 32, seed: 0 }, { tf, readImage: access.decode });
    expect(bad.status).toBe('invalid');
    expect(bad.diagnostics.find((d) => d.severity === 'error')?.code).toBe('no-output');
    expect(bad.runs).toEqual([]);
  });

  it('means one thing by valid: validate refuses what plan and run refuse, and lists what the editor lists', async () => {
    const oneNode = join(tmp, 'one-node.json');
    writeFileSync(
      oneNode,
      JSON.stringify({
        ...gatysWith(),
        nodes: [{ id: 'x', type: 'noise', position: { x: 0, y: 0 }, params: {} }],
        edges: [],
      }),
    );
    const validate = await cli('validate', oneNode);
    const plan = await cli('plan', oneNode);
    expect(plan.code).toBe(2);
    expect(validate.code).toBe(2);
    expect(validate.err).toMatch(/no output node/);
    const { model } = parseDocument(readFileSync(oneNode, 'utf8'));
    const listed = checkGraph(model!, builtinRegistry()).diagnostics.map((d) => `${oneNode}: ${formatDiagnostic(d)}`);
    expect(validate.err.split('\n').filter((l) => l.startsWith(oneNode))).toEqual(listed);
  });

  it('warns when a node asks for weights under a name nobody knows (it would run on random weights)', async () => {
    const doc = readJson(join(presets, 'adain.json'));
    doc.nodes.find((n: { id: string }) => n.id === 'decoder').params.weights = 'decoder';
    const path = join(tmp, 'typo.json');
    writeFileSync(path, JSON.stringify(doc));
    const r = await cli('validate', path);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(
      /warning: .*"decoder" asks for weights named "decoder", which the weights manifest does not know; load them with --weights decoder=PATH/,
    );
    expect((await cli('validate', 'presets/adain.json')).err).not.toMatch(/asks for weights/);
  });
});
