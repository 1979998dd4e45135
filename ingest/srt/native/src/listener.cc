// SPDX-License-Identifier: GPL-3.0-or-later
#include "listener.h"

#include "address.h"

#include <srt/access_control.h>

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace beamline_srt {

namespace {

constexpr int kPollMs = 5;            // pause after a poll error (never spin on it)
constexpr int kIdlePollMs = 20;       // longest wait with no batch pending: bounds close and stop request latency
constexpr int kMaxEvents = 64;
constexpr int kPayloadMax = 1500;     // live-mode payloads are at most 1456 bytes
constexpr int kReadsPerWake = 512;    // fairness between sessions on one wake-up
constexpr int kInflightWaitMs = 3000; // upper bound on waiting for listen callbacks at stop
constexpr int kStateCheckMs = 500;    // period of the sweep for sockets whose break raised no event
constexpr size_t kMaxPendingAccepts = 1024;  // accepted callers not yet through srt_accept
constexpr size_t kTsChunk = 1316;     // 7 MPEG-TS packets: one live-mode message

using Clock = std::chrono::steady_clock;

std::string lastError() {
  return srt_getlasterror_str();
}

void setInt(SRTSOCKET s, SRT_SOCKOPT opt, int value, const char* name) {
  if (srt_setsockflag(s, opt, &value, sizeof value) != 0) {
    throw std::runtime_error(std::string("cannot set ") + name + ": " + lastError());
  }
}

void setBool(SRTSOCKET s, SRT_SOCKOPT opt, bool value, const char* name) {
  if (srt_setsockflag(s, opt, &value, sizeof value) != 0) {
    throw std::runtime_error(std::string("cannot set ") + name + ": " + lastError());
  }
}

}  // namespace

Listener::Listener(ListenerConfig cfg, Sink* sink) : cfg_(std::move(cfg)), sink_(sink) {}

Listener::~Listener() {
  requestStop();
  join();
}

int Listener::start() {
  if (startedUp_) throw std::runtime_error("the SRT listener was already started");
  if (srt_startup() < 0) throw std::runtime_error("srt_startup failed: " + lastError());
  if (cfg_.logLevel >= 0) srt_setloglevel(cfg_.logLevel);
  startedUp_ = true;
  try {
    sockaddr_storage addr;
    int addrLen = 0;
    resolve(cfg_.host, cfg_.port, &addr, &addrLen);

    lsn_ = srt_create_socket();
    if (lsn_ == SRT_INVALID_SOCK) throw std::runtime_error("cannot create an SRT socket: " + lastError());
    setInt(lsn_, SRTO_TRANSTYPE, SRTT_LIVE, "SRTO_TRANSTYPE");
    setBool(lsn_, SRTO_RCVSYN, false, "SRTO_RCVSYN");
    setBool(lsn_, SRTO_SNDSYN, false, "SRTO_SNDSYN");
    setInt(lsn_, SRTO_LATENCY, cfg_.latencyMs, "SRTO_LATENCY (latencyMs)");
    setInt(lsn_, SRTO_PEERIDLETIMEO, cfg_.peerIdleTimeoutMs, "SRTO_PEERIDLETIMEO");
    if (addr.ss_family == AF_INET6) setInt(lsn_, SRTO_IPV6ONLY, 0, "SRTO_IPV6ONLY");

    if (srt_bind(lsn_, reinterpret_cast<sockaddr*>(&addr), addrLen) != 0) {
      throw std::runtime_error("cannot bind SRT to " + cfg_.host + ":" + std::to_string(cfg_.port) + ": " + lastError());
    }
    if (srt_listen_callback(lsn_, &Listener::listenHook, this) != 0) {
      throw std::runtime_error("cannot install the SRT listen callback: " + lastError());
    }
    if (srt_listen(lsn_, cfg_.backlog) != 0) throw std::runtime_error("cannot listen: " + lastError());

    sockaddr_storage bound;
    int boundLen = sizeof bound;
    if (srt_getsockname(lsn_, reinterpret_cast<sockaddr*>(&bound), &boundLen) != 0) {
      throw std::runtime_error("cannot read the bound SRT address: " + lastError());
    }
    int port = toPeer(reinterpret_cast<sockaddr*>(&bound)).port;

    eid_ = srt_epoll_create();
    if (eid_ < 0) throw std::runtime_error("cannot create an SRT epoll: " + lastError());
    int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    if (srt_epoll_add_usock(eid_, lsn_, &ev) != 0) throw std::runtime_error("cannot poll the listener: " + lastError());

    thread_ = std::thread(&Listener::run, this);
    return port;
  } catch (...) {
    stop_ = true;
    if (eid_ >= 0) srt_epoll_release(eid_);
    eid_ = -1;
    if (lsn_ != SRT_INVALID_SOCK) srt_close(lsn_);
    lsn_ = SRT_INVALID_SOCK;
    srt_cleanup();
    startedUp_ = false;
    throw;
  }
}

void Listener::requestStop() {
  stop_ = true;
}

void Listener::join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  if (startedUp_ && !thread_.joinable()) {
    srt_cleanup();
    startedUp_ = false;
  }
}

int Listener::listenHook(void* opaque, SRTSOCKET ns, int /*hsVersion*/, const struct sockaddr* peer,
                         const char* streamId) {
  // Runs on a libsrt thread: nothing may escape as a C++ exception.
  try {
    return static_cast<Listener*>(opaque)->onListen(ns, peer, streamId);
  } catch (...) {
    srt_setrejectreason(ns, SRT_REJX_ISE);
    return -1;
  }
}

int Listener::onListen(SRTSOCKET ns, const struct sockaddr* peer, const char* streamId) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_) {
      srt_setrejectreason(ns, SRT_REJX_DOWN);
      return -1;
    }
    ++inflight_;
  }
  std::string sid = streamId ? std::string(streamId) : std::string();
  Decision d;
  try {
    d = sink_->authorize(sid);
  } catch (...) {
    d.accept = false;
    d.code = SRT_REJX_ISE;
    d.reason = "internal error";
  }
  int rc = -1;
  if (d.accept) {
    rc = 0;
    if (!d.passphrase.empty() &&
        srt_setsockflag(ns, SRTO_PASSPHRASE, d.passphrase.data(), static_cast<int>(d.passphrase.size())) != 0) {
      d.accept = false;  // the passphrase was refused by libsrt (length 10..79)
      d.code = SRT_REJX_ISE;
      d.reason = "the channel's passphrase was refused by libsrt (10 to 79 characters)";
      rc = -1;
    }
  }
  if (rc == 0) {
    std::lock_guard<std::mutex> lk(mu_);
    auto now = Clock::now();
    if (acceptedChannel_.size() >= kMaxPendingAccepts) {
      // Accepted callers that never completed the handshake: forget the old ones.
      for (auto it = acceptedChannel_.begin(); it != acceptedChannel_.end();) {
        it = now - it->second.at > std::chrono::seconds(30) ? acceptedChannel_.erase(it) : std::next(it);
      }
    }
    acceptedChannel_[ns] = PendingAccept{d.channel, d.request, d.rung, now};
  } else {
    srt_setrejectreason(ns, d.code);
    auto e = std::make_unique<Event>();
    e->kind = Event::Kind::Refused;
    e->id = static_cast<int>(ns);
    e->text = std::move(sid);
    e->text2 = d.reason;
    e->code = d.code;
    e->peer = toPeer(peer);
    sink_->emit(std::move(e));  // for the log and metrics only: dropped when JS is behind
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    --inflight_;
  }
  inflightCv_.notify_all();
  return rc;
}

int Listener::nextWaitMs() const {
  // Wake for the oldest pending batch's flush deadline (batchMs after its first byte), or after
  // kIdlePollMs; a payload arriving wakes the poll at once either way.
  auto now = Clock::now();
  auto maxAge = std::chrono::milliseconds(cfg_.batchMs);
  long long wait = kIdlePollMs;
  for (const auto& [s, p] : pending_) {
    if (p.bytes.empty()) continue;
    long long left = std::chrono::ceil<std::chrono::milliseconds>(p.since + maxAge - now).count();
    wait = std::min(wait, std::max(left, 0LL));
  }
  return static_cast<int>(wait);
}

void Listener::run() {
  pthread_setname_np(pthread_self(), "beam-srt-rx");  // shows in /proc and top -H
  SRT_EPOLL_EVENT events[kMaxEvents];
  auto lastStateCheck = Clock::now();
  while (!stop_) {
    int n = srt_epoll_uwait(eid_, events, kMaxEvents, nextWaitMs());
    if (n < 0 && srt_getlasterror(nullptr) != SRT_ETIMEOUT) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));  // never spin on a poll error
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].fd == lsn_) {
        acceptOne();
      } else {
        readSocket(events[i].fd);
      }
    }
    drainCloseRequests();
    flushDue(false);
    if (Clock::now() - lastStateCheck >= std::chrono::milliseconds(kStateCheckMs)) {
      reapBroken();
      lastStateCheck = Clock::now();
    }
  }
  shutdownAll();
}

void Listener::acceptOne() {
  // One accept per readiness report: the poll is level-triggered, so further callers come next turn.
  sockaddr_storage sa;
  int len = sizeof sa;
  SRTSOCKET s = srt_accept(lsn_, reinterpret_cast<sockaddr*>(&sa), &len);
  if (s == SRT_INVALID_SOCK) return;
  bool no = false;
  srt_setsockflag(s, SRTO_RCVSYN, &no, sizeof no);
  srt_setsockflag(s, SRTO_SNDSYN, &no, sizeof no);
  int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  if (srt_epoll_add_usock(eid_, s, &ev) != 0) {
    srt_close(s);
    return;
  }
  char sid[513] = {0};
  int sidLen = sizeof sid - 1;
  if (srt_getsockflag(s, SRTO_STREAMID, sid, &sidLen) != 0) sidLen = 0;
  std::string channel;
  std::string rung;
  bool request = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    sessions_[s] = std::make_shared<Shared>();
    auto it = acceptedChannel_.find(s);
    if (it != acceptedChannel_.end()) {
      channel = std::move(it->second.channel);
      request = it->second.request;
      rung = std::move(it->second.rung);
      acceptedChannel_.erase(it);
    }
  }
  Pending& p = pending_[s];
  p.lastRecv = Clock::now();
  p.reader = request;
  auto e = std::make_unique<Event>();
  e->kind = Event::Kind::Session;
  e->id = static_cast<int>(s);
  e->text.assign(sid, static_cast<size_t>(sidLen));
  e->text2 = std::move(channel);
  e->request = request;
  e->rung = std::move(rung);
  e->peer = toPeer(reinterpret_cast<sockaddr*>(&sa));
  sink_->emit(std::move(e));
}

void Listener::readSocket(SRTSOCKET s) {
  auto it = pending_.find(s);
  if (it == pending_.end()) {
    srt_epoll_remove_usock(eid_, s);  // closed meanwhile; stale event
    return;
  }
  Pending& p = it->second;
  char buf[kPayloadMax];
  for (int i = 0; i < kReadsPerWake; ++i) {
    int r = srt_recvmsg(s, buf, sizeof buf);
    if (r > 0) {
      p.lastRecv = Clock::now();
      if (p.bytes.empty()) {
        p.bytes.reserve(cfg_.batchBytes + kPayloadMax);
        p.since = p.lastRecv;
      }
      p.bytes.insert(p.bytes.end(), buf, buf + r);
      if (p.bytes.size() >= cfg_.batchBytes) flush(s, p);
      continue;
    }
    if (r == 0) return;
    if (srt_getlasterror(nullptr) == SRT_EASYNCRCV) return;
    closeSession(s, lostReason(s, p));
    return;
  }
}

std::string Listener::lostReason(SRTSOCKET s, const Pending& p) {
  switch (srt_getsockstate(s)) {
    case SRTS_BROKEN: {
      if (p.reader) return "closed by peer or connection lost";
      // libsrt reports a peer's clean shutdown and a timeout alike; tell them apart by the silence
      // before it: a timeout follows peerIdleTimeoutMs without a packet.
      auto silentMs = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - p.lastRecv).count();
      if (silentMs < cfg_.peerIdleTimeoutMs * 4 / 5) return "closed by peer";
      return "connection lost (peer silent for " + std::to_string(silentMs) + " ms)";
    }
    case SRTS_CLOSED:
    case SRTS_CLOSING:
    case SRTS_NONEXIST:
      return "closed by peer";
    default:
      return "receive error: " + lastError();
  }
}

void Listener::reapBroken() {
  // A caller that hangs up while still queued for accept hands over an already broken socket, and
  // adding that to the poll raises no event: find such sockets by their state.
  std::vector<SRTSOCKET> broken;
  for (auto& kv : pending_) {
    if (srt_getsockstate(kv.first) > SRTS_CONNECTED) broken.push_back(kv.first);
  }
  for (SRTSOCKET s : broken) readSocket(s);  // drains what is left, then closes with the reason
}

void Listener::flush(SRTSOCKET s, Pending& p) {
  if (p.bytes.empty()) return;
  size_t n = p.bytes.size();
  auto e = std::make_unique<Event>();
  e->kind = Event::Kind::Data;
  e->id = static_cast<int>(s);
  e->bytes.swap(p.bytes);
  if (sink_->emit(std::move(e))) return;
  std::lock_guard<std::mutex> lk(mu_);
  auto it = sessions_.find(s);
  if (it != sessions_.end()) it->second->droppedBytes += n;
}

void Listener::flushDue(bool all) {
  auto now = Clock::now();
  auto maxAge = std::chrono::milliseconds(cfg_.batchMs);
  for (auto& [s, p] : pending_) {
    if (!p.bytes.empty() && (all || now - p.since >= maxAge)) flush(s, p);
  }
}

void Listener::closeSession(SRTSOCKET s, const std::string& reason) {
  auto it = pending_.find(s);
  if (it == pending_.end()) return;
  flush(s, it->second);
  pending_.erase(it);
  srt_epoll_remove_usock(eid_, s);
  srt_close(s);
  {
    std::lock_guard<std::mutex> lk(mu_);
    sessions_.erase(s);
  }
  auto e = std::make_unique<Event>();
  e->kind = Event::Kind::Closed;
  e->id = static_cast<int>(s);
  e->text = reason;
  sink_->emit(std::move(e));
}

void Listener::drainCloseRequests() {
  std::deque<CloseRequest> todo;
  {
    std::lock_guard<std::mutex> lk(mu_);
    todo.swap(closeRequests_);
  }
  for (auto& r : todo) closeSession(static_cast<SRTSOCKET>(r.id), r.reason);
}

void Listener::shutdownAll() {
  // Refuse new callers first, then wait for listen callbacks still running (they were aborted).
  srt_epoll_remove_usock(eid_, lsn_);
  {
    std::unique_lock<std::mutex> lk(mu_);
    inflightCv_.wait_for(lk, std::chrono::milliseconds(kInflightWaitMs), [this] { return inflight_ == 0; });
  }
  srt_close(lsn_);
  lsn_ = SRT_INVALID_SOCK;
  drainCloseRequests();
  std::vector<SRTSOCKET> ids;
  for (auto& kv : pending_) ids.push_back(kv.first);
  for (SRTSOCKET s : ids) closeSession(s, "server closed");
  srt_epoll_release(eid_);
  eid_ = -1;
  auto e = std::make_unique<Event>();
  e->kind = Event::Kind::Shutdown;
  sink_->emit(std::move(e));
}

bool Listener::requestClose(int id, const std::string& reason) {
  std::lock_guard<std::mutex> lk(mu_);
  if (stop_ || sessions_.find(static_cast<SRTSOCKET>(id)) == sessions_.end()) return false;
  closeRequests_.push_back(CloseRequest{id, reason});
  return true;
}

bool Listener::stats(int id, SessionStats* out) {
  std::shared_ptr<Shared> shared;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = sessions_.find(static_cast<SRTSOCKET>(id));
    if (it == sessions_.end()) return false;
    shared = it->second;
  }
  std::memset(&out->perf, 0, sizeof out->perf);
  // clear=0 keeps the interval counters; instantaneous=1 gives current rates and RTT.
  if (srt_bistats(static_cast<SRTSOCKET>(id), &out->perf, 0, 1) != 0) return false;
  out->droppedBytes = shared->droppedBytes.load();
  return true;
}

SendResult Listener::send(int id, const uint8_t* data, size_t len) {
  SRTSOCKET s = static_cast<SRTSOCKET>(id);
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_ || sessions_.find(s) == sessions_.end()) return SendResult::Gone;
  }
  size_t blocks = 0;
  size_t bytes = 0;
  // srt_getsndbuffer returns the buffered timespan (ms), or -1.
  if (srt_getsndbuffer(s, &blocks, &bytes) != SRT_ERROR && bytes + len > cfg_.readerBufferBytes) return SendResult::Slow;
  for (size_t off = 0; off < len; off += kTsChunk) {
    size_t n = len - off < kTsChunk ? len - off : kTsChunk;
    if (srt_sendmsg(s, reinterpret_cast<const char*>(data + off), static_cast<int>(n), -1, 0) >= 0) continue;
    // A socket closed meanwhile (libsrt checks ids) is Gone; the receive thread reports its end.
    return srt_getlasterror(nullptr) == SRT_EASYNCSND ? SendResult::Slow : SendResult::Gone;
  }
  return SendResult::Sent;
}

std::vector<int> Listener::sessionIds() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<int> ids;
  ids.reserve(sessions_.size());
  for (auto& kv : sessions_) ids.push_back(static_cast<int>(kv.first));
  return ids;
}

}  // namespace beamline_srt
