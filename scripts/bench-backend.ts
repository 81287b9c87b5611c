/**
 * `npm run bench -- --backend NAME [--sizes 128,256] [--steps N]`: per-step times of the Gatys preset on one backend
 * (webgpu, wasm, cpu), and L-BFGS with its state on the device (float32, scalars read back) against the float64 one
 * in JavaScript (the gradient read back at every evaluation), same run. On webgpu it names the adapter and says when
 * it is a software one (SwiftShader, llvmpipe): then the figures are functional only, and the default sizes tiny.
 * Called from scripts/bench.ts, which owns the other sections.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { builtinRegistry } from '../nodes';
import { loadDocumentImages } from '../src/cli/node/node-session';
import { startNodeBackend, tf } from '../src/cli/node/node-tf';
import { isSoftware, registerNodeWebgpu } from '../src/cli/node/node-webgpu';
import { parseDocument } from '../src/graph/document';
import type { BackendName } from '../src/runtime/backend';
import { execute, type StepRecord } from '../src/runtime/executor';
import { createModelCache } from '../src/runtime/models';
import { compileWithImages, makeServices } from '../src/runtime/sources';

const fmt = (ms: number) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

export async function benchBackend(backend: BackendName, argv: string[], say: (s?: string) => void): Promise<void> {
  const opt = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  let software = false;
  let device = backend as string;
  if (backend === 'webgpu') {
    const gpu = await registerNodeWebgpu(true);
    if ('reason' in gpu) {
      say(`webgpu cannot start here: ${gpu.reason}`);
      return;
    }
    software = isSoftware(gpu.adapter, {});
    device = `webgpu on ${gpu.adapter}${software ? ' (a software adapter: functional figures, not GPU speed)' : ''}`;
  }
  await startNodeBackend(backend);
  const sizes = (opt('--sizes') ?? (software || backend === 'cpu' ? '32,64' : '128,256')).split(',').map(Number);
  const steps = Number(opt('--steps') ?? (software ? 3 : 5));
  const registry = builtinRegistry();
  const path = fileURLToPath(new URL('../presets/gatys.json', import.meta.url));
  const base = parseDocument(readFileSync(path, 'utf8')).model!;
  const { images } = await loadDocumentImages(base, registry, path);

  const runGatys = async (size: number, params: Record<string, unknown>): Promise<StepRecord[]> => {
    const model = structuredClone(base);
    Object.assign(model.nodes.find((n) => n.id === 'optim')!.params, { steps, previewEvery: 0, ...params });
    const { plan } = compileWithImages(model, registry, images, size);
    const models = createModelCache();
    try {
      const r = await execute(plan!, registry, makeServices(tf, images, size, 0, models));
      if (r.status !== 'done') throw new Error(`${backend} ${size}: ${r.status} ${r.error ?? ''}`);
      return r.steps;
    } finally {
      models.dispose();
    }
  };

  say(`## ${device}: the Gatys preset, ${steps} steps a run (random VGG19 weights)`);
  say();
  say(
    `Step 0 (start-up, shader compilation) is left out of the means; ms per evaluation divides each L-BFGS step by the loss evaluations its line search took.`,
  );
  say();
  say(
    `| size | Adam: ms per step (steps 1..${steps}) | L-BFGS host (float64 in JS): ms per step / per evaluation | L-BFGS device (float32): ms per step / per evaluation | device / host, per evaluation | final loss device / host |`,
  );
  say(`|---|---|---|---|---|---|`);
  for (const size of sizes) {
    const adam = await runGatys(size, { method: 'adam' });
    const host = await runGatys(size, { method: 'lbfgs', lbfgsOn: 'host' });
    const dev = await runGatys(size, { method: 'lbfgs', lbfgsOn: 'device' });
    const perEval = (s: StepRecord[]) => mean(s.slice(1).map((r) => r.ms / Math.max(r.evaluations, 1)));
    const [h, d] = [perEval(host), perEval(dev)];
    const after = (s: StepRecord[]) => mean(s.slice(1).map((r) => r.ms));
    say(
      `| ${size} | ${adam
        .slice(1)
        .map((r) => fmt(r.ms))
        .join(
          ', ',
        )} (mean ${fmt(after(adam))}) | ${fmt(after(host))} / ${fmt(h)} | ${fmt(after(dev))} / ${fmt(d)} | ${(d / h).toFixed(2)}x | ${(dev.at(-1)!.loss / host.at(-1)!.loss).toFixed(4)} |`,
    );
  }
}
