/*
 * N-API plumbing shared by the addon's files: exporting a function, returning a boolean,
 * throwing a RangeError, queueing an async job and settling its promise; and the registration of each file's functions (called from merkle.c,
 * which holds the module's entry point).
 */
#ifndef BITDUST_NAPI_UTIL_H
#define BITDUST_NAPI_UTIL_H

#include <node_api.h>
#include <stdbool.h>

static inline void bitdust_export(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

static inline napi_value bitdust_boolean(napi_env env, bool value) {
  napi_value result;
  napi_get_boolean(env, value, &result);
  return result;
}

static inline napi_value bitdust_throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

/* Ends an async job's promise: resolved with undefined, or rejected with Error(error) if error is set. */
static inline void bitdust_settle(napi_env env, napi_deferred deferred, const char *error) {
  if (error != NULL) {
    napi_value msg, err;
    napi_create_string_utf8(env, error, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, deferred, err);
    return;
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  napi_resolve_deferred(env, deferred, undef);
}

/* The N-API side of an async job: its work, its promise, and the two buffers it keeps alive. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffers[2];
} bitdust_async_t;

/*
 * Keeps `a` and `b` (the job's input and output buffers) alive, queues `execute` on the libuv
 * pool and `complete` after it, both given `data`; returns the job's promise.
 */
static inline napi_value bitdust_queue(napi_env env, bitdust_async_t *job, const char *name, napi_value a, napi_value b,
    napi_async_execute_callback execute, napi_async_complete_callback complete, void *data) {
  napi_value promise, resource;
  napi_create_reference(env, a, 1, &job->buffers[0]);
  napi_create_reference(env, b, 1, &job->buffers[1]);
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource);
  napi_create_async_work(env, NULL, resource, execute, complete, data, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

/* Settles the job's promise (see bitdust_settle) and releases its buffers and work; the caller frees the job. */
static inline void bitdust_finish(napi_env env, bitdust_async_t *job, const char *error) {
  bitdust_settle(env, job->deferred, error);
  napi_delete_reference(env, job->buffers[0]);
  napi_delete_reference(env, job->buffers[1]);
  napi_delete_async_work(env, job->work);
}

void bitdust_register_aead(napi_env env, napi_value exports);
void bitdust_register_malloc(napi_env env, napi_value exports);
void bitdust_register_xor(napi_env env, napi_value exports);

#endif
