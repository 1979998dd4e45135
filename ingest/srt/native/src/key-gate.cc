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
  std::lock_guard<std::mutex> lk(mu_);
  if (!p.publish) return decideRead(p);
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

void KeyGate::replaceReadable(std::unordered_map<std::string, ReadEntry> channels) {
  std::lock_guard<std::mutex> lk(mu_);
  readable_.swap(channels);
}

void KeyGate::upsertReadable(const std::string& channel, ReadEntry entry) {
  std::lock_guard<std::mutex> lk(mu_);
  readable_[channel] = std::move(entry);
}

void KeyGate::removeReadable(const std::string& channel) {
  std::lock_guard<std::mutex> lk(mu_);
  readable_.erase(channel);
}

// A reader: `#!::r=<channel>,m=request[,t=<rung>][,s=<token>]` (r= alone parses as the key: it is the channel).
Decision KeyGate::decideRead(const ParsedStreamId& p) {
  Decision d;
  const std::string& channel = p.hasChannel ? p.channel : p.key;
  std::string token = p.hasChannel ? p.key : std::string();
  auto it = readable_.find(channel);
  if (it == readable_.end()) {
    d.code = SRT_REJX_NOTFOUND;
    d.reason = "no such channel (or it is not readable over SRT)";
    return d;
  }
  if ((!it->second.token.empty() && token != it->second.token) || (it->second.signedToken && token.empty())) {
    d.code = SRT_REJX_UNAUTHORIZED;
    d.reason = "the channel is private: give its playback token as s=<token>";
    return d;
  }
  // t=stream is SRT's own "type" value some callers send: it asks for no rung in particular.
  std::string rung = p.hasRung && p.rung != "stream" ? p.rung : std::string("source");
  bool found = false;
  for (const std::string& r : it->second.rungs) found = found || r == rung;
  if (!found) {
    d.code = SRT_REJX_NOTFOUND;
    d.reason = "the channel has no rendition '" + rung + "'";
    return d;
  }
  d.accept = true;
  d.request = true;
  d.channel = channel;
  d.rung = rung;
  return d;
}

}  // namespace beamline_srt
