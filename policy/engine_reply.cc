// policy/engine_reply.cc: SMTP reply texts and decision log lines of the engine (see engine.h).
#include <string_view>

#include "lib/template.h"
#include "policy/engine.h"

namespace mpp::policy {

namespace {

// SMTP replies are 7-bit text on one line: anything else from the client becomes '?'.
std::string clean(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) out += (c < 0x20 || c >= 0x7f) ? '?' : static_cast<char>(c);
    return out;
}

const config::ReplyCfg* pick(const std::vector<config::ReplyCfg>& replies, config::Condition c) {
    const config::ReplyCfg* any = nullptr;
    for (const auto& r : replies) {
        if (r.on == c) return &r;
        if (r.on == config::Condition::any && !any) any = &r;
    }
    return any;
}

}  // namespace

const config::ReplyCfg* find_reply(const config::Config& cfg, const config::GroupCfg& group,
                                   config::Condition condition, bool reject) {
    if (const auto* r = pick(reject ? group.rejects : group.defers, condition)) return r;
    return pick(reject ? cfg.rejects : cfg.defers, condition);
}

std::string expand_reply(const std::string& text, const Transaction& t, const std::string& group,
                         const std::string& check, const std::string& reason,
                         const std::string& delay, const std::string& rbl) {
    std::string out = tmpl::expand(text, [&](std::string_view name) -> std::optional<std::string> {
        if (name == "GROUP") return clean(group);
        if (name == "REASON") return clean(reason);
        if (name == "QUEUEID") return clean(t.queue_id);
        if (name == "CLIENT_IP") return clean(t.client ? t.client->str() : t.client_address);
        if (name == "CLIENT_NAME") return clean(t.client_name);
        if (name == "HELO") return clean(t.helo);
        if (name == "SENDER") return clean(t.sender);
        if (name == "RECIPIENT") return clean(t.recipient);
        if (name == "CHECK") return clean(check);
        if (name == "DELAY") return clean(delay);
        if (name == "RBL") return clean(rbl);
        return std::string();  // SCORE VIRUS: not known at RCPT
    });
    // One line per template line, each trimmed, blank ones dropped (XML indentation).
    std::string lines;
    std::size_t start = 0;
    while (start <= out.size()) {
        std::size_t end = out.find('\n', start);
        if (end == std::string::npos) end = out.size();
        std::string_view line(out.data() + start, end - start);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        if (!line.empty()) {
            if (!lines.empty()) lines += '\n';
            lines.append(line);
        }
        start = end + 1;
    }
    return lines;
}

std::string decision_line(const Transaction& t, const std::string& group, const Verdict& v) {
    std::string line = "client=" + (t.client_name.empty() ? "unknown" : t.client_name) + "[" +
                       (t.client ? t.client->str() : t.client_address) + "] from=<" + t.sender +
                       "> to=<" + t.recipient + "> group=" + group +
                       " check=" + (v.check.empty() ? "none" : v.check) + " action=";
    if (v.shadow) {
        line += "none shadow=\"would have " + std::string(action_name(v.action)) + "ed\"";
    } else {
        line += action_name(v.action);
    }
    if (v.quarantine) line += " quarantine=yes";
    if (!v.reason.empty()) line += " reason=\"" + v.reason + "\"";
    return line;
}

}  // namespace mpp::policy
