// Plain data shared by the libsrt listener, the authorisation gate and the N-API layer.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace beamline_srt {

struct Peer {
  std::string address;
  int port = 0;
};

// What JS decided for one caller. `code` is an SRT_REJX_* value (srt/access_control.h) when refused.
struct Decision {
  bool accept = false;
  int code = 1403;  // SRT_REJX_FORBIDDEN
  std::string passphrase;
};

// One notification from the receive thread to JS, delivered in order.
struct Event {
  enum class Kind { Session, Data, Closed, Shutdown };
  Kind kind = Kind::Data;
  int id = -1;
  std::string text;  // Session: streamid; Closed: reason
  Peer peer;         // Session only
  std::vector<uint8_t> bytes;  // Data only
};

// Where the listener hands its results; implemented by the N-API layer.
class Sink {
 public:
  virtual ~Sink() = default;
  // Called on a libsrt thread inside the listen callback; blocks at most the configured timeout.
  virtual Decision authorize(int id, const std::string& streamId, const Peer& peer) = 0;
  // Refuses every authorisation still waiting, and every later one (the listener is stopping).
  virtual void abortAuthorizations() = 0;
  // Called on the receive thread; returns false when the event could not be queued.
  virtual bool emit(std::unique_ptr<Event> ev) = 0;
};

}  // namespace beamline_srt
