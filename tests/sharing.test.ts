import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../src/cli/node/node-images';
import { LIMITS, parseDocument, serialiseDocument } from '../src/graph/document';
import { validateGraph } from '../src/graph/validate';
import { LinkError, decodeLink, encodeLink } from '../src/codecs/link';
import { PngError, crc32, embedText, extractText } from '../src/codecs/png';
import { mulberry32 } from '../src/models/random';
import { registry } from './helpers';

const FUZZ = { seed: 2016, numRuns: 300 };
const png = () => encodePng({ width: 2, height: 2, data: new Uint8ClampedArray(16).fill(200) });
const gatysText = readFileSync(new URL('../presets/gatys.json', import.meta.url), 'utf8');

describe('graph in a PNG (iTXt)', () => {
  it('round-trips the document text and keeps the image readable', () => {
    const out = embedText(png(), gatysText);
    expect(extractText(out)).toBe(gatysText);
    // Embedding again replaces the chunk rather than adding a second one.
    expect(extractText(embedText(out, '{"x":1}'))).toBe('{"x":1}');
    expect(extractText(png())).toBeNull();
  });

  it('computes the standard CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('refuses corrupt chunks, truncation and oversized text with a readable error', () => {
    const out = embedText(png(), gatysText);
    const corrupt = out.slice();
    corrupt[out.length - 30] = corrupt[out.length - 30]! ^ 0xff;
    expect(() => extractText(corrupt)).toThrow(PngError);
    expect(() => extractText(out.subarray(0, out.length - 20))).toThrow(/truncated|past the end|IEND/);
    expect(() => extractText(embedText(png(), 'x'.repeat(5000)), 1000)).toThrow(/inflates past 1000 bytes/);
    expect(() => extractText(new Uint8Array([1, 2, 3]))).toThrow(/not a PNG/);
  });

  it('fuzz: mutated and random bytes give a PngError or the text, never anything else', () => {
    const valid = embedText(png(), gatysText);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(valid.length),
        (edits, cut) => {
          const b = valid.slice(0, Math.max(8, cut));
          for (const [i, v] of edits) if (i < b.length) b[i] = v;
          try {
            const t = extractText(b);
            expect(t === null || typeof t === 'string').toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(PngError);
          }
        },
      ),
      FUZZ,
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          extractText(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(PngError);
        }
      }),
      FUZZ,
    );
  });
});

describe('share links', () => {
  it('round-trip a graph through the URL fragment and say when a link is long', () => {
    const { fragment, tooLong } = encodeLink(gatysText);
    expect(fragment.startsWith('graph=')).toBe(true);
    expect(fragment.length).toBeLessThan(gatysText.length / 2);
    expect(tooLong).toBe(false);
    expect(decodeLink(`#${fragment}`)).toBe(gatysText);
    const rand = mulberry32(1);
    const random = Array.from({ length: 20000 }, () => String.fromCharCode(33 + Math.floor(rand() * 90))).join('');
    expect(encodeLink(random).tooLong).toBe(true);
  });

  it('explains links that are not ours, not base64, or damaged', () => {
    expect(() => decodeLink('#view=3')).toThrow(/does not carry a StyleGraph graph/);
    expect(() => decodeLink('#graph=@@@')).toThrow(/not valid base64url/);
    expect(() => decodeLink('#graph=AAAAAAAA')).toThrow(LinkError);
  });

  it('fuzz: any fragment gives the text or a LinkError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        try {
          decodeLink(`graph=${s}`);
        } catch (e) {
          expect(e).toBeInstanceOf(LinkError);
        }
      }),
      FUZZ,
    );
  });
});

describe('documents are data', () => {
  it('fuzz: the parser never throws on any JSON value or text, and reports with paths', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = parseDocument(v);
        for (const d of r.diagnostics) expect(d.path.startsWith('$')).toBe(true);
        expect(() => JSON.stringify(v)).not.toThrow();
        expect(() => parseDocument(JSON.stringify(v))).not.toThrow();
      }),
      FUZZ,
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        expect(() => parseDocument(s)).not.toThrow();
      }),
      FUZZ,
    );
  });

  it('fuzz: wrong types in every field of a real document give diagnostics, not exceptions', () => {
    const doc = JSON.parse(gatysText);
    fc.assert(
      fc.property(
        fc.nat(doc.nodes.length - 1),
        fc.constantFrom('id', 'type', 'position', 'params', 'title'),
        fc.jsonValue(),
        (i, field, value) => {
          const copy = structuredClone(doc);
          copy.nodes[i][field] = value;
          const r = parseDocument(copy);
          if (r.model) expect(() => validateGraph(r.model!, registry)).not.toThrow();
        },
      ),
      FUZZ,
    );
  });

  it('enforces limits with clear messages', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(
      parseDocument({ format: 'stylegraph', version: 1, nodes: [], edges: [], metadata: { x: deep } }).diagnostics[0]!
        .message,
    ).toMatch(/nests deeper than 64/);
    const many = Array.from({ length: LIMITS.nodes + 1 }, (_, i) => ({ id: `n${i}`, type: 'scalar' }));
    expect(parseDocument({ format: 'stylegraph', version: 1, nodes: many, edges: [] }).diagnostics[0]!.message).toMatch(
      new RegExp(`${LIMITS.nodes + 1} nodes; the limit is ${LIMITS.nodes}`),
    );
    expect(
      parseDocument({
        format: 'stylegraph',
        version: 1,
        nodes: [{ id: 'a', type: 'scalar', title: 'x'.repeat(LIMITS.stringLength + 1) }],
        edges: [],
      }).diagnostics[0]!.message,
    ).toMatch(/longer than/);
    expect(
      parseDocument({
        format: 'stylegraph',
        version: 1,
        nodes: [{ id: 'a', type: 'scalar', params: { value: Number('1e400') } }],
        edges: [],
      }).model,
    ).not.toBeNull();
  });

  it('opens every saved v1 document from earlier releases', () => {
    const dir = new URL('./fixtures/documents/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.startsWith('v1-'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const r = parseDocument(readFileSync(new URL(f, dir), 'utf8'));
      expect(r.diagnostics, f).toEqual([]);
      expect(validateGraph(r.model!, registry), f).toEqual([]);
      expect(JSON.parse(serialiseDocument(r.model!))).toEqual(JSON.parse(readFileSync(new URL(f, dir), 'utf8')));
    }
  });
});
