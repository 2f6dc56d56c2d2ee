// A JPEG's pixel check and its review thumbnail from one decode: libjpeg-turbo decodes every scanline at
// the smallest DCT scale (M/8) whose long edge is still >= `edge`, so that damage anywhere in the scan data
// is seen; each warning libjpeg gives is kept in its own words (this photo's, unlike libvips' shared error
// buffer). The decoded picture is area-averaged to fit `edge`, turned upright by its EXIF orientation and
// encoded as a small baseline JPEG (4:2:0, no optimised tables: it is a thumbnail), with the photo's ICC
// profile when that is not sRGB. The same upright picture in greyscale is what the photo checks measure:
// given as is, or measured here on the decoding thread (measures.c), only its numbers going back to JS.
#define _GNU_SOURCE  // memmem
#include "thumbnail.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
// jpeglib.h needs size_t and FILE first
#include <jerror.h>
#include <jpeglib.h>

// more than this many warnings: the decode stops there (libvips does the same)
#define TOO_MANY_WARNINGS 100

typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf escape;
  Thumb* out;
  int finishing;  // after the last scanline: only the bytes up to EOI are left to read
  int quiet;      // reading the ICC profile: libvips reads it itself, and a malformed one is no damage
  JOCTET* icc;    // the photo's ICC profile (malloced by libjpeg), when it is not sRGB
  unsigned icc_len;
} Errors;

static void failed(j_common_ptr cinfo) {
  longjmp(((Errors*)cinfo->err)->escape, 1);
}

static void emit(j_common_ptr cinfo, int level) {
  Errors* errors = (Errors*)cinfo->err;
  if (level >= 0 || errors->quiet) return;  // trace messages
  // Padding between the last scan's data and its EOI: every pixel was decoded already (libvips does not
  // read that far and says nothing, so neither does this)
  if (errors->finishing && cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
  Thumb* out = errors->out;
  cinfo->err->num_warnings++;
  if (out->warnings < THUMB_MAX_WARNINGS) cinfo->err->format_message(cinfo, out->warning[out->warnings]);
  if (++out->warnings >= TOO_MANY_WARNINGS) {
    out->code = "E_IMAGE_CORRUPT";
    snprintf(out->message, sizeof out->message, "%d warnings, the first: %s", out->warnings, out->warning[0]);
    longjmp(errors->escape, 1);
  }
}

static unsigned get16(const uint8_t* p, int le) {
  return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t* p, int le) {
  return le ? (uint32_t)get16(p, 1) | (uint32_t)get16(p + 2, 1) << 16
            : (uint32_t)get16(p, 0) << 16 | (uint32_t)get16(p + 2, 0);
}

// Tag 0x0112 of IFD0 in the first Exif APP1 segment, clipped to 1-8 (as libvips does); 0 when there is none.
static int exif_orientation(j_decompress_ptr cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
    if (m->marker != JPEG_APP0 + 1 || m->data_length < 6 + 8 || memcmp(m->data, "Exif\0\0", 6) != 0) continue;
    const uint8_t* tiff = m->data + 6;
    size_t size = m->data_length - 6;
    int le = tiff[0] == 'I' && tiff[1] == 'I';
    if (!le && !(tiff[0] == 'M' && tiff[1] == 'M')) return 0;
    if (get16(tiff + 2, le) != 42) return 0;
    uint32_t ifd = get32(tiff + 4, le);
    if (ifd > size - 2) return 0;
    unsigned count = get16(tiff + ifd, le);
    for (unsigned i = 0; i < count; i++) {
      size_t entry = (size_t)ifd + 2 + 12 * (size_t)i;
      if (entry + 12 > size) return 0;
      if (get16(tiff + entry, le) != 0x0112) continue;
      unsigned type = get16(tiff + entry + 2, le);
      long value = type == 3 ? (long)get16(tiff + entry + 8, le) : type == 4 ? (long)get32(tiff + entry + 8, le) : 1;
      return value < 1 ? 1 : value > 8 ? 8 : (int)value;
    }
    return 0;
  }
  return 0;
}

// `from` (w x h RGB) averaged over areas into `to` (tw x th): each output pixel is the mean of the input
// it covers, fractional pixels at its borders weighed by how much of them it covers.
static void area_downscale(const uint8_t* from, int w, int h, size_t stride, uint8_t* to, int tw, int th) {
  double rx = (double)w / tw, ry = (double)h / th;
  for (int oy = 0; oy < th; oy++) {
    double y0 = oy * ry, y1 = (oy + 1) * ry;
    int sy0 = (int)y0, sy1 = (int)ceil(y1);
    if (sy1 > h) sy1 = h;
    for (int ox = 0; ox < tw; ox++) {
      double x0 = ox * rx, x1 = (ox + 1) * rx;
      int sx0 = (int)x0, sx1 = (int)ceil(x1);
      if (sx1 > w) sx1 = w;
      double sum[3] = {0, 0, 0}, total = 0;
      for (int sy = sy0; sy < sy1; sy++) {
        double wy = fmin(sy + 1, y1) - fmax(sy, y0);
        const uint8_t* row = from + (size_t)sy * stride;
        for (int sx = sx0; sx < sx1; sx++) {
          double wt = wy * (fmin(sx + 1, x1) - fmax(sx, x0));
          const uint8_t* p = row + (size_t)sx * 3;
          sum[0] += wt * p[0];
          sum[1] += wt * p[1];
          sum[2] += wt * p[2];
          total += wt;
        }
      }
      uint8_t* q = to + ((size_t)oy * tw + ox) * 3;
      for (int c = 0; c < 3; c++) q[c] = (uint8_t)(sum[c] / total + 0.5);
    }
  }
}

// `from` (w x h RGB) turned upright by EXIF `orientation` into `to`, whose size is returned in *ow, *oh.
static void upright(const uint8_t* from, int w, int h, int orientation, uint8_t* to, int* ow, int* oh) {
  int swap = orientation >= 5;
  *ow = swap ? h : w;
  *oh = swap ? w : h;
  for (int y = 0; y < *oh; y++) {
    for (int x = 0; x < *ow; x++) {
      int sx, sy;
      switch (orientation) {
        case 2: sx = w - 1 - x, sy = y; break;
        case 3: sx = w - 1 - x, sy = h - 1 - y; break;
        case 4: sx = x, sy = h - 1 - y; break;
        case 5: sx = y, sy = x; break;
        case 6: sx = y, sy = h - 1 - x; break;
        case 7: sx = w - 1 - y, sy = h - 1 - x; break;
        case 8: sx = w - 1 - y, sy = x; break;
        default: sx = x, sy = y;
      }
      memcpy(to + ((size_t)y * *ow + x) * 3, from + ((size_t)sy * w + sx) * 3, 3);
    }
  }
}

static void encode(const uint8_t* rgb, int w, int h, int quality, const JOCTET* icc, unsigned icc_len, Thumb* out) {
  struct jpeg_compress_struct cinfo;
  Errors errors = {.out = out};
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = failed;
  if (setjmp(errors.escape)) {
    out->code = "E_IMAGE_CORRUPT";
    errors.mgr.format_message((j_common_ptr)&cinfo, out->message);
    jpeg_destroy_compress(&cinfo);
    free(out->jpeg);
    out->jpeg = NULL;
    return;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &out->jpeg, &out->jpeg_len);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);  // (YCbCr 4:2:0)
  jpeg_set_quality(&cinfo, quality, TRUE);
  cinfo.optimize_coding = FALSE;
  jpeg_start_compress(&cinfo, TRUE);
  if (icc) jpeg_write_icc_profile(&cinfo, icc, icc_len);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(rgb + (size_t)w * 3 * cinfo.next_scanline);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
}

void jpeg_thumbnail(const uint8_t* bytes, size_t len, int edge, int quality, double max_pixels, int picture, Thumb* out) {
  struct jpeg_decompress_struct cinfo;
  Errors errors = {.out = out};
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = failed;
  errors.mgr.emit_message = emit;
  if (setjmp(errors.escape)) {
    if (!out->code) {
      // (a precision this libjpeg was not built for, 12 bits say, is libvips' to judge)
      out->code = errors.mgr.msg_code == JERR_BAD_PRECISION ? "E_UNSUPPORTED" : "E_IMAGE_CORRUPT";
      errors.mgr.format_message((j_common_ptr)&cinfo, out->message);
    }
    jpeg_destroy_decompress(&cinfo);
    free(errors.icc);
    return;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, len);
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
  jpeg_save_markers(&cinfo, JPEG_APP0 + 2, 0xffff);
  jpeg_read_header(&cinfo, TRUE);
  // The thumbnail keeps a wide-gamut photo's profile (Display P3, Adobe RGB) so that a browser shows its
  // colours as libvips' sRGB thumbnail did; an sRGB one is left out (3 KB that change nothing)
  errors.quiet = 1;
  // (its description says so: ASCII in a v2 profile's desc tag, UTF-16BE in a v4 profile's mluc)
  if (jpeg_read_icc_profile(&cinfo, &errors.icc, &errors.icc_len) &&
      (memmem(errors.icc, errors.icc_len, "sRGB", 4) || memmem(errors.icc, errors.icc_len, "s\0R\0G\0B", 7))) {
    free(errors.icc);
    errors.icc = NULL;
  }
  errors.quiet = 0;
  out->width = cinfo.image_width;
  out->height = cinfo.image_height;
  out->orientation = exif_orientation(&cinfo);
  if ((double)cinfo.image_width * cinfo.image_height > max_pixels) {
    out->code = "E_IMAGE_TOO_LARGE";
    snprintf(out->message, sizeof out->message, "%ux%u pixels", cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    free(errors.icc);
    return;
  }
  // CMYK and YCCK (and precisions other than 8 bits) are left to libvips, which knows what to make of them
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK || cinfo.data_precision != 8 ||
      (cinfo.num_components != 1 && cinfo.num_components != 3)) {
    out->code = "E_UNSUPPORTED";
    snprintf(out->message, sizeof out->message, "colour space %d, %d components, %d bits", cinfo.jpeg_color_space,
             cinfo.num_components, cinfo.data_precision);
    jpeg_destroy_decompress(&cinfo);
    free(errors.icc);
    return;
  }
  cinfo.out_color_space = JCS_RGB;
  unsigned long longest = cinfo.image_width > cinfo.image_height ? cinfo.image_width : cinfo.image_height;
  cinfo.scale_num = 8;
  cinfo.scale_denom = 8;
  for (unsigned m = 1; m < 8 && longest > (unsigned long)edge; m++) {
    if ((longest * m + 7) / 8 >= (unsigned long)edge) {
      cinfo.scale_num = m;
      break;
    }
  }
  jpeg_start_decompress(&cinfo);
  int w = cinfo.output_width, h = cinfo.output_height;
  size_t stride = (size_t)w * 3;
  // (the permanent pool: jpeg_finish_decompress frees the image pool, and these rows are read after it)
  uint8_t* decoded = (*cinfo.mem->alloc_large)((j_common_ptr)&cinfo, JPOOL_PERMANENT, stride * h);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[16];
    int n = 0;
    for (; n < 16 && cinfo.output_scanline + n < cinfo.output_height; n++)
      rows[n] = decoded + stride * (cinfo.output_scanline + n);
    jpeg_read_scanlines(&cinfo, rows, n);
  }
  errors.finishing = 1;
  jpeg_finish_decompress(&cinfo);
  // (from here on nothing longjmps)
  thumb_from_rgb(decoded, w, h, edge, quality, picture, errors.icc, errors.icc_len, out);
  jpeg_destroy_decompress(&cinfo);
  free(errors.icc);
}

void thumb_from_rgb(const uint8_t* decoded, int w, int h, int edge, int quality, int picture, const JOCTET* icc,
                    unsigned icc_len, Thumb* out) {
  int longer = w > h ? w : h, tw = w, th = h;
  if (longer > edge) {
    tw = w >= h ? edge : (int)lround((double)w * edge / h);
    th = w >= h ? (int)lround((double)h * edge / w) : edge;
    if (tw < 1) tw = 1;
    if (th < 1) th = 1;
  }
  uint8_t* small = malloc((size_t)tw * th * 3 * 2);
  if (!small) {
    out->code = "E_IMAGE_TOO_LARGE";
    snprintf(out->message, sizeof out->message, "out of memory for the thumbnail");
    return;
  }
  if (tw == w && th == h) memcpy(small, decoded, (size_t)w * 3 * h);
  else area_downscale(decoded, w, h, (size_t)w * 3, small, tw, th);
  // (most photos are upright already: their pixels are taken as they are, not copied pixel by pixel, which
  // took about a third of this function's own time)
  uint8_t* turned = small;
  int ow = tw, oh = th;
  if (out->orientation > 1) {
    turned = small + (size_t)tw * th * 3;
    upright(small, tw, th, out->orientation, turned, &ow, &oh);
  }
  encode(turned, ow, oh, quality, icc, icc_len, out);
  if (!out->code && picture != THUMB_NO_PICTURE && (out->gray = malloc((size_t)ow * oh))) {
    out->gray_w = ow;
    out->gray_h = oh;
    for (size_t i = 0; i < (size_t)ow * oh; i++) {
      const uint8_t* p = turned + i * 3;
      out->gray[i] = (uint8_t)((77 * p[0] + 150 * p[1] + 29 * p[2] + 128) >> 8);
    }
    if (picture == THUMB_MEASURES) {
      // (out of memory: neither is given, and the caller measures a libvips decode instead)
      out->measured = measure_picture(out->gray, ow, oh, &out->measures) == 0;
      free(out->gray);
      out->gray = NULL;
    }
  }
  free(small);
}

void thumb_from_plane(const uint8_t* plane, int w, int h, int stride, int edge, int quality, int picture, Thumb* out) {
  // (the size libjpeg's scaled decode of the output would give: M/8 of it, M the smallest that is long enough)
  unsigned long longest = w > h ? w : h;
  int m = 8;
  for (int s = 1; s < 8 && longest > (unsigned long)edge; s++) {
    if ((longest * s + 7) / 8 >= (unsigned long)edge) {
      m = s;
      break;
    }
  }
  int sw = (int)(((unsigned long)w * m + 7) / 8), sh = (int)(((unsigned long)h * m + 7) / 8);
  uint8_t* small = malloc((size_t)sw * sh * 3);
  uint32_t* sums = calloc((size_t)sw * 3, sizeof(uint32_t));
  if (!small || !sums) {
    free(small);
    free(sums);
    out->code = "E_IMAGE_TOO_LARGE";
    snprintf(out->message, sizeof out->message, "out of memory for the thumbnail");
    return;
  }
  if (m == 8) {
    for (int y = 0; y < h; y++) memcpy(small + (size_t)y * w * 3, plane + (size_t)stride * y, (size_t)w * 3);
  } else if (m != 1) {
    area_downscale(plane, w, h, stride, small, sw, sh);  // (a picture under 2048 px: 4 MP at most)
  } else {
    // 8 x 8 squares (the last ones partial), summed in integers: the 12 MP picture read once
    for (int oy = 0; oy < sh; oy++) {
      int y1 = (oy + 1) * 8 < h ? (oy + 1) * 8 : h;
      memset(sums, 0, (size_t)sw * 3 * sizeof(uint32_t));
      for (int y = oy * 8; y < y1; y++) {
        const uint8_t* p = plane + (size_t)stride * y;
        for (int ox = 0; ox < sw; ox++) {
          int x1 = (ox + 1) * 8 < w ? (ox + 1) * 8 : w;
          uint32_t r = 0, g = 0, b = 0;
          for (int x = ox * 8; x < x1; x++, p += 3) r += p[0], g += p[1], b += p[2];
          sums[ox * 3] += r, sums[ox * 3 + 1] += g, sums[ox * 3 + 2] += b;
        }
      }
      for (int ox = 0; ox < sw; ox++) {
        int x1 = (ox + 1) * 8 < w ? (ox + 1) * 8 : w;
        uint32_t n = (uint32_t)(x1 - ox * 8) * (uint32_t)(y1 - oy * 8);
        for (int c = 0; c < 3; c++) small[((size_t)oy * sw + ox) * 3 + c] = (uint8_t)((sums[ox * 3 + c] + n / 2) / n);
      }
    }
  }
  free(sums);
  out->width = w;
  out->height = h;
  thumb_from_rgb(small, sw, sh, edge, quality, picture, NULL, 0, out);
  free(small);
}
