// The streamid grammar of ingest/streamid.ts (parseStreamId), in C++ for the listen callback, which
// decides without calling into JS. Parity with the TypeScript parser is a unit test
// (test/unit/ingest/srt-gate.test.ts feeds one table to both).
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>

namespace beamline_srt {

struct ParsedStreamId {
  bool ok = false;
  bool publish = true;       // m=publish (default) or m=request
  bool hasChannel = false;
  std::string channel;
  std::string key;
  bool hasRung = false;  // t=<rung> (access-control form only): the rendition a reader asks for
  std::string rung;
};

// Never throws; `ok` is false for every input parseStreamId refuses.
ParsedStreamId parseStreamId(const std::string& raw);

}  // namespace beamline_srt
