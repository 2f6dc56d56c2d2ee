// A baseline JPEG written with the standard Huffman tables, re-written with tables made for it: what
// libjpeg's optimize_coding gives at encoding time, without holding the whole picture's coefficients
// while the decoded picture is alive too. The encoder then streams (a 12 MP photo at quality 90, 4:4:4:
// 72 MB of coefficients less beside its decoded pixels), and this pass holds the coefficients alone.
// The pixels are the same: only the entropy coding changes. Markers (APPn, COM) are copied in order.
// The same pass gives the review thumbnail: the coefficients read are the picture, and each block's DC
// coefficient is its mean, so the picture at 1/8 scale costs no decoding (what libjpeg's 1/8 scaled decode
// of the output would compute, after entropy-decoding the whole file again).
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
// jpeglib.h needs size_t and FILE first
#include <jpeglib.h>

#include "jpegopt.h"
#include "thumbnail.h"

typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf escape;
} Errors;

static void failed(j_common_ptr cinfo) {
  longjmp(((Errors*)cinfo->err)->escape, 1);
}

// (a warning is counted, not printed: the input is our encoder's, so any warning fails the job below)
static void quiet(j_common_ptr cinfo) {
  (void)cinfo;
}

// A block's picture at 2x2, as libjpeg's reduced 2x2 IDCT (jidctred.c, jpeg_idct_2x2) computes it, in the
// same fixed-point steps and roundings, so that it is the very samples the 1/8 scaled decode gives: only
// the DC and the odd coefficients reach a 2x2 output (the even ones sum to nothing over half a block).
#define RED_CONST_BITS 13
#define RED_PASS1_BITS 2
#define RED_DESCALE(x, n) (((x) + ((int64_t)1 << ((n) - 1))) >> (n))
static int64_t odd_part(int64_t c1, int64_t c3, int64_t c5, int64_t c7) {
  // FIX(3.624509785), FIX(1.272758580), FIX(0.850430095), FIX(0.720959822) at 13 bits
  return c1 * 29692 - c3 * 10426 + c5 * 6967 - c7 * 5906;
}
static void quadrants(const JCOEF* block, const UINT16* quant, int out[2][2]) {
  static const int used[5] = {0, 1, 3, 5, 7};
  int64_t work[2][8] = {{0}};
  for (int i = 0; i < 5; i++) {  // pass 1: the columns, into two rows
    int col = used[i];
    int64_t c[8];
    for (int v = 0; v < 8; v++) c[v] = (int64_t)block[v * 8 + col] * quant[v * 8 + col];
    int64_t even = c[0] * ((int64_t)1 << (RED_CONST_BITS + 2)), odd = odd_part(c[1], c[3], c[5], c[7]);
    work[0][col] = RED_DESCALE(even + odd, RED_CONST_BITS - RED_PASS1_BITS + 2);
    work[1][col] = RED_DESCALE(even - odd, RED_CONST_BITS - RED_PASS1_BITS + 2);
  }
  for (int r = 0; r < 2; r++) {  // pass 2: each row, into two samples
    int64_t* w = work[r];
    int64_t even = w[0] * ((int64_t)1 << (RED_CONST_BITS + 2)), odd = odd_part(w[1], w[3], w[5], w[7]);
    int shift = RED_CONST_BITS + RED_PASS1_BITS + 3 + 2;
    int values[2] = {(int)RED_DESCALE(even + odd, shift) + 128, (int)RED_DESCALE(even - odd, shift) + 128};
    for (int k = 0; k < 2; k++) out[r][k] = values[k] < 0 ? 0 : values[k] > 255 ? 255 : values[k];
  }
}

// The picture at 1/8 scale, RGB (w8 x h8, malloced), as libjpeg's 1/8 scaled decode makes it: each block's
// DC coefficient is its 1x1 inverse DCT; a component at half the rate both ways gives 2x2 a block (its
// reduced IDCT: quadrants()), one at another rate is repeated (libjpeg does not smooth at this scale).
// NULL when it is not 8-bit YCbCr or grey, or out of memory.
static uint8_t* dc_picture(j_decompress_ptr src, jvirt_barray_ptr* coefficients, int* w8, int* h8) {
  int n = src->num_components;
  if (src->data_precision != 8 || !((n == 3 && src->jpeg_color_space == JCS_YCbCr) ||
                                    (n == 1 && src->jpeg_color_space == JCS_GRAYSCALE)))
    return NULL;
  int w = (int)((src->image_width + 7) / 8), h = (int)((src->image_height + 7) / 8);
  uint8_t* rgb = malloc((size_t)w * h * 3);
  uint8_t* planes[3] = {NULL, NULL, NULL};
  int pw[3] = {0, 0, 0}, ph[3] = {0, 0, 0}, half[3] = {0, 0, 0};
  for (int c = 0; c < n && rgb; c++) {
    jpeg_component_info* comp = &src->comp_info[c];
    JQUANT_TBL* quant = comp->quant_table;
    half[c] = 2 * comp->h_samp_factor == src->max_h_samp_factor && 2 * comp->v_samp_factor == src->max_v_samp_factor;
    int size = half[c] ? 2 : 1;
    pw[c] = (int)comp->width_in_blocks * size;
    ph[c] = (int)comp->height_in_blocks * size;
    if (!quant || !(planes[c] = malloc((size_t)pw[c] * ph[c]))) goto failed;
    for (int by = 0; by < (int)comp->height_in_blocks; by++) {
      JBLOCKARRAY row = (*src->mem->access_virt_barray)((j_common_ptr)src, coefficients[c], by, 1, FALSE);
      for (int bx = 0; bx < (int)comp->width_in_blocks; bx++) {
        if (half[c]) {
          int q[2][2];
          quadrants(row[0][bx], quant->quantval, q);
          for (int qy = 0; qy < 2; qy++)
            for (int qx = 0; qx < 2; qx++) planes[c][(size_t)(2 * by + qy) * pw[c] + 2 * bx + qx] = (uint8_t)q[qy][qx];
          continue;
        }
        int dc = (row[0][bx][0] * quant->quantval[0] + 4) >> 3;  // (libjpeg's DESCALE(dc, 3))
        dc += 128;
        planes[c][(size_t)by * pw[c] + bx] = (uint8_t)(dc < 0 ? 0 : dc > 255 ? 255 : dc);
      }
    }
  }
  if (!rgb) goto failed;
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      uint8_t* p = rgb + ((size_t)y * w + x) * 3;
      int v[3];
      for (int c = 0; c < n; c++) {
        jpeg_component_info* comp = &src->comp_info[c];
        int bx = half[c] ? x : x * comp->h_samp_factor / src->max_h_samp_factor;
        int by = half[c] ? y : y * comp->v_samp_factor / src->max_v_samp_factor;
        if (bx >= pw[c]) bx = pw[c] - 1;
        if (by >= ph[c]) by = ph[c] - 1;
        v[c] = planes[c][(size_t)by * pw[c] + bx];
      }
      if (n == 1) {
        p[0] = p[1] = p[2] = (uint8_t)v[0];
        continue;
      }
      // (JFIF's YCbCr to RGB in libjpeg's own 16-bit fixed point, jdcolor.c: FIX(1.402), FIX(0.34414),
      // FIX(0.71414), FIX(1.772), the red and blue terms rounded alone; in floats a sample was a level off)
      int64_t cb = v[1] - 128, cr = v[2] - 128;
      int rgbv[3] = {v[0] + (int)((91881 * cr + 32768) >> 16), v[0] + (int)((-22554 * cb - 46802 * cr + 32768) >> 16),
                     v[0] + (int)((116130 * cb + 32768) >> 16)};
      for (int k = 0; k < 3; k++) p[k] = (uint8_t)(rgbv[k] < 0 ? 0 : rgbv[k] > 255 ? 255 : rgbv[k]);
    }
  }
  for (int c = 0; c < 3; c++) free(planes[c]);
  *w8 = w;
  *h8 = h;
  return rgb;
failed:
  for (int c = 0; c < 3; c++) free(planes[c]);
  free(rgb);
  return NULL;
}

// The thumbnail from the coefficients, when the 1/8 picture is at least `edge` long (else thumb->code says
// E_UNSUPPORTED: the caller makes it the usual way, by a scaled decode, which may use a larger scale).
static void thumbnail_from_coefficients(j_decompress_ptr src, jvirt_barray_ptr* coefficients, int edge, int quality,
                                        int picture, Thumb* thumb) {
  thumb->width = (int)src->image_width;
  thumb->height = (int)src->image_height;
  unsigned longest = src->image_width > src->image_height ? src->image_width : src->image_height;
  int w8, h8;
  uint8_t* rgb = (longest + 7) / 8 >= (unsigned)edge ? dc_picture(src, coefficients, &w8, &h8) : NULL;
  if (!rgb) {
    thumb->code = "E_UNSUPPORTED";
    snprintf(thumb->message, sizeof thumb->message, "no thumbnail from the coefficients of this JPEG");
    return;
  }
  thumb_from_rgb(rgb, w8, h8, edge, quality, picture, NULL, 0, thumb);
  free(rgb);
}

const char* jpeg_optimise(const uint8_t* bytes, size_t len, unsigned char** out, unsigned long* out_len,
                          char* message, size_t message_size, Thumb* thumb, int edge, int quality, int picture) {
  struct jpeg_decompress_struct src;
  struct jpeg_compress_struct dst;
  Errors errors;
  src.err = dst.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = failed;
  errors.mgr.output_message = quiet;
  // The output in a buffer of ours, as large as the input and some: optimised tables make it smaller, so
  // libjpeg's memory destination rarely grows it (when it does, it copies to a buffer of its own, and
  // never tells where that is if it fails: so ours is freed, never what *out says then).
  unsigned long cap = len + len / 8 + 65536;
  unsigned char* mine = malloc(cap);
  *out = mine;
  *out_len = cap;
  if (!mine) {
    snprintf(message, message_size, "out of memory for a %lu-byte JPEG", cap);
    return message;
  }
  volatile int created = 0;
  if (setjmp(errors.escape)) {
    char text[JMSG_LENGTH_MAX];
    errors.mgr.format_message(created & 2 ? (j_common_ptr)&dst : (j_common_ptr)&src, text);
    snprintf(message, message_size, "%s", text);
    if (created & 2) jpeg_destroy_compress(&dst);
    if (created & 1) jpeg_destroy_decompress(&src);
    free(mine);
    *out = NULL;
    *out_len = 0;
    return message;
  }
  jpeg_create_decompress(&src);
  created |= 1;
  jpeg_mem_src(&src, bytes, len);
  jpeg_save_markers(&src, JPEG_COM, 0xFFFF);
  for (int m = 0; m < 16; m++) jpeg_save_markers(&src, JPEG_APP0 + m, 0xFFFF);
  jpeg_read_header(&src, TRUE);
  jvirt_barray_ptr* coefficients = jpeg_read_coefficients(&src);
  // (counted now: starting the compressor resets the shared error manager's count)
  if (errors.mgr.num_warnings > 0) {
    snprintf(message, message_size, "libjpeg warned reading it (%d warnings)", (int)errors.mgr.num_warnings);
    jpeg_destroy_decompress(&src);
    free(mine);
    *out = NULL;
    *out_len = 0;
    return message;
  }
  // (from the coefficients just read, before they are written again)
  if (thumb) thumbnail_from_coefficients(&src, coefficients, edge, quality, picture, thumb);
  jpeg_create_compress(&dst);
  created |= 2;
  jpeg_mem_dest(&dst, out, out_len);
  jpeg_copy_critical_parameters(&src, &dst);
  dst.optimize_coding = TRUE;
  // (the source's own APP0/APP14, if any, are copied below as they were)
  dst.write_JFIF_header = FALSE;
  dst.write_Adobe_marker = FALSE;
  jpeg_write_coefficients(&dst, coefficients);
  for (jpeg_saved_marker_ptr m = src.marker_list; m; m = m->next)
    jpeg_write_marker(&dst, m->marker, m->data, m->data_length);
  jpeg_finish_compress(&dst);
  jpeg_destroy_compress(&dst);
  jpeg_finish_decompress(&src);
  jpeg_destroy_decompress(&src);
  if (*out != mine) free(mine);
  return NULL;
}
