/*
 * SHA-256 of fixed-size messages (256-byte segments, 64-byte node pairs) with the x86 SHA
 * extensions, two messages interleaved: sha256rnds2 is latency-bound, so two independent
 * messages in flight roughly double the throughput of one. Used only when CPUID reports SHA,
 * SSSE3 and SSE4.1; otherwise merkle.c uses OpenSSL. Tests compare both with node's crypto.
 */
#ifndef BITDUST_SHA_NI_H
#define BITDUST_SHA_NI_H
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BITDUST_HAVE_SHA_NI 1
#include <immintrin.h>
#include <cpuid.h>

#define SHANI __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t K256[64] __attribute__((aligned(16))) = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t IV256[8] = {
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* Padding blocks of 256-byte and 64-byte messages: 0x80, zeros, bit length big-endian. */
static uint8_t PAD256[64], PAD64[64];

/*
 * The padding block of a fixed-length message is the same for every message, so its whole
 * message schedule is too: W[t] + K[t] for t = 0..63, four rounds per vector, computed once.
 * Its compression is then the rounds alone, without loads, shuffles or sha256msg1/msg2: leaves
 * hashed 7 % faster and nodes 1.5-2 % in a paired microbenchmark (the rounds, not the schedule,
 * are what bounds SHA-NI here: two interleaved messages already reach the four-message rate).
 */
static uint32_t PAD256_WK[64] __attribute__((aligned(16))), PAD64_WK[64] __attribute__((aligned(16)));

static uint32_t ror32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void schedule_plus_k(const uint8_t *block, uint32_t *wk) {
  uint32_t w[64];
  for (int t = 0; t < 16; t++) w[t] = (uint32_t)block[4 * t] << 24 | (uint32_t)block[4 * t + 1] << 16 | (uint32_t)block[4 * t + 2] << 8 | block[4 * t + 3];
  for (int t = 16; t < 64; t++) {
    uint32_t s0 = ror32(w[t - 15], 7) ^ ror32(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = ror32(w[t - 2], 17) ^ ror32(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  for (int t = 0; t < 64; t++) wk[t] = w[t] + K256[t];
}

static int sha_ni_supported(void) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  if (!(c & (1u << 9)) || !(c & (1u << 19))) return 0; /* SSSE3, SSE4.1 */
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  if (!(b & (1u << 29))) return 0; /* SHA */
  memset(PAD256, 0, 64); PAD256[0] = 0x80; PAD256[62] = 0x08; /* 2048 bits */
  memset(PAD64, 0, 64); PAD64[0] = 0x80; PAD64[62] = 0x02; /* 512 bits */
  schedule_plus_k(PAD256, PAD256_WK);
  schedule_plus_k(PAD64, PAD64_WK);
  return 1;
}

/*
 * One 64-byte block into two interleaved states (ABEF/CDGH layout): the message bytes pa and pb,
 * or, with `wk`, a padding block given as its schedule plus constants (the rounds alone).
 */
SHANI static inline __attribute__((always_inline)) void compress2(__m128i *a0, __m128i *a1, const uint8_t *pa, __m128i *b0, __m128i *b1, const uint8_t *pb, const uint32_t *wk) {
  const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i xa[4], xb[4];
  __m128i sa0 = *a0, sa1 = *a1, sb0 = *b0, sb1 = *b1;
  const __m128i sva0 = sa0, sva1 = sa1, svb0 = sb0, svb1 = sb1;
#pragma GCC unroll 16
  for (int j = 0; j < 16; j++) {
    __m128i ma, mb;
    if (wk != NULL) {
      ma = mb = _mm_load_si128((const __m128i *)(wk + 4 * j));
    } else {
      __m128i wa, wb;
      if (j < 4) {
        wa = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 16 * j)), MASK);
        wb = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 16 * j)), MASK);
      } else {
        __m128i ta = _mm_sha256msg1_epu32(xa[j & 3], xa[(j + 1) & 3]);
        __m128i tb = _mm_sha256msg1_epu32(xb[j & 3], xb[(j + 1) & 3]);
        ta = _mm_add_epi32(ta, _mm_alignr_epi8(xa[(j + 3) & 3], xa[(j + 2) & 3], 4));
        tb = _mm_add_epi32(tb, _mm_alignr_epi8(xb[(j + 3) & 3], xb[(j + 2) & 3], 4));
        wa = _mm_sha256msg2_epu32(ta, xa[(j + 3) & 3]);
        wb = _mm_sha256msg2_epu32(tb, xb[(j + 3) & 3]);
      }
      xa[j & 3] = wa;
      xb[j & 3] = wb;
      const __m128i k = _mm_load_si128((const __m128i *)(K256 + 4 * j));
      ma = _mm_add_epi32(wa, k);
      mb = _mm_add_epi32(wb, k);
    }
    sa1 = _mm_sha256rnds2_epu32(sa1, sa0, ma);
    sb1 = _mm_sha256rnds2_epu32(sb1, sb0, mb);
    ma = _mm_shuffle_epi32(ma, 0x0E);
    mb = _mm_shuffle_epi32(mb, 0x0E);
    sa0 = _mm_sha256rnds2_epu32(sa0, sa1, ma);
    sb0 = _mm_sha256rnds2_epu32(sb0, sb1, mb);
  }
  *a0 = _mm_add_epi32(sa0, sva0); *a1 = _mm_add_epi32(sa1, sva1);
  *b0 = _mm_add_epi32(sb0, svb0); *b1 = _mm_add_epi32(sb1, svb1);
}

SHANI static inline __attribute__((always_inline)) void iv_state(__m128i *s0, __m128i *s1) {
  __m128i tmp = _mm_loadu_si128((const __m128i *)&IV256[0]);
  __m128i st1 = _mm_loadu_si128((const __m128i *)&IV256[4]);
  tmp = _mm_shuffle_epi32(tmp, 0xB1);          /* CDAB */
  st1 = _mm_shuffle_epi32(st1, 0x1B);          /* EFGH */
  *s0 = _mm_alignr_epi8(tmp, st1, 8);          /* ABEF */
  *s1 = _mm_blend_epi16(st1, tmp, 0xF0);       /* CDGH */
}

SHANI static inline __attribute__((always_inline)) void store_digest(__m128i s0, __m128i s1, uint8_t *out) {
  const __m128i BSWAP = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
  __m128i tmp = _mm_shuffle_epi32(s0, 0x1B);   /* FEBA */
  s1 = _mm_shuffle_epi32(s1, 0xB1);            /* DCHG */
  __m128i h0 = _mm_blend_epi16(tmp, s1, 0xF0); /* DCBA: h0..h3 */
  __m128i h1 = _mm_alignr_epi8(s1, tmp, 8);    /* HGFE: h4..h7 */
  _mm_storeu_si128((__m128i *)out, _mm_shuffle_epi8(h0, BSWAP));
  _mm_storeu_si128((__m128i *)(out + 16), _mm_shuffle_epi8(h1, BSWAP));
}

/* sha256 of two 256-byte messages. Inputs are read before outputs are written. */
SHANI static void sha256_256x2(const uint8_t *a, const uint8_t *b, uint8_t *oa, uint8_t *ob) {
  __m128i a0, a1, b0, b1;
  iv_state(&a0, &a1); b0 = a0; b1 = a1;
  for (int i = 0; i < 4; i++) compress2(&a0, &a1, a + 64 * i, &b0, &b1, b + 64 * i, NULL);
  compress2(&a0, &a1, NULL, &b0, &b1, NULL, PAD256_WK);
  store_digest(a0, a1, oa);
  store_digest(b0, b1, ob);
}

/* sha256 of two 64-byte messages (node = sha256(left || right)). */
SHANI static void sha256_64x2(const uint8_t *a, const uint8_t *b, uint8_t *oa, uint8_t *ob) {
  __m128i a0, a1, b0, b1;
  iv_state(&a0, &a1); b0 = a0; b1 = a1;
  compress2(&a0, &a1, a, &b0, &b1, b, NULL);
  compress2(&a0, &a1, NULL, &b0, &b1, NULL, PAD64_WK);
  store_digest(a0, a1, oa);
  store_digest(b0, b1, ob);
}

/* The same for four states at once. */
SHANI static inline __attribute__((always_inline)) void compress4(__m128i *s0, __m128i *s1, const uint8_t *const *p, const uint32_t *wk) {
  const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i x[4][4];
  __m128i a[4], b[4], sa[4], sb[4];
#pragma GCC unroll 4
  for (int l = 0; l < 4; l++) { a[l] = s0[l]; b[l] = s1[l]; sa[l] = a[l]; sb[l] = b[l]; }
#pragma GCC unroll 16
  for (int j = 0; j < 16; j++) {
    const __m128i k = _mm_load_si128((const __m128i *)((wk != NULL ? wk : K256) + 4 * j));
#pragma GCC unroll 4
    for (int l = 0; l < 4; l++) {
      __m128i m = k;
      if (wk == NULL) {
        __m128i w;
        if (j < 4) {
          w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p[l] + 16 * j)), MASK);
        } else {
          __m128i t = _mm_sha256msg1_epu32(x[l][j & 3], x[l][(j + 1) & 3]);
          t = _mm_add_epi32(t, _mm_alignr_epi8(x[l][(j + 3) & 3], x[l][(j + 2) & 3], 4));
          w = _mm_sha256msg2_epu32(t, x[l][(j + 3) & 3]);
        }
        x[l][j & 3] = w;
        m = _mm_add_epi32(w, k);
      }
      b[l] = _mm_sha256rnds2_epu32(b[l], a[l], m);
      m = _mm_shuffle_epi32(m, 0x0E);
      a[l] = _mm_sha256rnds2_epu32(a[l], b[l], m);
    }
  }
#pragma GCC unroll 4
  for (int l = 0; l < 4; l++) { s0[l] = _mm_add_epi32(a[l], sa[l]); s1[l] = _mm_add_epi32(b[l], sb[l]); }
}

SHANI static void sha256_256x4(const uint8_t *in, uint8_t *out) {
  __m128i s0[4], s1[4];
  iv_state(&s0[0], &s1[0]);
  for (int l = 1; l < 4; l++) { s0[l] = s0[0]; s1[l] = s1[0]; }
  for (int i = 0; i < 4; i++) {
    const uint8_t *p[4] = { in + i * 64, in + 256 + i * 64, in + 512 + i * 64, in + 768 + i * 64 };
    compress4(s0, s1, p, NULL);
  }
  compress4(s0, s1, NULL, PAD256_WK);
  for (int l = 0; l < 4; l++) store_digest(s0[l], s1[l], out + 32 * l);
}

/* Four nodes from 256 contiguous bytes of children; all inputs are loaded before any store. */
SHANI static void sha256_64x4(const uint8_t *in, uint8_t *out) {
  __m128i s0[4], s1[4];
  iv_state(&s0[0], &s1[0]);
  for (int l = 1; l < 4; l++) { s0[l] = s0[0]; s1[l] = s1[0]; }
  const uint8_t *p[4] = { in, in + 64, in + 128, in + 192 };
  compress4(s0, s1, p, NULL);
  compress4(s0, s1, NULL, PAD64_WK);
  for (int l = 0; l < 4; l++) store_digest(s0[l], s1[l], out + 32 * l);
}
#endif
#endif
