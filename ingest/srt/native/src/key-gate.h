// The SRT gate: a snapshot of the channel registry (stream key -> channel, passphrase) that JS keeps
// current (a full replace on reload, single upserts and deletes on change), read by libsrt's listen
// callback, which decides at once on its own thread: it never waits for the JS event loop.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "types.h"

namespace beamline_srt {

struct KeyEntry {
  std::string channel;
  std::string passphrase;  // empty: no encryption
};

class KeyGate {
 public:
  void replaceAll(std::unordered_map<std::string, KeyEntry> keys);
  void upsert(const std::string& key, KeyEntry entry);
  void remove(const std::string& key);
  size_t size();
  // Parses the streamid (streamid.h) and looks its key up: same rules as the TypeScript side had.
  Decision decide(const std::string& streamId);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, KeyEntry> keys_;
};

}  // namespace beamline_srt
