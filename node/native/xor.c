/*
 * Reed-Solomon parity from a binary (bit-)matrix: every parity packet is the XOR of the data
 * packets its matrix row selects. @ronomon/reed-solomon encodes with such a Cauchy bit-matrix but
 * XORs one source into the target at a time, 16 bytes per instruction (as built by npm): each
 * source costs a load and a store of the target too, and a 10+4 stripe XORs every data byte ~6.7
 * times (11 % of the uploading node's CPU, perf). Here the target's 256 bytes stay in registers
 * while all of their sources are added, 32 or 64 bytes per instruction (AVX2, AVX-512): 2.4x less
 * CPU for 10+4 parity, 2.2x for 4+2.
 *
 * bitmatrixEncode(data, parity, shardSize, k, m, w, chunk, rows[, async]): data holds k shards,
 * parity receives m, each shardSize bytes. Every shard is cut into sections of w packets of
 * `chunk` bytes; parity packet (j, a) of a section is the XOR of the data packets (i, c) of the
 * same section for which rows[(j * w + a) * k * w + i * w + c] is non-zero. The layout is the
 * codec's (node/erasure/bitmatrix.ts derives it and checks the result against the codec).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "napi-util.h"

#define MAX_SOURCES 256 /* k * w: 24 data shards of 8 packets at most */
#define MAX_ROWS 64     /* m * w */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BITDUST_X86 1

__attribute__((target("avx512f")))
static size_t xor_avx512(const uint8_t *const *src, size_t n, uint8_t *dst, size_t len) {
  size_t off = 0;
  for (; off + 256 <= len; off += 256) {
    const uint8_t *s = src[0] + off;
    __m512i a0 = _mm512_loadu_si512(s), a1 = _mm512_loadu_si512(s + 64), a2 = _mm512_loadu_si512(s + 128), a3 = _mm512_loadu_si512(s + 192);
    for (size_t i = 1; i < n; i++) {
      s = src[i] + off;
      a0 = _mm512_xor_si512(a0, _mm512_loadu_si512(s));
      a1 = _mm512_xor_si512(a1, _mm512_loadu_si512(s + 64));
      a2 = _mm512_xor_si512(a2, _mm512_loadu_si512(s + 128));
      a3 = _mm512_xor_si512(a3, _mm512_loadu_si512(s + 192));
    }
    _mm512_storeu_si512(dst + off, a0);
    _mm512_storeu_si512(dst + off + 64, a1);
    _mm512_storeu_si512(dst + off + 128, a2);
    _mm512_storeu_si512(dst + off + 192, a3);
  }
  return off;
}

__attribute__((target("avx2")))
static size_t xor_avx2(const uint8_t *const *src, size_t n, uint8_t *dst, size_t len) {
  size_t off = 0;
  for (; off + 128 <= len; off += 128) {
    const uint8_t *s = src[0] + off;
    __m256i a0 = _mm256_loadu_si256((const __m256i *)s), a1 = _mm256_loadu_si256((const __m256i *)(s + 32));
    __m256i a2 = _mm256_loadu_si256((const __m256i *)(s + 64)), a3 = _mm256_loadu_si256((const __m256i *)(s + 96));
    for (size_t i = 1; i < n; i++) {
      s = src[i] + off;
      a0 = _mm256_xor_si256(a0, _mm256_loadu_si256((const __m256i *)s));
      a1 = _mm256_xor_si256(a1, _mm256_loadu_si256((const __m256i *)(s + 32)));
      a2 = _mm256_xor_si256(a2, _mm256_loadu_si256((const __m256i *)(s + 64)));
      a3 = _mm256_xor_si256(a3, _mm256_loadu_si256((const __m256i *)(s + 96)));
    }
    _mm256_storeu_si256((__m256i *)(dst + off), a0);
    _mm256_storeu_si256((__m256i *)(dst + off + 32), a1);
    _mm256_storeu_si256((__m256i *)(dst + off + 64), a2);
    _mm256_storeu_si256((__m256i *)(dst + off + 96), a3);
  }
  return off;
}
#endif

/* 0: portable, 1: AVX2, 2: AVX-512 (set once at load). */
static int level = 0;

/* dst = XOR of the n >= 1 sources, len bytes each. */
static void xor_into(const uint8_t *const *src, size_t n, uint8_t *dst, size_t len) {
  size_t off = 0;
#ifdef BITDUST_X86
  if (level == 2) off = xor_avx512(src, n, dst, len);
  else if (level == 1) off = xor_avx2(src, n, dst, len);
#endif
  for (; off + 8 <= len; off += 8) {
    uint64_t a;
    memcpy(&a, src[0] + off, 8);
    for (size_t i = 1; i < n; i++) { uint64_t b; memcpy(&b, src[i] + off, 8); a ^= b; }
    memcpy(dst + off, &a, 8);
  }
  for (; off < len; off++) {
    uint8_t a = src[0][off];
    for (size_t i = 1; i < n; i++) a ^= src[i][off];
    dst[off] = a;
  }
}

typedef struct {
  bitdust_async_t async;
  const uint8_t *data;
  uint8_t *parity;
  uint32_t shard, k, m, w, chunk;
  /* Row r selects the sources src[r][0 .. n[r]) (data packet i * w + c). */
  uint16_t n[MAX_ROWS];
  uint16_t src[MAX_ROWS][MAX_SOURCES];
} job_t;

/*
 * Packets are cut into blocks of this many bytes, and every parity row takes its sources from
 * the same block before the next: a 10+4 row adds ~17 packets, and 40 source blocks of 1 KiB
 * stay in the first-level cache for all 16 rows instead of streaming each packet from L2 16 times.
 */
#define BLOCK 1024

static void encode(const job_t *j) {
  const uint32_t kw = j->k * j->w, rows = j->m * j->w;
  const uint8_t *base[MAX_SOURCES];
  const uint8_t *src[MAX_SOURCES];
  for (uint32_t o = 0; o < j->shard; o += j->w * j->chunk) {
    for (uint32_t s = 0; s < kw; s++) base[s] = j->data + (size_t)(s / j->w) * j->shard + o + (size_t)(s % j->w) * j->chunk;
    for (uint32_t b = 0; b < j->chunk; b += BLOCK) {
      const uint32_t len = j->chunk - b < BLOCK ? j->chunk - b : BLOCK;
      for (uint32_t r = 0; r < rows; r++) {
        uint8_t *dst = j->parity + (size_t)(r / j->w) * j->shard + o + (size_t)(r % j->w) * j->chunk + b;
        if (j->n[r] == 0) { memset(dst, 0, len); continue; }
        for (uint32_t i = 0; i < j->n[r]; i++) src[i] = base[j->src[r][i]] + b;
        xor_into(src, j->n[r], dst, len);
      }
    }
  }
}

static void execute(napi_env env, void *p) {
  (void)env;
  encode((const job_t *)p);
}

static void complete(napi_env env, napi_status status, void *p) {
  job_t *j = (job_t *)p;
  bitdust_finish(env, &j->async, status != napi_ok ? "bitmatrixEncode: the work was cancelled" : NULL);
  free(j);
}

static napi_value BitmatrixEncode(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 8) return bitdust_throw_range(env, "bitmatrixEncode(data, parity, shardSize, k, m, w, chunk, rows[, async])");
  void *data, *parity, *rows;
  size_t data_len, parity_len, rows_len;
  uint32_t shard, k, m, w, chunk;
  bool is_async = false;
  if (napi_get_buffer_info(env, argv[0], &data, &data_len) != napi_ok) return bitdust_throw_range(env, "data must be a Buffer");
  if (napi_get_buffer_info(env, argv[1], &parity, &parity_len) != napi_ok) return bitdust_throw_range(env, "parity must be a Buffer");
  if (napi_get_value_uint32(env, argv[2], &shard) != napi_ok || napi_get_value_uint32(env, argv[3], &k) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &m) != napi_ok || napi_get_value_uint32(env, argv[5], &w) != napi_ok ||
      napi_get_value_uint32(env, argv[6], &chunk) != napi_ok) return bitdust_throw_range(env, "shardSize, k, m, w and chunk must be numbers");
  if (napi_get_buffer_info(env, argv[7], &rows, &rows_len) != napi_ok) return bitdust_throw_range(env, "rows must be a Buffer");
  if (argc > 8) napi_get_value_bool(env, argv[8], &is_async);
  if (k == 0 || m == 0 || w == 0 || chunk == 0 || shard == 0) return bitdust_throw_range(env, "k, m, w, chunk and shardSize must be positive");
  if (w > 8 || k > MAX_SOURCES || m > MAX_ROWS || k * w > MAX_SOURCES || m * w > MAX_ROWS) return bitdust_throw_range(env, "k * w or m * w too large");
  if (shard % (w * chunk) != 0) return bitdust_throw_range(env, "shardSize must be a multiple of w * chunk");
  if (rows_len != (size_t)m * w * k * w) return bitdust_throw_range(env, "rows must have m * w * k * w entries");
  if (data_len < (size_t)k * shard || parity_len < (size_t)m * shard) return bitdust_throw_range(env, "data or parity shorter than its shards");
  job_t *j = malloc(sizeof(job_t));
  if (j == NULL) return bitdust_throw_range(env, "out of memory");
  memset(j, 0, offsetof(job_t, src));
  j->data = data; j->parity = parity; j->shard = shard; j->k = k; j->m = m; j->w = w; j->chunk = chunk;
  for (uint32_t r = 0; r < m * w; r++) {
    for (uint32_t s = 0; s < k * w; s++) {
      if (((const uint8_t *)rows)[(size_t)r * k * w + s]) j->src[r][j->n[r]++] = (uint16_t)s;
    }
  }
  if (!is_async) {
    encode(j);
    free(j);
    return NULL;
  }
  return bitdust_queue(env, &j->async, "bitdust:bitmatrixEncode", argv[0], argv[1], execute, complete, j);
}

void bitdust_register_xor(napi_env env, napi_value exports) {
#ifdef BITDUST_X86
  __builtin_cpu_init();
  level = getenv("BITDUST_NO_AVX512") == NULL && __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
  napi_value lv;
  napi_create_uint32(env, (uint32_t)level, &lv);
  napi_set_named_property(env, exports, "xorLevel", lv);
  bitdust_export(env, exports, "bitmatrixEncode", BitmatrixEncode);
}
