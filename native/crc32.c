// The zip format's CRC-32 (the reflected polynomial 0xedb88320, zlib's crc32()) of every byte wopack writes
// and reads back. node:zlib's crc32 runs zlib's table code here, about 1 GB/s: a pack of small photos spent
// some 7 % of its main thread in it, and the read-back worker as much again. With PCLMULQDQ (x86-64 since
// 2010) the data is folded 64 bytes at a time by carry-less multiplication, as in Intel's "Fast CRC
// Computation for Generic Polynomials Using PCLMULQDQ Instruction" (Gopal et al., 2009; the constants are
// its, as Linux's crc32-pclmul and Chromium's zlib use them): over 10 GB/s. Without it, eight tables.
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

static uint32_t table[8][256];

static void table_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
    table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++)
    for (int t = 1; t < 8; t++) table[t][n] = (table[t - 1][n] >> 8) ^ table[0][table[t - 1][n] & 0xff];
}

// `c` is the running CRC before its final inversion, as in the folding code below
static uint32_t by_table(uint32_t c, const uint8_t *p, size_t n) {
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t a = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    c = table[7][a & 0xff] ^ table[6][(a >> 8) & 0xff] ^ table[5][(a >> 16) & 0xff] ^ table[4][a >> 24] ^
        table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
  }
  while (n--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

// n >= 64 and a multiple of 16
__attribute__((target("pclmul,sse4.1"))) static uint32_t by_folding(uint32_t c, const uint8_t *p, size_t n) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  const __m128i k5k0 = _mm_set_epi64x(0, 0x0163cd6124);
  const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
  __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 0x00));
  __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 0x10));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 0x20));
  __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 0x30));
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)c));
  p += 64;
  n -= 64;
  // four lanes of 16 bytes folded 64 bytes ahead at a time
  for (; n >= 64; p += 64, n -= 64) {
    __m128i x5 = _mm_clmulepi64_si128(x1, k1k2, 0x00), x6 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
    __m128i x7 = _mm_clmulepi64_si128(x3, k1k2, 0x00), x8 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k1k2, 0x11), x5), _mm_loadu_si128((const __m128i *)(p + 0x00)));
    x2 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x2, k1k2, 0x11), x6), _mm_loadu_si128((const __m128i *)(p + 0x10)));
    x3 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x3, k1k2, 0x11), x7), _mm_loadu_si128((const __m128i *)(p + 0x20)));
    x4 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x4, k1k2, 0x11), x8), _mm_loadu_si128((const __m128i *)(p + 0x30)));
  }
  // the four lanes into one, then the rest 16 bytes at a time
  __m128i next[3] = {x2, x3, x4};
  for (int i = 0; i < 3; i++) {
    __m128i x5 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), next[i]), x5);
  }
  for (; n >= 16; p += 16, n -= 16) {
    __m128i x5 = _mm_clmulepi64_si128(x1, k3k4, 0x00);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), _mm_loadu_si128((const __m128i *)p)), x5);
  }
  // 128 bits to 64, then Barrett's reduction to 32
  __m128i x2r = _mm_clmulepi64_si128(x1, k3k4, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2r);
  x2r = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5k0, 0x00), x2r);
  x2r = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly, 0x10);
  x2r = _mm_clmulepi64_si128(_mm_and_si128(x2r, low32), poly, 0x00);
  return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x1, x2r), 1);
}

static int can_fold(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
#else
static uint32_t by_folding(uint32_t c, const uint8_t *p, size_t n) {
  return by_table(c, p, n);
}
static int can_fold(void) {
  return 0;
}
#endif

static int folding;

static uint32_t crc32_of(uint32_t crc, const uint8_t *p, size_t n) {
  uint32_t c = ~crc;
  if (folding && n >= 64) {
    size_t whole = n & ~(size_t)15;
    c = by_folding(c, p, whole);
    p += whole;
    n -= whole;
  }
  return ~by_table(c, p, n);
}

/* crc32(data: Uint8Array, crc = 0): zlib's crc32(crc, data), an unsigned 32-bit number */
static napi_value js_crc32(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  bool typed = false;
  void *data = NULL;
  size_t length = 0;
  napi_typedarray_type type;
  if (argc > 0) napi_is_typedarray(env, argv[0], &typed);
  if (!typed || napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "crc32(data: Uint8Array, crc?: number)");
    return NULL;
  }
  uint32_t crc = 0;
  napi_valuetype given = napi_undefined;
  if (argc > 1) napi_typeof(env, argv[1], &given);
  if (given == napi_number) {
    // (a signed 32-bit value, as zlib.crc32 once returned, means the same bits)
    int64_t v = 0;
    napi_get_value_int64(env, argv[1], &v);
    crc = (uint32_t)v;
  } else if (given != napi_undefined) {
    napi_throw_type_error(env, NULL, "crc32(data: Uint8Array, crc?: number)");
    return NULL;
  }
  napi_value r;
  napi_create_uint32(env, crc32_of(crc, data, length), &r);
  return r;
}

/* folds(): whether the folding code runs (for the tests, which check both ways give zlib's answer) */
static napi_value js_folds(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  // folds(false) turns it off, folds(true) back on where the CPU can
  if (argc > 0) {
    bool on = false;
    if (napi_get_value_bool(env, argv[0], &on) == napi_ok) folding = on && can_fold();
  }
  napi_value r;
  napi_get_boolean(env, folding, &r);
  return r;
}

static void once(void) {
  table_init();
  folding = can_fold();
}

static napi_value init(napi_env env, napi_value exports) {
  // (loaded again by each worker thread: the tables are made once)
  static pthread_once_t made = PTHREAD_ONCE_INIT;
  pthread_once(&made, once);
  napi_property_descriptor props[] = {
      {"crc32", NULL, js_crc32, NULL, NULL, NULL, napi_default, NULL},
      {"folds", NULL, js_folds, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof *props, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
