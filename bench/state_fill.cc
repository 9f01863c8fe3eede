// bench/state_fill.cc: state-fill, writes a daemon state-dir as a busy mppd would leave it, for
// the restart bench (bench/restart_bench.py): a greylist of N entries (a snapshot plus a journal
// of the last --journal changes), and optionally full block list and threshold tables.
//
// It drives the real code: policy::Greylist on a FileGreylistStore for the greylist (the files
// are exactly what mppd writes), Blocklist/Thresholds and TableSnapshots for the others. Times
// are the real clocks, so the entries are live when mppd starts soon after.
// Greylist mix: every triplet comes from its own client /24 (so no network is auto-whitelisted);
// one in four is retried at once and passes (delay 0), which adds a passed triplet and a network
// entry; the others stay waiting. The sizes count entries (triplets + networks), as the table's
// bound does.
// Exit status: 0 written, 2 usage or a failure (message on stderr).
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "lib/clock.h"
#include "lib/log.h"
#include "policy/blocklist.h"
#include "policy/greylist.h"
#include "policy/greylist_store.h"
#include "policy/table_snapshots.h"
#include "policy/threshold.h"

namespace {

using namespace mpp;
using namespace mpp::policy;

struct Options {
    std::string dir;
    std::size_t entries = 1000000;
    std::size_t journal = 50000;  // of the entries, how many only in the journal
    std::size_t blocks = 0;
    std::size_t threshold_keys = 0;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "state-fill: %s\nusage: state-fill --dir DIR [--entries N] [--journal N] "
                 "[--blocks N] [--threshold-keys N]\n",
                 why);
    std::exit(2);
}

std::size_t number(const char* arg) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v > 100000000ULL) usage("bad number");
    return static_cast<std::size_t>(v);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc) usage(("missing value of " + a).c_str());
        const char* v = argv[++i];
        if (a == "--dir") o.dir = v;
        else if (a == "--entries") o.entries = number(v);
        else if (a == "--journal") o.journal = number(v);
        else if (a == "--blocks") o.blocks = number(v);
        else if (a == "--threshold-keys") o.threshold_keys = number(v);
        else usage(("unknown option " + a).c_str());
    }
    if (o.dir.empty()) usage("--dir is required");
    if (o.journal > o.entries) usage("--journal is more than --entries");
    struct stat st {};
    if (::stat(o.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) usage("--dir is not a directory");
    return o;
}

// The i-th triplet, from client A.B.C.1 with a /24 of its own (for i < 200 * 2^16).
Transaction triplet(std::size_t i) {
    char client[32];
    std::snprintf(client, sizeof client, "%u.%u.%u.1", 11u + static_cast<unsigned>((i >> 16) % 200),
                  static_cast<unsigned>(i >> 8 & 0xff), static_cast<unsigned>(i & 0xff));
    Transaction t;
    t.stage = Stage::rcpt;
    t.client = IpAddr::parse(client);
    t.client_address = client;
    t.client_name = "unknown";
    t.sender = "s" + std::to_string(i) + "@sender" + std::to_string(i % 1000) + ".example";
    t.recipient = "u" + std::to_string(i % 50000) + "@example.net";
    return t;
}

// Adds triplets (every 4th passes) until the table holds `target` entries.
void fill_greylist(Greylist& g, std::size_t target, std::size_t& next) {
    config::GreylistCfg cfg;
    cfg.delay = config::Duration(0);
    while (g.size() < target) {
        Transaction t = triplet(next);
        g.check(t, cfg);
        if (next % 4 == 0 && g.size() < target) g.check(t, cfg);
        ++next;
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    log::Options lo;
    lo.ident = "state-fill";
    lo.to_stderr = true;
    lo.level = log::Level::warning;
    log::configure(lo);
    auto started = std::chrono::steady_clock::now();
    SystemClock clock;

    // The greylist: the first part reaches the snapshot (a forced compaction), the rest stays
    // in the journal, as a daemon killed between two compactions leaves it.
    std::size_t snap_part = o.entries - o.journal;
    auto store = std::make_unique<FileGreylistStore>(o.dir, std::max<std::size_t>(snap_part, 1));
    FileGreylistStore* raw = store.get();
    Greylist::Options gopt;
    gopt.max_entries = std::max<std::size_t>(2 * o.entries, Greylist::Options{}.max_entries);
    Greylist g(clock, gopt, std::move(store));
    g.load();
    std::size_t next = 0;
    fill_greylist(g, snap_part, next);
    g.maintain();  // the journal holds snap_part records: compacts into the snapshot
    fill_greylist(g, o.entries, next);
    raw->sync();
    std::printf("state-fill: greylist %zu entries (%zu triplets sent), the last %zu in journal %s\n",
                g.size(), next, o.journal, raw->journal_path(raw->generation()).c_str());

    if (o.blocks > 0 || o.threshold_keys > 0) {
        Blocklist blocks(clock, std::max(o.blocks, Blocklist::kDefaultMaxEntries));
        Thresholds thresholds(clock, std::max(o.threshold_keys, Thresholds::kDefaultMaxKeys));
        TableSnapshots snaps(o.dir, clock, blocks, thresholds);
        for (std::size_t i = 0; i < o.blocks; ++i)
            blocks.add(triplet(i).client.value(), i % 2 ? "" : "default", std::chrono::hours(24),
                       BlockSource::spamtrap, "spam trap 12345@example.net");
        config::ThresholdCfg rule;
        rule.name = "rate";
        rule.messages = 1000;
        rule.period = config::Duration(3600);
        for (std::size_t i = 0; i < o.threshold_keys; ++i)
            thresholds.check("default", rule, "s" + std::to_string(i) + "@sender.example",
                             "m" + std::to_string(i));
        if (!snaps.save()) {
            std::fprintf(stderr, "state-fill: saving the block list or thresholds failed\n");
            return 2;
        }
        std::printf("state-fill: block list %zu entries, thresholds %zu keys\n", blocks.size(),
                    thresholds.size());
    }
    std::printf("state-fill: written in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return 0;
}
