/*
 * StyleGraph's Winograd F(4x4,3x3) convolution for WebAssembly SIMD (128-bit, no FMA), single-threaded.
 * Our own code (Lavin and Gray 2016, "Fast Algorithms for Convolutional Neural Networks": the transforms are
 * the ones src/ops/winograd.ts lists). Built by scripts/build-kernels.sh into src/ops/kernels/winograd-f43.ts.
 *
 * wf43_conv: a 'valid' 3x3 stride-1 correlation of an already padded NHWC float32 image [H2, W2, Cin] (batch 1)
 * with a filter transformed by wf43_filter, plus a bias, optionally ReLU: out [H2-2, W2-2, Cout].
 * Cin and Cout must be multiples of 4. Tiles go in blocks of `tb` (a multiple of MR): for each block the input
 * transform V = B^T d B ([36][tb][Cin], SIMD over channels), 36 products M_p = V_p U_p ([36][tb][Cout]) by a
 * register-blocked micro-kernel (MR tiles x 8 output channels), then Y = A^T M A with bias and ReLU into out.
 * The caller owns every buffer (this module's memory, laid out from __heap_base by the JS side).
 */
#include <wasm_simd128.h>

typedef v128_t v;

#ifndef MR
#define MR 4
#endif

static inline v ld(const float *p) { return wasm_v128_load(p); }
static inline void st(float *p, v x) { wasm_v128_store(p, x); }
static inline v add(v a, v b) { return wasm_f32x4_add(a, b); }
static inline v sub(v a, v b) { return wasm_f32x4_sub(a, b); }
static inline v mul(v a, v b) { return wasm_f32x4_mul(a, b); }
static inline v splat(float x) { return wasm_f32x4_splat(x); }

/* ---- filter transform: U = G g G^T in double, rounded once; packed per position in panels of 8 (last: 4) ---- */

static const double G[6][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};

/* g: HWIO [3][3][cin][cout]; u: [36][cout/8 panels][cin][8] (a last panel of 4 when cout % 8 == 4). */
void wf43_filter(const float *g, int cin, int cout, float *u) {
  for (int ci = 0; ci < cin; ci++)
    for (int co = 0; co < cout; co++) {
      double k[3][3], t[6][3];
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) k[i][j] = g[((i * 3 + j) * cin + ci) * cout + co];
      for (int a = 0; a < 6; a++)
        for (int j = 0; j < 3; j++) t[a][j] = G[a][0] * k[0][j] + G[a][1] * k[1][j] + G[a][2] * k[2][j];
      int panel = co >> 3;
      int nr = panel * 8 + 8 <= cout ? 8 : cout - panel * 8;
      int off = panel * 8 * cin + ci * nr + (co - panel * 8);
      for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
          u[(a * 6 + b) * cin * cout + off] = (float)(t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2]);
    }
}

/* ---- input transform ---- */

/* B^T applied to six vectors in place (rows of B^T: see WINOGRAD_TRANSFORMS[4].BT). */
static inline void bt6(v d0, v d1, v d2, v d3, v d4, v d5, v *r) {
  const v four = splat(4.0f), five = splat(5.0f), two = splat(2.0f);
  v a = sub(d4, d2);              /* d4 - d2 */
  v b = sub(d3, d1);              /* d3 - d1 */
  v c = sub(d4, mul(four, d2));   /* d4 - 4 d2 */
  v e = sub(d3, mul(four, d1));   /* d3 - 4 d1 */
  r[0] = add(sub(mul(four, d0), mul(five, d2)), d4);
  r[1] = add(c, e);               /* -4d1 - 4d2 + d3 + d4 */
  r[2] = sub(c, e);               /*  4d1 - 4d2 - d3 + d4 */
  r[3] = add(a, mul(two, b));     /* -2d1 - d2 + 2d3 + d4 */
  r[4] = sub(a, mul(two, b));     /*  2d1 - d2 - 2d3 + d4 */
  r[5] = add(sub(mul(four, d1), mul(five, d3)), d5);
}

/* One tile's 6x6 window at (y0, x0), rows < h and columns < w present (others zero), channels c..c+3. */
static void input_tile(const float *in, int W2, int cin, int y0, int x0, int h, int w, int c, float *V, int pstride) {
  v d[36];
  const v zero = wasm_f32x4_splat(0.0f);
  if (h >= 6 && w >= 6) {
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 6; j++) d[i * 6 + j] = ld(in + ((y0 + i) * W2 + x0 + j) * cin + c);
  } else {
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 6; j++)
        d[i * 6 + j] = i < h && j < w ? ld(in + ((y0 + i) * W2 + x0 + j) * cin + c) : zero;
  }
  v t[36], r[6];
  for (int j = 0; j < 6; j++) {
    bt6(d[j], d[6 + j], d[12 + j], d[18 + j], d[24 + j], d[30 + j], r);
    for (int a = 0; a < 6; a++) t[a * 6 + j] = r[a];
  }
  for (int a = 0; a < 6; a++) {
    bt6(t[a * 6], t[a * 6 + 1], t[a * 6 + 2], t[a * 6 + 3], t[a * 6 + 4], t[a * 6 + 5], r);
    for (int b = 0; b < 6; b++) st(V + (a * 6 + b) * pstride + c, r[b]);
  }
}

/* ---- output transform ---- */

/* A^T applied to six vectors (rows of A^T: see WINOGRAD_TRANSFORMS[4].AT). */
static inline void at6(v m0, v m1, v m2, v m3, v m4, v m5, v *o) {
  const v two = splat(2.0f), four = splat(4.0f), eight = splat(8.0f);
  v s12 = add(m1, m2), d12 = sub(m1, m2), s34 = add(m3, m4), d34 = sub(m3, m4);
  o[0] = add(add(m0, s12), s34);
  o[1] = add(d12, mul(two, d34));
  o[2] = add(s12, mul(four, s34));
  o[3] = add(add(d12, mul(eight, d34)), m5);
}

static void output_tile(const float *M, int pstride, int c, const float *bias, int relu, float *out, int Wo, int cout,
                        int y0, int x0, int h, int w) {
  v m[36], t[24], o[4];
  for (int p = 0; p < 36; p++) m[p] = ld(M + p * pstride + c);
  for (int j = 0; j < 6; j++) {
    at6(m[j], m[6 + j], m[12 + j], m[18 + j], m[24 + j], m[30 + j], o);
    for (int a = 0; a < 4; a++) t[a * 6 + j] = o[a];
  }
  const v b = ld(bias + c), zero = wasm_f32x4_splat(0.0f);
  for (int a = 0; a < 4 && a < h; a++) {
    at6(t[a * 6], t[a * 6 + 1], t[a * 6 + 2], t[a * 6 + 3], t[a * 6 + 4], t[a * 6 + 5], o);
    for (int j = 0; j < 4 && j < w; j++) {
      v y = add(o[j], b);
      if (relu) y = wasm_f32x4_max(y, zero);
      st(out + ((y0 + a) * Wo + x0 + j) * cout + c, y);
    }
  }
}

/* ---- the products: MR rows of A (tiles, stride lda) times a panel of B ([k][NR]) into C (stride ldc) ---- */

static void mk8(int k, const float *a, int lda, const float *b, float *c, int ldc) {
  v acc0[MR], acc1[MR];
  for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = wasm_f32x4_splat(0.0f);
  for (int kk = 0; kk < k; kk++) {
    v b0 = ld(b), b1 = ld(b + 4);
    b += 8;
    for (int i = 0; i < MR; i++) {
      v x = wasm_v128_load32_splat(a + i * lda + kk);
      acc0[i] = add(acc0[i], mul(x, b0));
      acc1[i] = add(acc1[i], mul(x, b1));
    }
  }
  for (int i = 0; i < MR; i++) {
    st(c + i * ldc, acc0[i]);
    st(c + i * ldc + 4, acc1[i]);
  }
}

static void mk4(int k, const float *a, int lda, const float *b, float *c, int ldc) {
  v acc[MR];
  for (int i = 0; i < MR; i++) acc[i] = wasm_f32x4_splat(0.0f);
  for (int kk = 0; kk < k; kk++) {
    v b0 = ld(b);
    b += 4;
    for (int i = 0; i < MR; i++) acc[i] = add(acc[i], mul(wasm_v128_load32_splat(a + i * lda + kk), b0));
  }
  for (int i = 0; i < MR; i++) st(c + i * ldc, acc[i]);
}

int wf43_mr(void) { return MR; }

/* Scratch floats wf43_conv needs for blocks of tb tiles: V [36][tb][cin] and M [36][tb][cout]. */
int wf43_scratch(int cin, int cout, int tb) { return 36 * tb * (cin + cout); }

/* Returns 0, or -1 when the shapes are not supported. */
int wf43_conv(const float *in, int H2, int W2, int cin, const float *u, int cout, const float *bias, float *out,
              int relu, float *scratch, int tb) {
  if (cin % 4 || cout % 4 || tb % MR || tb <= 0 || H2 < 3 || W2 < 3) return -1;
  const int Ho = H2 - 2, Wo = W2 - 2, th = (Ho + 3) / 4, tw = (Wo + 3) / 4, T = th * tw;
  float *V = scratch, *M = scratch + 36 * tb * cin;
  const int vstride = tb * cin, mstride = tb * cout;
  for (int t0 = 0; t0 < T; t0 += tb) {
    const int nt = T - t0 < tb ? T - t0 : tb;
    const int ntr = (nt + MR - 1) / MR * MR;
    for (int t = 0; t < ntr; t++) {
      float *Vt = V + t * cin;
      if (t >= nt) { /* rows past the last tile: zeros (their products are never read) */
        for (int p = 0; p < 36; p++)
          for (int c = 0; c < cin; c += 4) st(Vt + p * vstride + c, wasm_f32x4_splat(0.0f));
        continue;
      }
      const int ty = (t0 + t) / tw, tx = (t0 + t) % tw, y0 = ty * 4, x0 = tx * 4;
      for (int c = 0; c < cin; c += 4) input_tile(in, W2, cin, y0, x0, H2 - y0, W2 - x0, c, Vt, vstride);
    }
    for (int p = 0; p < 36; p++) {
      const float *Vp = V + p * vstride, *Up = u + p * cin * cout;
      float *Mp = M + p * mstride;
      int j = 0;
      for (; j + 8 <= cout; j += 8)
        for (int i = 0; i < ntr; i += MR) mk8(cin, Vp + i * cin, cin, Up + j * cin, Mp + i * cout + j, cout);
      if (j < cout)
        for (int i = 0; i < ntr; i += MR) mk4(cin, Vp + i * cin, cin, Up + j * cin, Mp + i * cout + j, cout);
    }
    for (int t = 0; t < nt; t++) {
      const int ty = (t0 + t) / tw, tx = (t0 + t) % tw, y0 = ty * 4, x0 = tx * 4;
      for (int c = 0; c < cout; c += 4)
        output_tile(M + t * cout, mstride, c, bias, relu, out, Wo, cout, y0, x0, Ho - y0, Wo - x0);
    }
  }
  return 0;
}
