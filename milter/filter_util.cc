// milter/filter_util.cc: helpers shared by filter.cc and filter_content.cc (see filter_util.h).
#include "milter/filter_util.h"

#include <chrono>

#include "lib/log.h"
#include "lib/metrics.h"

namespace mpp::milter {

void log_summary(const Session& s, const Message& m, std::string_view action,
                 std::string_view reason) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - m.started)
                        .count();
    std::string text = log::cat("client=", s.client(), " from=<", m.sender, "> nrcpt=",
                                m.accepted, " refused=", m.refused, " size=", m.size);
    if (m.removed) text += log::cat(" removed=", m.removed);
    if (!m.groups.empty()) text += log::cat(" groups=", m.groups);
    if (!m.checks.empty()) text += log::cat(" checks=", m.checks);
    text += log::cat(" action=", action, " delay=", ms, "ms");
    if (!reason.empty()) text += log::cat(" reason=\"", reason, "\"");
    log::write_qid(log::Level::info, m.queue_id, text);
}

void add_check(Message& m, std::string_view check) {
    if (check.empty()) return;
    if (!m.checks.empty()) m.checks += ',';
    m.checks += check;
}

void action_failed(const std::string& qid, const std::string& what) {
    metrics::get("milter-action-errors").inc();
    log::write_qid(log::Level::error, qid, "milter: " + what);
}

bool any_content_checks(const config::Config& cfg) {
    for (const auto& g : cfg.groups)
        if (!g.header_filters.empty() || (g.scan && g.scan->enabled) ||
            (g.score && g.score->enabled))
            return true;
    return false;
}

bool any_subject_prefix(const config::Config& cfg) {
    for (const auto& g : cfg.groups)
        if (g.score && g.score->enabled && !g.score->subject_prefix.empty()) return true;
    return false;
}

}  // namespace mpp::milter
