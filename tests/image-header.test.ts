import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { checkImageHeader, imageHeader, MAX_IMAGE_PIXELS } from '../src/codecs/image-header';
import { decodeImage } from '../src/cli/node/node-images';

/** Only a header: the bytes a picture of this size starts with, in each format the browser decodes. */
function pngHeader(w: number, h: number) {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(w, 16);
  b.writeUInt32BE(h, 20);
  return new Uint8Array(b);
}
function jpegHeader(w: number, h: number) {
  // SOI, an APP0 of 16 bytes, SOF0 (precision 8, height, width, 1 component), SOS.
  const app0 = [0xff, 0xe0, 0, 16, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof = [0xff, 0xc0, 0, 11, 8, h >> 8, h & 255, w >> 8, w & 255, 1, 1, 0x11, 0];
  return Uint8Array.from([0xff, 0xd8, ...app0, ...sof, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0]);
}
function gifHeader(w: number, h: number) {
  const b = Buffer.alloc(13);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(w, 6);
  b.writeUInt16LE(h, 8);
  return new Uint8Array(b);
}
function webpHeader(w: number, h: number) {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1');
  b.write('WEBP', 8, 'latin1');
  b.write('VP8X', 12, 'latin1');
  b.writeUIntLE(w - 1, 24, 3);
  b.writeUIntLE(h - 1, 27, 3);
  return new Uint8Array(b);
}
function bmpHeader(w: number, h: number) {
  const b = Buffer.alloc(54);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(w, 18);
  b.writeInt32LE(-h, 22); // top-down
  return new Uint8Array(b);
}

describe('checkImageHeader: the 40 MP limit every host applies before decoding', () => {
  const formats = { png: pngHeader, jpeg: jpegHeader, gif: gifHeader, webp: webpHeader, bmp: bmpHeader };
  for (const [format, make] of Object.entries(formats)) {
    it(`reads a ${format} header's size and refuses one over 40 MP, naming it and its size`, () => {
      // 8000 x 5001 is 40.008 MP: just over. 8000 x 5000 is exactly the limit.
      expect(imageHeader(make(8000, 5000))).toEqual({ format, width: 8000, height: 5000 });
      expect(checkImageHeader(make(8000, 5000), 'p.img')).toEqual({ format, width: 8000, height: 5000 });
      expect(() => checkImageHeader(make(8000, 5001), 'the data: URL picture')).toThrow(
        'the data: URL picture is 8000 x 5001 px (40.0 MP); the limit is 40 MP (scale it down first)',
      );
      expect(8000 * 5000).toBe(MAX_IMAGE_PIXELS);
    });
  }

  it('refuses the 20000 x 20000 mask of the report, and what it cannot size', () => {
    expect(() => checkImageHeader(pngHeader(20000, 20000), 'mask.png')).toThrow(
      'mask.png is 20000 x 20000 px (400.0 MP); the limit is 40 MP',
    );
    expect(() => checkImageHeader(Uint8Array.from([1, 2, 3]), 'x')).toThrow(
      'x is not a PNG, JPEG, GIF, WebP or BMP image',
    );
    expect(() => checkImageHeader(gifHeader(4, 4), 'x', ['png', 'jpeg'])).toThrow('x is not a PNG or JPEG image');
    // A JPEG cut before its frame header, a PNG without IHDR first.
    expect(() => checkImageHeader(jpegHeader(8, 8).subarray(0, 22), 'cut.jpg')).toThrow('cut.jpg is a damaged JPEG');
    const noIhdr = pngHeader(8, 8);
    noIhdr[12] = 0x78;
    expect(() => checkImageHeader(noIhdr, 'bad.png')).toThrow('bad.png is a damaged PNG');
  });

  it('agrees with real encoders, and the CLI decoder refuses through it before decoding', () => {
    const png = new PNG({ width: 37, height: 11 });
    expect(imageHeader(PNG.sync.write(png))).toEqual({ format: 'png', width: 37, height: 11 });
    const j = jpeg.encode({ width: 21, height: 13, data: Buffer.alloc(21 * 13 * 4, 128) }, 90).data;
    expect(imageHeader(j)).toEqual({ format: 'jpeg', width: 21, height: 13 });
    // A header alone: decoding would fail differently (truncated data), so the size error shows it was never decoded.
    expect(() => decodeImage(jpegHeader(9000, 9000), 'big.jpg')).toThrow('big.jpg is 9000 x 9000 px (81.0 MP)');
    expect(() => decodeImage(gifHeader(4, 4), 'a.gif')).toThrow('a.gif is not a PNG or JPEG image');
  });
});
