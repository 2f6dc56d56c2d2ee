// A thin Node-API binding to the system's libheif (with its native libde265 HEVC decoder): decodes the
// primary image of a HEIF/HEIC file to interleaved 8-bit RGB(A), on libuv's thread pool. libheif
// applies the grid, irot/imir and clap boxes while decoding, so the pixels are upright.
//
//   decode(bytes: Uint8Array, maxPixels: number, room = 0):
//     Promise<{ width, height, channels, data: ArrayBuffer }>, the pixels starting `room` bytes into data
//     (room for a file header in front of them, so that they need not be copied again)
//   version(): string
//
// Errors reject with an Error whose `code` is E_IMAGE_TOO_LARGE or E_IMAGE_CORRUPT.
#define NAPI_VERSION 8
#include <libheif/heif.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref;
  const uint8_t* input;
  size_t input_len;
  double max_pixels;
  size_t room;
  // results
  int width, height, channels;
  uint8_t* pixels;           // a copy after `room` bytes, when asked for room or libheif's rows are padded
  struct heif_image* image;  // else libheif's own plane, handed to JS as is
  const char* code;
  char message[256];
} Job;

static void fail(Job* job, const char* code, const char* message) {
  job->code = code;
  snprintf(job->message, sizeof job->message, "%s", message);
}

static void execute(napi_env env, void* data) {
  (void)env;
  Job* job = data;
  struct heif_context* ctx = heif_context_alloc();
  struct heif_image_handle* handle = NULL;
  struct heif_image* image = NULL;
  struct heif_decoding_options* options = NULL;
  struct heif_error err = heif_context_read_from_memory_without_copy(ctx, job->input, job->input_len, NULL);
  if (err.code != heif_error_Ok) {
    fail(job, "E_IMAGE_CORRUPT", err.message);
    goto done;
  }
  err = heif_context_get_primary_image_handle(ctx, &handle);
  if (err.code != heif_error_Ok) {
    fail(job, "E_IMAGE_CORRUPT", err.message);
    goto done;
  }
  int w = heif_image_handle_get_width(handle), h = heif_image_handle_get_height(handle);
  if ((double)w * (double)h > job->max_pixels) {
    job->code = "E_IMAGE_TOO_LARGE";
    snprintf(job->message, sizeof job->message, "%dx%d pixels", w, h);
    goto done;
  }
  int alpha = heif_image_handle_has_alpha_channel(handle);
  options = heif_decoding_options_alloc();
  options->convert_hdr_to_8bit = 1;
  err = heif_decode_image(handle, &image, heif_colorspace_RGB,
                          alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, options);
  if (err.code != heif_error_Ok) {
    fail(job, "E_IMAGE_CORRUPT", err.message);
    goto done;
  }
  int stride = 0;
  const uint8_t* plane = heif_image_get_plane_readonly(image, heif_channel_interleaved, &stride);
  w = heif_image_get_width(image, heif_channel_interleaved);
  h = heif_image_get_height(image, heif_channel_interleaved);
  int channels = alpha ? 4 : 3;
  if (!plane || heif_image_get_bits_per_pixel(image, heif_channel_interleaved) != 8 * channels) {
    fail(job, "E_IMAGE_CORRUPT", "libheif returned no 8-bit RGB plane");
    goto done;
  }
  size_t row = (size_t)w * channels;
  if (job->room == 0 && (size_t)stride == row) {
    job->image = image;
    image = NULL;
  } else {
    job->pixels = malloc(job->room + row * h);
    if (!job->pixels) {
      fail(job, "E_IMAGE_TOO_LARGE", "out of memory for the decoded pixels");
      goto done;
    }
    uint8_t* to = job->pixels + job->room;
    for (int y = 0; y < h; y++) memcpy(to + row * y, plane + (size_t)stride * y, row);
  }
  job->width = w;
  job->height = h;
  job->channels = channels;
done:
  if (options) heif_decoding_options_free(options);
  if (image) heif_image_release(image);
  if (handle) heif_image_handle_release(handle);
  heif_context_free(ctx);
}

typedef struct {
  size_t size;
  void* malloced;
  struct heif_image* image;
} Pixels;

// V8 does not see memory outside its heap: tell it, so that it collects the 36 MB pixel buffers of a
// 12 MP photo as promptly as its own.
static void free_pixels(napi_env env, void* data, void* hint) {
  (void)data;
  Pixels* p = hint;
  int64_t ignored;
  napi_adjust_external_memory(env, -(int64_t)p->size, &ignored);
  free(p->malloced);
  if (p->image) heif_image_release(p->image);
  free(p);
}

static void set_named_int(napi_env env, napi_value obj, const char* name, int value) {
  napi_value v;
  napi_create_int32(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

static void complete(napi_env env, napi_status status, void* data) {
  Job* job = data;
  napi_value result;
  if (status != napi_ok && !job->code) fail(job, "E_IMAGE_CORRUPT", "HEIC decoding was cancelled");
  if (job->code) {
    napi_value code, message;
    napi_create_string_utf8(env, job->code, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, job->message, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &result);
    napi_reject_deferred(env, job->deferred, result);
  } else {
    size_t size = (job->pixels ? job->room : 0) + (size_t)job->width * job->height * job->channels;
    int stride;
    uint8_t* data = job->pixels ? job->pixels
                                : (uint8_t*)heif_image_get_plane_readonly(job->image, heif_channel_interleaved, &stride);
    Pixels* owner = malloc(sizeof(Pixels));
    *owner = (Pixels){size, job->pixels, job->image};
    napi_value buffer;
    int64_t ignored;
    if (napi_create_external_arraybuffer(env, data, size, free_pixels, owner, &buffer) == napi_ok) {
      napi_adjust_external_memory(env, (int64_t)size, &ignored);
    } else {  // runtimes that forbid external buffers
      void* copy;
      napi_create_arraybuffer(env, size, &copy, &buffer);
      memcpy(copy, data, size);
      free(job->pixels);
      if (job->image) heif_image_release(job->image);
      free(owner);
    }
    job->pixels = NULL;
    job->image = NULL;
    napi_create_object(env, &result);
    set_named_int(env, result, "width", job->width);
    set_named_int(env, result, "height", job->height);
    set_named_int(env, result, "channels", job->channels);
    napi_set_named_property(env, result, "data", buffer);
    napi_resolve_deferred(env, job->deferred, result);
  }
  free(job->pixels);
  if (job->image) heif_image_release(job->image);
  napi_delete_reference(env, job->input_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_typed = false;
  if (argc < 2 || napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed) {
    napi_throw_type_error(env, NULL, "decode(bytes: Uint8Array, maxPixels: number, room?: number)");
    return NULL;
  }
  Job* job = calloc(1, sizeof(Job));
  napi_typedarray_type type;
  size_t length, offset;
  void* bytes;
  napi_value arraybuffer;
  napi_get_typedarray_info(env, argv[0], &type, &length, &bytes, &arraybuffer, &offset);
  job->input = bytes;
  job->input_len = length;
  napi_get_value_double(env, argv[1], &job->max_pixels);
  uint32_t room = 0;
  if (argc > 2) napi_get_value_uint32(env, argv[2], &room);
  job->room = room;
  napi_create_reference(env, argv[0], 1, &job->input_ref);
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "wopack:heif-decode", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

static napi_value version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_string_utf8(env, heif_get_version(), NAPI_AUTO_LENGTH, &v);
  return v;
}

NAPI_MODULE_INIT() {
  heif_init(NULL);  // loads the decoder plugins where libheif was built with them
  napi_property_descriptor props[] = {
      {"decode", NULL, decode, NULL, NULL, NULL, napi_default, NULL},
      {"version", NULL, version, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}
