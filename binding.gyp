{
  "targets": [
    {
      "target_name": "blasnet",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/batchnorm.cc",
        "native/conv.cc",
        "native/elementwise.cc",
        "native/gemm.cc",
        "native/im2col.cc",
        "native/pooling.cc",
        "native/threads.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math"],
      "include_dirs": [
        "<!@(pkg-config --cflags-only-I openblas 2>/dev/null | sed 's/-I//g')"
      ],
      "libraries": [
        "<!@(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)",
        "-pthread"
      ]
    }
  ]
}
