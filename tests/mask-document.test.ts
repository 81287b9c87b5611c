import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { graphPng } from '../src/cli/run/outputs';
import { decodeImage } from '../src/cli/node/node-images';
import { decodeLink, encodeLink } from '../src/codecs/link';
import { encodeGreyPng, extractText } from '../src/codecs/png';
import { LIMITS, parseDocument, serialiseDocument } from '../src/graph/document';
import type { GraphModel } from '../src/graph/model';
import { validateGraph } from '../src/graph/validate';
import { loadDocumentImages } from '../src/cli/node/node-session';
import { graph, planOf, registry, useWasm } from './helpers';

const docPath = new URL('../presets/doc.json', import.meta.url).pathname;

beforeAll(useWasm);

/** Painted regions travel in the document, the PNG that carries it and the share link, bounded like images (issue 26). */
const dataUrl = (png: Uint8Array) => `data:image/png;base64,${Buffer.from(png).toString('base64')}`;

/** A 48 x 32 painting: a soft horizon, white sky over black ground with grey rows between. */
function horizon(): { url: string; grey: Uint8Array } {
  const [w, h] = [48, 32];
  const grey = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    grey.fill(Math.max(0, Math.min(255, Math.round((255 * (16 - y)) / 4 + 128))), y * w, (y + 1) * w);
  return { url: dataUrl(encodeGreyPng(w, h, grey)), grey };
}

const withRegion = (source: string): GraphModel =>
  graph(
    [
      ['content', 'image', { source: 'images/astronaut.jpg', slot: 'content' }],
      ['sky', 'mask', { source, name: 'sky', colour: '#4080ff' }],
      ['out', 'output', {}],
    ],
    [['sky.mask', 'out.image']],
  );

const skySource = (m: GraphModel | null) => m?.nodes.find((n) => n.id === 'sky')?.params.source;

describe('a painted region in a document', () => {
  it('round-trips through the PNG a result carries and reads back as the same mask', async () => {
    const { url, grey } = horizon();
    const model = withRegion(url);
    const picture = { width: 4, height: 4, data: new Uint8ClampedArray(64).fill(200) };
    const text = extractText(graphPng(picture, model));
    expect(text).not.toBeNull();
    const back = parseDocument(text!);
    expect(back.diagnostics).toEqual([]);
    expect(skySource(back.model)).toBe(url);
    expect(validateGraph(back.model!, registry)).toEqual([]);
    // The painting decodes to the grey rows it was painted with, and the node reads it as its mask (1 inside).
    const decoded = decodeImage(Buffer.from(url.split(',')[1]!, 'base64'), 'mask');
    expect([decoded.width, decoded.height]).toEqual([48, 32]);
    expect(Array.from({ length: 32 }, (_, y) => decoded.data[y * 48 * 4])).toEqual(
      Array.from(grey.filter((_, i) => i % 48 === 0)),
    );
    const { plan } = await planOf(back.model!, 48);
    expect(plan.steps.find((s) => s.id === 'sky')!.outputs[0]!.info.shape).toEqual([1, 32, 48, 1]);
  });

  it('round-trips through a share link', () => {
    const { url } = horizon();
    const { fragment, tooLong } = encodeLink(serialiseDocument(withRegion(url)));
    // A painter's mask is mostly flat: it deflates to a link that still fits a chat message.
    expect(tooLong).toBe(false);
    const back = parseDocument(decodeLink(`#${fragment}`));
    expect(back.diagnostics).toEqual([]);
    expect(skySource(back.model)).toBe(url);
  });

  it('is refused when larger than a document allows, with where and what to do', () => {
    // Noise does not compress: a 1300 x 1300 painting is a data: URL over 2 Mi characters.
    const noise = new Uint8Array(randomBytes(1300 * 1300));
    const url = dataUrl(encodeGreyPng(1300, 1300, noise));
    expect(url.length).toBeGreaterThan(LIMITS.stringLength);
    const text = serialiseDocument(withRegion(url));
    for (const via of [text, decodeLink(`#${encodeLink(text).fragment}`)]) {
      const r = parseDocument(via);
      expect(r.model).toBeNull();
      expect(r.diagnostics[0]!.message).toBe(
        `$.nodes[1].params.source: a picture embedded as a data: URL is ${url.length} characters, longer than the ${LIMITS.stringLength} a document allows (give the picture as a file, or paint at a smaller size)`,
      );
    }
  });

  it('is bounded in pixels like any image: a small data: URL of a huge painting is refused before decoding', async () => {
    // 8000 x 5200 flat black: 41.6 MP, a few tens of kB deflated, within the document's text limit.
    const url = dataUrl(encodeGreyPng(8000, 5200, new Uint8Array(8000 * 5200)));
    expect(url.length).toBeLessThan(LIMITS.stringLength);
    const { errors } = await loadDocumentImages(withRegion(url), registry, docPath);
    expect(errors.map((e) => e.message)).toEqual([
      'node "sky": cannot load image (data URL): the data: URL picture is 8000 x 5200 px (41.6 MP); the limit is 40 MP (scale it down first)',
    ]);
  });
});
