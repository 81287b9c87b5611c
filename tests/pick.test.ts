import { beforeAll, describe, expect, it } from 'vitest';
import pick from '../nodes/pick';
import { tf, useWasm } from './helpers';

beforeAll(useWasm);

describe('pick image (A/B/C switch)', () => {
  const info = (h: number) => ({ shape: [1, h, h, 3] });
  it('passes on the picked input, a copy the executor may dispose apart from it', async () => {
    const a = tf.fill([1, 2, 2, 3], 1);
    const b = tf.fill([1, 2, 2, 3], 2);
    const ctx = { tf, params: { pick: 'b' }, inputs: { a, b } } as unknown as Parameters<
      NonNullable<typeof pick.compute>
    >[0];
    const out = pick.compute!(ctx) as { image: tf.Tensor };
    out.image.dispose();
    // The input is still readable after the output is gone.
    expect(Array.from(await b.data())).toEqual(new Array(12).fill(2));
    const again = pick.compute!(ctx) as { image: tf.Tensor };
    expect(Array.from(await again.image.data())).toEqual(new Array(12).fill(2));
  });
  it('infers the shape of the picked input and refuses an unconnected pick', () => {
    expect(pick.infer({ params: { pick: 'c' }, inputs: { a: info(4), c: info(8) }, size: 8 } as never)).toEqual({
      image: { shape: [1, 8, 8, 3] },
    });
    expect(() => pick.infer({ params: { pick: 'b' }, inputs: { a: info(4) }, size: 8 } as never)).toThrow(
      /pick is "b" but input b is not connected/,
    );
  });
});
