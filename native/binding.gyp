{
  "targets": [
    {
      "target_name": "wopack_heif",
      "sources": ["heif.c"],
      "cflags": ["-O2", "-Wall", "<!@(pkg-config --cflags libheif)"],
      "libraries": ["<!@(pkg-config --libs libheif)"]
    }
  ]
}
