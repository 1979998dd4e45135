// Beamline's ladder codecs over FFmpeg's libraries: an H.264 decoder, a video filter graph (one buffer source,
// named buffersink outputs) and encoders (libx264), each call's work on a libuv pool thread.
//
// Why not beamcoder here: beamcoder makes every frame and packet a JS object with ten to twenty native accessors
// defined per object (napi_define_properties), each a new JS function in V8's old space (~14 KB per object),
// which only a full mark-compact reclaims. A 1080p ladder makes ~8 such objects per source frame. Here a frame is
// a plain object with a few numbers, the A/53 cc_data (a Buffer or null) and `handle`, an external owning the
// AVFrame; a packet is a plain object with numbers and a Buffer.
//
// What matches beamcoder (so the output is the same): the decoder is opened with no options after thread_count,
// pkt_timebase and extradata are set; the encoder's fields are set on its AVCodecContext, its private options
// with av_opt_set, and it is opened at its first encode; the filter graph's buffer source has
// video_size/pix_fmt/time_base/pixel_aspect as its arguments and each buffersink one pix_fmts entry; sends that
// answer EAGAIN drain the output first and are retried.
//
// Frames: JS never shares an AVFrame with a pool thread. A call takes its own references (av_frame_clone, which
// references the buffers and side data), with `pts` and `pict_type` read from the JS object (the caller may
// change them: a frame given as 'I' becomes an IDR in libx264). `freeFrame` unreferences the buffers at once
// (so the pools that made them reuse them); the external's finalizer frees whatever was not freed.
//
// Handles (decoder, encoder, graph) are type-tagged externals; one call at a time on each (a second one
// rejects), `close` frees the FFmpeg side at once or, with a call in flight, when that call ends; a call on a
// closed handle rejects. The external's finalizer frees whatever remains.
// SPDX-License-Identifier: GPL-3.0-or-later
#include <napi.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include <climits>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace {

const napi_type_tag kDecoderTag = {0x6265616d6c696e65ULL, 0x6465636f64657201ULL};
const napi_type_tag kEncoderTag = {0x6265616d6c696e65ULL, 0x656e636f64657202ULL};
const napi_type_tag kGraphTag = {0x6265616d6c696e65ULL, 0x6772617068000003ULL};
const napi_type_tag kFrameTag = {0x6265616d6c696e65ULL, 0x6672616d65000004ULL};

std::string AvError(int ret) {
  char msg[AV_ERROR_MAX_STRING_SIZE] = {0};
  if (av_strerror(ret, msg, sizeof msg) < 0) snprintf(msg, sizeof msg, "error %d", ret);
  return msg;
}

void Tag(Napi::Env env, napi_value v, const napi_type_tag& tag) {
  napi_status s = napi_type_tag_object(env, v, &tag);
  if (s != napi_ok) throw Napi::Error::New(env, "cannot tag a handle");
}

bool HasTag(Napi::Env env, napi_value v, const napi_type_tag& tag) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return false;
  bool ok = false;
  if (napi_check_object_type_tag(env, v, &tag, &ok) != napi_ok) return false;
  return ok;
}

// ---- handles ----

struct Handle {
  const char* what;
  bool busy = false;
  bool closed = false;
  explicit Handle(const char* w) : what(w) {}
  virtual ~Handle() = default;
  virtual void Release() = 0;
};

struct Codec : Handle {
  AVCodecContext* ctx = nullptr;
  explicit Codec(const char* w) : Handle(w) {}
  ~Codec() override { Release(); }
  void Release() override { avcodec_free_context(&ctx); }
};

struct Graph : Handle {
  AVFilterGraph* graph = nullptr;
  AVFilterContext* src = nullptr;
  std::vector<AVFilterContext*> sinks;
  Graph() : Handle("filter graph") {}
  ~Graph() override { Release(); }
  void Release() override {
    avfilter_graph_free(&graph);
    src = nullptr;
    sinks.clear();
  }
};

struct FrameRef {
  AVFrame* frame;
};

/** The FrameRef behind a JS frame's `handle` (freed or not); a TypeError when it has none. */
FrameRef* FrameRefOf(Napi::Env env, Napi::Object frame) {
  Napi::Value h = frame.Get("handle");
  if (!HasTag(env, h, kFrameTag)) throw Napi::TypeError::New(env, "not a frame (no frame handle)");
  return h.As<Napi::External<FrameRef>>().Data();
}

template <typename T>
Napi::External<T> NewHandle(Napi::Env env, T* h, const napi_type_tag& tag) {
  auto ext = Napi::External<T>::New(env, h, [](Napi::Env, T* p) { delete p; });
  Tag(env, ext, tag);
  return ext;
}

/** "not a decoder handle", "not an encoder handle". */
std::string NotAHandle(const std::string& what) {
  bool vowel = !what.empty() && std::string("aeiou").find(what[0]) != std::string::npos;
  return std::string(vowel ? "not an " : "not a ") + what + " handle";
}

/** The handle behind `v` (closed or busy as it may be); a TypeError when `v` is not one. */
template <typename T>
T* HandleOf(Napi::Env env, Napi::Value v, const napi_type_tag& tag, const char* what) {
  if (!HasTag(env, v, tag)) throw Napi::TypeError::New(env, NotAHandle(what));
  return v.As<Napi::External<T>>().Data();
}

/** The handle behind `v`, ready for a call: a clear error when it is not one, closed or busy. */
template <typename T>
T* Ready(Napi::Env env, Napi::Value v, const napi_type_tag& tag, const char* what) {
  T* h = HandleOf<T>(env, v, tag, what);
  if (h->closed) throw Napi::Error::New(env, std::string("the ") + what + " has been closed");
  if (h->busy) throw Napi::Error::New(env, std::string("the ") + what + " is busy: one call at a time");
  return h;
}

// ---- reading JS values ----

int64_t Int(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("'") + key + "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != d || d < -9007199254740991.0 || d > 9007199254740991.0) throw Napi::RangeError::New(env, std::string("'") + key + "' is out of range");
  return static_cast<int64_t>(d);
}

int Int32(Napi::Env env, Napi::Object o, const char* key, int64_t lo = 0, int64_t hi = INT_MAX) {
  int64_t v = Int(env, o, key);
  if (v < lo || v > hi) throw Napi::RangeError::New(env, std::string("'") + key + "' is out of range");
  return static_cast<int>(v);
}

AVRational Rational(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 2) throw Napi::TypeError::New(env, std::string("'") + key + "' must be [num, den]");
  Napi::Array a = v.As<Napi::Array>();
  Napi::Value n = a.Get(0u), d = a.Get(1u);
  if (!n.IsNumber() || !d.IsNumber()) throw Napi::TypeError::New(env, std::string("'") + key + "' must be [num, den]");
  return AVRational{n.As<Napi::Number>().Int32Value(), d.As<Napi::Number>().Int32Value()};
}

std::string Str(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(env, std::string("'") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object Obj(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsObject() || v.IsArray()) throw Napi::TypeError::New(env, std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}

Napi::Array Arr(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(what) + " must be an array");
  return v.As<Napi::Array>();
}

AVPictureType PictureType(Napi::Value v) {
  if (!v.IsString()) return AV_PICTURE_TYPE_NONE;
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.size() != 1) return AV_PICTURE_TYPE_NONE;
  for (int t = AV_PICTURE_TYPE_I; t <= AV_PICTURE_TYPE_BI; t++) {
    if (av_get_picture_type_char(static_cast<AVPictureType>(t)) == s[0]) return static_cast<AVPictureType>(t);
  }
  return AV_PICTURE_TYPE_NONE;
}

/** New references to JS frames' AVFrames, with their `pts` and `pict_type` as the JS objects say now. */
std::vector<AVFrame*> CloneFrames(Napi::Env env, Napi::Array frames, bool pictType) {
  std::vector<AVFrame*> out;
  out.reserve(frames.Length());
  try {
    for (uint32_t i = 0; i < frames.Length(); i++) {
      Napi::Object f = Obj(env, frames.Get(i), "a frame");
      FrameRef* ref = FrameRefOf(env, f);
      if (ref->frame == nullptr) throw Napi::Error::New(env, "the frame has been freed");
      AVFrame* c = av_frame_clone(ref->frame);
      if (c == nullptr) throw Napi::Error::New(env, "out of memory referencing a frame");
      out.push_back(c);
      Napi::Value pts = f.Get("pts");
      double d = pts.IsNumber() ? pts.As<Napi::Number>().DoubleValue() : NAN;
      c->pts = std::isfinite(d) && std::fabs(d) <= 9007199254740991.0 ? static_cast<int64_t>(d) : AV_NOPTS_VALUE;
      if (pictType) c->pict_type = PictureType(f.Get("pict_type"));
    }
  } catch (...) {
    for (AVFrame*& c : out) av_frame_free(&c);
    throw;
  }
  return out;
}

// ---- making JS values ----

Napi::Value MakeFrame(Napi::Env env, AVFrame* f) {
  Napi::Object o = Napi::Object::New(env);
  int64_t pts = f->pts != AV_NOPTS_VALUE ? f->pts : f->best_effort_timestamp;
  o.Set("pts", pts == AV_NOPTS_VALUE ? env.Null() : Napi::Value(Napi::Number::New(env, static_cast<double>(pts))));
  o.Set("width", Napi::Number::New(env, f->width));
  o.Set("height", Napi::Number::New(env, f->height));
  const char* fmt = av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format));
  o.Set("format", fmt ? Napi::Value(Napi::String::New(env, fmt)) : env.Null());
  Napi::Array sar = Napi::Array::New(env, 2);
  sar.Set(0u, Napi::Number::New(env, f->sample_aspect_ratio.num));
  sar.Set(1u, Napi::Number::New(env, f->sample_aspect_ratio.den));
  o.Set("sample_aspect_ratio", sar);
  char pt = av_get_picture_type_char(f->pict_type);
  o.Set("pict_type", Napi::String::New(env, std::string(1, pt)));
  o.Set("key_frame", Napi::Boolean::New(env, f->key_frame != 0));
  AVFrameSideData* cc = av_frame_get_side_data(f, AV_FRAME_DATA_A53_CC);
  o.Set("a53_cc", cc && cc->size > 0 ? Napi::Value(Napi::Buffer<uint8_t>::Copy(env, cc->data, cc->size)) : env.Null());
  auto* ref = new FrameRef{f};
  auto ext = Napi::External<FrameRef>::New(env, ref, [](Napi::Env, FrameRef* r) {
    av_frame_free(&r->frame);
    delete r;
  });
  Tag(env, ext, kFrameTag);
  o.Set("handle", ext);
  return o;
}

Napi::Array MakeFrames(Napi::Env env, std::vector<AVFrame*>& frames) {
  Napi::Array a = Napi::Array::New(env, frames.size());
  for (size_t i = 0; i < frames.size(); i++) {
    a.Set(static_cast<uint32_t>(i), MakeFrame(env, frames[i]));
    frames[i] = nullptr;  // owned by the JS frame now
  }
  frames.clear();
  return a;
}

Napi::Value MakePacket(Napi::Env env, const AVPacket* p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("pts", p->pts == AV_NOPTS_VALUE ? env.Null() : Napi::Value(Napi::Number::New(env, static_cast<double>(p->pts))));
  o.Set("dts", p->dts == AV_NOPTS_VALUE ? env.Null() : Napi::Value(Napi::Number::New(env, static_cast<double>(p->dts))));
  o.Set("keyframe", Napi::Boolean::New(env, (p->flags & AV_PKT_FLAG_KEY) != 0));
  o.Set("data", Napi::Buffer<uint8_t>::Copy(env, p->size > 0 ? p->data : nullptr, p->size > 0 ? static_cast<size_t>(p->size) : 0));
  return o;
}

// ---- async calls ----

/** One call on a handle: the handle is busy (and kept alive) until it settles; a close meanwhile lands after. */
class Call : public Napi::AsyncWorker {
 public:
  Call(Napi::Env env, Napi::Value handle, Handle* h, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), h_(h) {
    ref_ = Napi::Reference<Napi::Value>::New(handle, 1);
    h_->busy = true;
  }
  /** Queues the call on the libuv pool; its promise settles when it is done. */
  Napi::Promise Start() {
    Napi::Promise promise = deferred_.Promise();
    Queue();
    return promise;
  }

  void OnOK() override {
    Settle();
    deferred_.Resolve(Result(Env()));
  }
  void OnError(const Napi::Error& e) override {
    Settle();
    deferred_.Reject(e.Value());
  }

 protected:
  virtual Napi::Value Result(Napi::Env env) = 0;
  Napi::Promise::Deferred deferred_;
  Handle* h_;

 private:
  void Settle() {
    h_->busy = false;
    if (h_->closed) h_->Release();
  }
  Napi::Reference<Napi::Value> ref_;
};

/** Receive every frame the decoder has ready. Like beamcoder, any answer but a frame ends the loop. */
void ReceiveFrames(AVCodecContext* ctx, std::vector<AVFrame*>& out) {
  for (;;) {
    AVFrame* f = av_frame_alloc();
    if (f == nullptr) return;
    if (avcodec_receive_frame(ctx, f) != 0) {
      av_frame_free(&f);
      return;
    }
    out.push_back(f);
  }
}

class DecodeCall : public Call {
 public:
  DecodeCall(Napi::Env env, Napi::Value handle, Codec* c, std::vector<AVPacket*> packets, bool flush)
      : Call(env, handle, c, "BeamlineDecode"), ctx_(c->ctx), packets_(std::move(packets)), flush_(flush) {}
  ~DecodeCall() override {
    for (AVPacket*& p : packets_) av_packet_free(&p);
    for (AVFrame*& f : frames_) av_frame_free(&f);
  }
  void Execute() override {
    if (flush_) packets_.push_back(nullptr);
    for (AVPacket* p : packets_) {
      for (int tries = 0;; tries++) {
        int ret = avcodec_send_packet(ctx_, p);
        if (ret == 0) break;
        if (ret == AVERROR(EAGAIN) && tries < 2) {
          ReceiveFrames(ctx_, frames_);
          continue;
        }
        if (ret == AVERROR_EOF) {
          SetError("The decoder has been flushed, and no new packets can be sent to it.");
        } else {
          SetError("Error sending packet: " + AvError(ret));
        }
        return;
      }
    }
    ReceiveFrames(ctx_, frames_);
  }

 protected:
  Napi::Value Result(Napi::Env env) override { return MakeFrames(env, frames_); }

 private:
  AVCodecContext* ctx_;
  std::vector<AVPacket*> packets_;
  std::vector<AVFrame*> frames_;
  bool flush_;
};

class FilterCall : public Call {
 public:
  FilterCall(Napi::Env env, Napi::Value handle, Graph* g, std::vector<AVFrame*> frames)
      : Call(env, handle, g, "BeamlineFilter"), g_(g), in_(std::move(frames)), out_(g->sinks.size()) {}
  ~FilterCall() override {
    for (AVFrame*& f : in_) av_frame_free(&f);
    for (auto& v : out_)
      for (AVFrame*& f : v) av_frame_free(&f);
  }
  void Execute() override {
    for (AVFrame*& f : in_) {
      int ret = av_buffersrc_add_frame_flags(g_->src, f, 0);  // takes the frame's references
      if (ret < 0) {
        SetError("Error while feeding the filtergraph: " + AvError(ret));
        return;
      }
    }
    for (size_t i = 0; i < g_->sinks.size(); i++) {
      for (;;) {
        AVFrame* f = av_frame_alloc();
        if (f == nullptr) {
          SetError("Error while filtering: out of memory");
          return;
        }
        int ret = av_buffersink_get_frame(g_->sinks[i], f);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
          av_frame_free(&f);
          break;
        }
        if (ret < 0) {
          av_frame_free(&f);
          SetError("Error while filtering: " + AvError(ret));
          return;
        }
        out_[i].push_back(f);
      }
    }
  }

 protected:
  Napi::Value Result(Napi::Env env) override {
    Napi::Array a = Napi::Array::New(env, out_.size());
    for (size_t i = 0; i < out_.size(); i++) a.Set(static_cast<uint32_t>(i), MakeFrames(env, out_[i]));
    return a;
  }

 private:
  Graph* g_;
  std::vector<AVFrame*> in_;
  std::vector<std::vector<AVFrame*>> out_;
};

class EncodeCall : public Call {
 public:
  EncodeCall(Napi::Env env, Napi::Value handle, Codec* c, std::vector<AVFrame*> frames, bool flush)
      : Call(env, handle, c, "BeamlineEncode"), ctx_(c->ctx), frames_(std::move(frames)), flush_(flush) {}
  ~EncodeCall() override {
    for (AVFrame*& f : frames_) av_frame_free(&f);
    for (AVPacket*& p : packets_) av_packet_free(&p);
  }
  void Execute() override {
    if (!avcodec_is_open(ctx_)) {
      if (flush_) return;  // never opened: nothing to drain
      int ret = avcodec_open2(ctx_, ctx_->codec, nullptr);
      if (ret < 0) {
        SetError("Problem opening encoder: " + AvError(ret));
        return;
      }
    }
    if (flush_) frames_.push_back(nullptr);
    for (AVFrame* f : frames_) {
      for (int tries = 0;; tries++) {
        int ret = avcodec_send_frame(ctx_, f);
        if (ret == 0) break;
        if (ret == AVERROR(EAGAIN) && tries < 2) {
          if (!Receive()) return;
          continue;
        }
        if (ret == AVERROR_EOF) {
          SetError("The encoder has been flushed, and no new frames can be sent to it.");
        } else {
          SetError("Error sending frame: " + AvError(ret));
        }
        return;
      }
    }
    Receive();
  }

 protected:
  Napi::Value Result(Napi::Env env) override {
    Napi::Array a = Napi::Array::New(env, packets_.size());
    for (size_t i = 0; i < packets_.size(); i++) a.Set(static_cast<uint32_t>(i), MakePacket(env, packets_[i]));
    return a;
  }

 private:
  bool Receive() {
    for (;;) {
      AVPacket* p = av_packet_alloc();
      if (p == nullptr) {
        SetError("Error receiving packet: out of memory");
        return false;
      }
      int ret = avcodec_receive_packet(ctx_, p);
      if (ret == 0) {
        packets_.push_back(p);
        continue;
      }
      av_packet_free(&p);
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return true;
      SetError("Error receiving packet: " + AvError(ret));
      return false;
    }
  }
  AVCodecContext* ctx_;
  std::vector<AVFrame*> frames_;
  std::vector<AVPacket*> packets_;
  bool flush_;
};

/** Runs `body` (which queues a call and returns its promise); a thrown error becomes a rejected promise. */
template <typename F>
Napi::Value Settled(Napi::Env env, F body) {
  try {
    return body();
  } catch (const Napi::Error& e) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
  }
}

// ---- decoder ----

// createDecoder({name, thread_count, pkt_timebase, extradata?}) -> decoder handle
Napi::Value CreateDecoder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Obj(env, info[0], "decoder options");
  std::string name = Str(env, o, "name");
  const AVCodec* codec = avcodec_find_decoder_by_name(name.c_str());
  if (codec == nullptr) throw Napi::Error::New(env, "no decoder named '" + name + "'");
  auto* c = new Codec("decoder");
  auto ext = NewHandle(env, c, kDecoderTag);
  c->ctx = avcodec_alloc_context3(codec);
  if (c->ctx == nullptr) throw Napi::Error::New(env, "Problem allocating decoder context.");
  c->ctx->thread_count = Int32(env, o, "thread_count", 0, 64);
  c->ctx->pkt_timebase = Rational(env, o, "pkt_timebase");
  Napi::Value extradata = o.Get("extradata");
  if (extradata.IsBuffer()) {
    auto b = extradata.As<Napi::Buffer<uint8_t>>();
    if (b.Length() > 0) {
      if (b.Length() > (1u << 20)) throw Napi::RangeError::New(env, "extradata too large");
      c->ctx->extradata = static_cast<uint8_t*>(av_mallocz(b.Length() + AV_INPUT_BUFFER_PADDING_SIZE));
      if (c->ctx->extradata == nullptr) throw Napi::Error::New(env, "out of memory");
      memcpy(c->ctx->extradata, b.Data(), b.Length());
      c->ctx->extradata_size = static_cast<int>(b.Length());
    }
  } else if (!extradata.IsUndefined() && !extradata.IsNull()) {
    throw Napi::TypeError::New(env, "'extradata' must be a Buffer");
  }
  int ret = avcodec_open2(c->ctx, codec, nullptr);
  if (ret < 0) throw Napi::Error::New(env, "Problem opening decoder: " + AvError(ret));
  return ext;
}

// decode(decoder, [{pts, dts, keyframe, data}]) -> Promise<frame[]>
Napi::Value Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Settled(env, [&]() -> Napi::Value {
    Codec* c = Ready<Codec>(env, info[0], kDecoderTag, "decoder");
    Napi::Array in = Arr(env, info[1], "packets");
    std::vector<AVPacket*> packets;
    try {
      for (uint32_t i = 0; i < in.Length(); i++) {
        Napi::Object p = Obj(env, in.Get(i), "a packet");
        Napi::Value data = p.Get("data");
        if (!data.IsBuffer()) throw Napi::TypeError::New(env, "a packet's 'data' must be a Buffer");
        auto b = data.As<Napi::Buffer<uint8_t>>();
        if (b.Length() == 0) throw Napi::RangeError::New(env, "an empty packet (it would drain the decoder)");
        if (b.Length() > (64u << 20)) throw Napi::RangeError::New(env, "a packet larger than 64 MiB");
        int64_t pts = Int(env, p, "pts");
        int64_t dts = Int(env, p, "dts");
        AVPacket* pkt = av_packet_alloc();
        if (pkt == nullptr || av_new_packet(pkt, static_cast<int>(b.Length())) < 0) {
          av_packet_free(&pkt);
          throw Napi::Error::New(env, "out of memory");
        }
        packets.push_back(pkt);
        memcpy(pkt->data, b.Data(), b.Length());
        pkt->pts = pts;
        pkt->dts = dts;
        if (p.Get("keyframe").ToBoolean()) pkt->flags |= AV_PKT_FLAG_KEY;
      }
    } catch (...) {
      for (AVPacket*& p : packets) av_packet_free(&p);
      throw;
    }
    return (new DecodeCall(env, info[0], c, std::move(packets), false))->Start();
  });
}

// flushDecoder(decoder) -> Promise<frame[]>
Napi::Value FlushDecoder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Settled(env, [&]() -> Napi::Value {
    Codec* c = Ready<Codec>(env, info[0], kDecoderTag, "decoder");
    return (new DecodeCall(env, info[0], c, {}, true))->Start();
  });
}

// ---- filter graph ----

// createFilter({width, height, pixelFormat, timeBase, pixelAspect, inputName, outputs: [{name, pixelFormat}],
// filterSpec}) -> graph handle
Napi::Value CreateFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Obj(env, info[0], "filter options");
  int width = Int32(env, o, "width", 1, 16384);
  int height = Int32(env, o, "height", 1, 16384);
  std::string pixFmtName = Str(env, o, "pixelFormat");
  AVPixelFormat pixFmt = av_get_pix_fmt(pixFmtName.c_str());
  if (pixFmt == AV_PIX_FMT_NONE) throw Napi::Error::New(env, "unknown pixel format '" + pixFmtName + "'");
  AVRational tb = Rational(env, o, "timeBase");
  AVRational sar = Rational(env, o, "pixelAspect");
  std::string inputName = Str(env, o, "inputName");
  std::string spec = Str(env, o, "filterSpec");
  Napi::Array outs = Arr(env, o.Get("outputs"), "'outputs'");
  if (outs.Length() == 0 || outs.Length() > 32) throw Napi::RangeError::New(env, "a graph has 1 to 32 outputs");
  std::vector<std::pair<std::string, AVPixelFormat>> sinks;
  for (uint32_t i = 0; i < outs.Length(); i++) {
    Napi::Object out = Obj(env, outs.Get(i), "an output");
    std::string fmtName = Str(env, out, "pixelFormat");
    AVPixelFormat fmt = av_get_pix_fmt(fmtName.c_str());
    if (fmt == AV_PIX_FMT_NONE) throw Napi::Error::New(env, "unknown pixel format '" + fmtName + "'");
    sinks.emplace_back(Str(env, out, "name"), fmt);
  }

  auto* g = new Graph();
  auto ext = NewHandle(env, g, kGraphTag);
  g->graph = avfilter_graph_alloc();
  if (g->graph == nullptr) throw Napi::Error::New(env, "Failed to allocate filter resources.");
  char args[512];
  snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d", width, height, pixFmt, tb.num, tb.den,
           sar.num, sar.den);
  int ret = avfilter_graph_create_filter(&g->src, avfilter_get_by_name("buffer"), inputName.c_str(), args, nullptr, g->graph);
  if (ret < 0) throw Napi::Error::New(env, "Failed to create the filter graph's source: " + AvError(ret));

  AVFilterInOut* outputs = avfilter_inout_alloc();  // the graph's open outputs: our source
  AVFilterInOut* inputs = nullptr;                  // the graph's open inputs: our sinks
  std::string error;
  if (outputs == nullptr) error = "Failed to allocate filter resources.";
  if (error.empty()) {
    outputs->name = av_strdup(inputName.c_str());
    outputs->filter_ctx = g->src;
    outputs->pad_idx = 0;
    outputs->next = nullptr;
  }
  AVFilterInOut** tail = &inputs;
  for (size_t i = 0; error.empty() && i < sinks.size(); i++) {
    const std::string& name = sinks[i].first;
    AVPixelFormat fmt = sinks[i].second;
    AVFilterContext* sink = nullptr;
    ret = avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), name.c_str(), nullptr, nullptr, g->graph);
    if (ret < 0) {
      error = "Failed to create a filter graph sink: " + AvError(ret);
      break;
    }
    enum AVPixelFormat fmts[] = {fmt, AV_PIX_FMT_NONE};
    ret = av_opt_set_int_list(sink, "pix_fmts", fmts, AV_PIX_FMT_NONE, AV_OPT_SEARCH_CHILDREN);
    if (ret < 0) {
      error = "Cannot set the output pixel format: " + AvError(ret);
      break;
    }
    g->sinks.push_back(sink);
    AVFilterInOut* io = avfilter_inout_alloc();
    if (io == nullptr) {
      error = "Failed to allocate filter resources.";
      break;
    }
    io->name = av_strdup(name.c_str());
    io->filter_ctx = sink;
    io->pad_idx = 0;
    io->next = nullptr;
    *tail = io;
    tail = &io->next;
  }
  if (error.empty()) {
    ret = avfilter_graph_parse_ptr(g->graph, spec.c_str(), &inputs, &outputs, nullptr);
    if (ret < 0) error = "Failed to parse filter graph: " + AvError(ret);
  }
  if (error.empty()) {
    ret = avfilter_graph_config(g->graph, nullptr);
    if (ret < 0) error = "Failed to configure filter graph: " + AvError(ret);
  }
  avfilter_inout_free(&inputs);
  avfilter_inout_free(&outputs);
  if (!error.empty()) {
    g->Release();
    g->closed = true;
    throw Napi::Error::New(env, error);
  }
  return ext;
}

// filter(graph, frames) -> Promise<frame[][]> (by output)
Napi::Value Filter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Settled(env, [&]() -> Napi::Value {
    Graph* g = Ready<Graph>(env, info[0], kGraphTag, "filter graph");
    std::vector<AVFrame*> frames = CloneFrames(env, Arr(env, info[1], "frames"), false);
    return (new FilterCall(env, info[0], g, std::move(frames)))->Start();
  });
}

// ---- encoder ----

void SetPrivOption(Napi::Env env, AVCodecContext* ctx, const std::string& key, Napi::Value v) {
  if (ctx->priv_data == nullptr) throw Napi::Error::New(env, "the encoder has no private options");
  int ret;
  if (v.IsString()) {
    ret = av_opt_set(ctx->priv_data, key.c_str(), v.As<Napi::String>().Utf8Value().c_str(), 0);
  } else if (v.IsNumber()) {
    ret = av_opt_set_int(ctx->priv_data, key.c_str(), v.As<Napi::Number>().Int64Value(), 0);
  } else if (v.IsBoolean()) {
    ret = av_opt_set_int(ctx->priv_data, key.c_str(), v.As<Napi::Boolean>().Value() ? 1 : 0, 0);
  } else {
    throw Napi::TypeError::New(env, "encoder option '" + key + "' must be a string, number or boolean");
  }
  if (ret < 0) throw Napi::Error::New(env, "cannot set encoder option '" + key + "': " + AvError(ret));
}

// createEncoder({name, width, height, pix_fmt, time_base, framerate, sample_aspect_ratio, bit_rate, rc_max_rate,
// rc_buffer_size, gop_size, max_b_frames, thread_count, flags: {GLOBAL_HEADER}, priv_data}) -> encoder handle
Napi::Value CreateEncoder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Obj(env, info[0], "encoder options");
  std::string name = Str(env, o, "name");
  const AVCodec* codec = avcodec_find_encoder_by_name(name.c_str());
  if (codec == nullptr) throw Napi::Error::New(env, "no encoder named '" + name + "'");
  auto* c = new Codec("encoder");
  auto ext = NewHandle(env, c, kEncoderTag);
  AVCodecContext* ctx = c->ctx = avcodec_alloc_context3(codec);
  if (ctx == nullptr) throw Napi::Error::New(env, "Problem allocating encoder context.");
  ctx->width = Int32(env, o, "width", 1, 16384);
  ctx->height = Int32(env, o, "height", 1, 16384);
  std::string pixFmt = Str(env, o, "pix_fmt");
  ctx->pix_fmt = av_get_pix_fmt(pixFmt.c_str());
  if (ctx->pix_fmt == AV_PIX_FMT_NONE) throw Napi::Error::New(env, "unknown pixel format '" + pixFmt + "'");
  ctx->time_base = Rational(env, o, "time_base");
  ctx->framerate = Rational(env, o, "framerate");
  ctx->sample_aspect_ratio = Rational(env, o, "sample_aspect_ratio");
  ctx->bit_rate = Int(env, o, "bit_rate");
  ctx->rc_max_rate = Int(env, o, "rc_max_rate");
  ctx->rc_buffer_size = Int32(env, o, "rc_buffer_size");
  ctx->gop_size = Int32(env, o, "gop_size");
  ctx->max_b_frames = Int32(env, o, "max_b_frames", 0, 16);
  ctx->thread_count = Int32(env, o, "thread_count", 0, 64);
  Napi::Value flags = o.Get("flags");
  if (flags.IsObject() && flags.As<Napi::Object>().Get("GLOBAL_HEADER").ToBoolean()) ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  Napi::Value priv = o.Get("priv_data");
  if (priv.IsObject()) {
    Napi::Object p = priv.As<Napi::Object>();
    Napi::Array keys = p.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      std::string key = keys.Get(i).ToString().Utf8Value();
      SetPrivOption(env, ctx, key, p.Get(key));
    }
  }
  return ext;
}

// encode(encoder, frames) -> Promise<packet[]>
Napi::Value Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Settled(env, [&]() -> Napi::Value {
    Codec* c = Ready<Codec>(env, info[0], kEncoderTag, "encoder");
    std::vector<AVFrame*> frames = CloneFrames(env, Arr(env, info[1], "frames"), true);
    return (new EncodeCall(env, info[0], c, std::move(frames), false))->Start();
  });
}

// flushEncoder(encoder) -> Promise<packet[]>
Napi::Value FlushEncoder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Settled(env, [&]() -> Napi::Value {
    Codec* c = Ready<Codec>(env, info[0], kEncoderTag, "encoder");
    return (new EncodeCall(env, info[0], c, {}, true))->Start();
  });
}

// extradata(encoder) -> Buffer | null (the encoder's global headers, once it is open)
Napi::Value Extradata(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Codec* c = HandleOf<Codec>(env, info[0], kEncoderTag, "encoder");
  if (c->closed || c->busy || c->ctx == nullptr || c->ctx->extradata_size <= 0) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, c->ctx->extradata, static_cast<size_t>(c->ctx->extradata_size));
}

// ---- release ----

// freeFrame(frame): unreference its buffers now. Freeing twice is harmless.
Napi::Value FreeFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "not a frame");
  av_frame_free(&FrameRefOf(env, info[0].As<Napi::Object>())->frame);
  return env.Undefined();
}

// close(handle): a decoder, encoder or graph. Closing twice is harmless.
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info[0];
  Handle* h = nullptr;
  if (HasTag(env, v, kDecoderTag) || HasTag(env, v, kEncoderTag)) h = v.As<Napi::External<Codec>>().Data();
  else if (HasTag(env, v, kGraphTag)) h = v.As<Napi::External<Graph>>().Data();
  else throw Napi::TypeError::New(env, "not a decoder, encoder or filter graph handle");
  if (!h->closed) {
    h->closed = true;
    if (!h->busy) h->Release();
  }
  return env.Undefined();
}

// setLogLevel(name): FFmpeg's log level for the whole process ('quiet', 'panic', 'fatal', 'error', 'warning',
// 'info', 'verbose', 'debug').
Napi::Value SetLogLevel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "setLogLevel(name)");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  static const std::pair<const char*, int> levels[] = {{"quiet", AV_LOG_QUIET}, {"panic", AV_LOG_PANIC}, {"fatal", AV_LOG_FATAL},
                                                       {"error", AV_LOG_ERROR}, {"warning", AV_LOG_WARNING}, {"info", AV_LOG_INFO},
                                                       {"verbose", AV_LOG_VERBOSE}, {"debug", AV_LOG_DEBUG}};
  for (const auto& l : levels) {
    if (name == l.first) {
      av_log_set_level(l.second);
      return env.Undefined();
    }
  }
  throw Napi::RangeError::New(env, "unknown log level '" + name + "'");
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setLogLevel", Napi::Function::New(env, SetLogLevel, "setLogLevel"));
  exports.Set("createDecoder", Napi::Function::New(env, CreateDecoder, "createDecoder"));
  exports.Set("decode", Napi::Function::New(env, Decode, "decode"));
  exports.Set("flushDecoder", Napi::Function::New(env, FlushDecoder, "flushDecoder"));
  exports.Set("createFilter", Napi::Function::New(env, CreateFilter, "createFilter"));
  exports.Set("filter", Napi::Function::New(env, Filter, "filter"));
  exports.Set("createEncoder", Napi::Function::New(env, CreateEncoder, "createEncoder"));
  exports.Set("encode", Napi::Function::New(env, Encode, "encode"));
  exports.Set("flushEncoder", Napi::Function::New(env, FlushEncoder, "flushEncoder"));
  exports.Set("extradata", Napi::Function::New(env, Extradata, "extradata"));
  exports.Set("freeFrame", Napi::Function::New(env, FreeFrame, "freeFrame"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("avcodecVersion", Napi::Number::New(env, avcodec_version()));
  return exports;
}

}  // namespace

NODE_API_MODULE(beamline_av, Init)
