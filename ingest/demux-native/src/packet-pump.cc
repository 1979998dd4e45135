// startReader(format, onPackets, maxQueuedBytes) -> handle; releaseBytes(handle, n); stopReader(handle)
//
// A reading thread per demuxer: it runs av_read_frame in a loop on the AVFormatContext of a beamcoder demuxer
// opened from a URL (as readPacket does, see packet-reader.cc) and hands the packets to JS in batches: every
// packet read while the main thread had not yet taken the previous ones goes out in the same call,
// `onPackets(packets, state, message)`, where packets is an array of {streamIndex, pts, dts, duration, flags,
// data} (as readPacket resolves) and state 0 = more to come, 1 = end of input, 2 = read error (message set).
// After a state other than 0 the thread has returned from libavformat and never touches the format again.
//
// Why: readPacket costs the main thread, per packet, a libuv pool request (a futex wake of a pool thread),
// an AsyncWorker, a promise and a completion wake-up. Here a packet costs its JS object and its Buffer, and a
// wake-up is shared by the packets that arrived together.
//
// Bounded: the thread stops reading while more than maxQueuedBytes (payload + 64 per packet) were handed to
// JS and not yet released (releaseBytes, called by JS as it consumes them); the input then waits in the
// socket, where the demuxer's own overflow check sees it. stopReader makes the thread end at its next check
// (a read in progress ends when the input is aborted, as a pool read does).
// SPDX-License-Identifier: GPL-3.0-or-later
#include "packet-pump.h"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/error.h>
}

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace beamline_demux {
namespace {

constexpr size_t kPacketOverhead = 64;

struct Pump;
using PumpPtr = std::shared_ptr<Pump>;

struct Pump {
  BeamcoderFormatRef* ref = nullptr;
  size_t maxQueued = 0;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<AVPacket*> queue;  // read, not yet handed to JS
  size_t outstanding = 0;       // bytes handed or queued, not yet released by JS
  bool notified = false;        // a call to JS is on its way
  bool stopping = false;
  int state = 0;  // 0 running, 1 eof, 2 error
  std::string error;

  bool finalDelivered = false;  // main thread only
  std::atomic<bool> leaving{false};  // the thread has left libavformat for good and is releasing the function
  Napi::ObjectReference format;  // held until the thread is done (released on the main thread)
  std::thread thread;

  ~Pump() {
    for (AVPacket* p : queue) av_packet_free(&p);
  }
};

// Property names made once per environment (napi_set_named_property looks a C string up every time); held in
// an array because N-API 8 references only objects.
struct Names {
  Napi::ObjectReference keys;  // [streamIndex, pts, dts, duration, flags, data]
};

void CallJs(Napi::Env env, Napi::Function callback, PumpPtr* ctx, void* /*data*/) {
  if (env == nullptr || ctx == nullptr) return;
  Pump& p = **ctx;
  std::deque<AVPacket*> taken;
  int state;
  std::string error;
  {
    std::lock_guard<std::mutex> lk(p.mu);
    taken.swap(p.queue);
    p.notified = false;
    state = p.state;
    error = p.error;
  }
  if (p.finalDelivered || (taken.empty() && state == 0)) return;
  if (state != 0) p.finalDelivered = true;
  PacketKeys keys = PacketKeysOf(env);
  Napi::Array arr = Napi::Array::New(env, taken.size());
  uint32_t i = 0;
  for (AVPacket* pkt : taken) {
    arr.Set(i++, PacketObject(env, keys, pkt));
    av_packet_free(&pkt);
  }
  // A throwing callback is the caller's bug; it surfaces as an uncaught exception, like any event listener's.
  callback.Call({arr, Napi::Number::New(env, state), state == 2 ? Napi::Value(Napi::String::New(env, error)) : env.Null()});
}

void Finalize(Napi::Env /*env*/, void* /*data*/, PumpPtr* ctx) {
  // Main thread. Normally after the reading thread's last Release: it is returning, join it. At the environment's
  // teardown (process exit) it may still be blocked in a read: then it is left to end with the process (it holds
  // its own reference to the pump) rather than hang the exit.
  if ((*ctx)->thread.joinable()) {
    if ((*ctx)->leaving.load()) {
      (*ctx)->thread.join();
    } else {
      (*ctx)->thread.detach();
    }
  }
  (*ctx)->format.Reset();
  delete ctx;
}

using Tsfn = Napi::TypedThreadSafeFunction<PumpPtr, void, CallJs>;

PumpPtr* HandleOf(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "expected a reader handle");
  return info[0].As<Napi::External<PumpPtr>>().Data();
}

Napi::Value StartReader(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsNumber()) {
    throw Napi::TypeError::New(env, "usage: startReader(format, onPackets, maxQueuedBytes)");
  }
  Napi::Object format = info[0].As<Napi::Object>();
  BeamcoderFormatRef* fref = FormatRefOf(env, format, "startReader");
  double maxQueued = info[2].As<Napi::Number>().DoubleValue();
  if (!(maxQueued >= 1)) throw Napi::RangeError::New(env, "startReader: maxQueuedBytes must be >= 1");

  auto pump = std::make_shared<Pump>();
  pump->ref = fref;
  pump->maxQueued = static_cast<size_t>(maxQueued);
  pump->format = Napi::Persistent(format);
  auto* ctx = new PumpPtr(pump);
  // The thread-safe function's context (ctx) and the JS handle each hold the pump.
  Tsfn tsfn = Tsfn::New(env, info[1].As<Napi::Function>(), "BeamlinePacketReader", 0, 1, ctx, Finalize, static_cast<void*>(nullptr));
  auto* handle = new PumpPtr(pump);
  Napi::External<PumpPtr> ext = Napi::External<PumpPtr>::New(env, handle, [](Napi::Env, PumpPtr* h) { delete h; });
  pump->thread = std::thread([pump, tsfn]() mutable {
    pthread_setname_np(pthread_self(), "beam-demux");  // visible in /proc/<pid>/task/*/comm and top -H
    Pump& p = *pump;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(p.mu);
        p.cv.wait(lk, [&] { return p.stopping || p.outstanding < p.maxQueued; });
        if (p.stopping) {
          if (p.state == 0) p.state = 1;
          break;
        }
      }
      AVFormatContext* fc = p.ref->fmtCtx;
      AVPacket* pkt = fc != nullptr ? av_packet_alloc() : nullptr;
      int ret = fc == nullptr ? AVERROR(EINVAL) : pkt == nullptr ? AVERROR(ENOMEM) : av_read_frame(fc, pkt);
      bool notify = false;
      bool done = false;
      {
        std::lock_guard<std::mutex> lk(p.mu);
        if (ret < 0) {
          av_packet_free(&pkt);
          if (ret == AVERROR_EOF) {
            p.state = 1;
          } else {
            p.state = 2;
            p.error = fc == nullptr ? "Format context has been deleted." : ReadErrorText(ret);
          }
          done = true;
        } else {
          p.outstanding += static_cast<size_t>(pkt->size > 0 ? pkt->size : 0) + kPacketOverhead;
          p.queue.push_back(pkt);
        }
        if (!p.notified) {
          p.notified = true;
          notify = true;
        }
      }
      if (notify) tsfn.NonBlockingCall();
      if (done) break;
    }
    // The final state always gets its own call: one already on its way may have run before it was set.
    tsfn.NonBlockingCall();
    p.leaving.store(true);
    tsfn.Release();
  });
  return ext;
}

Napi::Value ReleaseBytes(const Napi::CallbackInfo& info) {
  PumpPtr* h = HandleOf(info);
  if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "usage: releaseBytes(handle, bytes)");
  double n = info[1].As<Napi::Number>().DoubleValue();
  Pump& p = **h;
  {
    std::lock_guard<std::mutex> lk(p.mu);
    size_t k = n > 0 ? static_cast<size_t>(n) : 0;
    p.outstanding = k >= p.outstanding ? 0 : p.outstanding - k;
  }
  p.cv.notify_one();
  return info.Env().Undefined();
}

Napi::Value StopReader(const Napi::CallbackInfo& info) {
  PumpPtr* h = HandleOf(info);
  Pump& p = **h;
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.stopping = true;
  }
  p.cv.notify_one();
  return info.Env().Undefined();
}

}  // namespace

std::string ReadErrorText(int ret) {
  char msg[AV_ERROR_MAX_STRING_SIZE] = {0};
  if (av_strerror(ret, msg, sizeof msg) < 0) snprintf(msg, sizeof msg, "error %d", ret);
  return std::string("Problem reading frame: ") + msg;
}

PacketKeys PacketKeysOf(Napi::Env env) {
  Napi::Object k = env.GetInstanceData<Names>()->keys.Value();
  return {k.Get(0u), k.Get(1u), k.Get(2u), k.Get(3u), k.Get(4u), k.Get(5u)};
}

Napi::Object PacketObject(Napi::Env env, const PacketKeys& k, const AVPacket* pkt) {
  Napi::Object o = Napi::Object::New(env);
  o.Set(k.streamIndex, Napi::Number::New(env, pkt->stream_index));
  o.Set(k.pts, pkt->pts == AV_NOPTS_VALUE ? env.Null() : Napi::Value(Napi::Number::New(env, static_cast<double>(pkt->pts))));
  o.Set(k.dts, pkt->dts == AV_NOPTS_VALUE ? env.Null() : Napi::Value(Napi::Number::New(env, static_cast<double>(pkt->dts))));
  o.Set(k.duration, Napi::Number::New(env, static_cast<double>(pkt->duration)));
  o.Set(k.flags, Napi::Number::New(env, pkt->flags));
  o.Set(k.data, Napi::Buffer<uint8_t>::Copy(env, pkt->size > 0 ? pkt->data : nullptr, pkt->size > 0 ? static_cast<size_t>(pkt->size) : 0));
  return o;
}

void InitPump(Napi::Env env, Napi::Object exports) {
  Napi::Array keys = Napi::Array::New(env, 6);
  const char* names6[] = {"streamIndex", "pts", "dts", "duration", "flags", "data"};
  for (uint32_t i = 0; i < 6; i++) keys.Set(i, Napi::String::New(env, names6[i]));
  auto* names = new Names{Napi::Persistent(keys.As<Napi::Object>())};
  env.SetInstanceData<Names>(names);
  exports.Set("startReader", Napi::Function::New(env, StartReader, "startReader"));
  exports.Set("releaseBytes", Napi::Function::New(env, ReleaseBytes, "releaseBytes"));
  exports.Set("stopReader", Napi::Function::New(env, StopReader, "stopReader"));
}

}  // namespace beamline_demux
