// A JPEG's Huffman tables made for it, losslessly (libjpeg's transcoder); see jpegopt.c.
#ifndef WOPACK_JPEGOPT_H
#define WOPACK_JPEGOPT_H
#include <stddef.h>
#include <stdint.h>

// The same coefficients and markers re-written with optimised Huffman tables into *out (malloced: free()
// it). Returns NULL on success, else libjpeg's message (written into `message`).
const char* jpeg_optimise(const uint8_t* bytes, size_t len, unsigned char** out, unsigned long* out_len,
                          char* message, size_t message_size);

#endif
