{
  "targets": [
    {
      "target_name": "blasnet",
      "sources": [
        "native/addon.cc",
        "native/activations.cc",
        "native/args.cc",
        "native/batchnorm.cc",
        "native/conv.cc",
        "native/conv_direct.cc",
        "native/conv_fused.cc",
        "native/dropout.cc",
        "native/gemm.cc",
        "native/im2col.cc",
        "native/isa.cc",
        "native/optim.cc",
        "native/pooling.cc",
        "native/scratch.cc",
        "native/small_gemm.cc",
        "native/threads.cc",
        "native/winograd.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": [
        "NAPI_VERSION=<!(node scripts/build-id.js --napi-version)",
        "BLASNET_BUILD_ID=\"<!(node scripts/build-id.js)\""
      ],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math"],
      "conditions": [
        ["target_arch!='x64' and target_arch!='ia32'", {
          "cflags_cc": ["-ffp-contract=off"]
        }]
      ],
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
