// The photo checks' measures (SPEC §15) of a thumbnail's upright greyscale picture, on the decoding thread:
// the same definitions, in the same order of operations, as src/checks/measures.ts (read its comments for
// what each measure is and why), so that the hash's bits and the numbers are the same to the last bit and
// the calibration in docs/photo-checks.md holds for both. test/unit/measures.native.test.ts holds them to it.
// Built with -ffp-contract=off: a fused multiply-add would round differently from JavaScript.
#include "measures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HASH_GRID 32
#define HASH_BITS 64
// the frequencies the hash keeps have u < MAX_FREQUENCY and v < MAX_FREQUENCY
#define MAX_FREQUENCY 11
#define FLAT_MAX_STRUCTURE 6

// cos((2x + 1) u pi / 64) for u < MAX_FREQUENCY, x < 32, as V8's Math.cos gives them (measures.ts' COSINES):
// glibc's cos differs from it in the last bit for 13 of these, which moves a coefficient near the median
// to the other side of it (the unit test compares this table with Math.cos)
static const double COSINES[MAX_FREQUENCY * HASH_GRID] = {
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    1, 1, 1, 1,
    0.9987954562051724, 0.989176509964781, 0.970031253194544, 0.9415440651830208,
    0.9039892931234433, 0.8577286100002721, 0.8032075314806449, 0.7409511253549592,
    0.6715589548470184, 0.5956993044924335, 0.5141027441932217, 0.4275550934302822,
    0.33688985339222005, 0.24298017990326398, 0.14673047445536175, 0.049067674327418126,
    -0.04906767432741801, -0.14673047445536164, -0.24298017990326387, -0.33688985339221994,
    -0.42755509343028186, -0.5141027441932216, -0.5956993044924334, -0.6715589548470184,
    -0.7409511253549589, -0.8032075314806448, -0.857728610000272, -0.9039892931234433,
    -0.9415440651830207, -0.970031253194544, -0.989176509964781, -0.9987954562051724,
    0.9951847266721969, 0.9569403357322088, 0.881921264348355, 0.773010453362737,
    0.6343932841636455, 0.4713967368259978, 0.29028467725446233, 0.09801714032956077,
    -0.09801714032956065, -0.29028467725446216, -0.4713967368259977, -0.6343932841636454,
    -0.773010453362737, -0.8819212643483549, -0.9569403357322088, -0.9951847266721968,
    -0.9951847266721969, -0.9569403357322089, -0.881921264348355, -0.7730104533627371,
    -0.6343932841636459, -0.4713967368259979, -0.29028467725446244, -0.09801714032956045,
    0.09801714032956009, 0.29028467725446205, 0.4713967368259976, 0.6343932841636456,
    0.7730104533627365, 0.8819212643483548, 0.9569403357322088, 0.9951847266721969,
    0.989176509964781, 0.9039892931234433, 0.7409511253549592, 0.5141027441932217,
    0.24298017990326398, -0.04906767432741801, -0.33688985339221994, -0.5956993044924334,
    -0.8032075314806448, -0.9415440651830207, -0.9987954562051724, -0.970031253194544,
    -0.8577286100002721, -0.6715589548470187, -0.4275550934302825, -0.1467304744553623,
    0.14673047445536194, 0.42755509343028214, 0.6715589548470183, 0.857728610000272,
    0.970031253194544, 0.9987954562051724, 0.9415440651830209, 0.8032075314806453,
    0.5956993044924332, 0.33688985339222005, 0.049067674327418154, -0.2429801799032628,
    -0.5141027441932214, -0.7409511253549593, -0.9039892931234431, -0.989176509964781,
    0.9807852804032304, 0.8314696123025452, 0.5555702330196023, 0.19509032201612833,
    -0.1950903220161282, -0.555570233019602, -0.8314696123025453, -0.9807852804032304,
    -0.9807852804032304, -0.8314696123025455, -0.5555702330196022, -0.19509032201612866,
    0.1950903220161283, 0.5555702330196018, 0.8314696123025452, 0.9807852804032303,
    0.9807852804032304, 0.8314696123025456, 0.5555702330196023, 0.19509032201612878,
    -0.1950903220161273, -0.5555702330196017, -0.8314696123025451, -0.9807852804032305,
    -0.9807852804032307, -0.8314696123025456, -0.5555702330196024, -0.19509032201612803,
    0.1950903220161272, 0.5555702330196016, 0.8314696123025451, 0.9807852804032304,
    0.970031253194544, 0.7409511253549592, 0.33688985339222005, -0.14673047445536164,
    -0.5956993044924334, -0.9039892931234433, -0.9987954562051724, -0.8577286100002721,
    -0.5141027441932218, -0.04906767432741803, 0.42755509343028214, 0.803207531480645,
    0.9891765099647809, 0.9415440651830209, 0.6715589548470188, 0.24298017990326423,
    -0.2429801799032628, -0.6715589548470177, -0.9415440651830205, -0.9891765099647811,
    -0.8032075314806454, -0.4275550934302827, 0.04906767432741742, 0.5141027441932213,
    0.8577286100002719, 0.9987954562051724, 0.9039892931234434, 0.5956993044924335,
    0.1467304744553618, -0.3368898533922201, -0.7409511253549592, -0.9700312531945441,
    0.9569403357322088, 0.6343932841636455, 0.09801714032956077, -0.4713967368259977,
    -0.8819212643483549, -0.9951847266721969, -0.7730104533627371, -0.29028467725446244,
    0.29028467725446205, 0.7730104533627365, 0.9951847266721969, 0.881921264348355,
    0.471396736825998, -0.09801714032955997, -0.6343932841636448, -0.9569403357322085,
    -0.9569403357322087, -0.6343932841636454, -0.09801714032956069, 0.47139673682599736,
    0.8819212643483547, 0.9951847266721969, 0.7730104533627377, 0.2902846772544636,
    -0.29028467725446255, -0.7730104533627369, -0.9951847266721968, -0.8819212643483562,
    -0.4713967368259983, 0.09801714032956137, 0.6343932841636445, 0.9569403357322089,
    0.9415440651830208, 0.5141027441932217, -0.14673047445536164, -0.7409511253549589,
    -0.9987954562051724, -0.8032075314806449, -0.24298017990326412, 0.42755509343028214,
    0.9039892931234431, 0.9700312531945441, 0.5956993044924332, -0.04906767432741754,
    -0.6715589548470177, -0.989176509964781, -0.8577286100002723, -0.336889853392221,
    0.3368898533922202, 0.8577286100002719, 0.9891765099647811, 0.6715589548470182,
    0.0490676743274184, -0.5956993044924326, -0.9700312531945441, -0.9039892931234434,
    -0.4275550934302813, 0.24298017990326243, 0.8032075314806447, 0.9987954562051724,
    0.7409511253549601, 0.14673047445536205, -0.5141027441932225, -0.9415440651830203,
    0.9238795325112867, 0.38268343236508984, -0.3826834323650897, -0.9238795325112867,
    -0.9238795325112868, -0.38268343236509034, 0.38268343236509, 0.9238795325112865,
    0.9238795325112867, 0.38268343236509045, -0.3826834323650899, -0.9238795325112864,
    -0.9238795325112867, -0.38268343236509056, 0.3826834323650898, 0.9238795325112864,
    0.9238795325112867, 0.38268343236509067, -0.38268343236508967, -0.9238795325112864,
    -0.9238795325112875, -0.3826834323650908, 0.38268343236508956, 0.923879532511287,
    0.9238795325112875, 0.3826834323650909, -0.38268343236508945, -0.923879532511287,
    -0.9238795325112876, -0.382683432365091, 0.38268343236508934, 0.923879532511287,
    0.9039892931234433, 0.24298017990326398, -0.5956993044924334, -0.9987954562051724,
    -0.6715589548470187, 0.14673047445536194, 0.857728610000272, 0.9415440651830209,
    0.33688985339222005, -0.5141027441932214, -0.989176509964781, -0.7409511253549599,
    0.04906767432741742, 0.8032075314806448, 0.9700312531945443, 0.4275550934302828,
    -0.4275550934302818, -0.9700312531945441, -0.8032075314806455, -0.04906767432741852,
    0.7409511253549591, 0.9891765099647809, 0.5141027441932239, -0.33688985339221816,
    -0.9415440651830203, -0.8577286100002726, -0.14673047445536216, 0.6715589548470184,
    0.9987954562051724, 0.5956993044924352, -0.24298017990326207, -0.9039892931234428,
    0.881921264348355, 0.09801714032956077, -0.773010453362737, -0.9569403357322089,
    -0.29028467725446244, 0.6343932841636456, 0.9951847266721969, 0.471396736825998,
    -0.4713967368259975, -0.9951847266721969, -0.6343932841636454, 0.29028467725446266,
    0.9569403357322085, 0.7730104533627377, -0.09801714032955972, -0.8819212643483547,
    -0.8819212643483562, -0.0980171403295627, 0.7730104533627358, 0.9569403357322094,
    0.2902846772544639, -0.6343932841636444, -0.995184726672197, -0.47139673682599853,
    0.4713967368259969, 0.9951847266721968, 0.6343932841636458, -0.2902846772544621,
    -0.9569403357322088, -0.7730104533627369, 0.09801714032956088, 0.8819212643483553,
};

// Where a sum up to a fractional place `at` of a prefix sum is read (measures.ts' sample): it is linear
// between integer places, prefix[i] + (prefix[i + 1] - prefix[i]) * frac
typedef struct {
  int i;
  double frac;
} Place;

static Place place(double at, int last) {
  double f = floor(at);
  int i = f < last - 1 ? (int)f : last - 1;
  return (Place){i, at - i};
}

// the raster averaged over a HASH_GRID x HASH_GRID grid of equal areas, and its exposure (areaAverage)
static int area_average(const uint8_t* gray, int width, int height, double* grid, Measures* out) {
  const int size = HASH_GRID, n = HASH_GRID + 1;
  double* columns = calloc((size_t)(height + 1) * n, sizeof(double));
  uint32_t* row = calloc((size_t)width + 1, sizeof(uint32_t));
  if (!columns || !row) {
    free(columns);
    free(row);
    return -1;
  }
  // (the grid's vertical lines fall at the same places in every row)
  Place across[HASH_GRID + 1];
  for (int i = 0; i < n; i++) across[i] = place((double)i * width / size, width);
  // (four histograms, summed after: a run of equal pixels does not wait on its own count)
  uint32_t histograms[4][256] = {{0}};
  for (int y = 0; y < height; y++) {
    const uint8_t* from = gray + (size_t)y * width;
    // (integer sums: exact, as JavaScript's doubles are, and no chain of float adds)
    uint32_t sum = 0;
    for (int x = 0; x < width; x++) {
      histograms[x & 3][from[x]]++;
      sum += from[x];
      row[x + 1] = sum;
    }
    double* above = columns + (size_t)y * n;
    double* below = above + n;
    for (int i = 0; i < n; i++) {
      double a = row[across[i].i];
      below[i] = above[i] + (a + (row[across[i].i + 1] - a) * across[i].frac);
    }
  }
  double corners[(HASH_GRID + 1) * (HASH_GRID + 1)];
  for (int j = 0; j < n; j++) {
    Place down = place((double)j * height / size, height);
    for (int i = 0; i < n; i++) {
      double a = columns[(size_t)down.i * n + i];
      corners[j * n + i] = a + (columns[(size_t)(down.i + 1) * n + i] - a) * down.frac;
    }
  }
  double cell = (double)width * height / (size * size);
  for (int j = 0; j < size; j++)
    for (int i = 0; i < size; i++) {
      int k = j * n + i;
      grid[j * size + i] = (corners[k + n + 1] - corners[k + n] - corners[k + 1] + corners[k]) / cell;
    }
  free(columns);
  free(row);
  uint32_t histogram[256];
  for (int v = 0; v < 256; v++) histogram[v] = histograms[0][v] + histograms[1][v] + histograms[2][v] + histograms[3][v];
  double total = 0, dark = 0, bright = 0, pixels = (double)width * height;
  for (int v = 0; v < 256; v++) total += (double)v * histogram[v];
  for (int v = 0; v <= 16; v++) dark += histogram[v];
  for (int v = 240; v < 256; v++) bright += histogram[v];
  int highlight = 255;
  for (double above = histogram[255]; above <= pixels / 100; above += histogram[highlight]) highlight--;
  out->mean = total / pixels;
  out->dark = dark / pixels;
  out->bright = bright / pixels;
  out->highlight = highlight;
  return 0;
}

static int ascending(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

// pHash: the grid's 64 lowest DCT frequencies after DC (by u + v, then v), one bit each for above their
// median; `flat` when what they hold is too little for the bits to mean anything (dctHash)
static void dct_hash(const double* grid, Measures* out) {
  const int n = HASH_GRID, k = MAX_FREQUENCY;
  double row_dct[HASH_GRID * MAX_FREQUENCY];
  for (int y = 0; y < n; y++)
    for (int u = 0; u < k; u++) {
      double s = 0;
      for (int x = 0; x < n; x++) s += grid[y * n + x] * COSINES[u * n + x];
      row_dct[y * k + u] = s;
    }
  double coeffs[HASH_BITS], sorted[HASH_BITS];
  int i = 0;
  for (int sum = 1; i < HASH_BITS; sum++)
    for (int v = 0; v <= sum && i < HASH_BITS; v++, i++) {
      int u = sum - v;
      double s = 0;
      for (int y = 0; y < n; y++) s += row_dct[y * k + u] * COSINES[v * n + y];
      coeffs[i] = s;
    }
  memcpy(sorted, coeffs, sizeof coeffs);
  qsort(sorted, HASH_BITS, sizeof(double), ascending);
  double median = (sorted[31] + sorted[32]) / 2, energy = 0;
  uint64_t hash = 0;
  for (i = 0; i < HASH_BITS; i++) {
    if (coeffs[i] > median) hash |= (uint64_t)1 << i;
    energy += coeffs[i] * coeffs[i];
  }
  out->hash = hash;
  out->flat = sqrt(energy) * 2 / (n * n) < FLAT_MAX_STRUCTURE;
}

// fine detail over the detail one octave coarser, the picture's noise taken out (sharpness)
static int sharpness(const uint8_t* gray, int width, int height, double* out) {
  int hw = width >> 1, hh = height >> 1;
  *out = 0;
  if (hw < 3 || hh < 3) return 0;
  uint16_t* half = malloc((size_t)hw * hh * sizeof(uint16_t));
  if (!half) return -1;
  for (int y = 0; y < hh; y++) {
    const uint8_t* top = gray + (size_t)2 * y * width;
    for (int x = 0; x < hw; x++) {
      const uint8_t* p = top + 2 * x;
      half[(size_t)y * hw + x] = p[0] + p[1] + p[width] + p[width + 1];
    }
  }
  static const int RESPONSES = 4081;
  uint32_t responses[4081] = {0};
  int64_t fine_sum = 0;
  int samples = 0;
  for (int y = 1; y < height - 1; y++) {
    for (int x = 1 + (y & 1); x < width - 1; x += 2, samples++) {
      const uint8_t* p = gray + (size_t)y * width + x;
      int c = p[0];
      int edges = p[-1] + p[1] + p[-width] + p[width];
      int corners = p[-width - 1] + p[-width + 1] + p[width - 1] + p[width + 1];
      int laplacian = edges - 4 * c;
      fine_sum += laplacian * laplacian;
      responses[abs(corners - 2 * edges + 4 * c)]++;
    }
  }
  double fine = (double)fine_sum / samples;
  int median = 0;
  for (double seen = responses[0]; seen < samples / 2.0 && median < RESPONSES - 1;) seen += responses[++median];
  double spread = median / (0.6745 * 6);
  double noise = spread * spread + 1.0 / 12;
  int64_t coarse_sum = 0;
  for (int y = 1; y < hh - 1; y++)
    for (int x = 1; x < hw - 1; x++) {
      const uint16_t* p = half + (size_t)y * hw + x;
      int laplacian = p[-1] + p[1] + p[-hw] + p[hw] - 4 * p[0];
      coarse_sum += laplacian * laplacian;
    }
  free(half);
  double coarse = (double)coarse_sum / (16.0 * (hw - 2) * (hh - 2));
  double detail = fine - 20 * noise;
  double floor_ = 5 * noise;
  *out = sqrt((detail > 0 ? detail : 0) / ((coarse > floor_ ? coarse : floor_) + 1));
  return 0;
}

int measure_picture(const uint8_t* gray, int width, int height, Measures* out) {
  double grid[HASH_GRID * HASH_GRID];
  if (width < 1 || height < 1) return -1;
  if (area_average(gray, width, height, grid, out) != 0) return -1;
  dct_hash(grid, out);
  return sharpness(gray, width, height, &out->sharpness);
}
