// The SRT gate: a snapshot of the channel registry (stream key -> channel, passphrase) that JS keeps
// current (a full replace on reload, single upserts and deletes on change), read by libsrt's listen
// callback, which decides at once on its own thread: it never waits for the JS event loop.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "streamid.h"
#include "types.h"

namespace beamline_srt {

struct KeyEntry {
  std::string channel;
  std::string passphrase;  // empty: no encryption
};

// What a channel lets SRT readers (m=request) read: its renditions, and the token a reader must give
// (s=<token>); an empty token means the channel is public. Decided by JS (ingest/srt/read-access.ts).
struct ReadEntry {
  std::vector<std::string> rungs;
  // A fixed token the reader must give as s=<token> (empty: none).
  std::string token;
  // A private channel: the reader must give some s=<token>; the signed playback token is checked in JS.
  bool signedToken = false;
};

class KeyGate {
 public:
  void replaceAll(std::unordered_map<std::string, KeyEntry> keys);
  void upsert(const std::string& key, KeyEntry entry);
  void remove(const std::string& key);
  size_t size();
  void replaceReadable(std::unordered_map<std::string, ReadEntry> channels);
  void upsertReadable(const std::string& channel, ReadEntry entry);
  void removeReadable(const std::string& channel);
  // Parses the streamid (streamid.h): a publisher's key is looked up in the keys, a reader's channel and
  // rung in the readable channels.
  Decision decide(const std::string& streamId);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, KeyEntry> keys_;
  std::unordered_map<std::string, ReadEntry> readable_;  // channel -> what readers may read
  Decision decideRead(const ParsedStreamId& p);
};

}  // namespace beamline_srt
