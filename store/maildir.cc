// store/maildir.cc: delivery into maildirs and the admin queries over the index (see
// maildir.h).
#include "store/maildir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "lib/fd.h"
#include "lib/log.h"
#include "lib/units.h"
#include "store/maildir_path.h"
#include "store/spool_format.h"
#include "store/uuid.h"

namespace mpp::store {
namespace {

constexpr std::size_t kMaxHeaderValue = 900;

std::string errno_text() { return std::strerror(errno); }

bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// mkdir -p with mode 0700 for what it makes.
bool make_dirs(const std::string& path, std::string* error) {
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return true;
        errno = ENOTDIR;
    } else if (errno == ENOENT) {
        std::size_t slash = path.rfind('/');
        if (slash != std::string::npos && slash > 0 && !make_dirs(path.substr(0, slash), error))
            return false;
        if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return true;
    }
    if (error) *error = "maildir " + path + ": mkdir: " + errno_text();
    return false;
}

bool fsync_dir(const std::string& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return fd && ::fsync(fd.get()) == 0;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
    std::string h;
    for (const char* p = buf; *p; ++p) {  // maildir(5): '/' and ':' encoded
        if (*p == '/') h += "\\057";
        else if (*p == ':') h += "\\072";
        else if (static_cast<unsigned char>(*p) <= 0x20 || *p == 0x7f) h += '_';
        else h += *p;
    }
    return h;
}

std::string header_value(std::string_view v) {
    std::string e = escape(v);
    if (e.size() > kMaxHeaderValue) e = e.substr(0, kMaxHeaderValue) + "...";
    return e;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// "user@example.com" the address, "@example.com" any address of the domain, "<>" the null
// sender (an empty pattern matches everything).
bool address_matches(const std::string& pattern, const std::string& address) {
    if (pattern.empty()) return true;
    if (pattern == "<>") return address.empty();
    if (pattern[0] == '@') {
        const std::string a = lower(address), p = lower(pattern);
        return a.size() >= p.size() && a.compare(a.size() - p.size(), p.size(), p) == 0;
    }
    return same_address(pattern, address);
}

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string maildir_prefix(const Entry& e, std::size_t i, bool crlf) {
    const char* eol = crlf ? "\r\n" : "\n";
    const EntryRecipient& r = e.recipients.at(i);
    std::string p;
    auto line = [&](std::string_view name, std::string_view value) {
        p.append(name).append(": ").append(value).append(eol);
    };
    line("X-MPP-Store-Id", e.uuid);
    line("X-MPP-Stored",
         std::string(kind_name(e.kind)) + "; " +
             format_utc(std::chrono::system_clock::time_point(std::chrono::seconds(e.received))));
    line("X-MPP-Envelope-From", "<" + header_value(e.sender) + ">");
    line("X-MPP-Envelope-To", "<" + header_value(r.address) + ">");
    if (!e.client_ip.empty() || !e.client_name.empty())
        line("X-MPP-Client", header_value(e.client_name.empty() ? "unknown" : e.client_name) +
                                 " [" + header_value(e.client_ip) + "] helo=" +
                                 header_value(e.helo));
    line("X-MPP-Verdict", header_value(e.verdict.empty() ? kind_name(e.kind) : e.verdict) +
                              "; score=" + format_score(e.score) +
                              "; group=" + header_value(r.group));
    if (!e.checks.empty()) line("X-MPP-Checks", header_value(e.checks));
    if (!e.reason.empty()) line("X-MPP-Reason", header_value(e.reason));
    return p;
}

MaildirStore::MaildirStore(Private, Settings settings, std::unique_ptr<MaildirIndex> index)
    : settings_(std::move(settings)), index_(std::move(index)) {}

std::unique_ptr<MaildirStore> MaildirStore::open(Settings settings, std::string* error) {
    if (settings.path_template.empty() || settings.path_template[0] != '/') {
        if (error) *error = "maildir: the path template must be absolute";
        return nullptr;
    }
    if (settings.host.empty()) settings.host = host_name();
    auto index = MaildirIndex::open(settings.index_path, error);
    if (!index) return nullptr;
    std::string why;
    if (!index->maybe_compact(&why)) log::warning(why);
    return std::make_unique<MaildirStore>(Private{}, std::move(settings), std::move(index));
}

bool MaildirStore::write(const Entry& entry, engines::MessageReader& message,
                         std::string* error) {
    std::lock_guard lock(mutex_);
    if (index_->find(entry.uuid)) return true;  // written before: nothing twice
    auto fail = [&](std::string why) {
        if (error) *error = std::move(why);
        return false;
    };
    if (!valid_uuid(entry.uuid))
        return fail("maildir: bad uuid \"" + escape(entry.uuid.substr(0, 64)) + "\"");
    if (entry.recipients.empty())
        return fail("maildir: entry " + entry.uuid + " has no recipients");

    std::string first(kChunk, '\0');
    first.resize(message.read(first.data(), first.size()));
    if (message.failed()) return fail("maildir: reading the message: " + message.error());
    std::size_t nl = first.find('\n');
    const bool crlf = nl == std::string::npos || (nl > 0 && first[nl - 1] == '\r');

    IndexEntry ie;
    ie.entry = entry;
    Fd source;  // the first copy, read again for the others
    std::uint64_t source_prefix = 0;
    for (std::size_t i = 0; i < entry.recipients.size(); ++i) {
        const auto& r = entry.recipients[i];
        std::string why;
        auto dir = maildir_path(settings_.path_template, r.address, r.group, entry.received, &why);
        if (!dir) return fail(why);
        if (!make_dirs(*dir + "/tmp", &why) || !make_dirs(*dir + "/new", &why) ||
            !make_dirs(*dir + "/cur", &why))
            return fail(why);
        IndexCopy c;
        c.maildir = *dir;
        c.file = std::to_string(entry.received) + "." + entry.uuid + "_" + std::to_string(i) +
                 "." + settings_.host;
        const std::string prefix = maildir_prefix(entry, i, crlf);
        c.prefix = prefix.size();
        const std::string tmp = *dir + "/tmp/" + c.file, dst = *dir + "/new/" + c.file;
        auto io_fail = [&](const std::string& what) {
            std::string text = "maildir " + *dir + ": " + what + ": " + errno_text();
            ::unlink(tmp.c_str());
            return fail(text);
        };
        Fd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd) return io_fail("create tmp/" + c.file);
        if (!write_all(fd.get(), prefix.data(), prefix.size())) return io_fail("write");
        std::uint64_t length = 0;
        if (!source) {
            std::string buf = std::move(first);
            while (!buf.empty()) {
                if (!write_all(fd.get(), buf.data(), buf.size())) return io_fail("write");
                length += buf.size();
                buf.resize(kChunk);
                buf.resize(message.read(buf.data(), buf.size()));
            }
            if (message.failed()) {
                ::unlink(tmp.c_str());
                return fail("maildir: reading the message: " + message.error());
            }
            ie.length = length;
        } else {
            std::string buf(kChunk, '\0');
            while (length < ie.length) {
                auto want =
                    static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, ie.length - length));
                ssize_t n = ::pread(source.get(), buf.data(), want,
                                    static_cast<off_t>(source_prefix + length));
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) {
                    if (n == 0) errno = EIO;
                    return io_fail("read back the first copy");
                }
                if (!write_all(fd.get(), buf.data(), static_cast<std::size_t>(n)))
                    return io_fail("write");
                length += static_cast<std::uint64_t>(n);
            }
        }
        if (::fsync(fd.get()) != 0) return io_fail("fsync");
        if (::link(tmp.c_str(), dst.c_str()) != 0 && errno != EEXIST)
            return io_fail("link to new/");
        ::unlink(tmp.c_str());
        if (!fsync_dir(*dir + "/new")) return io_fail("fsync new/");
        if (!source) {
            source = std::move(fd);
            source_prefix = c.prefix;
        }
        ie.copies.push_back(std::move(c));
    }
    std::string why;
    if (!index_->add(std::move(ie), &why)) return fail(why);
    log::info(log::cat("maildir: stored ", kind_name(entry.kind), " ", entry.uuid, " (queue id ",
                       entry.queue_id.empty() ? "none" : escape(entry.queue_id), ") for ",
                       entry.recipients.size(), " recipient(s)"));
    return true;
}

std::string MaildirStore::locate(const IndexCopy& c) const {
    if (c.removed) return "";
    struct stat st{};
    std::string p = c.maildir + "/new/" + c.file;
    if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return p;
    DIR* d = ::opendir((c.maildir + "/cur").c_str());
    if (!d) return "";
    std::string found;
    while (dirent* de = ::readdir(d)) {
        std::string_view n = de->d_name;
        if (n == c.file || (n.size() > c.file.size() && n.substr(0, c.file.size()) == c.file &&
                            n[c.file.size()] == ':')) {
            found = c.maildir + "/cur/" + std::string(n);
            break;
        }
    }
    ::closedir(d);
    return found;
}

std::string MaildirStore::copy_path(const std::string& uuid, std::size_t i) const {
    std::lock_guard lock(mutex_);
    const IndexEntry* ie = index_->find(uuid);
    if (!ie || i >= ie->copies.size()) return "";
    return locate(ie->copies[i]);
}

std::size_t MaildirStore::size() const {
    std::lock_guard lock(mutex_);
    return index_->size();
}

std::optional<std::vector<Listed>> MaildirStore::list(const Filter& f, std::string*) {
    std::vector<Listed> rows;
    const std::string subject = lower(f.subject);
    std::lock_guard lock(mutex_);
    for (const auto& [uuid, ie] : index_->entries()) {
        const Entry& e = ie.entry;
        if (e.kind != f.kind || (f.since && e.received < f.since) ||
            (f.until && e.received >= f.until) || !address_matches(f.sender, e.sender) ||
            (!subject.empty() && lower(e.subject).find(subject) == std::string::npos))
            continue;
        for (std::size_t i = 0; i < ie.copies.size(); ++i) {
            const auto& r = e.recipients[i];
            if (ie.copies[i].removed || !address_matches(f.recipient, r.address)) continue;
            rows.push_back({e.uuid, e.received, r.address, e.sender, e.subject, e.size, e.score,
                            e.verdict, ie.copies[i].released});
        }
    }
    std::sort(rows.begin(), rows.end(), [](const Listed& a, const Listed& b) {
        if (a.received != b.received) return a.received > b.received;
        if (a.uuid != b.uuid) return a.uuid < b.uuid;
        return a.recipient < b.recipient;
    });
    if (rows.size() > f.limit) rows.resize(f.limit);
    return rows;
}

std::optional<Stored> MaildirStore::show(const std::string& uuid, std::string* error) {
    if (error) error->clear();
    std::lock_guard lock(mutex_);
    const IndexEntry* ie = index_->find(uuid);
    if (!ie) return std::nullopt;
    Stored s;
    s.entry = ie->entry;
    s.entry.recipients.clear();
    for (std::size_t i = 0; i < ie->copies.size(); ++i) {
        if (ie->copies[i].removed) continue;
        s.entry.recipients.push_back(ie->entry.recipients[i]);
        s.released.push_back(ie->copies[i].released);
    }
    s.body_size = ie->length;
    return s;
}

bool MaildirStore::fetch(const std::string& uuid,
                         const std::function<bool(std::string_view)>& sink, std::string* error) {
    auto fail = [&](std::string why) {
        if (error) *error = std::move(why);
        return false;
    };
    std::vector<std::pair<std::string, std::uint64_t>> copies;  // path, prefix
    std::uint64_t length = 0;
    {
        std::lock_guard lock(mutex_);
        const IndexEntry* ie = index_->find(uuid);
        if (!ie) return fail("no entry " + uuid);
        length = ie->length;
        for (const auto& c : ie->copies)
            if (auto p = locate(c); !p.empty()) copies.emplace_back(p, c.prefix);
    }
    std::string problems;
    for (const auto& [path, prefix] : copies) {
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        struct stat st{};
        if (!fd || ::fstat(fd.get(), &st) != 0) {
            problems += "; " + path + ": " + errno_text();
            continue;
        }
        const std::string id_line = "X-MPP-Store-Id: " + uuid;
        std::string head(id_line.size(), '\0');
        if (static_cast<std::uint64_t>(st.st_size) != prefix + length ||
            ::pread(fd.get(), head.data(), head.size(), 0) != static_cast<ssize_t>(head.size()) ||
            head != id_line) {
            problems += "; " + path + ": not the copy the index describes (changed by a reader?)";
            continue;
        }
        std::string buf(kChunk, '\0');
        for (std::uint64_t off = 0; off < length;) {
            auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, length - off));
            ssize_t n = ::pread(fd.get(), buf.data(), want, static_cast<off_t>(prefix + off));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0)
                return fail("maildir " + path +
                            ": read: " + (n == 0 ? "short file" : errno_text()));
            if (!sink(std::string_view(buf.data(), static_cast<std::size_t>(n))))
                return fail("stopped");
            off += static_cast<std::uint64_t>(n);
        }
        return true;
    }
    return fail("no copy of " + uuid + " is left in its maildirs" +
                (problems.empty() ? std::string(" (deleted by their readers?)") : problems));
}

std::optional<Removed> MaildirStore::remove(const std::string& uuid, const std::string& recipient,
                                            std::string* error) {
    if (error) error->clear();
    std::lock_guard lock(mutex_);
    const IndexEntry* ie = index_->find(uuid);
    if (!ie) return Removed::nothing;
    bool any = false;
    for (std::size_t i = 0; i < ie->copies.size(); ++i) {
        if (ie->copies[i].removed) continue;
        if (!recipient.empty() && !same_address(recipient, ie->entry.recipients[i].address))
            continue;
        any = true;
        if (auto p = locate(ie->copies[i]);
            !p.empty() && ::unlink(p.c_str()) != 0 && errno != ENOENT) {
            if (error) *error = "maildir " + p + ": unlink: " + errno_text();
            return std::nullopt;
        }
    }
    if (!any) return Removed::nothing;
    std::string why;
    if (!index_->mark_removed(uuid, recipient, &why)) {
        if (error) *error = why;
        return std::nullopt;
    }
    const bool gone = index_->find(uuid) == nullptr;
    if (!index_->maybe_compact(&why)) log::warning(why);
    return gone ? Removed::entry : Removed::recipient;
}

bool MaildirStore::mark_released(const std::string& uuid, const std::string& recipient,
                                 std::string* error) {
    std::lock_guard lock(mutex_);
    const IndexEntry* ie = index_->find(uuid);
    if (!ie) {
        if (error) *error = "no entry " + uuid;
        return false;
    }
    bool any = recipient.empty();
    for (std::size_t i = 0; i < ie->copies.size() && !any; ++i)
        any = !ie->copies[i].removed && same_address(recipient, ie->entry.recipients[i].address);
    if (!any) {
        if (error) *error = "entry " + uuid + " has no recipient " + escape(recipient);
        return false;
    }
    return index_->mark_released(uuid, recipient, now_seconds(), error);
}

}  // namespace mpp::store
