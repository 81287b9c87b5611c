import { defineStore } from 'pinia';
import { ref } from 'vue';
import { exportPng, shareLink, uploadsIn, type UploadRef } from '../files';
import { LINK_PREFIX } from '../../codecs/link';
import type { SharedDocument } from '../../web/share-decode';
import { registry } from '../registry';
import { estimateHeight, viewGraph } from '../view';
import { useGraphStore } from './graph';

type GraphStore = ReturnType<typeof useGraphStore>;
import { useRunStore } from './run';
import { useSettingsStore } from './settings';

export type ShareKind = 'link' | 'png';

/** How long the page waits for the share worker before it gives up on a link. */
const DECODE_TIMEOUT_MS = 30_000;

/** How tall the canvas draws a node of each registered type, for laying out a shared graph that has no layout. */
function typeHeights(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const def of registry.list()) {
    const v = viewGraph(
      {
        nodes: [{ id: 'n', type: def.type, position: { x: 0, y: 0 }, params: {} }],
        edges: [],
        metadata: {},
        extra: {},
      },
      registry,
    ).nodes[0];
    // As tall as when every optional input is fed (no compact rows): a link's edges may feed them.
    if (v) out[def.type] = estimateHeight({ ...v, inputs: v.inputs.map((s) => ({ ...s, compact: false })) });
  }
  return out;
}

/**
 * A share link's graph, decoded, parsed, checked against what the editor shows and laid out in a worker
 * (web/share-worker.ts): however large or hostile the link, the page's thread only receives the result.
 */
export function decodeSharedLink(fragment: string, timeoutMs = DECODE_TIMEOUT_MS): Promise<SharedDocument> {
  const worker = new Worker(new URL('../../web/share-worker.ts', import.meta.url), {
    type: 'module',
    name: 'share-link',
  });
  return new Promise<SharedDocument>((done) => {
    const timer = setTimeout(
      () => done({ ok: false, message: `decoding the link took over ${timeoutMs / 1000} s` }),
      timeoutMs,
    );
    worker.onmessage = (e: MessageEvent<SharedDocument>) => {
      clearTimeout(timer);
      done(e.data);
    };
    worker.onerror = (e) => {
      clearTimeout(timer);
      done({ ok: false, message: `the link could not be decoded: ${e.message}` });
    };
    worker.postMessage({ fragment, heights: typeHeights() });
  }).finally(() => worker.terminate());
}

/** Opens the graph a `#graph=` fragment carries; a link that cannot be shown leaves the graph as it is and says why. */
export async function openSharedLink(graph: GraphStore, hash: string): Promise<boolean> {
  if (!hash.startsWith(`#${LINK_PREFIX}`)) return false;
  graph.tell('opening the shared graph...');
  const r = await decodeSharedLink(hash.slice(1));
  if (!r.ok) {
    graph.tell(`the link does not hold a graph the editor can show: ${r.message}`, true);
    return false;
  }
  return graph.openParsed(r, 'shared graph.json', 'shared graph.json', r.laidOut);
}

/**
 * Share link and PNG export. A graph with images dropped in this browser (`upload:` references) would reach the
 * other side without them: unless "embed images" is on, the editor asks first and offers to embed them.
 */
export const useShareStore = defineStore('share', () => {
  const graph = useGraphStore();
  const settings = useSettingsStore();
  /** The question being asked: what is being shared and which nodes hold dropped images. */
  const pending = ref<{ kind: ShareKind; uploads: UploadRef[] } | null>(null);

  async function perform(kind: ShareKind, embed: boolean) {
    if (kind === 'link') await shareLink(graph, embed);
    else {
      const image = useRunStore().output;
      if (image) await exportPng(graph, image, embed);
    }
  }

  /** Shares now, or asks first when dropped images would be left behind. */
  async function request(kind: ShareKind) {
    const uploads = uploadsIn(graph.model);
    if (uploads.length && !settings.embedImages) {
      pending.value = { kind, uploads };
      return;
    }
    await perform(kind, settings.embedImages);
  }

  /** The answer: embed the images this time, share without them, or do nothing. */
  async function answer(choice: 'embed' | 'without' | 'cancel') {
    const p = pending.value;
    pending.value = null;
    if (!p || choice === 'cancel') return;
    await perform(p.kind, choice === 'embed');
    if (choice === 'without')
      graph.tell(
        `shared without ${p.uploads.map((u) => u.file).join(', ')}: whoever opens it is asked to drop an image on ${p.uploads.map((u) => u.label).join(', ')}`,
      );
  }

  return { pending, request, answer };
});
