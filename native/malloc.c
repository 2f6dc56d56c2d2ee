// glibc's allocator tuned for a process that converts large pictures on many threads (pack, watch):
// every thread that allocates gets an arena of its own (up to 8 per core), and freed blocks of up to
// 32 MB stay in them once one that large was freed (the mmap threshold grows). libvips' and the
// decoders' threads come and go, so a mixed set of 12-29 MP photos grew wopack to 800+ MB of memory
// it no longer used. Called once at the start of a pack, before the conversion threads exist: threads
// made afterwards share two arenas, and blocks of 1 MiB or more go back to the system when freed.
// (MALLOC_ARENA_MAX in the environment has the same effect, but only if set before the process starts.)
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static napi_value tune(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t arenas = 2, threshold = 1 << 20;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc > 0) napi_get_value_int32(env, argv[0], &arenas);
  if (argc > 1) napi_get_value_int32(env, argv[1], &threshold);
  int ok = 0;
#if defined(__GLIBC__)
  // (the trim threshold too, as glibc's own rule would (twice the mmap threshold): setting the mmap threshold
  // stops glibc from moving it, and left as it was when tune() ran, it depends on what the process freed
  // before. At 128 KB, each small photo's buffers freed on a decoding thread gave that thread's heap back and
  // took it again: ~1,100 madvise calls and +0.1-0.2 s of system time over 1,000 small photos.)
  ok = mallopt(M_ARENA_MAX, arenas) == 1 && mallopt(M_MMAP_THRESHOLD, threshold) == 1 &&
       mallopt(M_TRIM_THRESHOLD, 2 * threshold) == 1;
#endif
  napi_value r;
  napi_get_boolean(env, ok, &r);
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {{"tune", NULL, tune, NULL, NULL, NULL, napi_default, NULL}};
  if (napi_define_properties(env, exports, 1, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
