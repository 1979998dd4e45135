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

// The gate's decision on one caller. `code` is an SRT_REJX_* value (srt/access_control.h) when refused.
struct Decision {
  bool accept = false;
  int code = 1403;  // SRT_REJX_FORBIDDEN
  std::string passphrase;
  std::string channel;  // accepted: the channel the key belongs to (a reader: the channel it reads)
  bool request = false; // accepted: a reader (m=request), not a publisher
  std::string rung;     // accepted reader: the rendition it reads ("source" by default)
  std::string reason;   // refused: why, for the log
};

// One notification from the receive thread to JS, delivered in order.
struct Event {
  enum class Kind { Session, Data, Closed, Shutdown, Refused };
  Kind kind = Kind::Data;
  int id = -1;
  std::string text;   // Session, Refused: streamid; Closed: reason
  std::string text2;  // Session: channel; Refused: reason
  bool request = false;  // Session: a reader (m=request)
  std::string rung;      // Session of a reader: the rendition it reads
  int code = 0;       // Refused: the SRT_REJX_* code sent
  Peer peer;          // Session, Refused
  std::vector<uint8_t> bytes;  // Data only
};

// Where the listener hands its results; implemented by the N-API layer.
class Sink {
 public:
  virtual ~Sink() = default;
  // Called on a libsrt thread inside the listen callback; decides at once (never waits for JS).
  virtual Decision authorize(const std::string& streamId) = 0;
  // Called on any listener thread; returns false when the event could not be queued.
  virtual bool emit(std::unique_ptr<Event> ev) = 0;
};

}  // namespace beamline_srt
