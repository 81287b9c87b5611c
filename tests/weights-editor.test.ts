// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import { nextTick } from 'vue';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import OutputPanel from '../src/editor/OutputPanel.vue';
import WeightsPanel from '../src/editor/WeightsPanel.vue';
import { randomNetworks } from '../src/editor/random-weights';
import { useGraphStore } from '../src/editor/stores/graph';
import { useRunStore } from '../src/editor/stores/run';
import { useShareStore } from '../src/editor/stores/share';
import { closestName, useWeightsStore } from '../src/editor/stores/weights';
import type { CachedWeights, FetchProgress } from '../src/web/weights';
import { loadPreset } from './helpers';

/** The browser's weight cache and downloads, in memory: what the editor does with them is under test here. */
const idb = vi.hoisted(() => ({
  cached: [] as Omit<CachedWeights, 'bytes'>[],
  stored: [] as { name: string; source: string; size: number }[],
  uploads: new Map<string, ArrayBuffer>(),
  fetch: null as
    | null
    | ((
        name: string,
        opts: { signal?: AbortSignal; onProgress?: (p: FetchProgress) => void; mirror?: string | null },
      ) => Promise<{ bytes: ArrayBuffer; source: string }>),
  shared: [] as { kind: string; embed: boolean }[],
  server: null as null | { stylegraph: 'weights'; mirror: string | null; names: string[] },
  lastBytes: null as ArrayBuffer | null,
}));

vi.mock('../src/web/weights', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/web/weights')>();
  return {
    ...real,
    listWeights: async () => idb.cached,
    weightsServer: async () => idb.server,
    clearWeights: async () => void (idb.cached = []),
    storeWeights: async (name: string, source: string, bytes: ArrayBuffer) => {
      if (source.includes('bad')) throw new Error('refused: not a checkpoint');
      idb.stored.push({ name, source, size: bytes.byteLength });
      idb.lastBytes = bytes;
      idb.cached = [
        ...idb.cached.filter((c) => c.name !== name),
        { name, source, size: bytes.byteLength, sha256: 'ab'.repeat(32), added: '' },
      ];
      return { name, source, tensors: new Map() };
    },
    fetchCheckpoint: (
      entry: { name: string },
      opts: { signal?: AbortSignal; onProgress?: (p: FetchProgress) => void; mirror?: string | null },
    ) => idb.fetch!(entry.name, opts),
  };
});
vi.mock('../src/web/uploads', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/web/uploads')>();
  return { ...real, getUpload: async (source: string) => idb.uploads.get(source) };
});
vi.mock('../src/editor/files', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/editor/files')>();
  return {
    ...real,
    shareLink: async (_g: unknown, embed = false) => void idb.shared.push({ kind: 'link', embed }),
    exportPng: async (_g: unknown, _i: unknown, embed = false) => void idb.shared.push({ kind: 'png', embed }),
  };
});

let pinia: Pinia;
beforeEach(() => {
  localStorage.clear();
  pinia = createPinia();
  setActivePinia(pinia);
  idb.cached = [];
  idb.stored = [];
  idb.uploads.clear();
  idb.shared = [];
  idb.fetch = null;
  idb.server = null;
});

const withAdain = () => {
  const g = useGraphStore();
  g.load(loadPreset('adain.json'), 'adain.json');
  return g;
};
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
  await nextTick();
};
const row = (w: ReturnType<typeof mount>, name: string) => w.get(`[data-weights="${name}"]`);

describe('the weights panel', () => {
  it('lists the networks the open graph needs with size, licence, source and state, and a Get for each missing one', async () => {
    withAdain();
    const w = mount(WeightsPanel, { global: { plugins: [pinia] } });
    await flush();
    const rows = w.findAll('[data-test=weights-needed] > li');
    expect(rows.map((r) => r.attributes('data-weights'))).toEqual(['vgg_normalised', 'adain-decoder']);
    expect(row(w, 'vgg_normalised').text()).toMatch(
      /vgg19 normalised · 76\.4 MiB · MIT \(pytorch-AdaIN\) · github\.com/,
    );
    expect(row(w, 'vgg_normalised').text()).toContain('used by enc_content, enc_style');
    expect(row(w, 'adain-decoder').get('[data-test=weights-state]').text()).toBe('random');
    expect(w.findAll('[data-test=weights-get]')).toHaveLength(2);
    expect(w.get('[data-test=weights-summary]').text()).toBe('2 of 2 on random weights');
    expect(w.get('[data-test=weights-via]').text()).toMatch(/No editor server: Get downloads directly/);
  });

  it("says when Get goes through the editor's server and shows its mirror", async () => {
    withAdain();
    idb.server = { stylegraph: 'weights', mirror: 'http://class.example/w/', names: [] };
    const w = mount(WeightsPanel, { global: { plugins: [pinia] } });
    await flush();
    expect(w.get('[data-test=weights-via]').text()).toBe(
      "Get goes through the editor's server (mirror http://class.example/w/).",
    );
    expect(w.get('[data-test=weights-mirror]').attributes('placeholder')).toBe('http://class.example/w/');
  });

  it('gets one network with progress, then shows it cached; the other stays random', async () => {
    withAdain();
    let finish!: () => void;
    idb.fetch = (name, opts) =>
      new Promise((resolve) => {
        opts.onProgress?.({ phase: 'page', received: 2 ** 20, total: 4 * 2 ** 20 });
        finish = () => resolve({ bytes: new ArrayBuffer(16), source: `http://mirror.test/${name}.pth` });
      });
    const w = mount(WeightsPanel, { global: { plugins: [pinia] } });
    await flush();
    await row(w, 'adain-decoder').get('[data-test=weights-get]').trigger('click');
    await flush();
    expect(row(w, 'adain-decoder').get('[data-test=weights-state]').text()).toBe('1.0 MiB of 4.0 MiB');
    expect(row(w, 'adain-decoder').find('[data-test=weights-cancel]').exists()).toBe(true);
    expect(row(w, 'adain-decoder').find('progress').attributes('value')).toBe('0.25');
    finish();
    await flush();
    expect(idb.stored).toEqual([{ name: 'adain-decoder', source: 'http://mirror.test/adain-decoder.pth', size: 16 }]);
    expect(row(w, 'adain-decoder').get('[data-test=weights-state]').text()).toBe('cached');
    expect(row(w, 'adain-decoder').text()).toContain('from http://mirror.test/adain-decoder.pth');
    expect(row(w, 'vgg_normalised').get('[data-test=weights-state]').text()).toBe('random');
    expect(w.findAll('[data-test=weights-get]')).toHaveLength(1);
  });

  it('cancels a download: the network is random again and nothing is stored', async () => {
    withAdain();
    idb.fetch = (_name, opts) =>
      new Promise((_resolve, reject) =>
        opts.signal?.addEventListener('abort', () =>
          reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
        ),
      );
    const w = mount(WeightsPanel, { global: { plugins: [pinia] } });
    await flush();
    await row(w, 'vgg_normalised').get('[data-test=weights-get]').trigger('click');
    await flush();
    expect(row(w, 'vgg_normalised').classes()).toContain('loading');
    await row(w, 'vgg_normalised').get('[data-test=weights-cancel]').trigger('click');
    await flush();
    expect(row(w, 'vgg_normalised').get('[data-test=weights-state]').text()).toBe('random');
    expect(row(w, 'vgg_normalised').find('[data-test=weights-failure]').exists()).toBe(false);
    expect(idb.stored).toEqual([]);
  });

  it('explains a download the browser refused (no CORS, no server) and offers the file picker', async () => {
    withAdain();
    const { DirectDownloadError } = await import('../src/web/weights');
    idb.fetch = async () => {
      throw new DirectDownloadError('https://github.com/x/decoder.pth', 'Failed to fetch');
    };
    const w = mount(WeightsPanel, { global: { plugins: [pinia] } });
    await flush();
    await row(w, 'adain-decoder').get('[data-test=weights-get]').trigger('click');
    await flush();
    const failure = row(w, 'adain-decoder').get('[data-test=weights-failure]');
    expect(failure.text()).toMatch(
      /could not download https:\/\/github.com\/x\/decoder.pth .*no CORS header.*npm start/,
    );
    expect(failure.find('button').text()).toBe('Pick the file…');
  });

  it('passes the mirror setting (from ?weightsMirror= or the field) to the download', async () => {
    withAdain();
    const mirrors: (string | null | undefined)[] = [];
    idb.fetch = async (name, opts) => {
      mirrors.push(opts.mirror);
      return { bytes: new ArrayBuffer(4), source: name };
    };
    const weights = useWeightsStore();
    weights.mirror = 'http://class.example/weights/';
    await weights.get('adain-decoder');
    expect(mirrors).toEqual(['http://class.example/weights/']);
    await nextTick();
    expect(localStorage.getItem('stylegraph.weights-mirror')).toBe('http://class.example/weights/');
  });
});

describe('the real small networks in the panel (issue 24)', () => {
  it("lists MicroAST's four checkpoints and the fast style network with their sizes and licences, each with a Get", async () => {
    const g = useGraphStore();
    g.load(loadPreset('microast.json'), 'microast.json');
    const w = mount(WeightsPanel, { global: { plugins: [pinia] } });
    await flush();
    const names = w.findAll('[data-test=weights-needed] > li').map((r) => r.attributes('data-weights'));
    expect(names.sort()).toEqual([
      'microast-content-encoder',
      'microast-decoder',
      'microast-modulator',
      'microast-style-encoder',
    ]);
    expect(row(w, 'microast-modulator').text()).toMatch(
      /microast-modulator · 0\.01 MiB · MIT \(EndyWon\/MicroAST\) · raw\.githubusercontent\.com/,
    );
    expect(row(w, 'microast-decoder').text()).toMatch(/microast-decoder · 0\.59 MiB · MIT/);
    expect(w.findAll('[data-test=weights-get]')).toHaveLength(4);
    g.load(loadPreset('fast-style.json'), 'fast-style.json');
    await flush();
    expect(row(w, 'fast-style-wave').text()).toMatch(/fast-style · 6\.4\d? MiB · MIT \(ml5js\/ml5-data-and-models\)/);
    let asked = '';
    idb.fetch = async (name) => (
      (asked = name),
      { bytes: new ArrayBuffer(8), source: 'http://mirror.test/models/style-transfer/wave/ (49 files)' }
    );
    await row(w, 'fast-style-wave').get('[data-test=weights-get]').trigger('click');
    await flush();
    expect(asked).toBe('fast-style-wave');
    expect(idb.stored).toEqual([
      { name: 'fast-style-wave', source: 'http://mirror.test/models/style-transfer/wave/ (49 files)', size: 8 },
    ]);
  });
});

describe('dropped checkpoint files', () => {
  const file = (name: string) => new File([new Uint8Array(8)], name);

  it("takes a file named as in the manifest for that network, and a node's name when dropped on it", async () => {
    withAdain();
    const weights = useWeightsStore();
    await weights.drop([file('decoder.pth')]);
    expect(idb.stored.map((s) => s.name)).toEqual(['adain-decoder']);
    await weights.drop([file('my-encoder.pth')], 'vgg_normalised');
    expect(idb.stored.map((s) => s.name)).toEqual(['adain-decoder', 'vgg_normalised']);
  });

  it('takes the four dropped MicroAST four dropped .pth.tar files, each for the network its manifest file name names', async () => {
    useGraphStore().load(loadPreset('microast.json'), 'microast.json');
    const weights = useWeightsStore();
    await weights.drop(
      ['content_encoder', 'style_encoder', 'modulator', 'decoder'].map((p) => file(`${p}_iter_160000.pth.tar`)),
    );
    expect(weights.error).toBeNull();
    expect(idb.stored.map((s) => s.name).sort()).toEqual([
      'microast-content-encoder',
      'microast-decoder',
      'microast-modulator',
      'microast-style-encoder',
    ]);
  });

  it('asks which network a file with another name is for while two are missing, and refuses other files', async () => {
    withAdain();
    const weights = useWeightsStore();
    await weights.drop([file('checkpoint.pth')]);
    expect(weights.error).toMatch(/which network is checkpoint.pth for\?/);
    await weights.drop([file('notes.txt')]);
    expect(weights.error).toMatch(/drop a .pth or .safetensors/);
    expect(idb.stored).toEqual([]);
    // With one network missing, that is the one.
    await weights.drop([file('decoder.pth')]);
    await weights.drop([file('checkpoint.pth')]);
    expect(idb.stored.map((s) => s.name)).toEqual(['adain-decoder', 'vgg_normalised']);
  });

  it('keeps a tfjs model.json dropped with its shards as one safetensors checkpoint for the node it is dropped on', async () => {
    withAdain();
    const weights = useWeightsStore();
    const values = new Float32Array([0.5, -1, 2, 3]);
    const json = JSON.stringify({
      weightsManifest: [
        { paths: ['group1-shard1of1.bin'], weights: [{ name: '0.weight', shape: [2, 2], dtype: 'float32' }] },
      ],
    });
    await weights.drop(
      [new File([json], 'model.json'), new File([values.buffer], 'group1-shard1of1.bin')],
      'adain-decoder',
    );
    expect(weights.error).toBeNull();
    expect(idb.stored).toEqual([
      { name: 'adain-decoder', source: 'model.json (tfjs, 1 shard)', size: expect.any(Number) },
    ]);
    const { readSafetensors } = await import('../src/models/weights/safetensors');
    expect(readSafetensors(new Uint8Array(idb.lastBytes!)).get('0.weight')).toEqual({ shape: [2, 2], data: values });
    // Without its shard it says which one is missing, and keeps nothing.
    await weights.drop([new File([json], 'model.json')], 'vgg_normalised');
    expect(weights.error).toMatch(/needs the shard group1-shard1of1.bin/);
    expect(idb.stored).toHaveLength(1);
  });

  it('warns when a file is loaded under a name no node uses, with the closest one', async () => {
    const g = withAdain();
    const weights = useWeightsStore();
    await weights.fromFile('decoder', file('decoder-tiny.pth'));
    expect(g.notice?.text).toMatch(
      /no node of this graph asks for weights by that name; it uses vgg_normalised, adain-decoder \(did you mean adain-decoder\?\)/,
    );
    expect(closestName('vgg19', ['vgg_normalised', 'adain-decoder'])).toBe('vgg_normalised');
  });
});

describe('the random-weights banner', () => {
  const lines = [
    {
      nodes: ['enc_content'],
      weights: 'VGG19 normalised: random (seed 0); no weights named "vgg_normalised" were loaded',
    },
    {
      nodes: ['enc_style'],
      weights: 'VGG19 normalised: random (seed 0); no weights named "vgg_normalised" were loaded',
    },
    { nodes: ['decoder'], weights: 'Decoder: random (seed 0); no weights named "adain-decoder" were loaded' },
  ];

  it("reads each random network and the name to load from the run's weights lines", () => {
    expect(randomNetworks(lines)).toEqual([
      { network: 'VGG19 normalised', name: 'vgg_normalised', nodes: ['enc_content', 'enc_style'] },
      { network: 'Decoder', name: 'adain-decoder', nodes: ['decoder'] },
    ]);
    expect(
      randomNetworks([{ nodes: ['decoder'], weights: 'Decoder: adain-decoder from decoder.pth (cached)' }]),
    ).toEqual([]);
  });

  it('shows in the output panel while a network of the last run was random, with one button to get them', async () => {
    withAdain();
    const run = useRunStore();
    const w = mount(OutputPanel, { global: { plugins: [pinia] } });
    expect(w.find('[data-test=random-weights]').exists()).toBe(false);
    run.runWeights = lines;
    await nextTick();
    const banner = w.get('[data-test=random-weights]');
    expect(banner.text()).toMatch(
      /VGG19 normalised \(enc_content, enc_style\): load vgg_normalised; Decoder \(decoder\): load adain-decoder/,
    );
    expect(banner.get('[data-test=random-weights-get]').text()).toBe('Get vgg_normalised and adain-decoder');
    run.runWeights = [{ nodes: ['decoder'], weights: 'Decoder: adain-decoder from decoder.pth (cached)' }];
    await nextTick();
    expect(w.find('[data-test=random-weights]').exists()).toBe(false);
  });
});

describe('sharing a graph with dropped images', () => {
  const dropped = 'upload:0123456789ab/my_painting.jpg';

  it('asks before a share link or PNG leaves dropped images behind, and embeds them when asked', async () => {
    const g = withAdain();
    g.setParam('style', 'source', dropped);
    const share = useShareStore();
    await share.request('link');
    expect(share.pending).toEqual({
      kind: 'link',
      uploads: [
        { nodeId: 'style', label: 'Style painting', param: 'source', source: dropped, file: 'my_painting.jpg' },
      ],
    });
    expect(idb.shared).toEqual([]);
    await share.answer('cancel');
    expect(idb.shared).toEqual([]);
    await share.request('link');
    await share.answer('embed');
    useRunStore().output = { width: 1, height: 1, data: new Uint8ClampedArray(4) };
    await share.request('png');
    await share.answer('without');
    expect(idb.shared).toEqual([
      { kind: 'link', embed: true },
      { kind: 'png', embed: false },
    ]);
    expect(g.notice?.text).toMatch(
      /shared without my_painting.jpg: whoever opens it is asked to drop an image on Style painting/,
    );
  });

  it('shares at once when nothing was dropped', async () => {
    withAdain();
    await useShareStore().request('link');
    expect(idb.shared).toEqual([{ kind: 'link', embed: false }]);
  });

  it('says which node needs an image when a graph refers to one this browser does not have, and blocks the run', async () => {
    const g = withAdain();
    idb.uploads.set('upload:aaaaaaaaaaaa/here.jpg', new ArrayBuffer(4));
    g.setParam('content', 'source', 'upload:aaaaaaaaaaaa/here.jpg');
    g.setParam('style', 'source', dropped);
    await flush();
    expect(g.missingUploads.map((u) => u.nodeId)).toEqual(['style']);
    const d = g.diagnosticsByNode.get('style')!;
    expect(d.map((x) => x.message)).toContain(
      '"Style painting" needs an image: my_painting.jpg was dropped in the browser this graph comes from and is not in this one; drop an image on the node',
    );
    expect(g.diagnosticsByNode.get('content')).toBeUndefined();
  });
});
