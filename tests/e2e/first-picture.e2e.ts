import { describe, expect, it } from 'vitest';
import { shots, useEditor } from './editor';
import { presetPicture, useMicroastMirror } from './microast-mirror';
import { colourDistance, edgeCorrelation, resizeNearest, type Rgba } from '../picture-stats';

/**
 * A newcomer's first picture: the app opened fresh shows the MicroAST preset, one click gets its four trained networks
 * (1.9 MB) through the editor's server from a loopback mirror and runs, and the output is a real stylised picture:
 * its colours move toward the painting's and its edges follow the photo's. The networks are the official ones, from
 * ../shared/fixtures/microast (skipped with a message where that folder is absent).
 */
const { present, hits } = useMicroastMirror('first-picture');
const editor = useEditor();

describe.runIf(present)('the first picture', () => {
  it('opens MicroAST fresh, gets its 1.9 MB with one click through the editor server, and paints the photo', async () => {
    const { page, errors } = await editor.open('fresh&backend=wasm&size=128', { runnable: false });
    await page.waitForSelector('[data-node="modulator"]', { timeout: 60_000 });
    const card = page.locator('[data-test=first-picture]');
    await card.waitFor({ timeout: 60_000 });
    expect(await card.textContent()).toMatch(
      /microast-content-encoder, microast-style-encoder, microast-modulator, microast-decoder,\s+1\.\d MB in all \(MIT/,
    );
    await page.screenshot({ path: `${shots}first-picture-before.png` });

    await page.waitForFunction(
      () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
      null,
      { timeout: 60_000 },
    );
    await page.click('[data-test=first-picture-get]');
    await page.waitForFunction(
      () => /^done/.test(document.querySelector('[data-test=status]')?.textContent ?? ''),
      null,
      { timeout: 180_000 },
    );
    // One click: the four files came from the mirror, the card is gone, and no network ran on random weights.
    expect(hits.filter((h) => h.endsWith('.pth.tar')).sort()).toEqual(
      ['content_encoder', 'decoder', 'modulator', 'style_encoder'].map((p) => `/weights/${p}_iter_160000.pth.tar`),
    );
    expect(await card.count()).toBe(0);
    // A feed-forward graph has no steps: the status says how long it took, not "after 0 steps".
    expect(await page.textContent('[data-test=status]')).toMatch(/^done in \d+\.\d s/);
    expect(await page.locator('[data-test=random-weights]').count()).toBe(0);
    expect(await page.textContent('[data-test=run-weights]')).toMatch(/microast-decoder from /);
    await page.screenshot({ path: `${shots}first-picture-after.png` });
    await page.locator('.output').screenshot({ path: `${shots}first-picture-output.png` });

    const out = await page.evaluate(() => {
      const o = (
        window as unknown as {
          stylegraph: { run: { output: { data: Uint8ClampedArray; width: number; height: number } } };
        }
      ).stylegraph.run.output;
      return { data: Array.from(o.data), width: o.width, height: o.height };
    });
    const output: Rgba = { data: Uint8Array.from(out.data), width: out.width, height: out.height };
    const photo = resizeNearest(presetPicture('astronaut.jpg'), output.width, output.height);
    const painting = presetPicture('swirls.jpg');
    // Colours: the output's per-channel mean and spread are nearer the painting's than the photo's are.
    const before = colourDistance(photo, painting);
    const after = colourDistance(output, painting);
    console.log(
      `colour distance to the painting: photo ${before.toFixed(1)}, output ${after.toFixed(1)}; edge correlation with the photo ${edgeCorrelation(output, photo).toFixed(2)}`,
    );
    expect(after).toBeLessThan(before * 0.8);
    // Not flat, and the photo's edges are where the output's are.
    expect(edgeCorrelation(output, photo)).toBeGreaterThan(0.3);
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);
});
