// SPDX-License-Identifier: GPL-3.0-or-later
#include "streamid.h"

#include <cstring>
#include <set>
#include <unordered_map>
#include <vector>

namespace beamline_srt {

namespace {

constexpr size_t kMaxStreamIdLength = 512;

// Length in bytes of the whitespace (as JavaScript's \s and String.prototype.trim know it) at s[i], or 0.
size_t spaceAt(const std::string& s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return 1;
  auto at = [&](size_t k) -> unsigned char { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0; };
  if (c == 0xC2 && at(1) == 0xA0) return 2;                                     // U+00A0
  if (c == 0xE1 && at(1) == 0x9A && at(2) == 0x80) return 3;                    // U+1680
  if (c == 0xE2 && at(1) == 0x80) {
    unsigned char d = at(2);
    if ((d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF) return 3;  // U+2000..200A, 2028, 2029, 202F
  }
  if (c == 0xE2 && at(1) == 0x81 && at(2) == 0x9F) return 3;                    // U+205F
  if (c == 0xE3 && at(1) == 0x80 && at(2) == 0x80) return 3;                    // U+3000
  if (c == 0xEF && at(1) == 0xBB && at(2) == 0xBF) return 3;                    // U+FEFF
  return 0;
}

bool hasSpace(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (spaceAt(s, i)) return true;
  }
  return false;
}

std::string trim(const std::string& s) {
  size_t b = 0;
  while (b < s.size()) {
    size_t n = spaceAt(s, b);
    if (!n) break;
    b += n;
  }
  size_t e = s.size();
  while (e > b) {
    // Find a whitespace sequence that ends exactly at e (1 to 3 bytes).
    size_t n = 0;
    for (size_t k = 1; k <= 3 && k <= e - b; ++k) {
      if (spaceAt(s, e - k) == k) {
        n = k;
        break;
      }
    }
    if (!n) break;
    e -= n;
  }
  return s.substr(b, e - b);
}

// C0 controls, DEL, and C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F).
bool hasControl(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < s.size()) {
      unsigned char d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0x9F) return true;
    }
  }
  return false;
}

bool validUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    i += n + 1;
  }
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// decodeURIComponent: false on a malformed escape or bytes that are not UTF-8.
bool percentDecode(const std::string& s, std::string* out) {
  std::string r;
  r.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      r.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int h = hexValue(s[i + 1]);
    int l = hexValue(s[i + 2]);
    if (h < 0 || l < 0) return false;
    r.push_back(static_cast<char>(h * 16 + l));
    i += 2;
  }
  if (!validUtf8(r)) return false;
  *out = std::move(r);
  return true;
}

bool startsWithNoCase(const std::string& s, const char* prefix) {
  size_t n = std::strlen(prefix);
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i) {
    char a = s[i];
    char b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

std::string decodeIfEncoded(const std::string& s) {
  if (!startsWithNoCase(s, "%23") && !startsWithNoCase(s, "publish%3a")) return s;
  std::string out;
  if (!percentDecode(s, &out)) return s;
  return trim(out);
}

bool okName(const std::string& v) {
  return !v.empty() && !hasSpace(v);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    if (p == std::string::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

ParsedStreamId accessControl(const std::string& body) {
  ParsedStreamId r;
  if (trim(body).empty()) return r;
  std::unordered_map<std::string, std::string> fields;
  for (const std::string& raw : split(body, ',')) {
    std::string item = trim(raw);
    if (item.empty()) return r;
    size_t eq = item.find('=');
    if (eq == std::string::npos) return r;
    std::string name = trim(item.substr(0, eq));
    std::string value = trim(item.substr(eq + 1));
    if (name.empty()) return r;
    if (!fields.emplace(name, value).second) return r;
  }
  auto m = fields.find("m");
  if (m != fields.end()) {
    if (m->second == "publish") {
      r.publish = true;
    } else if (m->second == "request") {
      r.publish = false;
    } else {
      return r;
    }
  }
  auto t = r.publish ? fields.end() : fields.find("t");  // a publisher's t= (SRT's type field) is ignored
  if (t != fields.end()) {
    if (!okName(t->second)) return r;
    r.hasRung = true;
    r.rung = t->second;
  }
  if (r.publish) {  // a publisher's role among a channel's redundant inputs (primary is the default)
    auto role = fields.find("role");
    if (role != fields.end() && role->second != "primary" && role->second != "backup") return r;
  }
  auto res = fields.find("r");
  for (const char* f : {"s", "secret", "u"}) {
    auto k = fields.find(f);
    if (k == fields.end()) continue;
    if (!okName(k->second)) return r;
    if (res != fields.end()) {
      if (!okName(res->second)) return r;
      r.hasChannel = true;
      r.channel = res->second;
    }
    r.key = k->second;
    r.ok = true;
    return r;
  }
  if (res != fields.end() && okName(res->second)) {
    r.key = res->second;
    r.ok = true;
  }
  return r;
}

ParsedStreamId publishForm(const std::string& body) {
  ParsedStreamId r;
  std::vector<std::string> parts = split(body, ':');
  if (parts.size() != 2 || !okName(parts[0]) || !okName(parts[1])) return r;
  r.ok = true;
  r.hasChannel = true;
  r.channel = parts[0];
  r.key = parts[1];
  return r;
}

// Length in UTF-16 code units, as JavaScript's String.length counts (bytes when not UTF-8).
size_t jsLength(const std::string& s) {
  if (!validUtf8(s)) return s.size();
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) == 0x80) continue;
    n += (c & 0xF8) == 0xF0 ? 2 : 1;
  }
  return n;
}

}  // namespace

ParsedStreamId parseStreamId(const std::string& raw) {
  ParsedStreamId fail;
  if (raw.size() > 4 * kMaxStreamIdLength || jsLength(raw) > kMaxStreamIdLength) return fail;
  std::string s = decodeIfEncoded(trim(raw));
  if (s.empty() || hasControl(s)) return fail;
  if (s.rfind("#!::", 0) == 0) return accessControl(s.substr(4));
  if (s.rfind("#!:", 0) == 0) return fail;
  if (s.rfind("publish:", 0) == 0) return publishForm(s.substr(8));
  if (!okName(s)) return fail;
  ParsedStreamId r;
  r.ok = true;
  r.key = s;
  return r;
}

}  // namespace beamline_srt
