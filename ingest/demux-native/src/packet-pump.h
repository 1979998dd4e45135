// Shared by the packet reader (packet-reader.cc) and the reading thread (packet-pump.cc).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include <napi.h>

#include <string>

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

// "Problem reading frame: <FFmpeg's text>" for a failed av_read_frame (beamcoder's wording).
std::string ReadErrorText(int ret);

// The property names of a packet object, made once per environment by InitPump.
struct PacketKeys {
  Napi::Value streamIndex, pts, dts, duration, flags, data;
};
PacketKeys PacketKeysOf(Napi::Env env);

// A read packet as JS sees it: {streamIndex, pts, dts, duration, flags, data} (pts/dts null when unset, data a
// copy of its bytes).
Napi::Object PacketObject(Napi::Env env, const PacketKeys& keys, const AVPacket* pkt);

// Adds startReader, releaseBytes and stopReader to the exports.
void InitPump(Napi::Env env, Napi::Object exports);

}  // namespace beamline_demux
