// Shared by the packet reader (packet-reader.cc) and the reading thread (packet-pump.cc).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include <napi.h>

extern "C" {
#include <libavformat/avformat.h>
}

namespace beamline_demux {

// beamcoder's struct fmtCtxRef (beamcoder/src/format.h), behind `_formatContextRef`.
struct BeamcoderFormatRef {
  AVFormatContext* fmtCtx;
};

// The format context holder of a beamcoder demuxer opened from a URL; throws a TypeError for anything else
// (`who` names the caller in the message).
BeamcoderFormatRef* FormatRefOf(Napi::Env env, Napi::Object format, const char* who);

// Adds startReader, releaseBytes and stopReader to the exports.
void InitPump(Napi::Env env, Napi::Object exports);

}  // namespace beamline_demux
