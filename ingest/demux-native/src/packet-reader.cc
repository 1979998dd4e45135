// readPacket(format) -> Promise<null | {streamIndex, pts, dts, duration, flags, data}>
//
// Reads the next packet of a beamcoder demuxer opened from a URL (Beamline's unix-socket input) with
// av_read_frame on a libuv pool thread, as beamcoder's own `format.read()` does, and hands it to JS as a
// plain object: numbers (pts/dts null when unset) and a Buffer holding a copy of the packet's bytes.
//
// Why not `format.read()`: beamcoder wraps every packet in an object whose ten properties are native
// accessors defined per object (napi_define_properties). Each accessor is a new JS function with its own
// function template and shared info in V8's old generation (~14 KB of old space per packet, measured) and
// a weak callback handle. At ~80 packets/s per channel that old-space growth is what starts V8's full
// mark-compact every ~2 s. Here a packet costs one small young object and one Buffer.
//
// The format context is beamcoder's: `format._formatContextRef` is an external holding beamcoder's
// `fmtCtxRef` (format.h: one AVFormatContext* field, nulled by forceClose). The JS side never closes the
// format while a read is in flight; a closed one rejects like beamcoder ("Format context has been deleted.").
// The format object is held (a reference) until the read completes.
// SPDX-License-Identifier: GPL-3.0-or-later
#include "packet-pump.h"

extern "C" {
#include <libavutil/error.h>
}

#include <string>

namespace beamline_demux {

BeamcoderFormatRef* FormatRefOf(Napi::Env env, Napi::Object format, const char* who) {
  Napi::Value ref = format.Get("_formatContextRef");
  Napi::Value adaptor = format.Get("_adaptor");
  if (!ref.IsExternal()) throw Napi::TypeError::New(env, std::string(who) + ": not a beamcoder demuxer (no _formatContextRef)");
  if (!adaptor.IsExternal() || adaptor.As<Napi::External<void>>().Data() != nullptr) {
    throw Napi::TypeError::New(env, std::string(who) + ": only demuxers opened from a URL (a governor input is read by beamcoder)");
  }
  auto* fref = ref.As<Napi::External<BeamcoderFormatRef>>().Data();
  if (fref == nullptr) throw Napi::TypeError::New(env, std::string(who) + ": the demuxer has no format context");
  return fref;
}

}  // namespace beamline_demux

namespace {

using beamline_demux::BeamcoderFormatRef;

class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, BeamcoderFormatRef* ref, Napi::Object format)
      : Napi::AsyncWorker(env, "BeamlineReadPacket"), ref_(ref), deferred_(Napi::Promise::Deferred::New(env)) {
    format_ = Napi::Persistent(format);
  }
  ~ReadWorker() override {
    if (pkt_ != nullptr) av_packet_free(&pkt_);
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    AVFormatContext* fc = ref_->fmtCtx;
    if (fc == nullptr) {
      SetError("Format context has been deleted.");
      return;
    }
    pkt_ = av_packet_alloc();
    if (pkt_ == nullptr) {
      SetError("Problem reading frame: out of memory");
      return;
    }
    int ret = av_read_frame(fc, pkt_);
    if (ret == AVERROR_EOF) {
      eof_ = true;
    } else if (ret < 0) {
      SetError(beamline_demux::ReadErrorText(ret));
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (eof_) {
      deferred_.Resolve(env.Null());
      return;
    }
    Napi::Object o = beamline_demux::PacketObject(env, beamline_demux::PacketKeysOf(env), pkt_);
    av_packet_free(&pkt_);
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  BeamcoderFormatRef* ref_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference format_;
  AVPacket* pkt_ = nullptr;
  bool eof_ = false;
};

Napi::Value ReadPacket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "usage: readPacket(format)");
  Napi::Object format = info[0].As<Napi::Object>();
  BeamcoderFormatRef* fref = beamline_demux::FormatRefOf(env, format, "readPacket");
  auto* worker = new ReadWorker(env, fref, format);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("readPacket", Napi::Function::New(env, ReadPacket, "readPacket"));
  exports.Set("avformatVersion", Napi::Number::New(env, avformat_version()));
  beamline_demux::InitPump(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(beamline_demux, Init)
