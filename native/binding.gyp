{
  "targets": [
    {
      "target_name": "wopack_heif",
      "sources": ["heif.c", "thumbnail.c", "jpegopt.c", "measures.c"],
      "cflags": ["-O3", "-Wall", "-ffp-contract=off", "<!@(pkg-config --cflags libheif libjpeg)"],
      "libraries": ["<!@(pkg-config --libs libheif libjpeg)", "-lm"]
    },
    {
      "target_name": "wopack_sha",
      "sources": ["sha256.c"],
      "cflags": ["-O3", "-Wall"]
    },
    {
      "target_name": "wopack_crc",
      "sources": ["crc32.c"],
      "cflags": ["-O3", "-Wall"]
    },
    {
      "target_name": "wopack_malloc",
      "sources": ["malloc.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
