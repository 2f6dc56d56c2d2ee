// A JPEG's Huffman tables made for it, losslessly (libjpeg's transcoder); see jpegopt.c.
#ifndef WOPACK_JPEGOPT_H
#define WOPACK_JPEGOPT_H
#include <stddef.h>
#include <stdint.h>

#include "thumbnail.h"

// The same coefficients and markers re-written with optimised Huffman tables into *out (malloced: free()
// it). Returns NULL on success, else libjpeg's message (written into `message`). With `thumb`, also the
// picture's thumbnail (long edge `edge`, `quality`, `picture` as jpeg_thumbnail takes them) from its DC
// coefficients, or thumb->code set when it cannot be made so (its 1/8 picture shorter than `edge`, not
// YCbCr or grey, out of memory).
const char* jpeg_optimise(const uint8_t* bytes, size_t len, unsigned char** out, unsigned long* out_len,
                          char* message, size_t message_size, Thumb* thumb, int edge, int quality, int picture);

#endif
