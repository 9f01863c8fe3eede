// policy/greylist_store.cc: the file store (see greylist_store.h for the format and the rules).
#include "policy/greylist_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "lib/log.h"
#include "lib/metrics.h"

namespace mpp::policy {
namespace {

constexpr char kSnapMagic[] = "MPPGLS1\n";
constexpr char kJournalMagic[] = "MPPGLJ1\n";
constexpr std::size_t kHeader = 16;        // magic + generation
constexpr std::size_t kMaxPayload = 256;
constexpr std::size_t kRecordSize = 33;
constexpr std::uint8_t kTrailer = 0xFF;

using state::frame;
using state::get_le;
using state::put_u16;
using state::put_u32;
using state::put_u64;

std::string encode(const GreyRecord& r) {
    std::string p;
    p.push_back(static_cast<char>(r.kind));
    p.push_back(static_cast<char>(r.erase ? 2 : 1));
    p.append(reinterpret_cast<const char*>(r.key.data()), r.key.size());
    put_u32(p, r.entry.first_seen);
    put_u32(p, r.entry.last_seen);
    put_u32(p, r.entry.expires);
    put_u16(p, r.entry.count);
    p.push_back(static_cast<char>(r.entry.passed));
    return p;
}

bool decode(const std::uint8_t* p, std::size_t n, GreyRecord& r) {
    if (n != kRecordSize) return false;
    if (p[0] != 1 && p[0] != 2) return false;
    if (p[1] != 1 && p[1] != 2) return false;
    r.kind = static_cast<GreyKind>(p[0]);
    r.erase = p[1] == 2;
    std::memcpy(r.key.data(), p + 2, 16);
    r.entry.first_seen = static_cast<std::uint32_t>(get_le(p + 18, 4));
    r.entry.last_seen = static_cast<std::uint32_t>(get_le(p + 22, 4));
    r.entry.expires = static_cast<std::uint32_t>(get_le(p + 26, 4));
    r.entry.count = static_cast<std::uint16_t>(get_le(p + 30, 2));
    r.entry.passed = p[32] ? 1 : 0;
    return true;
}

std::string header(const char* magic, std::uint64_t gen) {
    std::string h(magic, 8);
    put_u64(h, gen);
    return h;
}

// Frames from `off`, stopping at the first bad checksum (a journal replays in order), into `s`.
template <typename F>
void scan_frames(std::string_view b, std::size_t off, JournalScan& s, F on_payload) {
    state::FrameScan f = state::scan_frames(
        b, off, kMaxPayload, [&](const std::uint8_t* p, std::size_t n, bool crc_ok, std::size_t) {
            return crc_ok && on_payload(p, n);
        });
    s.torn = f.torn;
    s.corrupt = f.corrupt;
    s.stop_offset = f.stop_offset;
}

using state::fsync_dir;
using state::read_file;
using state::write_all;

// Generations of the journal files in `dir`, ascending.
std::vector<std::uint64_t> journal_gens(const std::string& dir) {
    std::vector<std::uint64_t> gens;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return gens;
    static constexpr std::string_view prefix = "greylist.journal.";
    while (dirent* e = ::readdir(d.get())) {
        std::string_view name(e->d_name);
        if (name.substr(0, prefix.size()) != prefix || name.size() == prefix.size()) continue;
        std::string_view num = name.substr(prefix.size());
        if (num.size() > 19 || !std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        gens.push_back(std::stoull(std::string(num)));
    }
    std::sort(gens.begin(), gens.end());
    return gens;
}

}  // namespace

JournalScan scan_journal(std::string_view bytes, const GreySink& apply) {
    JournalScan s;
    if (bytes.size() < kHeader || bytes.substr(0, 8) != std::string_view(kJournalMagic, 8)) {
        s.bad_header = true;
        return s;
    }
    scan_frames(bytes, kHeader, s, [&](const std::uint8_t* p, std::size_t n) {
        GreyRecord r;
        if (!decode(p, n, r)) return false;
        apply(r);
        ++s.records;
        return true;
    });
    return s;
}

FileGreylistStore::FileGreylistStore(std::string dir, std::size_t compact_after)
    : dir_(std::move(dir)), compact_after_(std::max<std::size_t>(compact_after, 1)) {}

std::string FileGreylistStore::journal_path(std::uint64_t gen) const {
    return dir_ + "/greylist.journal." + std::to_string(gen);
}

std::uint64_t FileGreylistStore::generation() const {
    std::lock_guard lock(journal_mutex_);
    return gen_;
}

void FileGreylistStore::load(const GreySink& apply) {
    std::uint64_t from = 0;
    std::string snap;
    if (read_file(snapshot_path(), snap)) {
        // Two passes: check the whole file first, so a corrupt one applies nothing and a good
        // one is never held twice in memory.
        std::size_t records = 0;
        bool trailer_ok = false;
        auto walk = [&](const GreySink* apply_to) {
            JournalScan s;
            records = 0;
            trailer_ok = false;
            scan_frames(snap, kHeader, s, [&](const std::uint8_t* p, std::size_t n) {
                if (trailer_ok) return false;  // nothing may follow the trailer
                if (n == 9 && p[0] == kTrailer) {
                    trailer_ok = get_le(p + 1, 8) == records;
                    return trailer_ok;
                }
                GreyRecord r;
                if (!decode(p, n, r)) return false;
                if (apply_to) (*apply_to)(r);
                ++records;
                return true;
            });
            return s;
        };
        JournalScan s;
        bool ok = snap.size() >= kHeader && snap.compare(0, 8, kSnapMagic, 8) == 0;
        if (ok) {
            s = walk(nullptr);
            ok = !s.torn && !s.corrupt && trailer_ok;
        }
        if (ok) {
            from = get_le(reinterpret_cast<const std::uint8_t*>(snap.data()) + 8, 8);
            walk(&apply);
            log::info(log::cat("greylist: loaded ", records, " entries from ", snapshot_path()));
        } else {
            std::string aside = snapshot_path() + ".corrupt";
            ::rename(snapshot_path().c_str(), aside.c_str());
            log::error(log::cat("greylist: snapshot ", snapshot_path(), " is corrupt (at byte ",
                                s.stop_offset, "); moved to ", aside, ", starting from the journals"));
            metrics::get("greylist-store-errors").inc();
        }
        snap.clear();
        snap.shrink_to_fit();
    }
    std::uint64_t last = from;
    for (std::uint64_t gen : journal_gens(dir_)) {
        last = std::max(last, gen);
        if (gen < from) continue;
        std::string bytes;
        if (!read_file(journal_path(gen), bytes)) continue;
        JournalScan s = scan_journal(bytes, apply);
        if (s.bad_header && !bytes.empty()) {
            log::error(log::cat("greylist: journal ", journal_path(gen), " has a bad header; ignored"));
        } else if (s.torn) {
            log::warning(log::cat("greylist: journal ", journal_path(gen), ": torn last record at byte ",
                                  s.stop_offset, " ignored (", s.records, " records replayed)"));
        } else if (s.corrupt) {
            log::error(log::cat("greylist: journal ", journal_path(gen), ": bad record at byte ",
                                s.stop_offset, "; the rest is ignored (", s.records, " records replayed)"));
        }
        if (s.bad_header || s.torn || s.corrupt) metrics::get("greylist-store-errors").inc();
    }
    std::lock_guard lock(journal_mutex_);
    open_journal(last + 1);
}

bool FileGreylistStore::open_journal(std::uint64_t gen) {
    gen_ = gen;
    journal_records_ = 0;
    journal_.reset(::open(journal_path(gen).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
    if (!journal_ || !write_all(journal_.get(), header(kJournalMagic, gen))) {
        journal_.reset();
        write_failed(log::cat("open ", journal_path(gen), ": ", std::strerror(errno)));
        return false;
    }
    if (broken_) log::notice("greylist: journal writable again");
    broken_ = false;
    return true;
}

void FileGreylistStore::write_failed(std::string_view what) {
    metrics::get("greylist-store-errors").inc();
    if (!broken_) log::error(log::cat("greylist: ", what, "; decisions go on from memory"));
    broken_ = true;
}

void FileGreylistStore::append(const GreyRecord& r) {
    std::string b;
    frame(b, encode(r));
    std::lock_guard lock(journal_mutex_);
    if (broken_ || !journal_) return;  // the next compaction writes everything afresh
    if (!write_all(journal_.get(), b)) {
        journal_.reset();
        write_failed(log::cat("write ", journal_path(gen_), ": ", std::strerror(errno)));
        return;
    }
    ++journal_records_;
}

bool FileGreylistStore::compaction_due() const {
    std::lock_guard lock(journal_mutex_);
    return broken_ || journal_records_ >= compact_after_;
}

void FileGreylistStore::sync() {
    std::lock_guard lock(journal_mutex_);
    if (journal_ && ::fdatasync(journal_.get()) != 0)
        write_failed(log::cat("fsync ", journal_path(gen_), ": ", std::strerror(errno)));
}

void FileGreylistStore::compact(const std::function<void(const GreySink&)>& dump) {
    std::lock_guard compacting(compact_mutex_);
    std::uint64_t gen;
    {
        std::lock_guard lock(journal_mutex_);
        if (journal_) ::fdatasync(journal_.get());
        gen = gen_ + 1;
        open_journal(gen);  // changes from now on land in the new journal
    }
    std::string tmp = snapshot_path() + ".tmp";
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    bool ok = static_cast<bool>(fd);
    std::string buf = header(kSnapMagic, gen);
    std::uint64_t count = 0;
    dump([&](const GreyRecord& r) {
        frame(buf, encode(r));
        ++count;
        if (buf.size() >= (1u << 16)) {
            ok = ok && write_all(fd.get(), buf);
            buf.clear();
        }
    });
    std::string trailer(1, static_cast<char>(kTrailer));
    put_u64(trailer, count);
    frame(buf, trailer);
    ok = ok && write_all(fd.get(), buf) && ::fsync(fd.get()) == 0;
    fd.reset();
    ok = ok && ::rename(tmp.c_str(), snapshot_path().c_str()) == 0 && fsync_dir(dir_);
    if (!ok) {
        ::unlink(tmp.c_str());
        std::lock_guard lock(journal_mutex_);
        write_failed(log::cat("snapshot ", snapshot_path(), ": ", std::strerror(errno)));
        return;  // the older journals stay: they still hold the state
    }
    for (std::uint64_t g : journal_gens(dir_))
        if (g < gen) ::unlink(journal_path(g).c_str());
    log::info(log::cat("greylist: snapshot of ", count, " entries written"));
}

}  // namespace mpp::policy
