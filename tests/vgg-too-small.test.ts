import { describe, expect, it } from 'vitest';
import { tooSmall } from '../nodes/vgg19-encoder';

// Hand-computed: VGG19 halves the picture at each of its four pools before block 5, so conv5_1 works at 1/16 of it.
describe('VGG19: a picture too small for its deepest tap', () => {
  it('refuses 16 px at relu5_1 with reflection padding (1x1 features) and names the size that works', () => {
    const why = tooSmall(['relu1_1', 'relu5_1'], [1, 16, 16, 3], 'normalised', 'reflect');
    expect(why).toMatch(/conv5_1 would work on 1x1 features and its reflection padding needs 2x2/);
    // ceil pooling (vgg_normalised): 17 -> 9 -> 5 -> 3 -> 2
    expect(why).toMatch(/at least 17 px/);
    expect(tooSmall(['relu5_1'], [1, 17, 17, 3], 'normalised', 'reflect')).toBeNull();
  });

  it('takes 32 px at relu5_1 with reflection padding (2x2 features)', () => {
    expect(tooSmall(['relu5_1'], [1, 32, 48, 3], 'normalised', 'reflect')).toBeNull();
  });

  it('takes 1x1 features with zero padding, but not 0x0', () => {
    expect(tooSmall(['relu5_1'], [1, 16, 16, 3], 'torchvision', 'zero')).toBeNull();
    expect(tooSmall(['relu5_1'], [1, 8, 8, 3], 'torchvision', 'zero')).toMatch(/at least 16 px/);
  });

  it('looks only as deep as the deepest tap', () => {
    expect(tooSmall(['relu1_1', 'relu2_1'], [1, 4, 4, 3], 'normalised', 'reflect')).toBeNull();
    expect(tooSmall(['relu3_1'], [1, 4, 4, 3], 'normalised', 'reflect')).toMatch(/reflection padding needs 2x2/);
  });

  it('takes 1x1 features with circular padding (it wraps the one pixel), as the texture preset at 24 px needs', () => {
    expect(tooSmall(['relu5_1'], [1, 24, 24, 3], 'normalised', 'circular')).toBeNull();
  });
});
