// The photo checks' measures of a small upright greyscale picture (SPEC §15), as src/checks/measures.ts
// defines them; see measures.c.
#ifndef WOPACK_MEASURES_H
#define WOPACK_MEASURES_H
#include <stdint.h>

typedef struct {
  uint64_t hash;     // 64-bit perceptual hash
  int flat;          // too little structure for the hash to mean anything
  double sharpness;  // fine detail over the detail one octave coarser, noise taken out
  double mean, dark, bright;  // mean luma; the fractions of pixels <= 16 and >= 240
  int highlight;     // the luma that 99 % of the pixels are at or below
} Measures;

// 0, or -1 when out of memory (or an empty raster)
int measure_picture(const uint8_t* gray, int width, int height, Measures* out);

#endif
