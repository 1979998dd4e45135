// The bridge that lets libsrt's listen callback wait, on its own thread, for a decision made
// synchronously by JS: the request is posted to the JS thread, the libsrt thread waits up to a
// timeout, and a request that times out or is aborted is refused.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "types.h"

namespace beamline_srt {

struct AuthRequest {
  AuthRequest(int id, std::string streamId, Peer peer)
      : id(id), streamId(std::move(streamId)), peer(std::move(peer)) {}
  const int id;
  const std::string streamId;
  const Peer peer;

  // True while the libsrt thread still waits for this answer (the JS side skips the call otherwise).
  bool wanted();
  // Delivers the answer; ignored when the request already timed out or was aborted.
  void resolve(const Decision& d);

 private:
  friend class AuthGate;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Decision decision_;
};

class AuthGate {
 public:
  // `post` queues the request for the JS thread; it returns false when it could not.
  using Post = std::function<bool(const std::shared_ptr<AuthRequest>&)>;
  AuthGate(Post post, std::chrono::milliseconds timeout) : post_(std::move(post)), timeout_(timeout) {}

  Decision authorize(int id, const std::string& streamId, const Peer& peer);
  // Refuses everything waiting now and everything asked later.
  void abortAll();

 private:
  Post post_;
  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  bool aborted_ = false;
  std::set<std::shared_ptr<AuthRequest>> pending_;
};

}  // namespace beamline_srt
