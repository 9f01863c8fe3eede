// store/spool_format.cc: encoding and strict parsing of a spool file (see spool_format.h).
#include "store/spool_format.h"

#include <array>
#include <charconv>
#include <cmath>
#include <set>
#include <system_error>

#include "store/uuid.h"

namespace mpp::store {
namespace {

constexpr std::array<std::uint32_t, 256> make_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr auto kCrcTable = make_table();

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

bool parse_double(std::string_view s, double& out) {
    if (!parse_number(s, out)) return false;
    return std::isfinite(out);
}

void field(std::string& out, std::string_view name, std::string_view value) {
    if (value.empty()) return;
    out.append(name).append(": ").append(escape(value)).append("\n");
}

}  // namespace

std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

std::string escape(std::string_view value, std::string_view extra) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size());
    for (char ch : value) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f || c == '%' || extra.find(ch) != std::string_view::npos) {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0x0f];
        } else {
            out += ch;
        }
    }
    return out;
}

std::optional<std::string> unescape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::string format_score(double v) {
    std::array<char, 64> buf{};
    auto [p, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    if (ec != std::errc()) return "0";
    return std::string(buf.data(), p);
}

std::string encode_header(const Entry& e, std::string* error) {
    auto fail = [&](std::string why) {
        if (error) *error = std::move(why);
        return std::string();
    };
    if (!valid_uuid(e.uuid)) return fail("bad uuid \"" + escape(e.uuid.substr(0, 64)) + "\"");
    if (e.recipients.empty()) return fail("entry " + e.uuid + " has no recipients");
    if (e.recipients.size() > kMaxRecipients)
        return fail("entry " + e.uuid + " has more than " + std::to_string(kMaxRecipients) +
                    " recipients");
    std::string out(kSpoolMagic);
    field(out, "uuid", e.uuid);
    field(out, "kind", kind_name(e.kind));
    field(out, "received", std::to_string(e.received));
    field(out, "queue-id", e.queue_id);
    field(out, "message-id", e.message_id);
    field(out, "subject", e.subject);
    field(out, "client-ip", e.client_ip);
    field(out, "client-name", e.client_name);
    field(out, "helo", e.helo);
    field(out, "sender", e.sender);
    for (const auto& r : e.recipients) {
        if (r.address.empty()) return fail("entry " + e.uuid + " has an empty recipient");
        out.append("recipient: ")
            .append(escape(r.address, " "))
            .append(" ")
            .append(escape(r.group, " "))
            .append("\n");
    }
    field(out, "size", std::to_string(e.size));
    field(out, "score", format_score(e.score));
    field(out, "checks", e.checks);
    field(out, "verdict", e.verdict);
    field(out, "reason", e.reason);
    field(out, "config-revision", e.config_revision);
    out += "\n";
    if (out.size() > kMaxHeader)
        return fail("entry " + e.uuid + ": metadata over " + std::to_string(kMaxHeader) + " bytes");
    return out;
}

std::string encode_trailer(std::uint64_t length, std::uint32_t crc) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex(8, '0');
    for (int i = 7; i >= 0; --i, crc >>= 4) hex[static_cast<std::size_t>(i)] = kHex[crc & 0xf];
    return "MPP-End " + std::to_string(length) + " " + hex + "\n";
}

std::optional<ParsedHeader> parse_header(std::string_view data, std::string* error) {
    auto fail = [&](std::string why) {
        if (error) *error = std::move(why);
        return std::nullopt;
    };
    if (data.size() < kSpoolMagic.size()) {
        if (kSpoolMagic.substr(0, data.size()) == data) return fail("incomplete");
        return fail("not a spool file (no \"MPP-Spool\" line)");
    }
    if (data.substr(0, kSpoolMagic.size()) != kSpoolMagic) {
        if (data.substr(0, 10) == "MPP-Spool ")
            return fail("unknown spool format version \"" +
                        escape(data.substr(10, data.find('\n') - 10).substr(0, 20)) + "\"");
        return fail("not a spool file (no \"MPP-Spool\" line)");
    }
    ParsedHeader h;
    Entry& e = h.entry;
    std::set<std::string_view> seen;
    std::size_t pos = kSpoolMagic.size();
    int line = 1;
    bool have_kind = false, have_received = false;
    for (;;) {
        ++line;
        std::size_t end = data.find('\n', pos);
        if (end == std::string_view::npos || end >= kMaxHeader) {
            if (end == std::string_view::npos && data.size() < kMaxHeader)
                return fail("incomplete");
            return fail("metadata longer than " + std::to_string(kMaxHeader) + " bytes");
        }
        std::string_view l = data.substr(pos, end - pos);
        pos = end + 1;
        if (l.empty()) break;
        std::string where = "line " + std::to_string(line) + ": ";
        std::size_t colon = l.find(": ");
        if (colon == std::string_view::npos || colon == 0)
            return fail(where + "not \"NAME: VALUE\"");
        std::string_view name = l.substr(0, colon), raw = l.substr(colon + 2);
        if (name != "recipient" && !seen.insert(name).second)
            return fail(where + "field \"" + escape(name) + "\" repeated");
        if (name == "recipient") {
            if (e.recipients.size() >= kMaxRecipients)
                return fail(where + "more than " + std::to_string(kMaxRecipients) + " recipients");
            std::size_t sp = raw.find(' ');
            auto addr = unescape(raw.substr(0, sp));
            auto group = unescape(sp == std::string_view::npos ? "" : raw.substr(sp + 1));
            if (!addr || !group || addr->empty() ||
                (sp != std::string_view::npos && raw.find(' ', sp + 1) != std::string_view::npos))
                return fail(where + "bad recipient \"" + escape(raw.substr(0, 80)) + "\"");
            e.recipients.push_back({std::move(*addr), std::move(*group)});
            continue;
        }
        auto value = unescape(raw);
        if (!value) return fail(where + "bad %XX escape in \"" + escape(name) + "\"");
        std::string& v = *value;
        if (name == "uuid") {
            if (!valid_uuid(v)) return fail(where + "bad uuid \"" + escape(v.substr(0, 64)) + "\"");
            e.uuid = v;
        } else if (name == "kind") {
            if (v == "quarantine") e.kind = EntryKind::quarantine;
            else if (v == "archive") e.kind = EntryKind::archive;
            else return fail(where + "unknown kind \"" + escape(v.substr(0, 40)) + "\"");
            have_kind = true;
        } else if (name == "received") {
            if (!parse_number(v, e.received)) return fail(where + "bad received time");
            have_received = true;
        } else if (name == "size") {
            if (!parse_number(v, e.size)) return fail(where + "bad size");
        } else if (name == "score") {
            if (!parse_double(v, e.score)) return fail(where + "bad score");
        } else if (name == "queue-id") e.queue_id = std::move(v);
        else if (name == "message-id") e.message_id = std::move(v);
        else if (name == "subject") e.subject = std::move(v);
        else if (name == "client-ip") e.client_ip = std::move(v);
        else if (name == "client-name") e.client_name = std::move(v);
        else if (name == "helo") e.helo = std::move(v);
        else if (name == "sender") e.sender = std::move(v);
        else if (name == "checks") e.checks = std::move(v);
        else if (name == "verdict") e.verdict = std::move(v);
        else if (name == "reason") e.reason = std::move(v);
        else if (name == "config-revision") e.config_revision = std::move(v);
        else return fail(where + "unknown field \"" + escape(name.substr(0, 40)) + "\"");
    }
    if (e.uuid.empty()) return fail("no uuid field");
    if (!have_kind) return fail("no kind field");
    if (!have_received) return fail("no received field");
    if (e.recipients.empty()) return fail("no recipient");
    h.length = pos;
    return h;
}

std::optional<ParsedTrailer> parse_trailer(std::string_view tail, std::string* error) {
    auto fail = [&](std::string why) {
        if (error) *error = std::move(why);
        return std::nullopt;
    };
    if (tail.empty() || tail.back() != '\n') return fail("no end marker (the file is truncated)");
    std::size_t at = tail.rfind("MPP-End ");
    if (at == std::string_view::npos) return fail("no end marker (the file is truncated)");
    std::string_view t = tail.substr(at + 8, tail.size() - at - 9);  // without the LF
    std::size_t sp = t.find(' ');
    ParsedTrailer r;
    if (sp == std::string_view::npos || t.size() - sp - 1 != 8 ||
        !parse_number(t.substr(0, sp), r.length))
        return fail("bad end marker");
    std::uint32_t crc = 0;
    for (char c : t.substr(sp + 1)) {
        int v = hex_value(c);
        if (v < 0 || (c >= 'A' && c <= 'F')) return fail("bad end marker");
        crc = crc << 4 | static_cast<std::uint32_t>(v);
    }
    r.crc = crc;
    r.size = tail.size() - at;
    return r;
}

}  // namespace mpp::store
