# Beamline's packet reader over FFmpeg's libavformat (the Debian libraries beamcoder links too).
# Built by infra/setup.sh with: node-gyp rebuild --nodedir=/usr
# SPDX-License-Identifier: GPL-3.0-or-later
{
  "targets": [
    {
      "target_name": "beamline_demux",
      "sources": ["src/packet-reader.cc", "src/packet-pump.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "<!@(pkg-config --cflags libavformat libavcodec libavutil)"],
      "libraries": ["<!@(pkg-config --libs libavformat libavcodec libavutil)"]
    }
  ]
}
