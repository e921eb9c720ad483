/*
 * tuneMalloc(mmapThreshold, trimThreshold): glibc's thresholds for a process that streams
 * gigabytes through short-lived buffers of 64 KiB to a few MiB. With the defaults, the memory a
 * garbage collection frees in bulk is handed back to the kernel (trimmed or unmapped), and the
 * next buffers fault every page in again, zeroed: measured as a third of the user node's main
 * thread while downloading. Returns false where the C library is not glibc.
 */
#include "napi-util.h"
#include <stdint.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value TuneMalloc(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool ok = false;
#ifdef __GLIBC__
  uint32_t mmap_threshold = 0, trim_threshold = 0;
  if (argc == 2 && napi_get_value_uint32(env, argv[0], &mmap_threshold) == napi_ok &&
      napi_get_value_uint32(env, argv[1], &trim_threshold) == napi_ok &&
      mmap_threshold <= INT32_MAX && trim_threshold <= INT32_MAX) {
    ok = mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, (int)trim_threshold) == 1;
  }
#endif
  return bitdust_boolean(env, ok);
}

void bitdust_register_malloc(napi_env env, napi_value exports) {
  bitdust_export(env, exports, "tuneMalloc", TuneMalloc);
}
