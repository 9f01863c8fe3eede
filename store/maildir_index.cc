// store/maildir_index.cc: the maildir store's append-only index (see maildir_index.h).
#include "store/maildir_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>

#include "lib/log.h"
#include "store/spool_format.h"
#include "store/uuid.h"

namespace mpp::store {
namespace {

constexpr std::string_view kSpecial = " =|";

std::string esc(std::string_view v) { return escape(v, kSpecial); }

template <typename T>
bool number(std::string_view s, T& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (;;) {
        std::size_t at = s.find(sep);
        out.push_back(s.substr(0, at));
        if (at == std::string_view::npos) return out;
        s.remove_prefix(at + 1);
    }
}

bool write_all(int fd, std::string_view b) {
    while (!b.empty()) {
        ssize_t n = ::write(fd, b.data(), b.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        b.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace

bool IndexEntry::live() const {
    for (const auto& c : copies)
        if (!c.removed) return true;
    return false;
}

bool same_address(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::string index_line(const IndexEntry& ie) {
    const Entry& e = ie.entry;
    std::string l = "E uuid=" + esc(e.uuid) + " kind=" + kind_name(e.kind) +
                    " received=" + std::to_string(e.received) + " qid=" + esc(e.queue_id) +
                    " mid=" + esc(e.message_id) + " subject=" + esc(e.subject) +
                    " cip=" + esc(e.client_ip) + " cname=" + esc(e.client_name) +
                    " helo=" + esc(e.helo) + " from=" + esc(e.sender) +
                    " size=" + std::to_string(e.size) + " score=" + format_score(e.score) +
                    " checks=" + esc(e.checks) + " verdict=" + esc(e.verdict) +
                    " reason=" + esc(e.reason) + " rev=" + esc(e.config_revision) +
                    " len=" + std::to_string(ie.length);
    for (std::size_t i = 0; i < ie.copies.size() && i < e.recipients.size(); ++i) {
        const IndexCopy& c = ie.copies[i];
        if (c.removed) continue;
        l += " r=" + esc(e.recipients[i].address) + "|" + esc(e.recipients[i].group) + "|" +
             esc(c.maildir) + "|" + esc(c.file) + "|" + std::to_string(c.prefix) + "|" +
             std::to_string(c.released);
    }
    return l;
}

std::unique_ptr<MaildirIndex> MaildirIndex::open(const std::string& path, std::string* error) {
    Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!fd) {
        if (error) *error = "maildir index " + path + ": open: " + std::strerror(errno);
        return nullptr;
    }
    auto index = std::make_unique<MaildirIndex>(Private{}, path, std::move(fd));
    if (!index->load(error)) return nullptr;
    return index;
}

bool MaildirIndex::load(std::string* error) {
    std::string text;
    {
        struct stat st{};
        if (::fstat(fd_.get(), &st) != 0) {
            if (error) *error = "maildir index " + path_ + ": stat: " + std::strerror(errno);
            return false;
        }
        text.resize(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (got < text.size()) {
            ssize_t n = ::pread(fd_.get(), text.data() + got, text.size() - got,
                                static_cast<off_t>(got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                if (error) *error = "maildir index " + path_ + ": read: " + std::strerror(errno);
                return false;
            }
            got += static_cast<std::size_t>(n);
        }
    }
    std::size_t keep = text.rfind('\n');
    keep = keep == std::string::npos ? 0 : keep + 1;
    if (keep < text.size()) {
        log::warning(log::cat("maildir index ", path_, ": cut off an unfinished last line (",
                              text.size() - keep, " bytes, a crash while appending)"));
        if (::ftruncate(fd_.get(), static_cast<off_t>(keep)) != 0) {
            if (error) *error = "maildir index " + path_ + ": truncate: " + std::strerror(errno);
            return false;
        }
        text.resize(keep);
    }
    std::size_t bad = 0, first_bad = 0, lineno = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        std::size_t end = text.find('\n', pos);
        ++lineno;
        if (!apply(text.substr(pos, end - pos)) && bad++ == 0) first_bad = lineno;
        pos = end + 1;
    }
    if (bad > 0)
        log::warning(log::cat("maildir index ", path_, ": skipped ", bad,
                              " damaged line(s), the first at line ", first_bad));
    return true;
}

bool MaildirIndex::apply(const std::string& line) {
    auto tok = split(line, ' ');
    if (tok.size() < 2) return false;
    if (tok[0] == "X" || tok[0] == "R") {
        const bool released = tok[0] == "R";
        std::size_t need = released ? 3 : 2;
        if (tok.size() != need && tok.size() != need + 1) return false;
        auto uuid = unescape(tok[1]);
        std::int64_t when = 0;
        if (!uuid || (released && !number(tok[2], when))) return false;
        std::optional<std::string> addr = std::string();
        if (tok.size() == need + 1) addr = unescape(tok[need]);
        if (!addr) return false;
        auto it = entries_.find(*uuid);
        ++dead_;
        if (it == entries_.end()) return true;  // deleted before a compaction
        auto& ie = it->second;
        for (std::size_t i = 0; i < ie.copies.size(); ++i) {
            if (!addr->empty() && !same_address(ie.entry.recipients[i].address, *addr)) continue;
            if (released) ie.copies[i].released = when;
            else ie.copies[i].removed = true;
        }
        if (!ie.live()) {
            entries_.erase(it);
            ++dead_;  // its E line
        }
        return true;
    }
    if (tok[0] != "E") return false;
    IndexEntry ie;
    Entry& e = ie.entry;
    bool have_uuid = false;
    for (std::size_t i = 1; i < tok.size(); ++i) {
        std::size_t eq = tok[i].find('=');
        if (eq == std::string_view::npos) return false;
        std::string_view k = tok[i].substr(0, eq), raw = tok[i].substr(eq + 1);
        if (k == "r") {
            auto parts = split(raw, '|');
            if (parts.size() != 6) return false;
            auto addr = unescape(parts[0]), group = unescape(parts[1]), dir = unescape(parts[2]),
                 file = unescape(parts[3]);
            IndexCopy c;
            if (!addr || !group || !dir || !file || !number(parts[4], c.prefix) ||
                !number(parts[5], c.released))
                return false;
            c.maildir = std::move(*dir);
            c.file = std::move(*file);
            e.recipients.push_back({std::move(*addr), std::move(*group)});
            ie.copies.push_back(std::move(c));
            continue;
        }
        auto v = unescape(raw);
        if (!v) return false;
        if (k == "uuid") {
            e.uuid = *v;
            have_uuid = valid_uuid(e.uuid);
        } else if (k == "kind") {
            e.kind = *v == "archive" ? EntryKind::archive : EntryKind::quarantine;
        } else if (k == "received") {
            if (!number(*v, e.received)) return false;
        } else if (k == "size") {
            if (!number(*v, e.size)) return false;
        } else if (k == "len") {
            if (!number(*v, ie.length)) return false;
        } else if (k == "score") {
            if (!number(*v, e.score) || !std::isfinite(e.score)) return false;
        } else if (k == "qid") e.queue_id = *v;
        else if (k == "mid") e.message_id = *v;
        else if (k == "subject") e.subject = *v;
        else if (k == "cip") e.client_ip = *v;
        else if (k == "cname") e.client_name = *v;
        else if (k == "helo") e.helo = *v;
        else if (k == "from") e.sender = *v;
        else if (k == "checks") e.checks = *v;
        else if (k == "verdict") e.verdict = *v;
        else if (k == "reason") e.reason = *v;
        else if (k == "rev") e.config_revision = *v;
        // Unknown keys are skipped: a later version may add some.
    }
    if (!have_uuid || ie.copies.empty()) return false;
    if (entries_.count(e.uuid)) ++dead_;  // written twice (a retried append): the last wins
    entries_[e.uuid] = std::move(ie);
    return true;
}

const IndexEntry* MaildirIndex::find(const std::string& uuid) const {
    auto it = entries_.find(uuid);
    return it == entries_.end() ? nullptr : &it->second;
}

bool MaildirIndex::append(const std::string& line, std::string* error) {
    if (line.size() + 1 > kMaxLine) {
        if (error)
            *error =
                "maildir index " + path_ + ": record over " + std::to_string(kMaxLine) + " bytes";
        return false;
    }
    if (!write_all(fd_.get(), line + "\n") || ::fdatasync(fd_.get()) != 0) {
        if (error) *error = "maildir index " + path_ + ": write: " + std::strerror(errno);
        return false;
    }
    return true;
}

bool MaildirIndex::add(IndexEntry e, std::string* error) {
    if (entries_.size() >= kMaxEntries && !entries_.count(e.entry.uuid)) {
        if (error)
            *error = "maildir index " + path_ + ": holds " + std::to_string(entries_.size()) +
                     " entries, its bound (delete or purge some)";
        return false;
    }
    if (!append(index_line(e), error)) return false;
    entries_[e.entry.uuid] = std::move(e);
    return true;
}

bool MaildirIndex::mark_removed(const std::string& uuid, const std::string& address,
                                std::string* error) {
    std::string line = "X " + esc(uuid) + (address.empty() ? "" : " " + esc(address));
    if (!append(line, error)) return false;
    return apply(line);
}

bool MaildirIndex::mark_released(const std::string& uuid, const std::string& address,
                                 std::int64_t when, std::string* error) {
    std::string line = "R " + esc(uuid) + " " + std::to_string(when) +
                       (address.empty() ? "" : " " + esc(address));
    if (!append(line, error)) return false;
    return apply(line);
}

bool MaildirIndex::maybe_compact(std::string* error) {
    if (dead_ <= kCompactAfter || dead_ <= entries_.size()) return true;
    const std::string tmp = path_ + ".tmp";
    auto fail = [&](const char* what) {
        if (error) *error = "maildir index " + tmp + ": " + what + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    };
    Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!out) return fail("create");
    std::string buf;
    for (const auto& [uuid, ie] : entries_) {
        buf += index_line(ie);
        buf += '\n';
        if (buf.size() > (1 << 20)) {
            if (!write_all(out.get(), buf)) return fail("write");
            buf.clear();
        }
    }
    if (!write_all(out.get(), buf)) return fail("write");
    if (::fsync(out.get()) != 0) return fail("fsync");
    Fd reopened(::open(tmp.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
    if (!reopened) return fail("open");
    if (::rename(tmp.c_str(), path_.c_str()) != 0) return fail("rename");
    const std::string dir = std::filesystem::path(path_).parent_path().string();
    Fd d(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d) ::fsync(d.get());
    log::info(log::cat("maildir index ", path_, ": compacted (", dead_, " dead lines dropped, ",
                       entries_.size(), " entries)"));
    fd_ = std::move(reopened);
    dead_ = 0;
    return true;
}

}  // namespace mpp::store
