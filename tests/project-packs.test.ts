import { createServer } from 'vite';
import { describe, expect, it } from 'vitest';
import { projectPacks } from '../src/devserver/packs';
import { checkPackText, packLocation, type ProjectPack } from '../src/web/pack-store';

const root = new URL('..', import.meta.url).pathname;
const project: ProjectPack[] = [{ id: 'pack-wct', path: 'examples/pack-wct', url: 'packs/pack-wct.js' }];

describe("the project's packs in the editor", () => {
  it('lists the packs package.json names for the CLI, with the module file each serves', async () => {
    const packs = await projectPacks(root);
    expect(packs.map((p) => p.pack)).toEqual([
      expect.objectContaining({ id: 'pack-wct', path: 'examples/pack-wct', url: 'packs/pack-wct.js' }),
    ]);
    expect(packs[0]!.file).toBe(`${root}examples/pack-wct/index.js`);
  });

  it("reads what a user types: the README's path, a URL, or a path on this site", () => {
    const base = 'http://127.0.0.1:5173/';
    expect(packLocation('examples/pack-wct', base, project)).toBe('http://127.0.0.1:5173/packs/pack-wct.js');
    expect(packLocation('./examples/pack-wct/', base, project)).toBe('http://127.0.0.1:5173/packs/pack-wct.js');
    expect(packLocation('https://packs.example/x.js', base, project)).toBe('https://packs.example/x.js');
    expect(packLocation('lib/mine.js', base, project)).toBe('http://127.0.0.1:5173/lib/mine.js');
  });

  it("refuses a web page where a module was expected, naming the project's packs", () => {
    expect(() => checkPackText('http://x/examples/nope', 'text/html', '<!doctype html><html>', project)).toThrow(
      /is not a node pack: the server answered with a web page.*this project's packs: examples\/pack-wct/,
    );
    expect(() => checkPackText('http://x/a.js', 'text/javascript', '  ', project)).toThrow(/answered with nothing/);
    expect(() => checkPackText('http://x/a.js', 'text/javascript', 'export default {}', project)).not.toThrow();
  });

  it("is served by the dev server: packs.json and the pack's module, a 404 naming the packs otherwise", async () => {
    const server = await createServer({
      configFile: `${root}vite.config.ts`,
      server: { port: 0, host: '127.0.0.1' },
      logLevel: 'silent',
    });
    await server.listen();
    try {
      const base = server.resolvedUrls!.local[0]!;
      const list = await (await fetch(`${base}packs.json`)).json();
      expect(list).toEqual([expect.objectContaining({ url: 'packs/pack-wct.js' })]);
      const js = await fetch(`${base}packs/pack-wct.js`);
      expect(js.headers.get('content-type')).toMatch(/javascript/);
      expect(await js.text()).toMatch(/export default/);
      const missing = await fetch(`${base}packs/nope.js`);
      expect(missing.status).toBe(404);
      expect(await missing.text()).toMatch(/packs\/pack-wct\.js/);
    } finally {
      await server.close();
    }
  });
});
