// A JPEG's pixel check and review thumbnail from one scaled decode (libjpeg-turbo); see thumbnail.c.
#ifndef WOPACK_THUMBNAIL_H
#define WOPACK_THUMBNAIL_H
#include <stddef.h>
#include <stdint.h>

#include "measures.h"

#define THUMB_MAX_WARNINGS 8
#define THUMB_TEXT 200  // JMSG_LENGTH_MAX

typedef struct {
  int width, height;  // the photo as stored
  int orientation;    // EXIF orientation 1-8, 0 when it has none
  unsigned char* jpeg;  // the thumbnail, upright; malloced (free() it)
  unsigned long jpeg_len;
  // the thumbnail's upright picture in greyscale (the luma of the RGB encoded, BT.601), gray_w x gray_h;
  // malloced (free() it): what the photo checks measure (SPEC §15); given when THUMB_GRAY was asked
  unsigned char* gray;
  int gray_w, gray_h;
  // THUMB_MEASURES: the photo checks' measures of that greyscale picture (measures.c), when `measured`
  Measures measures;
  int measured;
  int warnings;  // how many libjpeg gave; the first THUMB_MAX_WARNINGS in its words
  char warning[THUMB_MAX_WARNINGS][THUMB_TEXT];
  const char* code;  // set on failure: E_IMAGE_CORRUPT, E_IMAGE_TOO_LARGE or E_UNSUPPORTED
  char message[256];
} Thumb;

// What jpeg_thumbnail gives besides the thumbnail: nothing, the greyscale picture, or only its measures
enum { THUMB_NO_PICTURE = 0, THUMB_GRAY = 1, THUMB_MEASURES = 2 };

void jpeg_thumbnail(const uint8_t* bytes, size_t len, int edge, int quality, double max_pixels, int picture, Thumb* out);

// The thumbnail of a picture already decoded (w x h RGB, as stored): area-averaged to fit `edge`, turned
// upright by out->orientation, encoded with `icc` (NULL: none), and the greyscale picture or its measures
// as `picture` asks. Sets out->code on failure (out of memory); out->width/height are the caller's to set.
void thumb_from_rgb(const uint8_t* rgb, int w, int h, int edge, int quality, int picture, const unsigned char* icc,
                    unsigned icc_len, Thumb* out);

// The thumbnail of a decoded picture (w x h RGB, rows `stride` bytes apart; upright, sRGB) as the scaled
// decode of its JPEG would make it: first brought to that decode's size, M/8 of it (at 1/8, the mean of
// each 8 x 8 square, summed in integers: a 12 MP picture read once), then as thumb_from_rgb. Sets
// out->width/height to w x h.
void thumb_from_plane(const uint8_t* plane, int w, int h, int stride, int edge, int quality, int picture, Thumb* out);

#endif
