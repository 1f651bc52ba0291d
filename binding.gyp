{
  "targets": [
    {
      "target_name": "original_dst",
      "sources": ["sidecar/native/original_dst.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
