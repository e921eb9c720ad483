{
  "targets": [
    {
      "target_name": "bitdust_native",
      "sources": ["merkle.c", "aead.c", "malloc.c", "xor.c"],
      "cflags": ["-O3", "-Wno-deprecated-declarations"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-Wno-deprecated-declarations"] }
    }
  ]
}
