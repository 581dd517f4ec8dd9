# node-gyp build file for diskless's native code (Linux first; macOS settings
# mirror the Linux flags). Build: `npm run build:native` (or `npx node-gyp rebuild`).
#
# Targets:
#   diskless_addon  N-API addon loaded by src/native/load-addon.ts from
#                   build/Release/diskless_addon.node: CRC32C, part hashing
#                   (MD5 from Node's own OpenSSL), age STREAM chunk sealing and opening
#                   (ChaCha20-Poly1305, the same OpenSSL), peer credentials, process and fd control.
#   diskless_shim   the LD_PRELOAD shim, plain C (docs/SHIM.md): libdiskless_shim.so,
#                   found by src/native/shim-path.ts (node-gyp 10+ puts shared
#                   libraries in build/Release/lib.target/, older ones in build/Release/).
{
  "targets": [
    {
      "target_name": "diskless_addon",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/crc32c.cc",
        "native/addon/peer_credentials.cc",
        "native/addon/process_control.cc",
        "native/addon/fd_control.cc",
        "native/addon/part_hash.cc",
        "native/addon/age_chunks.cc"
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
    },
    {
      # The LD_PRELOAD shim. C only: no Node or N-API headers are used, and it must
      # not depend on libnode or libstdc++ (it is loaded into every dump tool).
      "target_name": "diskless_shim",
      "type": "shared_library",
      "product_prefix": "lib",
      "product_name": "diskless_shim",
      "sources": [
        "native/shim/conn.c",
        "native/shim/fd_table.c",
        "native/shim/hook_close.c",
        "native/shim/hook_dup.c",
        "native/shim/hook_fopen.c",
        "native/shim/hook_open.c",
        "native/shim/hook_rename.c",
        "native/shim/hook_spawn.c",
        "native/shim/hook_stat.c",
        "native/shim/hook_meta.c",
        "native/shim/hook_seek.c",
        "native/shim/hook_sync.c",
        "native/shim/hook_unlink.c",
        "native/shim/hook_exec.c",
        "native/shim/hook_link.c",
        "native/shim/hook_mkstemp.c",
        "native/shim/hook_read.c",
        "native/shim/hook_stdio.c",
        "native/shim/hook_mmap.c",
        "native/shim/hook_write.c",
        "native/shim/hook_xattr.c",
        "native/shim/random_access.c",
        "native/shim/init.c",
        "native/shim/real_symbols.c",
        "native/shim/reentry.c",
        "native/shim/vpath.c"
      ],
      "include_dirs": ["native/wire"],
      # node's common.gypi defines _FILE_OFFSET_BITS=64 for every target: the shim
      # must define the plain names (open, not open64), so drop it (shim.h checks).
      "defines!": ["_FILE_OFFSET_BITS=64", "_LARGEFILE_SOURCE"],
      "defines": ["_GNU_SOURCE"],
      "cflags!": ["-O3"],
      "cflags": [
        "-std=c11",
        "-O2",
        "-fPIC",
        "-Wall",
        "-Wextra",
        "-U_FORTIFY_SOURCE",
        "-fvisibility=hidden",
        "-fno-strict-aliasing"
      ],
      "ldflags!": ["-rdynamic"],
      # LINK is the C++ driver in node-gyp's Makefiles; --as-needed drops the
      # libstdc++/libm it would add, since the shim uses neither.
      "ldflags": [
        "-Wl,--as-needed",
        "-Wl,--version-script=<(module_root_dir)/native/shim/exports.map",
        "-Wl,-z,relro",
        "-Wl,-z,now",
        "-Wl,-z,noexecstack"
      ],
      "libraries": ["-ldl", "-lpthread"],
      "conditions": [
        ["OS!='linux'", {"type": "none"}]
      ]
    }
  ]
}
