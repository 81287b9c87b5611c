import { describe, expect, it } from 'vitest';
import { remoteOrigin, sourcePlace } from '../src/web/source-origin';

/** The editor decides remote vs local as the browser parses a URL (issue 16), never by a pattern. */
const page = 'http://127.0.0.1:5173/?fresh';

describe("where a document's source leads", () => {
  it('counts ` //host`, `/\\host`, a tab or newline in the URL, another scheme or port as remote', () => {
    for (const [source, origin] of [
      [' //evil.test/x.png', 'http://evil.test'],
      ['/\\evil.test/x.png', 'http://evil.test'],
      ['\\\\evil.test/x.png', 'http://evil.test'],
      ['ht\ttp://evil.test/x.png', 'http://evil.test'],
      ['\n//evil.test/x.png', 'http://evil.test'],
      ['/\t/evil.test/x.png', 'http://evil.test'],
      ['HTTPS://EVIL.test/x.png', 'https://evil.test'],
      ['https://127.0.0.1:5173/x.png', 'https://127.0.0.1:5173'],
      ['http://127.0.0.1:9999/x.png', 'http://127.0.0.1:9999'],
      ['file:///etc/passwd', 'file:'],
      ['javascript:alert(1)', 'javascript:'],
    ] as const)
      expect(remoteOrigin(source, page), JSON.stringify(source)).toBe(origin);
  });

  it("counts the page's own files, data: URLs and uploads as local", () => {
    for (const source of [
      'images/astronaut.jpg',
      '/images/astronaut.jpg',
      './a b.png',
      'http://127.0.0.1:5173/images/a.jpg',
      'data:image/png;base64,AAAA',
      'upload:0a1b/x.png',
      ' images/a.jpg',
    ])
      expect(remoteOrigin(source, page), source).toBeNull();
    expect(sourcePlace('images/a.jpg', page)).toEqual({ local: true, href: 'http://127.0.0.1:5173/images/a.jpg' });
    expect(sourcePlace('upload:0a1b/x.png', page)).toEqual({ local: true, href: null });
  });
});
