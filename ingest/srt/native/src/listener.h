// One listening SRT socket (live mode) with many callers: the listen callback asks a Sink for a
// decision (made at once from the key snapshot) before anything is accepted, one receive thread polls every socket with srt_epoll_uwait and
// hands batched payloads to the Sink. It sleeps until a payload arrives, a pending batch is due, or 20 ms pass.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <srt/srt.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "types.h"

namespace beamline_srt {

struct ListenerConfig {
  std::string host = "0.0.0.0";
  int port = 9000;
  int latencyMs = 120;
  int peerIdleTimeoutMs = 5000;
  int backlog = 64;
  size_t batchBytes = 64 * 1024;  // flush a session's pending payload at this size...
  int batchMs = 10;               // ...or when its oldest byte is this old
  int logLevel = -1;              // libsrt's process-wide log level (syslog LOG_*), -1 = leave as is
  size_t readerBufferBytes = 8 * 1024 * 1024;  // a reader with more unacknowledged bytes than this is slow
};

// What became of one send to a reader.
enum class SendResult { Sent, Slow, Gone };

struct SessionStats {
  SRT_TRACEBSTATS perf;
  uint64_t droppedBytes = 0;  // bytes dropped because JS did not keep up (Sink::emit refused them)
};

class Listener {
 public:
  Listener(ListenerConfig cfg, Sink* sink);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Creates, binds and listens, then starts the receive thread. Returns the bound port.
  // Throws std::runtime_error with a readable message on failure (nothing is left open).
  int start();
  // Asks the receive thread to close every socket and stop; a Shutdown event follows. Idempotent.
  void requestStop();
  // Joins the receive thread (call after requestStop). Idempotent.
  void join();
  bool running() const { return thread_.joinable(); }

  // Queues the closing of one session; its Closed event carries `reason`. False if unknown.
  bool requestClose(int id, const std::string& reason);
  bool stats(int id, SessionStats* out);
  // Sends to a reader (any thread; non-blocking) in 1316-byte live-mode messages. Slow: its send buffer
  // holds more than readerBufferBytes, or libsrt's is full (nothing more is queued for it; close it).
  SendResult send(int id, const uint8_t* data, size_t len);
  std::vector<int> sessionIds();

 private:
  struct Shared {  // per session, visible to the JS thread
    std::atomic<uint64_t> droppedBytes{0};
  };
  struct Pending {  // per session, owned by the receive thread
    std::vector<uint8_t> bytes;
    std::chrono::steady_clock::time_point since;     // oldest unflushed byte
    std::chrono::steady_clock::time_point lastRecv;  // last payload received
    bool reader = false;                             // m=request: sends, never receives
  };
  std::string lostReason(SRTSOCKET s, const Pending& p);
  struct CloseRequest {
    int id;
    std::string reason;
  };

  static int listenHook(void* opaque, SRTSOCKET ns, int hsVersion, const struct sockaddr* peer, const char* streamId);
  int onListen(SRTSOCKET ns, const struct sockaddr* peer, const char* streamId);
  void run();
  int nextWaitMs() const;
  void acceptOne();
  void readSocket(SRTSOCKET s);
  void flush(SRTSOCKET s, Pending& p);
  void flushDue(bool all);
  void closeSession(SRTSOCKET s, const std::string& reason);
  void drainCloseRequests();
  void reapBroken();
  void shutdownAll();


  ListenerConfig cfg_;
  Sink* sink_;
  SRTSOCKET lsn_ = SRT_INVALID_SOCK;
  int eid_ = -1;
  bool startedUp_ = false;
  std::thread thread_;
  std::atomic<bool> stop_{false};

  std::mutex mu_;  // guards sessions_, closeRequests_, inflight_, acceptedChannel_
  std::condition_variable inflightCv_;
  int inflight_ = 0;  // listen callbacks currently running
  std::unordered_map<SRTSOCKET, std::shared_ptr<Shared>> sessions_;
  std::deque<CloseRequest> closeRequests_;
  struct PendingAccept {
    std::string channel;
    bool request = false;
    std::string rung;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<SRTSOCKET, PendingAccept> acceptedChannel_;  // listen callback -> srt_accept

  std::unordered_map<SRTSOCKET, Pending> pending_;  // receive thread only
};

}  // namespace beamline_srt
