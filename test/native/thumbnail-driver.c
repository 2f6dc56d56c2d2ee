// test/e2e/thumbnail.native.test.ts builds this with AddressSanitizer and UndefinedBehaviorSanitizer: each
// file named on the command line through native/thumbnail.c at a few edges, one line of outcome each.
#include <stdio.h>
#include <stdlib.h>

#include "../../native/thumbnail.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    FILE* f = fopen(argv[i], "rb");
    if (!f) return 2;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char* bytes = malloc(n ? n : 1);
    if (fread(bytes, 1, n, f) != (size_t)n) return 2;
    fclose(f);
    int edges[] = {1, 256, 5000};
    for (int e = 0; e < 3; e++) {
      Thumb t = {0};
      // (the greyscale picture at one edge, its measures at the others: measures.c under the sanitizers too)
      jpeg_thumbnail(bytes, n, edges[e], 60, 1e9, e == 1 ? THUMB_GRAY : THUMB_MEASURES, &t);
      printf("%s %d %dx%d o%d %lu w%d g%dx%d m%d %s\n", argv[i], edges[e], t.width, t.height, t.orientation, t.jpeg_len,
             t.warnings, t.gray_w, t.gray_h, t.measured, t.code ? t.code : "ok");
      free(t.jpeg);
      free(t.gray);
    }
    free(bytes);
  }
  return 0;
}
