// SPDX-License-Identifier: GPL-3.0-or-later
#include "address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <stdexcept>

namespace beamline_srt {

Peer toPeer(const struct sockaddr* sa) {
  Peer p;
  if (sa == nullptr) return p;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    p.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    p.port = ntohs(in6->sin6_port);
  }
  p.address = buf;
  return p;
}

// Parses a numeric IPv4/IPv6 host for binding (names are resolved by the JS side, asynchronously,
// so that nothing here waits on DNS); throws with a readable message.
void resolve(const std::string& host, int port, sockaddr_storage* out, int* len) {
  addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    throw std::runtime_error("SRT host '" + host + "' is not a numeric IP address: " + gai_strerror(rc));
  }
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = static_cast<int>(res->ai_addrlen);
  freeaddrinfo(res);
}

}  // namespace beamline_srt
