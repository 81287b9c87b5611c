import type { RGBAImage } from '../ops/image';
import { encodeLink } from '../codecs/link';
import { embedText, extractText, isPng } from '../codecs/png';
import { getUpload, isUpload, putUpload, uploadSource } from '../web/uploads';
export { uploadsIn, type UploadRef } from '../web/uploads';
import { serialiseDocument } from '../graph/document';
import type { useGraphStore } from './stores/graph';
import { pictureType } from './pictures';
import { registry } from './registry';

type GraphStore = ReturnType<typeof useGraphStore>;

/** Offers bytes to the user as a download. */
export function download(name: string, data: BlobPart, type: string) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * The document to save or share. Dropped images are referenced (`upload:...`, their bytes stay in this browser)
 * unless `embed` asks for them inline as data: URLs, so the file or link works elsewhere.
 */
export async function documentFor(graph: GraphStore, embed: boolean): Promise<string> {
  if (!embed) return graph.documentText();
  const model = structuredClone(graph.documentModel());
  for (const n of model.nodes)
    for (const [k, v] of Object.entries(n.params))
      if (typeof v === 'string' && isUpload(v)) {
        const bytes = await getUpload(v);
        if (!bytes) continue;
        const type = /\.png$/i.test(v) ? 'image/png' : /\.webp$/i.test(v) ? 'image/webp' : 'image/jpeg';
        n.params[k] = `data:${type};base64,${toBase64(new Uint8Array(bytes))}`;
      }
  return serialiseDocument(model);
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export async function saveJson(graph: GraphStore, embed = false) {
  const name = graph.fileName.endsWith('.json') ? graph.fileName : `${graph.fileName}.json`;
  const text = await documentFor(graph, embed);
  download(name, text, 'application/json');
  remember(name, text);
  graph.tell(`saved ${name}${embed ? ' with its images' : ''}`);
}

/**
 * A PNG of an image with the graph embedded in an iTXt chunk: dropping it back on the editor reopens the graph.
 * `embed` puts dropped images inside the graph, as for a saved file.
 */
export async function exportPng(graph: GraphStore, image: RGBAImage, embed = false) {
  const canvas = new OffscreenCanvas(image.width, image.height);
  canvas.getContext('2d')!.putImageData(new ImageData(image.data, image.width, image.height), 0, 0);
  const png = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
  const out = embedText(png, await documentFor(graph, embed));
  download(graph.fileName.replace(/\.json$/, '') + '.png', out.slice().buffer, 'image/png');
}

/** A link with the graph in its fragment; over the comfortable length it says so and offers a file. */
export async function shareLink(graph: GraphStore, embed = false): Promise<string> {
  const { fragment, tooLong } = encodeLink(await documentFor(graph, embed));
  const url = `${location.origin}${location.pathname}#${fragment}`;
  if (tooLong) {
    graph.tell(
      `this graph makes a link of ${url.length} characters, longer than most chats and browsers take; save it as a file instead`,
      true,
    );
    return url;
  }
  try {
    await navigator.clipboard.writeText(url);
    graph.tell('share link copied to the clipboard');
  } catch {
    graph.tell(`share link: ${url}`);
  }
  return url;
}

/**
 * A dropped or picked file: a graph (.json, or a PNG with an embedded graph) opens; any other image becomes
 * the source of the image node given, or of a new image node at `at`.
 */
export async function openFile(
  graph: GraphStore,
  file: File,
  target?: { node?: string; at?: { x: number; y: number } },
) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (file.name.endsWith('.json') || file.type === 'application/json') {
    if (graph.open(new TextDecoder().decode(bytes), file.name)) remember(file.name, new TextDecoder().decode(bytes));
    return;
  }
  if (isPng(bytes)) {
    let text: string | null = null;
    try {
      text = extractText(bytes);
    } catch (e) {
      graph.tell(`${file.name}: ${(e as Error).message}`, true);
      return;
    }
    if (text && !target?.node) {
      graph.open(text, file.name.replace(/\.png$/i, '.json'), file.name);
      return;
    }
  }
  if (!file.type.startsWith('image/')) {
    graph.tell(`${file.name} is neither a graph nor an image`, true);
    return;
  }
  const source = await uploadSource(file.name, bytes.slice().buffer);
  await putUpload(source, bytes.slice().buffer);
  if (target?.node) graph.setParam(target.node, 'source', source);
  else {
    const type = pictureType(registry);
    if (type) graph.add(type, target?.at ?? { x: 0, y: 0 }, { source });
  }
  graph.tell(`using ${file.name}`);
}

const RECENT = 'stylegraph.recent';
export interface RecentEntry {
  name: string;
  at: string;
  document: string;
}

/** The last few graphs opened or saved, kept in this browser. */
export function recent(): RecentEntry[] {
  try {
    return (JSON.parse(localStorage.getItem(RECENT) ?? '[]') as RecentEntry[]).filter(
      (r) => typeof r.document === 'string',
    );
  } catch {
    return [];
  }
}

export function remember(name: string, documentText: string) {
  if (documentText.length > 512 * 1024) return;
  const list = [
    { name, at: new Date().toISOString(), document: documentText },
    ...recent().filter((r) => r.name !== name),
  ].slice(0, 8);
  try {
    localStorage.setItem(RECENT, JSON.stringify(list));
  } catch {
    // A full storage only loses the recent list.
  }
}
