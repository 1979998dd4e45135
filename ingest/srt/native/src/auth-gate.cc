// SPDX-License-Identifier: GPL-3.0-or-later
#include "auth-gate.h"

#include <srt/access_control.h>

namespace beamline_srt {

namespace {
Decision refuse(int code) {
  Decision d;
  d.accept = false;
  d.code = code;
  return d;
}
}  // namespace

bool AuthRequest::wanted() {
  std::lock_guard<std::mutex> lk(mu_);
  return !done_;
}

void AuthRequest::resolve(const Decision& d) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (done_) return;
    decision_ = d;
    done_ = true;
  }
  cv_.notify_all();
}

Decision AuthGate::authorize(int id, const std::string& streamId, const Peer& peer) {
  auto req = std::make_shared<AuthRequest>(id, streamId, peer);
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (aborted_) return refuse(SRT_REJX_DOWN);
    pending_.insert(req);
  }
  Decision out;
  if (!post_(req)) {
    req->resolve(refuse(SRT_REJX_ISE));
  }
  {
    std::unique_lock<std::mutex> lk(req->mu_);
    if (!req->cv_.wait_for(lk, timeout_, [&] { return req->done_; })) {
      // JS did not answer in time (event loop blocked?): refuse; a late answer is ignored.
      req->done_ = true;
      req->decision_ = refuse(SRT_REJX_OVERLOAD);
    }
    out = req->decision_;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    pending_.erase(req);
  }
  return out;
}

void AuthGate::abortAll() {
  std::set<std::shared_ptr<AuthRequest>> waiting;
  {
    std::lock_guard<std::mutex> lk(mu_);
    aborted_ = true;
    waiting = pending_;
  }
  for (auto& r : waiting) r->resolve(refuse(SRT_REJX_DOWN));
}

}  // namespace beamline_srt
