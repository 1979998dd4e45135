// Socket address helpers for the SRT listener.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <sys/socket.h>

#include <string>

#include "types.h"

namespace beamline_srt {

// "1.2.3.4" / "::1" and the port of an IPv4 or IPv6 address (empty address for other families).
Peer toPeer(const struct sockaddr* sa);

// Parses a numeric IPv4/IPv6 host for binding; throws std::runtime_error with a readable message.
void resolve(const std::string& host, int port, sockaddr_storage* out, int* len);

}  // namespace beamline_srt
