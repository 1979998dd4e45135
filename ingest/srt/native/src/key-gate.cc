// SPDX-License-Identifier: GPL-3.0-or-later
#include "key-gate.h"

#include <srt/access_control.h>

#include "streamid.h"

namespace beamline_srt {

void KeyGate::replaceAll(std::unordered_map<std::string, KeyEntry> keys) {
  std::lock_guard<std::mutex> lk(mu_);
  keys_.swap(keys);
}

void KeyGate::upsert(const std::string& key, KeyEntry entry) {
  std::lock_guard<std::mutex> lk(mu_);
  keys_[key] = std::move(entry);
}

void KeyGate::remove(const std::string& key) {
  std::lock_guard<std::mutex> lk(mu_);
  keys_.erase(key);
}

size_t KeyGate::size() {
  std::lock_guard<std::mutex> lk(mu_);
  return keys_.size();
}

Decision KeyGate::decide(const std::string& streamId) {
  Decision d;
  ParsedStreamId p = parseStreamId(streamId);
  if (!p.ok) {
    d.code = SRT_REJX_BAD_REQUEST;
    d.reason = "malformed streamid";
    return d;
  }
  if (!p.publish) {
    d.code = SRT_REJX_BAD_MODE;
    d.reason = "playback (m=request) is not served over SRT; publish only";
    return d;
  }
  std::lock_guard<std::mutex> lk(mu_);
  auto it = keys_.find(p.key);
  if (it == keys_.end()) {
    d.code = SRT_REJX_FORBIDDEN;
    d.reason = "unknown stream key";
    return d;
  }
  if (p.hasChannel && p.channel != it->second.channel && p.channel != p.key) {
    d.code = SRT_REJX_FORBIDDEN;
    d.reason = "the key does not belong to the channel named in the streamid";
    return d;
  }
  d.accept = true;
  d.channel = it->second.channel;
  d.passphrase = it->second.passphrase;
  return d;
}

}  // namespace beamline_srt
