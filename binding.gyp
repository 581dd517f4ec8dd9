# node-gyp build file for diskless's native code (Linux first; macOS settings
# mirror the Linux flags). Build: `npm run build:native` (or `npx node-gyp rebuild`).
#
# Targets:
#   diskless_addon  N-API addon loaded by src/native/load-addon.ts from
#                   build/Release/diskless_addon.node (CRC32C for now).
#
# TODO: a second target, `diskless_shim`, will be added to THIS file later: the
# plain C LD_PRELOAD shim (type "shared_library", C only, no Node/N-API
# dependency, so no node-addon-api and no NAPI_* defines). Keep it a separate
# target; do not fold it into diskless_addon. Its output path must stay under
# build/Release so nativeBuildDir() in src/native/load-addon.ts finds it.
{
  "targets": [
    {
      "target_name": "diskless_addon",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/crc32c.cc",
        "native/addon/peer_credentials.cc",
        "native/addon/process_control.cc"
      ],
      # node-addon-api via include_dir rather than its node_addon_api.gyp
      # target: that target also defines NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS,
      # which napi.h redefines (a warning) when NAPI_DISABLE_CPP_EXCEPTIONS is set.
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS"
      ],
      # node's common.gypi asks for gnu++17 and -O3; we want strict C++17 and -O2.
      # The SSE4.2 code is enabled per function (__attribute__((target))) and
      # selected at run time, so no -msse4.2 for the whole target.
      "cflags_cc!": ["-std=gnu++17"],
      "cflags": [
        "-fvisibility=hidden",
        "-fstack-protector-strong"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-fno-exceptions",
        "-fvisibility-inlines-hidden"
      ],
      "ldflags": [
        "-Wl,-z,relro",
        "-Wl,-z,now",
        "-Wl,-z,noexecstack"
      ],
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags": ["-O2"]
        }
      },
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_ENABLE_CPP_EXCEPTIONS": "NO",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "GCC_OPTIMIZATION_LEVEL": "2",
        "OTHER_CFLAGS": ["-fstack-protector-strong"]
      }
    }
  ]
}
