/**
 * WebGPU in Node through Dawn's binding (the optional `webgpu` package, prebuilt inside it). It gives Node a
 * `navigator.gpu`, on which tfjs's webgpu backend runs. Optional at run time: where the package, a Vulkan loader or a
 * GPU driver is missing, the reason is returned and the CLI goes on with wasm.
 */

import { judgeAdapter } from '../../runtime/backend';

interface GpuAdapterLike {
  info?: { description?: string; vendor?: string; isFallbackAdapter?: boolean };
}
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}
interface WebgpuModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

type Found = { adapter: string; software: boolean } | { reason: string };
let registered: Promise<Found> | null = null;

/** Whether the kernel shows a GPU to render on. */
async function gpuDevices(): Promise<boolean> {
  const { readdir } = await import('node:fs/promises');
  const dri = await readdir('/dev/dri').catch(() => [] as string[]);
  const dev = await readdir('/dev').catch(() => [] as string[]);
  return dri.some((f) => f.startsWith('renderD')) || dev.some((f) => /^nvidia\d+$/.test(f));
}

/** Whether any Vulkan driver manifest (ICD) is installed where the loader looks. */
async function vulkanDrivers(): Promise<boolean> {
  const { readdir } = await import('node:fs/promises');
  const dirs = ['/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  for (const d of dirs) if ((await readdir(d).catch(() => [])).some((f) => f.endsWith('.json'))) return true;
  return false;
}

/**
 * A software adapter (SwiftShader, llvmpipe, lavapipe, a fallback adapter): correct but tens of times slower than
 * wasm. Judged as the page's auto does (judgeAdapter), from the adapter's name and info.
 */
export const isSoftware = (name: string, a: GpuAdapterLike) =>
  judgeAdapter('webgpu', {
    webgpu: {
      fallback: Boolean(a.info?.isFallbackAdapter),
      vendor: a.info?.vendor ?? '',
      architecture: '',
      device: '',
      description: `${name} ${a.info?.description ?? ''}`,
    },
  })?.kind === 'software';

/**
 * Makes tfjs's webgpu backend available in this process, once. `allowSoftware`: accept a software adapter (an
 * explicit `--backend webgpu`); otherwise only a real GPU counts, so `auto` never picks a slower backend than wasm.
 */
export async function registerNodeWebgpu(allowSoftware: boolean): Promise<{ adapter: string } | { reason: string }> {
  registered ??= (async (): Promise<Found> => {
    // On Linux, Dawn needs a GPU behind a Vulkan driver; without one it logs its failures on stderr, so look before
    // loading it. VK_ICD_FILENAMES names a driver on purpose (SwiftShader in the tests): then it is tried.
    if (process.platform === 'linux' && !process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES) {
      if (!(await vulkanDrivers()))
        return { reason: 'no WebGPU adapter: no Vulkan driver is installed (a GPU driver, or VK_ICD_FILENAMES)' };
      if (!(await gpuDevices()))
        return { reason: 'no WebGPU adapter: no GPU device (/dev/dri/renderD*, /dev/nvidia*)' };
    }
    // Vulkan's loader wants a private runtime folder; headless servers often have none (it then logs an error).
    if (process.platform === 'linux' && !process.env.XDG_RUNTIME_DIR) {
      const { mkdtemp } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      process.env.XDG_RUNTIME_DIR = await mkdtemp(join(tmpdir(), 'stylegraph-xdg-'));
    }
    let mod: WebgpuModule;
    try {
      mod = (await import('webgpu')) as unknown as WebgpuModule;
    } catch (e) {
      return { reason: `the optional "webgpu" package cannot load here (${(e as Error).message.split('\n')[0]})` };
    }
    const gpu = mod.create([]);
    const adapter = await gpu.requestAdapter().catch(() => null);
    if (!adapter)
      return {
        reason:
          'no WebGPU adapter: no GPU driver found (Vulkan on Linux; libvulkan1 and a driver, or VK_ICD_FILENAMES)',
      };
    Object.assign(globalThis, mod.globals);
    const nav = ((globalThis as { navigator?: object }).navigator ??= {});
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
    await import('@tensorflow/tfjs-backend-webgpu');
    const name = adapter.info?.description || adapter.info?.vendor || 'a WebGPU adapter';
    return { adapter: name, software: isSoftware(name, adapter) };
  })();
  const r = await registered;
  if ('reason' in r) return r;
  return r.software && !allowSoftware
    ? { reason: `only a software adapter (${r.adapter}), slower than wasm; --backend webgpu runs on it anyway` }
    : { adapter: r.adapter };
}
