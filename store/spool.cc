// store/spool.cc: the durable spool (see spool.h): the write path (tmp, fsync, rename, fsync
// dir), the table of what new/ holds, reading an entry back with its checks, and recovery.
#include "store/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "lib/fd.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "store/spool_format.h"
#include "store/uuid.h"

namespace mpp::store {
namespace {

constexpr std::size_t kChunk = 64 * 1024;

bool make_dir(const std::string& path, std::string* error) {
    if (::mkdir(path.c_str(), 0700) == 0) return true;
    struct stat st{};
    if (errno == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
    if (error) *error = "spool: cannot make directory " + path + ": " + std::strerror(errno);
    return false;
}

bool fsync_dir(const std::string& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return fd && ::fsync(fd.get()) == 0;
}

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

bool pread_all(int fd, char* p, std::size_t n, std::uint64_t off) {
    while (n > 0) {
        ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = EIO;  // shorter than fstat said
            return false;
        }
        p += r;
        n -= static_cast<std::size_t>(r);
        off += static_cast<std::uint64_t>(r);
    }
    return true;
}

bool is_full_errno(int e) { return e == ENOSPC || e == EDQUOT || e == EFBIG; }

// The message part of a spool file, read with pread from a file of our own.
class FileReader final : public engines::MessageReader {
public:
    FileReader(Fd fd, std::uint64_t offset, std::uint64_t length, std::string path)
        : fd_(std::move(fd)), off_(offset), left_(length), path_(std::move(path)) {}
    std::size_t read(char* out, std::size_t n) override {
        if (!error_.empty() || left_ == 0) return 0;
        n = static_cast<std::size_t>(std::min<std::uint64_t>(n, left_));
        for (;;) {
            ssize_t r = ::pread(fd_.get(), out, n, static_cast<off_t>(off_));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                error_ = "read " + path_ + ": " + (r == 0 ? "file shorter than its end marker says"
                                                          : std::strerror(errno));
                return 0;
            }
            off_ += static_cast<std::uint64_t>(r);
            left_ -= static_cast<std::uint64_t>(r);
            return static_cast<std::size_t>(r);
        }
    }
    bool failed() const override { return !error_.empty(); }
    std::string error() const override { return error_; }

private:
    Fd fd_;
    std::uint64_t off_, left_;
    std::string path_;
    std::string error_;
};

}  // namespace

Spool::Spool(Private, std::string dir, Limits limits) : dir_(std::move(dir)), limits_(limits) {}

Spool::~Spool() {
    metrics::get("spool-entries").dec(static_cast<std::int64_t>(order_.size()));
    metrics::get("spool-bytes").dec(static_cast<std::int64_t>(bytes_));
}

std::unique_ptr<Spool> Spool::open(const std::string& dir, Limits limits, std::string* error) {
    for (const std::string& d : {dir, dir + "/tmp", dir + "/new", dir + "/corrupt"})
        if (!make_dir(d, error)) return nullptr;
    // One mppd per spool: a second one would delete the first one's tmp/ files and drain its
    // entries. The lock goes with the process (also when it is killed).
    Fd lock(::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        if (error)
            *error = "spool " + dir + ": " +
                     (lock && errno == EWOULDBLOCK ? std::string("in use by another mppd")
                                                   : "lock: " + std::string(std::strerror(errno)));
        return nullptr;
    }
    auto spool = std::make_unique<Spool>(Private{}, dir, limits);
    spool->lock_ = std::move(lock);

    // tmp/: entries that were never acknowledged (a crash or kill mid-put).
    std::size_t removed = 0;
    if (DIR* d = ::opendir((dir + "/tmp").c_str())) {
        while (dirent* de = ::readdir(d)) {
            std::string name = de->d_name;
            if (name == "." || name == "..") continue;
            if (::unlink((dir + "/tmp/" + name).c_str()) == 0) ++removed;
        }
        ::closedir(d);
    }
    if (removed > 0)
        log::info(log::cat("spool ", dir, ": removed ", removed,
                           " unfinished file(s) from tmp/ (never acknowledged)"));

    DIR* d = ::opendir((dir + "/new").c_str());
    if (!d) {
        if (error) *error = "spool: cannot read " + dir + "/new: " + std::strerror(errno);
        return nullptr;
    }
    std::vector<std::tuple<std::int64_t, std::string, std::uint64_t>> found;
    std::vector<std::string> strangers;
    while (dirent* de = ::readdir(d)) {
        std::string name = de->d_name;
        if (name == "." || name == "..") continue;
        struct stat st{};
        if (!valid_uuid(name) || ::lstat((dir + "/new/" + name).c_str(), &st) != 0 ||
            !S_ISREG(st.st_mode)) {
            strangers.push_back(name);
            continue;
        }
        std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                             st.st_mtim.tv_nsec;
        found.emplace_back(mtime, name, static_cast<std::uint64_t>(st.st_size));
    }
    ::closedir(d);
    std::sort(found.begin(), found.end());
    {
        std::lock_guard lock(spool->mutex_);
        for (const auto& [mtime, name, size] : found) spool->add(name, size);
        spool->note_level();
    }
    for (const auto& name : strangers) spool->set_aside(name, "not a spool entry name");
    if (!found.empty())
        log::info(log::cat("spool ", dir, ": ", found.size(), " entries (", spool->bytes(),
                           " bytes) waiting to be drained"));
    return spool;
}

void Spool::add(const std::string& uuid, std::uint64_t bytes) {
    std::uint64_t seq = next_seq_++;
    order_.emplace(seq, SpoolItem{uuid, bytes});
    seq_of_[uuid] = seq;
    bytes_ += bytes;
    metrics::get("spool-entries").inc();
    metrics::get("spool-bytes").inc(static_cast<std::int64_t>(bytes));
}

void Spool::note_level() {
    const double by_count = static_cast<double>(order_.size()) /
                            static_cast<double>(std::max<std::uint64_t>(1, limits_.max_entries));
    const double by_bytes = static_cast<double>(bytes_) /
                            static_cast<double>(std::max<std::uint64_t>(1, limits_.max_bytes));
    const double level = std::max(by_count, by_bytes);
    const std::string state = log::cat(order_.size(), " entries (bound ", limits_.max_entries,
                                       "), ", bytes_, " bytes (bound ", limits_.max_bytes, ")");
    if (!alarm_ && level >= 0.8) {
        alarm_ = true;
        metrics::get("spool-alarms").inc();
        log::warning(log::cat("spool ", dir_, ": 80% full: ", state,
                              "; is the drain target (maildir, database) failing?"));
    } else if (alarm_ && level < 0.7) {
        alarm_ = false;
        log::info(log::cat("spool ", dir_, ": below 70% again: ", state));
    }
    if (order_.size() >= limits_.max_entries || bytes_ >= limits_.max_bytes) {
        note_full();
    } else if (full_) {
        full_ = false;
        log::info(log::cat("spool ", dir_, ": takes entries again: ", state));
    }
}

void Spool::note_full() {
    if (full_) return;
    full_ = true;
    log::warning(log::cat("spool ", dir_, ": full: ", order_.size(), " entries (bound ",
                          limits_.max_entries, "), ", bytes_, " bytes (bound ", limits_.max_bytes,
                          "); mail that needs storing is deferred (452 4.3.1)"));
}

PutResult Spool::put(Entry entry, std::string_view message) {
    auto reader = engines::memory_reader(std::string(message));
    return put(std::move(entry), *reader);
}

PutResult Spool::put(Entry entry, engines::MessageReader& message) {
    PutResult r;
    if (entry.uuid.empty()) entry.uuid = new_uuid();
    r.uuid = entry.uuid;
    auto fail = [&](PutResult::Status s, std::string why) {
        r.status = s;
        r.error = "spool " + dir_ + ": " + std::move(why);
        metrics::get(s == PutResult::Status::full ? "spool-full" : "spool-put-errors").inc();
        return r;
    };
    if (entry.uuid.empty()) return fail(PutResult::Status::error, "no random bytes for a uuid");
    {
        std::lock_guard lock(mutex_);
        if (seq_of_.count(entry.uuid))
            return fail(PutResult::Status::error, "entry " + entry.uuid + " is already spooled");
        if (order_.size() + reserved_entries_ >= limits_.max_entries) {
            note_full();
            return fail(PutResult::Status::full,
                        log::cat("holds ", order_.size(), " entries, its bound"));
        }
        if (bytes_ + entry.size > limits_.max_bytes) {
            note_full();
            return fail(PutResult::Status::full,
                        log::cat("holds ", bytes_, " bytes; ", entry.size,
                                 " more would pass its bound of ", limits_.max_bytes));
        }
        ++reserved_entries_;
    }
    std::uint64_t size = 0;
    PutResult w = write_file(entry, message, &size);
    std::lock_guard lock(mutex_);
    --reserved_entries_;
    if (!w.ok()) {
        metrics::get(w.status == PutResult::Status::full ? "spool-full" : "spool-put-errors").inc();
        w.uuid = entry.uuid;
        return w;
    }
    add(entry.uuid, size);
    metrics::get("spool-puts").inc();
    note_level();
    r.status = PutResult::Status::ok;
    return r;
}

PutResult Spool::write_file(const Entry& entry, engines::MessageReader& message,
                            std::uint64_t* file_size) {
    PutResult r;
    const std::string tmp = dir_ + "/tmp/" + entry.uuid;
    const std::string dst = dir_ + "/new/" + entry.uuid;
    bool created = false;
    auto fail = [&](const std::string& what, int err) {
        r.status = is_full_errno(err) ? PutResult::Status::full : PutResult::Status::error;
        r.error = "spool " + dir_ + ": " + what + ": " + std::strerror(err);
        if (created) ::unlink(tmp.c_str());
        return r;
    };
    std::string error;
    std::string header = encode_header(entry, &error);
    if (header.empty()) {
        r.error = "spool " + dir_ + ": " + error;
        return r;
    }
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) return fail("create " + tmp, errno);
    created = true;
    std::uint32_t crc = crc32_update(0, header.data(), header.size());
    if (!write_all(fd.get(), header.data(), header.size())) return fail("write " + tmp, errno);
    std::uint64_t length = 0;
    std::string buf(kChunk, '\0');
    for (;;) {
        std::size_t n = message.read(buf.data(), buf.size());
        if (n == 0) break;
        crc = crc32_update(crc, buf.data(), n);
        if (!write_all(fd.get(), buf.data(), n)) return fail("write " + tmp, errno);
        length += n;
    }
    if (message.failed()) {
        r.error = "spool " + dir_ + ": reading the message: " + message.error();
        ::unlink(tmp.c_str());
        return r;
    }
    const std::string trailer = encode_trailer(length, crc);
    if (!write_all(fd.get(), trailer.data(), trailer.size())) return fail("write " + tmp, errno);
    if (::fsync(fd.get()) != 0) return fail("fsync " + tmp, errno);
    if (::close(fd.release()) != 0) return fail("close " + tmp, errno);
    const std::uint64_t size = header.size() + length + trailer.size();
    {
        std::lock_guard lock(mutex_);
        if (bytes_ + size > limits_.max_bytes) {
            ::unlink(tmp.c_str());
            note_full();
            r.status = PutResult::Status::full;
            r.error = log::cat("spool ", dir_, ": holds ", bytes_, " bytes; ", size,
                               " more would pass its bound of ", limits_.max_bytes);
            return r;
        }
    }
    if (::rename(tmp.c_str(), dst.c_str()) != 0) return fail("rename to " + dst, errno);
    if (!fsync_dir(dir_ + "/new")) {
        // Renamed but not known to be durable: take it back, so that what the caller hears
        // ("not stored", tempfail) is true.
        int err = errno;
        ::unlink(dst.c_str());
        return fail("fsync " + dir_ + "/new", err);
    }
    *file_size = size;
    r.status = PutResult::Status::ok;
    return r;
}

std::vector<SpoolItem> Spool::list(std::size_t limit) const {
    std::lock_guard lock(mutex_);
    std::vector<SpoolItem> out;
    for (auto it = order_.begin(); it != order_.end() && out.size() < limit; ++it)
        out.push_back(it->second);
    return out;
}

std::optional<SpoolEntry> Spool::read(const std::string& uuid, std::string* error,
                                      bool* damaged) const {
    const std::string path = dir_ + "/new/" + uuid;
    if (damaged) *damaged = false;
    auto io_fail = [&](const std::string& what) {
        if (error) *error = "spool " + path + ": " + what + ": " + std::strerror(errno);
        return std::nullopt;
    };
    auto bad = [&](const std::string& why) {
        if (error) *error = "spool " + path + ": damaged: " + why;
        if (damaged) *damaged = true;
        return std::nullopt;
    };
    if (!valid_uuid(uuid)) return bad("not a spool entry name");
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return io_fail("open");
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return io_fail("stat");
    const auto size = static_cast<std::uint64_t>(st.st_size);

    std::string head;
    std::optional<ParsedHeader> h;
    std::string why;
    for (std::size_t want = kChunk;; want *= 2) {
        want = static_cast<std::size_t>(std::min<std::uint64_t>({want, size, kMaxHeader}));
        head.resize(want);
        if (!pread_all(fd.get(), head.data(), want, 0)) return io_fail("read");
        h = parse_header(head, &why);
        if (h || why != "incomplete" || want == size || want == kMaxHeader) break;
    }
    if (!h) return bad(why == "incomplete" ? "the file ends inside its metadata" : why);
    if (h->entry.uuid != uuid) return bad("its uuid is " + h->entry.uuid);

    std::string tail(static_cast<std::size_t>(std::min<std::uint64_t>(size, kMaxTrailer)), '\0');
    if (!pread_all(fd.get(), tail.data(), tail.size(), size - tail.size())) return io_fail("read");
    auto t = parse_trailer(tail, &why);
    if (!t) return bad(why);
    if (h->length + t->length + t->size != size)
        return bad(log::cat("the end marker says ", t->length, " message bytes, the file holds ",
                            size >= h->length + t->size ? size - h->length - t->size : 0));
    std::uint32_t crc = 0;
    std::string buf(kChunk, '\0');
    for (std::uint64_t off = 0, end = size - t->size; off < end;) {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), end - off));
        if (!pread_all(fd.get(), buf.data(), n, off)) return io_fail("read");
        crc = crc32_update(crc, buf.data(), n);
        off += n;
    }
    if (crc != t->crc) return bad("checksum mismatch");

    SpoolEntry e;
    e.entry = std::move(h->entry);
    e.length = t->length;
    e.message = std::make_unique<FileReader>(std::move(fd), h->length, t->length, path);
    return e;
}

bool Spool::remove(const std::string& uuid) {
    if (!valid_uuid(uuid)) return false;
    bool gone = ::unlink((dir_ + "/new/" + uuid).c_str()) == 0;
    std::lock_guard lock(mutex_);
    auto it = seq_of_.find(uuid);
    if (it != seq_of_.end()) {
        auto o = order_.find(it->second);
        bytes_ -= o->second.bytes;
        metrics::get("spool-entries").dec();
        metrics::get("spool-bytes").dec(static_cast<std::int64_t>(o->second.bytes));
        order_.erase(o);
        seq_of_.erase(it);
        note_level();
    }
    return gone;
}

void Spool::set_aside(const std::string& name, const std::string& why) {
    const std::string from = dir_ + "/new/" + name;
    std::string to = dir_ + "/corrupt/" + name;
    struct stat st{};
    for (int i = 2; i < 1000 && ::lstat(to.c_str(), &st) == 0; ++i)
        to = dir_ + "/corrupt/" + name + "." + std::to_string(i);
    metrics::get("spool-corrupt").inc();
    if (::rename(from.c_str(), to.c_str()) != 0) {
        log::error(log::cat("spool ", dir_, ": cannot set aside new/", escape(name), " (", why,
                            "): rename: ", std::strerror(errno)));
    } else {
        fsync_dir(dir_ + "/corrupt");
        fsync_dir(dir_ + "/new");
        log::warning(log::cat("spool ", dir_, ": new/", escape(name), " set aside as ", to, ": ",
                              why));
    }
    std::lock_guard lock(mutex_);
    auto it = seq_of_.find(name);
    if (it == seq_of_.end()) return;
    auto o = order_.find(it->second);
    bytes_ -= o->second.bytes;
    metrics::get("spool-entries").dec();
    metrics::get("spool-bytes").dec(static_cast<std::int64_t>(o->second.bytes));
    order_.erase(o);
    seq_of_.erase(it);
    note_level();
}

void Spool::set_limits(Limits limits) {
    std::lock_guard lock(mutex_);
    limits_ = limits;
    note_level();
}

std::uint64_t Spool::entries() const {
    std::lock_guard lock(mutex_);
    return order_.size();
}

std::uint64_t Spool::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

}  // namespace mpp::store
