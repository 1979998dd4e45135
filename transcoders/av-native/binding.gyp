# Beamline's ladder codec addon: H.264 decode, the scale graph and libx264 encode over FFmpeg's libraries
# (the Debian FFmpeg 5.1 libraries beamcoder links too). Built by infra/setup.sh with: node-gyp rebuild --nodedir=/usr
# SPDX-License-Identifier: GPL-3.0-or-later
{
  "targets": [
    {
      "target_name": "beamline_av",
      "sources": ["src/av-native.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "<!@(pkg-config --cflags libavcodec libavfilter libavutil)"],
      "libraries": ["<!@(pkg-config --libs libavcodec libavfilter libavutil)"]
    }
  ]
}
