# Beamline's small N-API binding to Debian's libsrt (the gnutls flavour, as FFmpeg's libavformat links it).
# Built by infra/setup.sh with: node-gyp rebuild --nodedir=/usr
# SPDX-License-Identifier: GPL-3.0-or-later
{
  "targets": [
    {
      "target_name": "beamline_srt",
      "sources": ["src/addon.cc", "src/listener.cc", "src/key-gate.cc", "src/streamid.cc", "src/address.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "<!@(pkg-config --cflags srt)"],
      "libraries": ["<!@(pkg-config --libs srt)", "-lpthread"]
    }
  ]
}
