// A thin Node-API binding to the system's libheif (with its native libde265 HEVC decoder) and libjpeg(-turbo),
// on libuv's thread pool. libheif applies the grid, irot/imir and clap boxes while decoding, so the pixels
// are upright.
//
//   decode(bytes: Uint8Array, maxPixels: number, room = 0, threads = 1):
//     Promise<{ width, height, channels, data: ArrayBuffer }>, the pixels (8-bit RGB or RGBA) starting
//     `room` bytes into data (room for a file header in front of them, so that they need not be copied again)
//   convert(bytes: Uint8Array, maxPixels: number, quality: number, threads: number, colour?: Float32Array,
//     edge = 0, thumbQuality = 0, picture = 0):
//     Promise<{ width, height, jpeg: ArrayBuffer, ms: { decode, colour, encode }, thumbnail? }>: the primary image as a baseline JPEG (4:2:0, optimised
//     Huffman tables, no metadata), its colours first converted by `colour` when given: 3x256 floats that
//     linearise R, G and B, a 3x3 matrix (row-major) from that linear RGB to linear sRGB, then 65536 values
//     (0-255) that encode linear sRGB in [0, 1]. A picture with alpha is refused with E_HAS_ALPHA (the
//     caller flattens it the slow way). The decoded picture exists once, in libheif's plane, converted there.
//     With `edge`, its thumbnail too, as thumbnail() gives it, made from that plane (thumb_from_plane).
//   thumbnail(bytes: Uint8Array | string, edge: number, quality: number, maxPixels: number, picture = 0):
//     Promise<{ width, height, orientation, jpeg: ArrayBuffer, gray?: ArrayBuffer, grayWidth?, grayHeight?,
//     measures?: { hash: bigint, sharpness, flat, exposure: { mean, dark, bright, highlight } },
//     warnings: string[] }>: a JPEG's pixel check and review thumbnail from one scaled decode (thumbnail.c):
//     the photo's size as stored, its EXIF orientation (0: none), the thumbnail (upright, long edge `edge` at
//     most), libjpeg's warnings in its own words, and with `picture` 1 the same picture in greyscale, with 2
//     only the photo checks' measures of it (measures.c, on the job's thread).
//     Given a path, the job reads the file itself (no copy in V8's heap, no trip through libuv's pool).
//     Rejects with E_IMAGE_CORRUPT (a fatal decode error), E_IMAGE_TOO_LARGE, or E_UNSUPPORTED (CMYK,
//     YCCK, not 8 bits: the caller asks libvips)
//   readThumbnail(path: string, into: Uint8Array, edge, quality, maxPixels, picture = 0):
//     Promise<{ size, mtimeMs, bytesRead, thumbnail?, error? }>: one job for a small JPEG: the file opened,
//     fstat'ed (size, mtimeMs as fs.stat gives them), read whole into `into` when it fits (bytesRead: what
//     was read, 0 when it does not fit; short when the file shrank since its fstat; never past its fstat size),
//     and, when read whole and it starts as a JPEG, decoded small as thumbnail() decodes it: `thumbnail` its
//     result, or `error` (code, message) what thumbnail() would have rejected with. Rejects with E_READ when
//     the file cannot be opened, stat'ed or read. `into` is the binding's until the promise settles.
//   readHead(path: string, into: Uint8Array): Promise<{ size, mtimeMs, bytesRead }>: the scan's read of a
//     file's first into.length bytes (all of a smaller one; never past its fstat size), in one job; never
//     decoded. Rejects with E_READ as readThumbnail() does.
//   statMany(paths: string, into: Float64Array): Promise<void>: each of the NUL-separated paths stat'ed, its size
//     and mtimeMs (as fs.stat gives them) into two doubles of `into`, or -errno and NaN; one job for them all.
//   optimise(bytes: Uint8Array, edge = 0, quality = 0, picture = 0): Promise<ArrayBuffer>: a baseline JPEG
//     re-written with Huffman tables made for it, losslessly (jpegopt.c: same coefficients, same markers);
//     rejects with E_IMAGE_CORRUPT. With `edge`: Promise<{ jpeg: ArrayBuffer, thumbnail? }>, the thumbnail
//     as thumbnail() gives it, made from the coefficients read (none when they cannot give it: see jpegopt.h)
//   measure(gray: Uint8Array, width: number, height: number): the same measures of a greyscale picture, on
//     the calling thread (for tests and the calibration: checks/measures.ts defines them)
//   version(): string
//
// `threads`: how many threads libheif may decode a grid's tiles on (1 when every core has a photo already).
// The jobs run on threads of this binding's own, one per core at most, not on libuv's pool: glibc keeps
// what a thread frees in that thread's malloc arena, and a decode frees some 50 MB; spread over libuv's
// pool (cores + 2 threads in wopack) that held ~100 MB more at the peak than on as many threads as photos
// are converted at once (measured: 40 iPhone photos on 2 cores, 385 MB against 285 MB).
// Errors reject with an Error whose `code` is E_IMAGE_TOO_LARGE, E_IMAGE_CORRUPT, E_HAS_ALPHA or E_UNSUPPORTED.
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <libheif/heif.h>
#include <node_api.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
// jpeglib.h needs size_t and FILE first
#include <jpeglib.h>

#include "jpegopt.h"
#include "thumbnail.h"

#define COLOUR_FLOATS (3 * 256 + 9 + 65536)

typedef struct Pool Pool;

typedef struct Job {
  struct Job* next;
  Pool* pool;
  napi_deferred deferred;
  napi_ref input_ref;
  const uint8_t* input;
  size_t input_len;
  double max_pixels;
  size_t room;
  int threads;
  // convert(): encode to JPEG at this quality (0: decode only), after converting colours if `colour`
  int quality;
  float* colour;
  // thumbnail(): a JPEG's thumbnail this long at most, and what came of it
  int edge;
  int picture;  // THUMB_NO_PICTURE, THUMB_GRAY or THUMB_MEASURES
  Thumb* thumb;
  char* path;  // or read from this file, on the job's thread
  int reading;  // readThumbnail(): `path` read into `input` (input_len bytes at most), then decoded
  int head_only;  // readHead(): `path`'s first input_len bytes read into `input`, never decoded
  int stat_many;  // statMany(): the NUL-separated paths in `path` (path_len bytes) stat'ed into `input`'s doubles
  size_t path_len;
  double size, mtime_ms, bytes_read;
  int optimise;  // optimise(): re-write the input JPEG with optimised Huffman tables into `jpeg`
  int converting;     // convert(): `thumb`, when asked for, is the converted picture's
  int thumb_quality;  // convert(): the thumbnail's quality
  // results
  int width, height, channels;
  uint8_t* pixels;           // a copy after `room` bytes, when asked for room or libheif's rows are padded
  struct heif_image* image;  // else libheif's own plane, handed to JS as is
  unsigned char* jpeg;       // convert(): the JPEG, malloced (by encode_jpeg, or libjpeg's memory destination)
  unsigned long jpeg_len;
  double decode_ms, colour_ms, encode_ms;  // convert(): where its time went (for `npm run bench`)
  const char* code;
  char message[256];
} Job;

static void fail(Job* job, const char* code, const char* message) {
  job->code = code;
  snprintf(job->message, sizeof job->message, "%s", message);
}

// Colours converted in place: each 8-bit value linearised by its channel's table, the 3x3 matrix applied,
// the result clipped to [0, 1] and encoded by the 65536-entry table (see the top of this file).
static void convert_colours(uint8_t* plane, int w, int h, int stride, const float* colour) {
  const float *lr = colour, *lg = colour + 256, *lb = colour + 512, *m = colour + 768, *enc = colour + 777;
  uint8_t encode[65536];
  for (int i = 0; i < 65536; i++) encode[i] = (uint8_t)enc[i];
  for (int y = 0; y < h; y++) {
    uint8_t* p = plane + (size_t)stride * y;
    for (int x = 0; x < w; x++, p += 3) {
      float r = lr[p[0]], g = lg[p[1]], b = lb[p[2]];
      float o[3] = {m[0] * r + m[1] * g + m[2] * b, m[3] * r + m[4] * g + m[5] * b, m[6] * r + m[7] * g + m[8] * b};
      for (int c = 0; c < 3; c++) {
        float v = o[c] < 0.f ? 0.f : o[c] > 1.f ? 1.f : o[c];
        p[c] = encode[(int)(v * 65535.f + 0.5f)];
      }
    }
  }
}

typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf escape;
} JpegErrors;

static void jpeg_failed(j_common_ptr cinfo) {
  longjmp(((JpegErrors*)cinfo->err)->escape, 1);
}

// What libvips' jpegsave writes for Q=quality,optimize_coding (sharp's settings): JFIF, 4:2:0, islow DCT.
static void encode_jpeg(Job* job, const uint8_t* plane, int w, int h, int stride) {
  struct jpeg_compress_struct cinfo;
  JpegErrors errors;
  // The output in a buffer of ours, as jpegopt.c does: libjpeg's memory destination, when it grows a
  // buffer, frees the one it made itself and says where the new one is only when it finishes. Had it made
  // the first (job->jpeg NULL), a failure after a growth would free that one twice; so ours is freed on a
  // failure, never what job->jpeg says then. 8 bits a pixel: rarely grown, and pages never written cost nothing.
  unsigned long cap = (unsigned long)w * (unsigned long)h + 65536;
  unsigned char* mine = malloc(cap);
  if (!mine) {
    fail(job, "E_IMAGE_TOO_LARGE", "out of memory for the converted JPEG");
    return;
  }
  job->jpeg = mine;
  job->jpeg_len = cap;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = jpeg_failed;
  if (setjmp(errors.escape)) {
    char text[JMSG_LENGTH_MAX];
    errors.mgr.format_message((j_common_ptr)&cinfo, text);
    jpeg_destroy_compress(&cinfo);
    free(mine);
    job->jpeg = NULL;
    job->jpeg_len = 0;
    fail(job, "E_IMAGE_CORRUPT", text);
    return;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &job->jpeg, &job->jpeg_len);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, job->quality, TRUE);
  cinfo.optimize_coding = TRUE;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(plane + (size_t)stride * cinfo.next_scanline);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  if (job->jpeg != mine) free(mine);  // grown: libjpeg's copy is the JPEG now
  job->width = w;
  job->height = h;
  job->channels = 3;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// The whole file, in this thread's read buffer; NULL (and t->code set) when it cannot be read. The buffer is
// kept for the next photo (up to KEEP_READ bytes): glibc maps a block of 1 MiB or more afresh at every malloc
// (malloc.c sets that threshold), so a new buffer a photo had each of its pages faulted in, zeroed, then
// unmapped with a TLB shootdown: ~3 s of system time over 300 photos of 12 MP, a quarter of the pack's CPU.
#define KEEP_READ (32u << 20)
static __thread uint8_t* read_buf;
static __thread size_t read_cap;

static uint8_t* read_file(const char* path, size_t* len, Thumb* t) {
  FILE* f = fopen(path, "rb");
  long size = -1;
  if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    size_t want = size ? (size_t)size : 1;
    if (want > read_cap) {
      free(read_buf);
      read_cap = 0;
      if ((read_buf = malloc(want))) read_cap = want;
    }
    if (read_buf && fread(read_buf, 1, size, f) == (size_t)size) {
      fclose(f);
      *len = size;
      return read_buf;
    }
  }
  t->code = "E_READ";
  snprintf(t->message, sizeof t->message, "%s: %s", path, strerror(errno));
  if (f) fclose(f);
  return NULL;
}

// Gives back the read buffer when it is larger than is kept.
static void done_reading(void) {
  if (read_cap <= KEEP_READ) return;
  free(read_buf);
  read_buf = NULL;
  read_cap = 0;
}

// readThumbnail()'s job: fstat, read into the caller's buffer, decode when whole. Fails with E_READ.
static void read_then_decode(Job* job) {
  int fd = open(job->path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) goto failed;
  job->size = (double)st.st_size;
  job->mtime_ms = (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6;  // (fs.Stats' sum)
  size_t size = (size_t)st.st_size, got = 0;
  if (size > job->input_len && job->head_only) size = job->input_len;
  if (size > job->input_len) {
    close(fd);
    return;
  }
  uint8_t* into = (uint8_t*)job->input;
  while (got < size) {
    ssize_t n = pread(fd, into + got, size - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) goto failed;
    if (n == 0) break;  // shrunk since its fstat: what was read is all there is
    got += (size_t)n;
  }
  close(fd);
  job->bytes_read = (double)got;
  if (!job->head_only && got == size && size >= 2 && into[0] == 0xff && into[1] == 0xd8)
    jpeg_thumbnail(into, size, job->edge, job->quality, job->max_pixels, job->picture, job->thumb);
  return;
failed:
  job->code = "E_READ";
  snprintf(job->message, sizeof job->message, "%s: %s", job->path, strerror(errno));
  if (fd >= 0) close(fd);
}

// statMany()'s job: each path's size and mtime (fs.Stats' sum), or -errno and NaN, two doubles a path.
static void stat_paths(Job* job) {
  double* out = (double*)job->input;
  const char *p = job->path, *end = job->path + job->path_len;
  for (size_t i = 0; i + 1 < job->input_len && p <= end; i += 2, p += strlen(p) + 1) {
    struct stat st;
    if (stat(p, &st) == 0) {
      out[i] = (double)st.st_size;
      out[i + 1] = (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6;
    } else {
      out[i] = -(double)errno;
      out[i + 1] = NAN;
    }
  }
}

static void execute(Job* job) {
  if (job->stat_many) {
    stat_paths(job);
    return;
  }
  if (job->reading) {
    read_then_decode(job);
    return;
  }
  if (job->optimise) {
    if (jpeg_optimise(job->input, job->input_len, &job->jpeg, &job->jpeg_len, job->message, sizeof job->message,
                      job->thumb, job->edge, job->quality, job->picture))
      job->code = "E_IMAGE_CORRUPT";
    return;
  }
  if (job->thumb && !job->converting) {
    uint8_t* bytes = job->path ? read_file(job->path, &job->input_len, job->thumb) : (uint8_t*)job->input;
    if (bytes) jpeg_thumbnail(bytes, job->input_len, job->edge, job->quality, job->max_pixels, job->picture, job->thumb);
    if (job->path) done_reading();
    return;
  }
  double started = now_ms();
  struct heif_context* ctx = heif_context_alloc();
  struct heif_image_handle* handle = NULL;
  struct heif_image* image = NULL;
  struct heif_decoding_options* options = NULL;
  heif_context_set_max_decoding_threads(ctx, job->threads);
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
  if (alpha && job->quality) {
    fail(job, "E_HAS_ALPHA", "the picture has an alpha channel");
    goto done;
  }
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
  if (job->quality) {
    double decoded = now_ms();
    if (job->colour) convert_colours((uint8_t*)heif_image_get_plane(image, heif_channel_interleaved, &stride), w, h,
                                     stride, job->colour);
    double converted = now_ms();
    encode_jpeg(job, plane, w, h, stride);
    if (!job->code && job->thumb) thumb_from_plane(plane, w, h, stride, job->edge, job->thumb_quality, job->picture, job->thumb);
    job->decode_ms = decoded - started;
    job->colour_ms = converted - decoded;
    job->encode_ms = now_ms() - converted;
    goto done;
  } else if (job->room == 0 && (size_t)stride == row) {
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

static void set_named_double(napi_env env, napi_value obj, const char* name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

// checks/measures.ts' MeasuredPicture
static napi_value measures_object(napi_env env, const Measures* m) {
  napi_value result, hash, flat, exposure;
  napi_create_object(env, &result);
  napi_create_bigint_uint64(env, m->hash, &hash);
  napi_set_named_property(env, result, "hash", hash);
  set_named_double(env, result, "sharpness", m->sharpness);
  napi_create_object(env, &exposure);
  set_named_double(env, exposure, "mean", m->mean);
  set_named_double(env, exposure, "dark", m->dark);
  set_named_double(env, exposure, "bright", m->bright);
  set_named_int(env, exposure, "highlight", m->highlight);
  napi_set_named_property(env, result, "exposure", exposure);
  napi_get_boolean(env, m->flat, &flat);
  napi_set_named_property(env, result, "flat", flat);
  return result;
}

// thumbnail()'s result, or its error
static napi_value thumbnail_result(napi_env env, Thumb* t, bool* ok) {
  napi_value result;
  *ok = !t->code;
  if (t->code) {
    napi_value code, message;
    napi_create_string_utf8(env, t->code, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, t->message, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &result);
    return result;
  }
  void* copy;
  napi_value buffer, warnings, text;
  napi_create_arraybuffer(env, t->jpeg_len, &copy, &buffer);  // (~10 KB: a copy costs nothing)
  memcpy(copy, t->jpeg, t->jpeg_len);
  napi_create_object(env, &result);
  set_named_int(env, result, "width", t->width);
  set_named_int(env, result, "height", t->height);
  set_named_int(env, result, "orientation", t->orientation);
  napi_set_named_property(env, result, "jpeg", buffer);
  if (t->gray) {
    napi_value gray;
    napi_create_arraybuffer(env, (size_t)t->gray_w * t->gray_h, &copy, &gray);  // (64 KB at most)
    memcpy(copy, t->gray, (size_t)t->gray_w * t->gray_h);
    napi_set_named_property(env, result, "gray", gray);
    set_named_int(env, result, "grayWidth", t->gray_w);
    set_named_int(env, result, "grayHeight", t->gray_h);
  }
  if (t->measured) napi_set_named_property(env, result, "measures", measures_object(env, &t->measures));
  int kept = t->warnings < THUMB_MAX_WARNINGS ? t->warnings : THUMB_MAX_WARNINGS;
  napi_create_array_with_length(env, kept, &warnings);
  for (int i = 0; i < kept; i++) {
    napi_create_string_utf8(env, t->warning[i], NAPI_AUTO_LENGTH, &text);
    napi_set_element(env, warnings, i, text);
  }
  napi_set_named_property(env, result, "warnings", warnings);
  return result;
}

// readThumbnail()'s result: what was read, and the decode's result or error
static napi_value read_result(napi_env env, Job* job) {
  napi_value result, decoded;
  napi_create_object(env, &result);
  set_named_double(env, result, "size", job->size);
  set_named_double(env, result, "mtimeMs", job->mtime_ms);
  set_named_double(env, result, "bytesRead", job->bytes_read);
  Thumb* t = job->thumb;
  if (!t->code && !t->jpeg) return result;  // not decoded
  bool ok;
  decoded = thumbnail_result(env, t, &ok);
  napi_set_named_property(env, result, ok ? "thumbnail" : "error", decoded);
  return result;
}

static void complete(napi_env env, Job* job) {
  napi_value result;
  if (job->stat_many) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else if (job->reading && !job->code) {
    napi_resolve_deferred(env, job->deferred, read_result(env, job));
    free(job->thumb->jpeg);
    free(job->thumb->gray);
    free(job->thumb);
    job->thumb = NULL;
  } else if (job->thumb && !job->optimise && !job->converting && !job->reading) {
    bool ok;
    result = thumbnail_result(env, job->thumb, &ok);
    if (ok) napi_resolve_deferred(env, job->deferred, result);
    else napi_reject_deferred(env, job->deferred, result);
    free(job->thumb->jpeg);
    free(job->thumb->gray);
    free(job->thumb);
  } else if (job->code) {
    napi_value code, message;
    napi_create_string_utf8(env, job->code, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, job->message, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &result);
    napi_reject_deferred(env, job->deferred, result);
  } else if (job->quality || job->optimise) {
    napi_value buffer;
    Pixels* owner = malloc(sizeof(Pixels));
    *owner = (Pixels){job->jpeg_len, job->jpeg, NULL};
    int64_t ignored;
    if (napi_create_external_arraybuffer(env, job->jpeg, job->jpeg_len, free_pixels, owner, &buffer) == napi_ok) {
      napi_adjust_external_memory(env, (int64_t)job->jpeg_len, &ignored);
      job->jpeg = NULL;
    } else {  // runtimes that forbid external buffers
      void* copy;
      napi_create_arraybuffer(env, job->jpeg_len, &copy, &buffer);
      memcpy(copy, job->jpeg, job->jpeg_len);
      free(owner);
    }
    if (job->optimise) {
      if (job->thumb) {
        bool ok;
        napi_value thumb = thumbnail_result(env, job->thumb, &ok);
        napi_create_object(env, &result);
        napi_set_named_property(env, result, "jpeg", buffer);
        if (ok) napi_set_named_property(env, result, "thumbnail", thumb);
        buffer = result;
      }
      napi_resolve_deferred(env, job->deferred, buffer);
      goto freed;
    }
    napi_create_object(env, &result);
    set_named_int(env, result, "width", job->width);
    set_named_int(env, result, "height", job->height);
    napi_set_named_property(env, result, "jpeg", buffer);
    napi_value ms, stages;
    napi_create_object(env, &stages);
    const char* names[] = {"decode", "colour", "encode"};
    double values[] = {job->decode_ms, job->colour_ms, job->encode_ms};
    for (int i = 0; i < 3; i++) {
      napi_create_double(env, values[i], &ms);
      napi_set_named_property(env, stages, names[i], ms);
    }
    napi_set_named_property(env, result, "ms", stages);
    if (job->thumb) {
      bool ok;
      napi_value thumb = thumbnail_result(env, job->thumb, &ok);
      if (ok) napi_set_named_property(env, result, "thumbnail", thumb);
    }
    napi_resolve_deferred(env, job->deferred, result);
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
freed:
  if ((job->optimise || job->converting) && job->thumb) {
    free(job->thumb->jpeg);
    free(job->thumb->gray);
    free(job->thumb);
  }
  if (job->reading && job->thumb) {  // (failed to read)
    free(job->thumb->jpeg);
    free(job->thumb->gray);
    free(job->thumb);
  }
  free(job->pixels);
  free(job->jpeg);
  free(job->colour);
  if (job->image) heif_image_release(job->image);
  if (job->input_ref) napi_delete_reference(env, job->input_ref);
  free(job->path);
  free(job);
}

// The threads jobs run on (see the top of this file), one pool per Node environment.
struct Pool {
  pthread_mutex_t lock;
  pthread_cond_t ready;
  Job *head, *tail;
  int threads, idle, queued, max_threads;
  int pending;  // jobs not yet completed: the main thread's own count
  napi_threadsafe_function done;
};

static void* work(void* arg) {
  Pool* pool = arg;
  pthread_setname_np(pthread_self(), "wopack-heif");
  for (;;) {
    pthread_mutex_lock(&pool->lock);
    pool->idle++;
    while (!pool->head) pthread_cond_wait(&pool->ready, &pool->lock);
    pool->idle--;
    pool->queued--;
    Job* job = pool->head;
    pool->head = job->next;
    if (!pool->head) pool->tail = NULL;
    pthread_mutex_unlock(&pool->lock);
    execute(job);
    // (fails only while the environment is torn down: the job is dropped with it)
    if (napi_call_threadsafe_function(pool->done, job, napi_tsfn_blocking) != napi_ok) return NULL;
  }
}

// On the main thread: a job is done.
static void finished(napi_env env, napi_value callback, void* context, void* data) {
  (void)callback;
  Pool* pool = context;
  if (!env) return;
  complete(env, data);
  if (--pool->pending == 0) napi_unref_threadsafe_function(env, pool->done);
}

static bool submit(napi_env env, Pool* pool, Job* job) {
  job->pool = pool;
  if (pool->pending++ == 0) napi_ref_threadsafe_function(env, pool->done);
  pthread_mutex_lock(&pool->lock);
  if (pool->tail) pool->tail->next = job;
  else pool->head = job;
  pool->tail = job;
  pool->queued++;
  bool started = true;
  // (a thread that was woken but has not taken its job yet still counts as idle: compare with the queue)
  if (pool->queued > pool->idle && pool->threads < pool->max_threads) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 8 << 20);  // (libde265 and libjpeg keep some state on the stack)
    if (pthread_create(&thread, &attr, work, pool) == 0) pool->threads++;
    else started = pool->threads > 0;  // the threads there are take it, or nothing ever will
    pthread_attr_destroy(&attr);
  }
  if (!started) {
    pool->head = pool->tail = NULL;
    pool->queued = 0;
    pool->pending--;
  }
  pthread_cond_signal(&pool->ready);
  pthread_mutex_unlock(&pool->lock);
  return started;
}

// The job both functions start: the input bytes are referenced (not copied) until the job completes.
static napi_value start(napi_env env, napi_value bytes, Job* job) {
  napi_typedarray_type type;
  size_t length, offset;
  void* data;
  napi_value arraybuffer;
  if (!job->path || job->reading || job->stat_many) {
    napi_get_typedarray_info(env, bytes, &type, &length, &data, &arraybuffer, &offset);
    job->input = data;
    job->input_len = length;
    napi_create_reference(env, bytes, 1, &job->input_ref);
  }
  if (job->threads < 1) job->threads = 1;
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  Pool* pool;
  napi_get_instance_data(env, (void**)&pool);
  if (!submit(env, pool, job)) {
    napi_value error;
    napi_create_string_utf8(env, "cannot start a thread to decode HEIC on", NAPI_AUTO_LENGTH, &name);
    napi_create_error(env, NULL, name, &error);
    napi_reject_deferred(env, job->deferred, error);
    if (job->input_ref) napi_delete_reference(env, job->input_ref);
    free(job->colour);
    free(job->thumb);
    free(job->path);
    free(job);
  }
  return promise;
}

static bool is_typed_array(napi_env env, napi_value value) {
  bool is_typed = false;
  return napi_is_typedarray(env, value, &is_typed) == napi_ok && is_typed;
}

static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || !is_typed_array(env, argv[0])) {
    napi_throw_type_error(env, NULL, "decode(bytes: Uint8Array, maxPixels: number, room?: number, threads?: number)");
    return NULL;
  }
  Job* job = calloc(1, sizeof(Job));
  napi_get_value_double(env, argv[1], &job->max_pixels);
  uint32_t room = 0;
  if (argc > 2) napi_get_value_uint32(env, argv[2], &room);
  job->room = room;
  if (argc > 3) napi_get_value_int32(env, argv[3], &job->threads);
  return start(env, argv[0], job);
}

static napi_value convert(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype colour_type = napi_undefined;
  if (argc > 4) napi_typeof(env, argv[4], &colour_type);
  napi_typedarray_type type = napi_uint8_array;
  size_t floats = 0;
  void* values = NULL;
  if (colour_type != napi_undefined && colour_type != napi_null && is_typed_array(env, argv[4]))
    napi_get_typedarray_info(env, argv[4], &type, &floats, &values, NULL, NULL);
  bool colour_ok = colour_type == napi_undefined || colour_type == napi_null ||
                   (type == napi_float32_array && floats == COLOUR_FLOATS);
  if (argc < 4 || !is_typed_array(env, argv[0]) || !colour_ok) {
    napi_throw_type_error(env, NULL,
                          "convert(bytes: Uint8Array, maxPixels: number, quality: number, threads: number, "
                          "colour?: Float32Array(3*256 + 9 + 65536), edge?: number, thumbQuality?: number, "
                          "picture?: 0 | 1 | 2)");
    return NULL;
  }
  Job* job = calloc(1, sizeof(Job));
  job->converting = 1;
  napi_get_value_double(env, argv[1], &job->max_pixels);
  napi_get_value_int32(env, argv[2], &job->quality);
  if (job->quality < 1) job->quality = 1;
  if (job->quality > 100) job->quality = 100;
  napi_get_value_int32(env, argv[3], &job->threads);
  if (argc > 5) napi_get_value_int32(env, argv[5], &job->edge);
  if (job->edge > 0) {
    job->thumb = calloc(1, sizeof(Thumb));
    if (argc > 6) napi_get_value_int32(env, argv[6], &job->thumb_quality);
    if (argc > 7) napi_get_value_int32(env, argv[7], &job->picture);
    if (job->picture != THUMB_GRAY && job->picture != THUMB_MEASURES) job->picture = THUMB_NO_PICTURE;
    if (job->thumb_quality < 1) job->thumb_quality = 1;
    if (job->thumb_quality > 100) job->thumb_quality = 100;
  }
  if (values) {
    job->colour = malloc(sizeof(float) * COLOUR_FLOATS);
    memcpy(job->colour, values, sizeof(float) * COLOUR_FLOATS);
  }
  return start(env, argv[0], job);
}

static napi_value thumbnail(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype input_type = napi_undefined;
  if (argc > 0) napi_typeof(env, argv[0], &input_type);
  if (argc < 4 || !(input_type == napi_string || is_typed_array(env, argv[0]))) {
    napi_throw_type_error(env, NULL,
                          "thumbnail(bytes: Uint8Array | path: string, edge: number, quality: number, maxPixels: number, "
                          "picture?: 0 | 1 | 2)");
    return NULL;
  }
  Job* job = calloc(1, sizeof(Job));
  job->thumb = calloc(1, sizeof(Thumb));
  if (input_type == napi_string) {
    size_t length;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &length);
    job->path = malloc(length + 1);
    napi_get_value_string_utf8(env, argv[0], job->path, length + 1, &length);
  }
  napi_get_value_int32(env, argv[1], &job->edge);
  napi_get_value_int32(env, argv[2], &job->quality);
  napi_get_value_double(env, argv[3], &job->max_pixels);
  if (argc > 4) napi_get_value_int32(env, argv[4], &job->picture);
  if (job->picture != THUMB_GRAY && job->picture != THUMB_MEASURES) job->picture = THUMB_NO_PICTURE;
  if (job->edge < 1) job->edge = 1;
  if (job->quality < 1) job->quality = 1;
  if (job->quality > 100) job->quality = 100;
  return start(env, argv[0], job);
}

static napi_value read_thumbnail(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype path_type = napi_undefined;
  if (argc > 0) napi_typeof(env, argv[0], &path_type);
  napi_typedarray_type type = napi_int8_array;
  if (argc > 1 && is_typed_array(env, argv[1])) napi_get_typedarray_info(env, argv[1], &type, NULL, NULL, NULL, NULL);
  if (argc < 5 || path_type != napi_string || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL,
                          "readThumbnail(path: string, into: Uint8Array, edge: number, quality: number, maxPixels: number, "
                          "picture?: 0 | 1 | 2)");
    return NULL;
  }
  Job* job = calloc(1, sizeof(Job));
  job->thumb = calloc(1, sizeof(Thumb));
  job->reading = 1;
  size_t length;
  napi_get_value_string_utf8(env, argv[0], NULL, 0, &length);
  job->path = malloc(length + 1);
  napi_get_value_string_utf8(env, argv[0], job->path, length + 1, &length);
  napi_get_value_int32(env, argv[2], &job->edge);
  napi_get_value_int32(env, argv[3], &job->quality);
  napi_get_value_double(env, argv[4], &job->max_pixels);
  if (argc > 5) napi_get_value_int32(env, argv[5], &job->picture);
  if (job->picture != THUMB_GRAY && job->picture != THUMB_MEASURES) job->picture = THUMB_NO_PICTURE;
  if (job->edge < 1) job->edge = 1;
  if (job->quality < 1) job->quality = 1;
  if (job->quality > 100) job->quality = 100;
  return start(env, argv[1], job);
}

// readHead(path, into): the file's first into.length bytes (all of a smaller one), with its fstat's size and
// mtime, in one job on this binding's threads (the scan's facts: open, read and close on libuv's pool were
// three hand-overs a photo). Rejects (E_READ) when the file cannot be opened or read.
static napi_value read_head(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype path_type = napi_undefined;
  if (argc > 0) napi_typeof(env, argv[0], &path_type);
  napi_typedarray_type type = napi_int8_array;
  if (argc > 1 && is_typed_array(env, argv[1])) napi_get_typedarray_info(env, argv[1], &type, NULL, NULL, NULL, NULL);
  if (argc < 2 || path_type != napi_string || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "readHead(path: string, into: Uint8Array)");
    return NULL;
  }
  Job* job = calloc(1, sizeof(Job));
  job->thumb = calloc(1, sizeof(Thumb));
  job->reading = 1;
  job->head_only = 1;
  size_t length;
  napi_get_value_string_utf8(env, argv[0], NULL, 0, &length);
  job->path = malloc(length + 1);
  napi_get_value_string_utf8(env, argv[0], job->path, length + 1, &length);
  return start(env, argv[1], job);
}

// statMany(paths, into): the size and mtime of each path (`paths` NUL-separated, two doubles each in `into`:
// size, mtimeMs as fs.stat gives them; -errno and NaN for a path that cannot be stat'ed), in one job on this
// binding's threads: the zip writer's check that the photos it wrote from memory are unchanged, without a
// hand-over to libuv's pool for each.
static napi_value stat_many(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype path_type = napi_undefined;
  if (argc > 0) napi_typeof(env, argv[0], &path_type);
  napi_typedarray_type type = napi_int8_array;
  if (argc > 1 && is_typed_array(env, argv[1])) napi_get_typedarray_info(env, argv[1], &type, NULL, NULL, NULL, NULL);
  if (argc < 2 || path_type != napi_string || type != napi_float64_array) {
    napi_throw_type_error(env, NULL, "statMany(paths: string, into: Float64Array)");
    return NULL;
  }
  Job* job = calloc(1, sizeof(Job));
  job->stat_many = 1;
  size_t length;
  napi_get_value_string_utf8(env, argv[0], NULL, 0, &length);
  job->path = malloc(length + 1);
  napi_get_value_string_utf8(env, argv[0], job->path, length + 1, &job->path_len);
  return start(env, argv[1], job);
}

static napi_value optimise(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !is_typed_array(env, argv[0])) {
    napi_throw_type_error(env, NULL, "optimise(bytes: Uint8Array, edge?: number, quality?: number, picture?: 0 | 1 | 2)");
    return NULL;
  }
  Job* job = calloc(1, sizeof(Job));
  job->optimise = 1;
  if (argc > 1) napi_get_value_int32(env, argv[1], &job->edge);
  if (job->edge > 0) {
    job->thumb = calloc(1, sizeof(Thumb));
    if (argc > 2) napi_get_value_int32(env, argv[2], &job->quality);
    if (argc > 3) napi_get_value_int32(env, argv[3], &job->picture);
    if (job->picture != THUMB_GRAY && job->picture != THUMB_MEASURES) job->picture = THUMB_NO_PICTURE;
    if (job->quality < 1) job->quality = 1;
    if (job->quality > 100) job->quality = 100;
  }
  return start(env, argv[0], job);
}

static napi_value measure(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = NULL;
  int32_t width = 0, height = 0;
  if (argc == 3 && is_typed_array(env, argv[0]))
    napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL);
  if (argc < 3 || type != napi_uint8_array || napi_get_value_int32(env, argv[1], &width) != napi_ok ||
      napi_get_value_int32(env, argv[2], &height) != napi_ok) {
    napi_throw_type_error(env, NULL, "measure(gray: Uint8Array, width: number, height: number)");
    return NULL;
  }
  Measures m;
  if (width < 1 || height < 1 || (double)width * height > (double)length) {
    napi_throw_range_error(env, NULL, "measure: raster too small");
    return NULL;
  }
  if (measure_picture(data, width, height, &m) != 0) {
    napi_throw_error(env, NULL, "measure: out of memory");
    return NULL;
  }
  return measures_object(env, &m);
}

static napi_value version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_string_utf8(env, heif_get_version(), NAPI_AUTO_LENGTH, &v);
  return v;
}

NAPI_MODULE_INIT() {
  Pool* pool = calloc(1, sizeof(Pool));
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->ready, NULL);
  cpu_set_t cpus;
  pool->max_threads = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
  if (pool->max_threads < 1) pool->max_threads = 1;
  napi_value name;
  napi_create_string_utf8(env, "wopack:heif", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, pool, finished, &pool->done);
  napi_unref_threadsafe_function(env, pool->done);
  // (the pool outlives the environment on purpose: a thread may still hold it while the process ends)
  napi_set_instance_data(env, pool, NULL, NULL);
  heif_init(NULL);  // loads the decoder plugins where libheif was built with them
  napi_property_descriptor props[] = {
      {"decode", NULL, decode, NULL, NULL, NULL, napi_default, NULL},
      {"convert", NULL, convert, NULL, NULL, NULL, napi_default, NULL},
      {"thumbnail", NULL, thumbnail, NULL, NULL, NULL, napi_default, NULL},
      {"readThumbnail", NULL, read_thumbnail, NULL, NULL, NULL, napi_default, NULL},
      {"readHead", NULL, read_head, NULL, NULL, NULL, napi_default, NULL},
      {"statMany", NULL, stat_many, NULL, NULL, NULL, napi_default, NULL},
      {"optimise", NULL, optimise, NULL, NULL, NULL, napi_default, NULL},
      {"measure", NULL, measure, NULL, NULL, NULL, napi_default, NULL},
      {"version", NULL, version, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
