// N-API face of the SRT listener:
//   new SrtListener(options, onEvent)
//   .start() -> port            .stop() -> bool (a 'shutdown' event follows when true)
//   .finish()                    joins the receive thread, releases the JS callback, srt_cleanup
//   .closeSession(id, reason) -> bool   .stats(id) -> object | null   .sessionIds() -> number[]
//   .send(id, Buffer) -> 'sent' | 'slow' | 'gone'   (to a reader, non-blocking, 1316-byte messages)
//   .setReadable([[channel, [rung, ...], token], ...]) (token: a fixed string, or true: any s=, checked in JS)   .upsertReadable(channel, rungs, token)   .deleteReadable(channel)
//   .setKeys([[key, channel, passphrase], ...])   .upsertKey(key, channel, passphrase)   .deleteKey(key)
//   .keyCount() -> number
// The listen callback decides on libsrt's thread from that key snapshot (key-gate.h), at once.
// onEvent('session', id, streamId, address, port, channel, mode, rung) | ('data', id, Buffer) | ('closed', id, reason)
//   | ('refused', id, streamId, address, port, code, reason) | ('shutdown') is called on the JS thread,
//   in order; refusals are for the log and metrics and are dropped when too many wait for JS.
// parseStreamId(s) -> {ok, mode, channel?, key, rung?} (the C++ parser, exported for the parity test).
// SPDX-License-Identifier: GPL-3.0-or-later
#include <napi.h>
#include <srt/access_control.h>

#include <syslog.h>

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <memory>
#include <stdexcept>
#include <string>

#include "key-gate.h"
#include "listener.h"
#include "streamid.h"
#include "types.h"

namespace beamline_srt {

namespace {

struct EventMsg {
  std::unique_ptr<Event> ev;
  std::shared_ptr<std::atomic<size_t>> queued;    // undelivered data bytes of this listener
  std::shared_ptr<std::atomic<int>> refusals;     // undelivered refusal events of this listener
};

constexpr int kMaxQueuedRefusals = 256;

void callEvent(Napi::Env env, Napi::Function fn, std::nullptr_t*, EventMsg* raw) {
  std::unique_ptr<EventMsg> msg(raw);
  Event& ev = *msg->ev;
  if (ev.kind == Event::Kind::Data) *msg->queued -= ev.bytes.size();
  if (ev.kind == Event::Kind::Refused) *msg->refusals -= 1;
  if (env == nullptr || fn.IsEmpty()) return;
  try {
    switch (ev.kind) {
      case Event::Kind::Session:
        fn.Call({Napi::String::New(env, "session"), Napi::Number::New(env, ev.id), Napi::String::New(env, ev.text),
                 Napi::String::New(env, ev.peer.address), Napi::Number::New(env, ev.peer.port),
                 Napi::String::New(env, ev.text2), Napi::String::New(env, ev.request ? "request" : "publish"),
                 Napi::String::New(env, ev.rung)});
        break;
      case Event::Kind::Refused:
        fn.Call({Napi::String::New(env, "refused"), Napi::Number::New(env, ev.id), Napi::String::New(env, ev.text),
                 Napi::String::New(env, ev.peer.address), Napi::Number::New(env, ev.peer.port),
                 Napi::Number::New(env, ev.code), Napi::String::New(env, ev.text2)});
        break;
      case Event::Kind::Data:
        fn.Call({Napi::String::New(env, "data"), Napi::Number::New(env, ev.id),
                 Napi::Buffer<uint8_t>::Copy(env, ev.bytes.data(), ev.bytes.size())});
        break;
      case Event::Kind::Closed:
        fn.Call({Napi::String::New(env, "closed"), Napi::Number::New(env, ev.id), Napi::String::New(env, ev.text)});
        break;
      case Event::Kind::Shutdown:
        fn.Call({Napi::String::New(env, "shutdown")});
        break;
    }
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  }
}

using EventTsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, EventMsg, callEvent>;

int intOption(const Napi::Object& o, const char* name, int def, int min, int max) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("option ") + name + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<int64_t>(d))) {
    throw Napi::RangeError::New(o.Env(), std::string("option ") + name + " must be an integer in [" +
                                             std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<int>(d);
}

}  // namespace

class SrtListener : public Napi::ObjectWrap<SrtListener>, public Sink {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SrtListener",
                       {InstanceMethod("start", &SrtListener::Start), InstanceMethod("stop", &SrtListener::Stop),
                        InstanceMethod("finish", &SrtListener::Finish),
                        InstanceMethod("closeSession", &SrtListener::CloseSession),
                        InstanceMethod("stats", &SrtListener::Stats),
                        InstanceMethod("send", &SrtListener::Send),
                        InstanceMethod("setReadable", &SrtListener::SetReadable),
                        InstanceMethod("upsertReadable", &SrtListener::UpsertReadable),
                        InstanceMethod("deleteReadable", &SrtListener::DeleteReadable),
                        InstanceMethod("sessionIds", &SrtListener::SessionIds),
                        InstanceMethod("setKeys", &SrtListener::SetKeys),
                        InstanceMethod("upsertKey", &SrtListener::UpsertKey),
                        InstanceMethod("deleteKey", &SrtListener::DeleteKey),
                        InstanceMethod("keyCount", &SrtListener::KeyCount)});
  }

  explicit SrtListener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SrtListener>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(env, "usage: new SrtListener(options, onEvent)");
    }
    Napi::Object o = info[0].As<Napi::Object>();
    Napi::Value host = o.Get("host");
    if (!host.IsUndefined()) {
      if (!host.IsString()) throw Napi::TypeError::New(env, "option host must be a string");
      cfg_.host = host.As<Napi::String>().Utf8Value();
    }
    cfg_.port = intOption(o, "port", cfg_.port, 0, 65535);
    cfg_.latencyMs = intOption(o, "latencyMs", cfg_.latencyMs, 0, 60000);
    cfg_.peerIdleTimeoutMs = intOption(o, "peerIdleTimeoutMs", cfg_.peerIdleTimeoutMs, 100, 3600000);
    cfg_.backlog = intOption(o, "backlog", cfg_.backlog, 1, 4096);
    cfg_.batchBytes = static_cast<size_t>(intOption(o, "batchBytes", static_cast<int>(cfg_.batchBytes), 1316, 1 << 24));
    cfg_.batchMs = intOption(o, "batchMs", cfg_.batchMs, 1, 1000);
    cfg_.readerBufferBytes = static_cast<size_t>(
        intOption(o, "readerBufferBytes", static_cast<int>(cfg_.readerBufferBytes), 16 * 1316, 1 << 30));
    Napi::Value level = o.Get("logLevel");
    if (!level.IsUndefined()) {
      static const std::pair<const char*, int> kLevels[] = {
          {"critical", LOG_CRIT}, {"error", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE}, {"debug", LOG_DEBUG}};
      std::string name = level.IsString() ? level.As<Napi::String>().Utf8Value() : std::string();
      cfg_.logLevel = -2;
      for (auto& [n, v] : kLevels) {
        if (name == n) cfg_.logLevel = v;
      }
      if (cfg_.logLevel == -2) {
        throw Napi::TypeError::New(env, "option logLevel must be one of critical, error, warning, notice, debug");
      }
    }
    maxQueuedBytes_ = static_cast<size_t>(intOption(o, "maxQueuedMiB", 64, 1, 4096)) * 1024 * 1024;
    onEvent_ = Napi::Persistent(info[1].As<Napi::Function>());
    env_ = env;
    napi_add_env_cleanup_hook(env, &SrtListener::envCleanup, this);
    hookRegistered_ = true;
  }

  ~SrtListener() override {
    if (hookRegistered_) napi_remove_env_cleanup_hook(env_, &SrtListener::envCleanup, this);
    teardown();
  }

  Decision authorize(const std::string& streamId) override { return gate_.decide(streamId); }
  bool emit(std::unique_ptr<Event> ev) override {
    size_t n = ev->kind == Event::Kind::Data ? ev->bytes.size() : 0;
    int r = ev->kind == Event::Kind::Refused ? 1 : 0;
    if (n > 0 && queued_->load() + n > maxQueuedBytes_) return false;  // JS is not keeping up
    if (r > 0 && refusals_->load() >= kMaxQueuedRefusals) return false;  // a handshake flood: log less
    std::lock_guard<std::mutex> lk(emitMu_);  // the receive thread and libsrt's threads both emit
    if (!tsfnLive_) return false;
    *queued_ += n;
    *refusals_ += r;
    auto* msg = new EventMsg{std::move(ev), queued_, refusals_};
    if (eventTsfn_.NonBlockingCall(msg) != napi_ok) {
      *queued_ -= n;
      *refusals_ -= r;
      delete msg;
      return false;
    }
    return true;
  }

 private:
  static void envCleanup(void* arg) {
    auto* self = static_cast<SrtListener*>(arg);
    self->hookRegistered_ = false;
    self->teardown();
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (listener_) throw Napi::Error::New(env, "the SRT listener was already started");
    eventTsfn_ = EventTsfn::New(env, onEvent_.Value(), "beamline-srt-events", 0, 1, nullptr);
    {
      std::lock_guard<std::mutex> lk(emitMu_);
      tsfnLive_ = true;
    }
    listener_ = std::make_unique<Listener>(cfg_, this);
    int port = 0;
    try {
      port = listener_->start();
    } catch (const std::exception& e) {
      listener_.reset();
      releaseCallbacks();
      throw Napi::Error::New(env, e.what());
    }
    return Napi::Number::New(env, port);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    bool willShutdown = listener_ && listener_->running() && !stopRequested_;
    if (listener_) listener_->requestStop();
    stopRequested_ = true;
    return Napi::Boolean::New(info.Env(), willShutdown);
  }

  Napi::Value Finish(const Napi::CallbackInfo& info) {
    teardown();
    return info.Env().Undefined();
  }

  Napi::Value CloseSession(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "closeSession(id, reason?)");
    std::string reason = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "closed by server";
    bool ok = listener_ && listener_->requestClose(info[0].As<Napi::Number>().Int32Value(), reason);
    return Napi::Boolean::New(env, ok);
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "stats(id)");
    SessionStats st;
    if (!listener_ || !listener_->stats(info[0].As<Napi::Number>().Int32Value(), &st)) return env.Null();
    const SRT_TRACEBSTATS& p = st.perf;
    Napi::Object o = Napi::Object::New(env);
    o.Set("rttMs", p.msRTT);
    o.Set("recvRateMbps", p.mbpsRecvRate);
    o.Set("bandwidthMbps", p.mbpsBandwidth);
    o.Set("bytesReceived", static_cast<double>(p.byteRecvTotal));
    o.Set("packetsReceived", static_cast<double>(p.pktRecvTotal));
    o.Set("packetsLost", p.pktRcvLossTotal);
    o.Set("packetsRetransmitted", p.pktRcvRetrans);
    o.Set("packetsDropped", p.pktRcvDropTotal);
    o.Set("packetsUndecrypted", p.pktRcvUndecryptTotal);
    o.Set("latencyMs", p.msRcvTsbPdDelay);
    o.Set("receiveBufferMs", p.msRcvBuf);
    o.Set("uptimeMs", static_cast<double>(p.msTimeStamp));
    o.Set("droppedBytes", static_cast<double>(st.droppedBytes));
    o.Set("sendRateMbps", p.mbpsSendRate);
    o.Set("bytesSent", static_cast<double>(p.byteSentTotal));
    o.Set("packetsSent", static_cast<double>(p.pktSentTotal));
    o.Set("packetsSendLost", p.pktSndLossTotal);
    o.Set("packetsSendRetransmitted", p.pktRetransTotal);
    o.Set("packetsSendDropped", p.pktSndDropTotal);
    o.Set("sendBufferBytes", p.byteSndBuf);
    o.Set("sendBufferMs", p.msSndBuf);
    o.Set("peerLatencyMs", p.msSndTsbPdDelay);
    return o;
  }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "send(id, Buffer)");
    Napi::Buffer<uint8_t> b = info[1].As<Napi::Buffer<uint8_t>>();
    SendResult r = listener_ ? listener_->send(info[0].As<Napi::Number>().Int32Value(), b.Data(), b.Length()) : SendResult::Gone;
    return Napi::String::New(env, r == SendResult::Sent ? "sent" : r == SendResult::Slow ? "slow" : "gone");
  }

  static ReadEntry readEntryFrom(const Napi::Value& rungs, const Napi::Value& token) {
    if (!rungs.IsArray()) throw Napi::TypeError::New(rungs.Env(), "rungs must be an array of strings");
    ReadEntry e;
    Napi::Array a = rungs.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) e.rungs.push_back(stringArg(a.Get(i), "rung"));
    if (token.IsBoolean()) e.signedToken = token.As<Napi::Boolean>().Value();
    else if (!token.IsUndefined() && !token.IsNull()) e.token = stringArg(token, "token");
    return e;
  }

  // setReadable([[channel, [rung, ...], token?], ...]): replaces what readers may read.
  Napi::Value SetReadable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "setReadable([[channel, rungs, token?], ...])");
    Napi::Array a = info[0].As<Napi::Array>();
    std::unordered_map<std::string, ReadEntry> channels;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value row = a.Get(i);
      if (!row.IsArray()) throw Napi::TypeError::New(env, "setReadable: every row is [channel, rungs, token?]");
      Napi::Array r = row.As<Napi::Array>();
      channels[stringArg(r.Get(0u), "channel")] = readEntryFrom(r.Get(1u), r.Get(2u));
    }
    gate_.replaceReadable(std::move(channels));
    return env.Undefined();
  }

  Napi::Value UpsertReadable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2) throw Napi::TypeError::New(env, "upsertReadable(channel, rungs, token?)");
    gate_.upsertReadable(stringArg(info[0], "channel"), readEntryFrom(info[1], info.Length() > 2 ? info[2] : env.Undefined()));
    return env.Undefined();
  }

  Napi::Value DeleteReadable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) throw Napi::TypeError::New(env, "deleteReadable(channel)");
    gate_.removeReadable(stringArg(info[0], "channel"));
    return env.Undefined();
  }

  Napi::Value SessionIds(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<int> ids = listener_ ? listener_->sessionIds() : std::vector<int>();
    Napi::Array a = Napi::Array::New(env, ids.size());
    for (size_t i = 0; i < ids.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, ids[i]));
    return a;
  }

  // Stops and joins the receive thread, then releases the JS callbacks. Safe to call repeatedly.
  void teardown() {
    if (listener_) {
      listener_->requestStop();
      listener_->join();
    }
    stopRequested_ = true;
    releaseCallbacks();
  }

  void releaseCallbacks() {
    std::lock_guard<std::mutex> lk(emitMu_);
    if (!tsfnLive_) return;
    tsfnLive_ = false;
    eventTsfn_.Release();
  }

  static std::string stringArg(const Napi::Value& v, const char* what) {
    if (!v.IsString()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a string");
    return v.As<Napi::String>().Utf8Value();
  }

  static KeyEntry entryFrom(const Napi::Value& channel, const Napi::Value& passphrase) {
    KeyEntry e;
    e.channel = stringArg(channel, "channel");
    if (!passphrase.IsUndefined() && !passphrase.IsNull()) e.passphrase = stringArg(passphrase, "passphrase");
    return e;
  }

  // setKeys([[key, channel, passphrase?], ...]): replaces the whole snapshot.
  Napi::Value SetKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "setKeys([[key, channel, passphrase?], ...])");
    Napi::Array a = info[0].As<Napi::Array>();
    std::unordered_map<std::string, KeyEntry> keys;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value row = a.Get(i);
      if (!row.IsArray()) throw Napi::TypeError::New(env, "setKeys: every row is [key, channel, passphrase?]");
      Napi::Array r = row.As<Napi::Array>();
      keys[stringArg(r.Get(0u), "key")] = entryFrom(r.Get(1u), r.Get(2u));
    }
    gate_.replaceAll(std::move(keys));
    return env.Undefined();
  }

  Napi::Value UpsertKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2) throw Napi::TypeError::New(env, "upsertKey(key, channel, passphrase?)");
    gate_.upsert(stringArg(info[0], "key"), entryFrom(info[1], info.Length() > 2 ? info[2] : env.Undefined()));
    return env.Undefined();
  }

  Napi::Value DeleteKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) throw Napi::TypeError::New(env, "deleteKey(key)");
    gate_.remove(stringArg(info[0], "key"));
    return env.Undefined();
  }

  Napi::Value KeyCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(gate_.size()));
  }

  ListenerConfig cfg_;
  size_t maxQueuedBytes_ = 64 * 1024 * 1024;
  napi_env env_ = nullptr;
  bool hookRegistered_ = false;
  bool stopRequested_ = false;
  bool tsfnLive_ = false;  // guarded by emitMu_
  std::mutex emitMu_;
  Napi::FunctionReference onEvent_;
  EventTsfn eventTsfn_;
  std::shared_ptr<std::atomic<size_t>> queued_ = std::make_shared<std::atomic<size_t>>(0);
  std::shared_ptr<std::atomic<int>> refusals_ = std::make_shared<std::atomic<int>>(0);
  KeyGate gate_;
  std::unique_ptr<Listener> listener_;  // declared last: destroyed first, before the gate it calls
};

Napi::Value ParseStreamIdJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "parseStreamId(string)");
  ParsedStreamId p = parseStreamId(info[0].As<Napi::String>().Utf8Value());
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", p.ok);
  if (p.ok) {
    o.Set("mode", p.publish ? "publish" : "request");
    if (p.hasChannel) o.Set("channel", p.channel);
    o.Set("key", p.key);
    if (p.hasRung) o.Set("rung", p.rung);
  }
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("SrtListener", SrtListener::Define(env));
  exports.Set("parseStreamId", Napi::Function::New(env, ParseStreamIdJs, "parseStreamId"));
  exports.Set("version", Napi::String::New(env, SRT_VERSION_STRING));
  return exports;
}

NODE_API_MODULE(beamline_srt, Init)

}  // namespace beamline_srt
