// SHA-256 for the upload's running hash of the bytes it sends, by the OpenSSL inside Node (the node binary
// exports its symbols; the same code node:crypto runs). What this adds over node:crypto is the thread: each
// update runs on libuv's pool, so a chunk is hashed while the main thread feeds it to the socket.
// The state is an OpenSSL SHA256_CTX in a buffer the caller owns (copying a state is copying its bytes).
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
// (the one-shot SHA256_* functions: deprecated in OpenSSL 3 for EVP, which keeps its state behind a pointer)
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

typedef SHA256_CTX Sha256State;

#define STATE_BYTES ((int)sizeof(Sha256State))

static void state_init(Sha256State *s) {
  SHA256_Init(s);
}

static void state_update(Sha256State *s, const uint8_t *p, size_t n) {
  SHA256_Update(s, p, n);
}

/* (OpenSSL's final clears the state it finishes: `in` is a copy) */
static void state_digest(Sha256State *in, uint8_t out[32]) {
  SHA256_Final(out, in);
}

#define CHECK(call)                                                     \
  do {                                                                  \
    if ((call) != napi_ok) {                                            \
      napi_throw_error(env, "E_NATIVE", "sha256 binding: " #call);      \
      return NULL;                                                      \
    }                                                                   \
  } while (0)

/* The bytes of a typed array or buffer argument. */
static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *length) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    napi_value ab;
    size_t offset;
    void *p;
    if (napi_get_typedarray_info(env, v, &type, length, &p, &ab, &offset) != napi_ok) return 0;
    if (type != napi_uint8_array) return 0;
    *data = p;
    return 1;
  }
  return 0;
}

static Sha256State *state_of(napi_env env, napi_value v) {
  uint8_t *p;
  size_t n;
  if (!bytes_of(env, v, &p, &n) || n != STATE_BYTES) {
    napi_throw_type_error(env, "E_NATIVE", "a sha256 state is a Uint8Array of stateBytes() bytes");
    return NULL;
  }
  return (Sha256State *)p;
}

/* stateBytes(): the size of a state */
static napi_value js_state_bytes(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  CHECK(napi_create_int32(env, STATE_BYTES, &r));
  return r;
}

/* init(state): the empty message's state */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Sha256State *s = argc == 1 ? state_of(env, argv[0]) : NULL;
  if (!s) return NULL;
  Sha256State fresh;
  state_init(&fresh);
  memcpy(s, &fresh, sizeof fresh);
  return NULL;
}

/* digest(state): 32 bytes; the state is left as it was */
static napi_value js_digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Sha256State *s = argc == 1 ? state_of(env, argv[0]) : NULL;
  if (!s) return NULL;
  Sha256State copy;
  memcpy(&copy, s, sizeof copy);
  void *out;
  napi_value buf;
  CHECK(napi_create_buffer(env, 32, &out, &buf));
  state_digest(&copy, out);
  return buf;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref state_ref, data_ref;
  uint8_t *state;
  const uint8_t *data;
  size_t length;
} Update;

static void update_execute(napi_env env, void *arg) {
  (void)env;
  Update *u = arg;
  Sha256State s;
  memcpy(&s, u->state, sizeof s);
  state_update(&s, u->data, u->length);
  memcpy(u->state, &s, sizeof s);
}

static void update_complete(napi_env env, napi_status status, void *arg) {
  Update *u = arg;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  if (status == napi_ok) napi_resolve_deferred(env, u->deferred, undefined);
  else {
    napi_value msg, err;
    napi_create_string_utf8(env, "sha256 update cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, u->deferred, err);
  }
  napi_delete_reference(env, u->state_ref);
  napi_delete_reference(env, u->data_ref);
  napi_delete_async_work(env, u->work);
  free(u);
}

/*
 * update(state, data): a promise, resolved once `data` is hashed into `state` on libuv's pool. Neither
 * may be changed (nor the state read) until it resolves; both are kept alive until then.
 */
static napi_value js_update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 2) {
    napi_throw_type_error(env, "E_NATIVE", "update(state, data)");
    return NULL;
  }
  Sha256State *s = state_of(env, argv[0]);
  if (!s) return NULL;
  uint8_t *data;
  size_t length;
  if (!bytes_of(env, argv[1], &data, &length)) {
    napi_throw_type_error(env, "E_NATIVE", "the data to hash is a Uint8Array");
    return NULL;
  }
  Update *u = calloc(1, sizeof *u);
  if (!u) {
    napi_throw_error(env, "E_NATIVE", "out of memory");
    return NULL;
  }
  u->state = (uint8_t *)s, u->data = data, u->length = length;
  napi_value promise, name;
  CHECK(napi_create_promise(env, &u->deferred, &promise));
  CHECK(napi_create_reference(env, argv[0], 1, &u->state_ref));
  CHECK(napi_create_reference(env, argv[1], 1, &u->data_ref));
  CHECK(napi_create_string_utf8(env, "wopack.sha256", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, update_execute, update_complete, u, &u->work));
  CHECK(napi_queue_async_work(env, u->work));
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"stateBytes", NULL, js_state_bytes, NULL, NULL, NULL, napi_default, NULL},
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"update", NULL, js_update, NULL, NULL, NULL, napi_default, NULL},
      {"digest", NULL, js_digest, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof *props, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
