/*
 * AEAD without the allocations of node's Cipher API: ChaCha20-Poly1305 for noise transport
 * messages, AES-256-GCM for the chunks of the file format. createCipheriv builds a cipher object
 * per message, and every update() allocates a new output buffer and copies the result into it
 * once more; for a supplier receiving fragments that was a copy plus an allocation per byte and
 * most of its garbage collection, and for an uploading node a fresh MiB (each page faulted in)
 * per file chunk. Here:
 *
 *   aeadSeal(key, nonce, ad, parts, out[, alg])  encrypts the concatenated parts into out
 *                                                (length sum(parts) + 16: ciphertext, then the tag)
 *   aeadOpen(key, nonce, ad, parts, tag[, alg])  decrypts the parts in place; returns false, and
 *                                                leaves the parts scrambled, if the tag does not
 *                                                authenticate
 *
 * alg: 0 (default) ChaCha20-Poly1305 as in RFC 8439 and noise's ChaChaPoly, 1 AES-256-GCM; both
 * with a 32-byte key, 12-byte nonce and 16-byte tag. OpenSSL's symbols come from the node binary
 * itself, as for merkle.c.
 */
#include <openssl/evp.h>
#include "napi-util.h"
#include <stdbool.h>
#include <stdint.h>

#define KEY 32
#define NONCE 12
#define TAG 16
#define MAX_PARTS 64

static bool bytes(napi_env env, napi_value v, uint8_t **p, size_t *n) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, n, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) return false;
  *p = (uint8_t *)data;
  return true;
}

typedef struct {
  uint8_t *p[MAX_PARTS];
  size_t n[MAX_PARTS];
  uint32_t count;
  size_t total;
} parts_t;

static bool get_parts(napi_env env, napi_value arr, parts_t *parts) {
  bool is = false;
  if (napi_is_array(env, arr, &is) != napi_ok || !is) return false;
  if (napi_get_array_length(env, arr, &parts->count) != napi_ok || parts->count > MAX_PARTS) return false;
  parts->total = 0;
  for (uint32_t i = 0; i < parts->count; i++) {
    napi_value v;
    if (napi_get_element(env, arr, i, &v) != napi_ok || !bytes(env, v, &parts->p[i], &parts->n[i])) return false;
    if (parts->n[i] > INT32_MAX) return false;
    parts->total += parts->n[i];
  }
  return true;
}

/* The arguments both functions take: key, nonce, ad, parts, a last buffer (out or tag), alg. */
typedef struct {
  uint8_t *key, *nonce, *ad, *last;
  size_t ad_len, last_len;
  parts_t parts;
  const EVP_CIPHER *cipher;
} aead_args_t;

static const char *read_args(napi_env env, napi_callback_info info, const char *usage, aead_args_t *a) {
  size_t argc = 6, n;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return usage;
  uint32_t alg = 0;
  if (argc > 5 && napi_get_value_uint32(env, argv[5], &alg) != napi_ok) return "alg must be 0 (ChaCha20-Poly1305) or 1 (AES-256-GCM)";
  if (alg > 1) return "alg must be 0 (ChaCha20-Poly1305) or 1 (AES-256-GCM)";
  a->cipher = alg == 1 ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
  if (!bytes(env, argv[0], &a->key, &n) || n != KEY) return "key must be a 32-byte Uint8Array";
  if (!bytes(env, argv[1], &a->nonce, &n) || n != NONCE) return "nonce must be a 12-byte Uint8Array";
  if (!bytes(env, argv[2], &a->ad, &a->ad_len) || a->ad_len > INT32_MAX) return "ad must be a Uint8Array";
  if (!get_parts(env, argv[3], &a->parts)) return "parts must be an array of at most 64 Uint8Arrays";
  if (!bytes(env, argv[4], &a->last, &a->last_len)) a->last = NULL;
  return NULL;
}

static EVP_CIPHER_CTX *start(int enc, const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *nonce, const uint8_t *ad, size_t ad_len) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return NULL;
  int outl;
  if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, NONCE, NULL) != 1 ||
      EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
      (ad_len > 0 && EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)ad_len) != 1)) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static napi_value Seal(napi_env env, napi_callback_info info) {
  aead_args_t a;
  const char *err = read_args(env, info, "aeadSeal(key, nonce, ad, parts, out[, alg])", &a);
  if (err != NULL) return bitdust_throw_range(env, err);
  if (a.last == NULL || a.last_len != a.parts.total + TAG) return bitdust_throw_range(env, "out must be a Uint8Array of the parts' length + 16");
  uint8_t *out = a.last;
  parts_t parts = a.parts;
  EVP_CIPHER_CTX *ctx = start(1, a.cipher, a.key, a.nonce, a.ad, a.ad_len);
  if (ctx == NULL) return bitdust_throw_range(env, "aeadSeal: cipher setup failed");
  size_t off = 0;
  int outl = 0;
  bool ok = true;
  for (uint32_t i = 0; ok && i < parts.count; i++) {
    ok = EVP_CipherUpdate(ctx, out + off, &outl, parts.p[i], (int)parts.n[i]) == 1 && (size_t)outl == parts.n[i];
    off += parts.n[i];
  }
  ok = ok && EVP_CipherFinal_ex(ctx, out + off, &outl) == 1 && outl == 0 &&
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG, out + off) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return bitdust_throw_range(env, "aeadSeal: encryption failed");
  return NULL;
}

static napi_value Open(napi_env env, napi_callback_info info) {
  aead_args_t a;
  const char *err = read_args(env, info, "aeadOpen(key, nonce, ad, parts, tag[, alg])", &a);
  if (err != NULL) return bitdust_throw_range(env, err);
  if (a.last == NULL || a.last_len != TAG) return bitdust_throw_range(env, "tag must be a 16-byte Uint8Array");
  uint8_t *tag = a.last;
  parts_t parts = a.parts;
  EVP_CIPHER_CTX *ctx = start(0, a.cipher, a.key, a.nonce, a.ad, a.ad_len);
  if (ctx == NULL) return bitdust_throw_range(env, "aeadOpen: cipher setup failed");
  int outl = 0;
  bool ok = true;
  /* In place: OpenSSL allows the output to be exactly the input. */
  for (uint32_t i = 0; ok && i < parts.count; i++) {
    ok = EVP_CipherUpdate(ctx, parts.p[i], &outl, parts.p[i], (int)parts.n[i]) == 1 && (size_t)outl == parts.n[i];
  }
  uint8_t final_block[TAG];
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG, tag) == 1 &&
    EVP_CipherFinal_ex(ctx, final_block, &outl) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return bitdust_boolean(env, ok);
}

void bitdust_register_aead(napi_env env, napi_value exports) {
  bitdust_export(env, exports, "aeadSeal", Seal);
  bitdust_export(env, exports, "aeadOpen", Open);
}
