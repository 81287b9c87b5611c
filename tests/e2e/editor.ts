import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll } from 'vitest';

/** Screenshots of the e2e suite. */
export const shots = new URL('../../test-results/', import.meta.url).pathname;

export interface Opened {
  page: Page;
  /** Uncaught errors of the page. */
  errors: string[];
}

/**
 * The built editor served by `vite preview` and Debian's Chromium, started before a file's tests and stopped after
 * them. `E2E_DIST=folder` serves another build (the code before a change, to see a test fail there).
 */
export function useEditor(args: string[] = []) {
  let server: PreviewServer | undefined;
  let browser: Browser | undefined;
  let base = '';
  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    server = await preview({
      configFile: new URL('../../vite.config.ts', import.meta.url).pathname,
      preview: { port: 0, host: '127.0.0.1' },
      ...(process.env.E2E_DIST ? { build: { outDir: process.env.E2E_DIST } } : {}),
    });
    base = server.resolvedUrls!.local[0]!;
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', ...args],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.httpServer.close(() => r()) : r()));
  });
  return {
    /**
     * A fresh page on the editor with `query`; waits for the backend, and unless `runnable` is false for an enabled
     * Run (some tests check why Run stays disabled).
     */
    async open(
      query: string,
      o: { viewport?: { width: number; height: number }; runnable?: boolean } = {},
    ): Promise<Opened> {
      const page = await browser!.newPage({ viewport: o.viewport ?? { width: 1500, height: 950 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}?${query}`);
      if (o.runnable === false)
        await page.waitForFunction(() => !!document.querySelector('.backend')?.getAttribute('data-backend'), null, {
          timeout: 60_000,
        });
      else
        await page.waitForFunction(
          () => !(document.querySelector('[data-test=run]') as HTMLButtonElement | null)?.disabled,
          null,
          { timeout: 60_000 },
        );
      return { page, errors };
    },
    base: () => base,
  };
}
