// SHA-256 for the upload's running hash of the bytes it sends, by the OpenSSL inside Node (the node binary
// exports its symbols; the same code node:crypto runs). What this adds over node:crypto is the thread: each
// update runs on libuv's pool, so a chunk is hashed while the main thread feeds it to the socket.
// The same pass keeps the bytes' CRC-32C, the digest the platform's storage names for what it stored (SSE4.2's
// crc32 instruction where the CPU has it: some 10 GB/s, against SHA-256's 1; else a table, some 2 GB/s).
// The state is an OpenSSL SHA256_CTX and the CRC in a buffer the caller owns (copying a state is copying its
// bytes).
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
// (the one-shot SHA256_* functions: deprecated in OpenSSL 3 for EVP, which keeps its state behind a pointer)
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

typedef struct {
  SHA256_CTX sha;
  uint32_t crc;  // CRC-32C of the bytes so far, before its final inversion (0xffffffff for none)
} Sha256State;

#define STATE_BYTES ((int)sizeof(Sha256State))

static uint32_t crc_table[8][256];

static void crc_table_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    crc_table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++)
    for (int t = 1; t < 8; t++) crc_table[t][n] = (crc_table[t - 1][n] >> 8) ^ crc_table[0][crc_table[t - 1][n] & 0xff];
}

static uint32_t crc_by_table(uint32_t c, const uint8_t *p, size_t n) {
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t a = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    c = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff] ^ crc_table[5][(a >> 16) & 0xff] ^
        crc_table[4][a >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
  }
  while (n--) c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The crc32 instruction takes 3 cycles but starts one a cycle: three runs of the data are taken at once, and
// their CRCs joined by "shifting" the first over the bytes of the next (a linear map, tabled per byte: the
// zeros operator of Mark Adler's crc32c.c, the code zlib's crc32_combine grew from).
#define CRC_LONG 8192
#define CRC_SHORT 256
static uint32_t crc_long[4][256], crc_short[4][256];

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec) {
  uint32_t sum = 0;
  for (; vec; vec >>= 1, mat++)
    if (vec & 1) sum ^= *mat;
  return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat) {
  for (int n = 0; n < 32; n++) square[n] = gf2_times(mat, mat[n]);
}

// The operator that runs a CRC over `len` zero bytes (`len` a power of two).
static void zeros_operator(uint32_t *even, size_t len) {
  uint32_t odd[32];
  odd[0] = 0x82f63b78u;
  for (int n = 1; n < 32; n++) odd[n] = 1u << (n - 1);
  gf2_square(even, odd);  // 2 zero bits
  gf2_square(odd, even);  // 4 zero bits
  for (;;) {
    gf2_square(even, odd);  // 1 zero byte, then 4, 16...
    if ((len >>= 1) == 0) return;
    gf2_square(odd, even);  // 2 zero bytes, then 8, 32...
    if ((len >>= 1) == 0) break;
  }
  memcpy(even, odd, sizeof odd);
}

static void zeros_table(uint32_t zeros[4][256], size_t len) {
  uint32_t op[32];
  zeros_operator(op, len);
  for (uint32_t n = 0; n < 256; n++)
    for (int k = 0; k < 4; k++) zeros[k][n] = gf2_times(op, n << (8 * k));
}

static inline uint32_t shifted(uint32_t zeros[4][256], uint32_t crc) {
  return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

static inline uint64_t word_at(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

__attribute__((target("sse4.2"))) static uint32_t crc_three(uint32_t c, const uint8_t **pp, size_t *np, size_t run,
                                                           uint32_t zeros[4][256]) {
  const uint8_t *p = *pp;
  size_t n = *np;
  for (; n >= 3 * run; n -= 3 * run, p += 3 * run) {
    uint64_t c0 = c, c1 = 0, c2 = 0;
    for (size_t i = 0; i < run; i += 8) {
      c0 = __builtin_ia32_crc32di(c0, word_at(p + i));
      c1 = __builtin_ia32_crc32di(c1, word_at(p + run + i));
      c2 = __builtin_ia32_crc32di(c2, word_at(p + 2 * run + i));
    }
    c = shifted(zeros, shifted(zeros, (uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
  }
  *pp = p, *np = n;
  return c;
}

__attribute__((target("sse4.2"))) static uint32_t crc_by_instruction(uint32_t c, const uint8_t *p, size_t n) {
  c = crc_three(c, &p, &n, CRC_LONG, crc_long);
  c = crc_three(c, &p, &n, CRC_SHORT, crc_short);
  uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) c64 = __builtin_ia32_crc32di(c64, word_at(p));
  c = (uint32_t)c64;
  while (n--) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}

static int has_crc_instruction(void) {
  if (!__builtin_cpu_supports("sse4.2")) return 0;
  zeros_table(crc_long, CRC_LONG);
  zeros_table(crc_short, CRC_SHORT);
  return 1;
}
#else
static uint32_t crc_by_instruction(uint32_t c, const uint8_t *p, size_t n) {
  return crc_by_table(c, p, n);
}
static int has_crc_instruction(void) {
  return 0;
}
#endif

static uint32_t (*crc_update)(uint32_t, const uint8_t *, size_t) = crc_by_table;

static void state_init(Sha256State *s) {
  SHA256_Init(&s->sha);
  s->crc = 0xffffffffu;
}

static void state_update(Sha256State *s, const uint8_t *p, size_t n) {
  // (a slice at a time, so that the SHA-256 reads from the cache what the CRC just read from memory)
  for (size_t slice = 64 * 1024; n; p += slice, n -= slice) {
    if (slice > n) slice = n;
    s->crc = crc_update(s->crc, p, slice);
    SHA256_Update(&s->sha, p, slice);
  }
}

/* (OpenSSL's final clears the state it finishes: `in` is a copy) */
static void state_digest(Sha256State *in, uint8_t out[32]) {
  SHA256_Final(out, &in->sha);
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

/* crc32c(state): the CRC-32C of the bytes so far, an unsigned 32-bit number */
static napi_value js_crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Sha256State *s = argc == 1 ? state_of(env, argv[0]) : NULL;
  if (!s) return NULL;
  napi_value r;
  CHECK(napi_create_uint32(env, ~s->crc, &r));
  return r;
}

/*
 * hugePages(buffer): asks the kernel to back the 2 MiB-aligned part of a buffer not yet touched with huge
 * pages (transparent huge pages in "madvise" mode): a 16 MiB chunk buffer then takes 8 page faults on its
 * first read instead of 4,096 (each a trap, and dear on a virtual machine). True when the advice was taken.
 */
static napi_value js_huge_pages(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data = NULL;
  size_t length = 0;
  if (argc != 1 || !bytes_of(env, argv[0], &data, &length)) {
    napi_throw_type_error(env, "E_NATIVE", "hugePages(buffer)");
    return NULL;
  }
  bool taken = false;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = 2u << 20;
  uintptr_t from = ((uintptr_t)data + huge - 1) & ~(huge - 1), to = ((uintptr_t)data + length) & ~(huge - 1);
  if (to > from) taken = madvise((void *)from, to - from, MADV_HUGEPAGE) == 0;
#endif
  napi_value r;
  CHECK(napi_get_boolean(env, taken, &r));
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  crc_table_init();
  if (has_crc_instruction()) crc_update = crc_by_instruction;
  napi_property_descriptor props[] = {
      {"stateBytes", NULL, js_state_bytes, NULL, NULL, NULL, napi_default, NULL},
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"update", NULL, js_update, NULL, NULL, NULL, napi_default, NULL},
      {"digest", NULL, js_digest, NULL, NULL, NULL, napi_default, NULL},
      {"crc32c", NULL, js_crc32c, NULL, NULL, NULL, napi_default, NULL},
      {"hugePages", NULL, js_huge_pages, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof *props, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
