import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/codecs/png';
import { shots, useEditor } from './editor';

/**
 * A shared document whose painted region is a 20000 x 20000 PNG (400 MP, half a megabyte as a data: URL): the
 * browser's run reads its header and refuses it at once, naming the node and the size as the CLI does, instead of
 * decoding 1.6 GB of pixels and staying in "preparing inputs".
 */
const editor = useEditor();

/** A valid flat black greyscale PNG of `w` x `h`, deflated by zlib (one filter byte per row). */
function flatPng(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  const idat = deflateSync(Buffer.alloc((w + 1) * h), { level: 9 });
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

describe('a document with a 400 MP painted region', () => {
  it('fails at once in the browser with the CLI message, not stuck preparing inputs', async () => {
    const png = flatPng(20000, 20000);
    const source = `data:image/png;base64,${png.toString('base64')}`;
    expect(source.length).toBeLessThan(1_000_000);
    const doc = {
      format: 'stylegraph',
      version: 1,
      metadata: { title: 'huge mask' },
      nodes: [
        { id: 'content', type: 'image', params: { source: 'images/astronaut.jpg', slot: 'content' } },
        { id: 'sky', type: 'mask', params: { source, name: 'sky', colour: '#4080ff' } },
        { id: 'out', type: 'output' },
      ],
      edges: [{ from: { node: 'sky', output: 'mask' }, to: { node: 'out', input: 'image' } }],
    };
    const { page, errors } = await editor.open('fresh&backend=wasm&size=64');
    await page.setInputFiles('[data-test=open-file]', {
      name: 'huge-mask.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(doc)),
    });
    await page.waitForSelector('[data-node="sky"]');
    await page.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 60_000 },
    );
    await page.click('[data-test=run]');
    // The run's diagnostic lands on the node (the editor names it by its label); the run is over, not preparing.
    const said =
      'cannot load image (data URL): the data: URL picture is 20000 x 20000 px (400.0 MP); the limit is 40 MP (scale it down first)';
    // Serialised into the page: the titles of the node's marks.
    const diagnostic = () =>
      [...document.querySelectorAll('[data-node="sky"] [title]')].map((e) => e.getAttribute('title') ?? '').join('\n');
    await expect.poll(() => page.evaluate(diagnostic), { timeout: 60_000, interval: 250 }).toContain(said);
    await page.screenshot({ path: `${shots}huge-mask.png` });
    expect(await page.evaluate(diagnostic)).toContain(`"Painted region": ${said}`);
    expect(await page.textContent('[data-test=status]')).not.toMatch(/preparing|running/);
    expect(await page.isDisabled('[data-test=run]')).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });
});
