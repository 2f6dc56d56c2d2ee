// A baseline JPEG written with the standard Huffman tables, re-written with tables made for it: what
// libjpeg's optimize_coding gives at encoding time, without holding the whole picture's coefficients
// while the decoded picture is alive too. The encoder then streams (a 12 MP photo at quality 90, 4:4:4:
// 72 MB of coefficients less beside its decoded pixels), and this pass holds the coefficients alone.
// The pixels are the same: only the entropy coding changes. Markers (APPn, COM) are copied in order.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
// jpeglib.h needs size_t and FILE first
#include <jpeglib.h>

#include "jpegopt.h"

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

const char* jpeg_optimise(const uint8_t* bytes, size_t len, unsigned char** out, unsigned long* out_len,
                          char* message, size_t message_size) {
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
