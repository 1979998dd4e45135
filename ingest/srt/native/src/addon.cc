// N-API face of the SRT listener:
//   new SrtListener(options, onAuthorize, onEvent)
//   .start() -> port            .stop() -> bool (a 'shutdown' event follows when true)
//   .finish()                    joins the receive thread, releases the JS callbacks, srt_cleanup
//   .closeSession(id, reason) -> bool   .stats(id) -> object | null   .sessionIds() -> number[]
// onAuthorize(id, streamId, address, port) -> {accept: true, passphrase?} | {accept: false, code}
//   is called on the JS thread while a libsrt thread waits for it (bounded by authTimeoutMs).
// onEvent('session', id, streamId, address, port) | ('data', id, Buffer) | ('closed', id, reason)
//   | ('shutdown') is called on the JS thread, in order.
// SPDX-License-Identifier: GPL-3.0-or-later
#include <napi.h>
#include <srt/access_control.h>

#include <syslog.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "auth-gate.h"
#include "listener.h"
#include "types.h"

namespace beamline_srt {

namespace {

struct AuthMsg {
  std::shared_ptr<AuthRequest> req;
};

struct EventMsg {
  std::unique_ptr<Event> ev;
  std::shared_ptr<std::atomic<size_t>> queued;  // undelivered data bytes of this listener
};

Decision decisionFrom(const Napi::Value& v) {
  Decision d;
  d.accept = false;
  d.code = SRT_REJX_FORBIDDEN;
  if (!v.IsObject()) return d;
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value accept = o.Get("accept");
  if (accept.IsBoolean() && accept.As<Napi::Boolean>().Value()) {
    d.accept = true;
    Napi::Value pass = o.Get("passphrase");
    if (pass.IsString()) d.passphrase = pass.As<Napi::String>().Utf8Value();
    return d;
  }
  Napi::Value code = o.Get("code");
  if (code.IsNumber()) {
    int c = code.As<Napi::Number>().Int32Value();
    if (c >= 1000 && c < 3000) d.code = c;
  }
  return d;
}

void callAuth(Napi::Env env, Napi::Function fn, std::nullptr_t*, AuthMsg* raw) {
  std::unique_ptr<AuthMsg> msg(raw);
  Decision refused;
  refused.code = SRT_REJX_ISE;
  if (env == nullptr || fn.IsEmpty()) {
    msg->req->resolve(refused);
    return;
  }
  if (!msg->req->wanted()) return;  // timed out or aborted while queued
  const AuthRequest& r = *msg->req;
  try {
    Napi::Value out = fn.Call({Napi::Number::New(env, r.id), Napi::String::New(env, r.streamId),
                               Napi::String::New(env, r.peer.address), Napi::Number::New(env, r.peer.port)});
    msg->req->resolve(decisionFrom(out));
  } catch (const Napi::Error& e) {
    msg->req->resolve(refused);
    e.ThrowAsJavaScriptException();  // surfaces as an uncaught exception: the JS wrapper never throws
  }
}

void callEvent(Napi::Env env, Napi::Function fn, std::nullptr_t*, EventMsg* raw) {
  std::unique_ptr<EventMsg> msg(raw);
  Event& ev = *msg->ev;
  if (ev.kind == Event::Kind::Data) *msg->queued -= ev.bytes.size();
  if (env == nullptr || fn.IsEmpty()) return;
  try {
    switch (ev.kind) {
      case Event::Kind::Session:
        fn.Call({Napi::String::New(env, "session"), Napi::Number::New(env, ev.id), Napi::String::New(env, ev.text),
                 Napi::String::New(env, ev.peer.address), Napi::Number::New(env, ev.peer.port)});
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

using AuthTsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, AuthMsg, callAuth>;
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
                        InstanceMethod("sessionIds", &SrtListener::SessionIds)});
  }

  explicit SrtListener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SrtListener>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsFunction()) {
      throw Napi::TypeError::New(env, "usage: new SrtListener(options, onAuthorize, onEvent)");
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
    authTimeoutMs_ = intOption(o, "authTimeoutMs", authTimeoutMs_, 10, 30000);
    maxQueuedBytes_ = static_cast<size_t>(intOption(o, "maxQueuedMiB", 64, 1, 4096)) * 1024 * 1024;
    onAuthorize_ = Napi::Persistent(info[1].As<Napi::Function>());
    onEvent_ = Napi::Persistent(info[2].As<Napi::Function>());
    env_ = env;
    napi_add_env_cleanup_hook(env, &SrtListener::envCleanup, this);
    hookRegistered_ = true;
  }

  ~SrtListener() override {
    if (hookRegistered_) napi_remove_env_cleanup_hook(env_, &SrtListener::envCleanup, this);
    teardown();
  }

  Decision authorize(int id, const std::string& streamId, const Peer& peer) override {
    return gate_->authorize(id, streamId, peer);
  }
  void abortAuthorizations() override { gate_->abortAll(); }
  bool emit(std::unique_ptr<Event> ev) override {
    size_t n = ev->kind == Event::Kind::Data ? ev->bytes.size() : 0;
    if (n > 0 && queued_->load() + n > maxQueuedBytes_) return false;  // JS is not keeping up
    *queued_ += n;
    auto* msg = new EventMsg{std::move(ev), queued_};
    if (eventTsfn_.NonBlockingCall(msg) != napi_ok) {
      *queued_ -= n;
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
    authTsfn_ = AuthTsfn::New(env, onAuthorize_.Value(), "beamline-srt-authorize", 0, 1, nullptr);
    eventTsfn_ = EventTsfn::New(env, onEvent_.Value(), "beamline-srt-events", 0, 1, nullptr);
    tsfnLive_ = true;
    AuthTsfn auth = authTsfn_;
    gate_ = std::make_unique<AuthGate>(
        [auth](const std::shared_ptr<AuthRequest>& req) {
          auto* msg = new AuthMsg{req};
          if (auth.NonBlockingCall(msg) != napi_ok) {
            delete msg;
            return false;
          }
          return true;
        },
        std::chrono::milliseconds(authTimeoutMs_));
    listener_ = std::make_unique<Listener>(cfg_, this);
    int port = 0;
    try {
      port = listener_->start();
    } catch (const std::exception& e) {
      listener_.reset();
      releaseCallbacks();
      throw Napi::Error::New(env, e.what());
    }
    authTsfn_.Unref(env);  // the event function alone keeps the loop alive while listening
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
    return o;
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
    if (!tsfnLive_) return;
    tsfnLive_ = false;
    authTsfn_.Release();
    eventTsfn_.Release();
  }

  ListenerConfig cfg_;
  int authTimeoutMs_ = 2000;
  size_t maxQueuedBytes_ = 64 * 1024 * 1024;
  napi_env env_ = nullptr;
  bool hookRegistered_ = false;
  bool stopRequested_ = false;
  bool tsfnLive_ = false;
  Napi::FunctionReference onAuthorize_;
  Napi::FunctionReference onEvent_;
  AuthTsfn authTsfn_;
  EventTsfn eventTsfn_;
  std::shared_ptr<std::atomic<size_t>> queued_ = std::make_shared<std::atomic<size_t>>(0);
  std::unique_ptr<AuthGate> gate_;
  std::unique_ptr<Listener> listener_;  // declared last: destroyed first, before the gate it calls
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("SrtListener", SrtListener::Define(env));
  exports.Set("version", Napi::String::New(env, SRT_VERSION_STRING));
  return exports;
}

NODE_API_MODULE(beamline_srt, Init)

}  // namespace beamline_srt
