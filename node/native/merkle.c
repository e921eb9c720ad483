/*
 * Merkle subtrees over 256-byte segments with OpenSSL's SHA-256 (SHA-NI where the CPU has it),
 * many leaves per call: per-call overhead of node's crypto.hash() dominates 256-byte leaves.
 *
 * treeLevels(data, segments, height, fromLevel, out[, async]) hashes `segments` (<= 2^height)
 * segments of `data` into a subtree of the given height, padding missing leaves with 32 zero
 * bytes (the convention of node/proofs/merkle.ts), and writes levels fromLevel..height (each
 * level L padded to 2^(height-L) nodes, lowest level first) into `out`. With async = true it
 * runs on the libuv thread pool and returns a Promise; otherwise it returns undefined.
 *
 * OpenSSL's symbols come from the node binary itself (node exports them), so nothing links here.
 */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "napi-util.h"
#include "sha-ni.h"

#define SEGMENT 256
#define HASH 32
#define MAX_HEIGHT 24

static int use_sha_ni = 0;

static void sha256(const uint8_t *d, size_t n, uint8_t *md) {
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, d, n);
  SHA256_Final(md, &c);
}

static size_t levels_bytes(uint32_t height, uint32_t from) {
  size_t total = 0;
  for (uint32_t l = from; l <= height; l++) total += ((size_t)1 << (height - l)) * HASH;
  return total;
}

static void hash_segments(const uint8_t *data, size_t n, uint8_t *out) {
  size_t i = 0;
#ifdef BITDUST_HAVE_SHA_NI
  if (use_sha_ni == 4) {
    for (; i + 4 <= n; i += 4) sha256_256x4(data + i * SEGMENT, out + i * HASH);
  }
  if (use_sha_ni) {
    for (; i + 2 <= n; i += 2) sha256_256x2(data + i * SEGMENT, data + (i + 1) * SEGMENT, out + i * HASH, out + (i + 1) * HASH);
  }
#endif
  for (; i < n; i++) sha256(data + i * SEGMENT, SEGMENT, out + i * HASH);
}

/* Node i = sha256(in[2i] || in[2i+1]); out may be in (node i reads 64 bytes at 64i >= 32i). */
static void hash_pairs(const uint8_t *in, size_t n, uint8_t *out) {
  size_t i = 0;
#ifdef BITDUST_HAVE_SHA_NI
  if (use_sha_ni == 4) {
    /* Nodes i..i+3 read bytes [64i, 64i + 256) and write [32i, 32i + 128): in place is safe since all loads precede the stores, and for i > 0 the ranges of later groups are untouched. */
    for (; i + 4 <= n; i += 4) sha256_64x4(in + 2 * i * HASH, out + i * HASH);
  }
  if (use_sha_ni) {
    /* Both inputs are loaded before either output is stored, so in-place is safe here too. */
    for (; i + 2 <= n; i += 2) sha256_64x2(in + 2 * i * HASH, in + 2 * (i + 1) * HASH, out + i * HASH, out + (i + 1) * HASH);
  }
#endif
  for (; i < n; i++) sha256(in + 2 * i * HASH, 2 * HASH, out + i * HASH);
}

/* scratch: 2^height * HASH bytes. */
static void tree_levels(const uint8_t *data, uint32_t segments, uint32_t height, uint32_t from, uint8_t *out, uint8_t *scratch) {
  size_t width = (size_t)1 << height;
  hash_segments(data, segments, scratch);
  memset(scratch + (size_t)segments * HASH, 0, (width - segments) * HASH);
  uint8_t *o = out;
  if (from == 0) { memcpy(o, scratch, width * HASH); o += width * HASH; }
  for (uint32_t l = 1; l <= height; l++) {
    width >>= 1;
    hash_pairs(scratch, width, scratch);
    if (l >= from) { memcpy(o, scratch, width * HASH); o += width * HASH; }
  }
}

typedef struct {
  bitdust_async_t async;
  const uint8_t *data;
  uint8_t *out;
  uint32_t segments, height, from;
  int failed;
} job_t;

static void execute(napi_env env, void *p) {
  (void)env;
  job_t *j = (job_t *)p;
  uint8_t *scratch = malloc(((size_t)1 << j->height) * HASH);
  if (scratch == NULL) { j->failed = 1; return; }
  tree_levels(j->data, j->segments, j->height, j->from, j->out, scratch);
  free(scratch);
}

static void complete(napi_env env, napi_status status, void *p) {
  job_t *j = (job_t *)p;
  bitdust_finish(env, &j->async, status != napi_ok || j->failed ? "treeLevels: out of memory" : NULL);
  free(j);
}

static napi_value TreeLevels(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return bitdust_throw_range(env, "treeLevels(data, segments, height, fromLevel, out[, async])");
  void *data, *out;
  size_t data_len, out_len;
  uint32_t segments, height, from;
  bool is_async = false;
  if (napi_get_buffer_info(env, argv[0], &data, &data_len) != napi_ok) return bitdust_throw_range(env, "data must be a Buffer");
  if (napi_get_value_uint32(env, argv[1], &segments) != napi_ok) return bitdust_throw_range(env, "segments must be a number");
  if (napi_get_value_uint32(env, argv[2], &height) != napi_ok) return bitdust_throw_range(env, "height must be a number");
  if (napi_get_value_uint32(env, argv[3], &from) != napi_ok) return bitdust_throw_range(env, "fromLevel must be a number");
  if (napi_get_buffer_info(env, argv[4], &out, &out_len) != napi_ok) return bitdust_throw_range(env, "out must be a Buffer");
  if (argc > 5) napi_get_value_bool(env, argv[5], &is_async);
  if (height > MAX_HEIGHT || from > height) return bitdust_throw_range(env, "height or fromLevel out of range");
  if (segments == 0 || segments > ((uint32_t)1 << height)) return bitdust_throw_range(env, "segments out of range");
  if (data_len < (size_t)segments * SEGMENT) return bitdust_throw_range(env, "data shorter than segments * 256");
  if (out_len < levels_bytes(height, from)) return bitdust_throw_range(env, "out too small");
  if (!is_async) {
    uint8_t *scratch = malloc(((size_t)1 << height) * HASH);
    if (scratch == NULL) return bitdust_throw_range(env, "out of memory");
    tree_levels(data, segments, height, from, out, scratch);
    free(scratch);
    return NULL;
  }
  job_t *j = calloc(1, sizeof(job_t));
  if (j == NULL) return bitdust_throw_range(env, "out of memory");
  j->data = data; j->out = out; j->segments = segments; j->height = height; j->from = from;
  return bitdust_queue(env, &j->async, "bitdust:treeLevels", argv[0], argv[4], execute, complete, j);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
#ifdef BITDUST_HAVE_SHA_NI
  use_sha_ni = getenv("BITDUST_NO_SHA_NI") == NULL && sha_ni_supported() ? (getenv("BITDUST_SHA_NI_2") != NULL ? 2 : 4) : 0;
#endif
  napi_set_named_property(env, exports, "shaNi", bitdust_boolean(env, use_sha_ni != 0));
  bitdust_export(env, exports, "treeLevels", TreeLevels);
  bitdust_register_aead(env, exports);
  bitdust_register_malloc(env, exports);
  bitdust_register_xor(env, exports);
  return exports;
}
