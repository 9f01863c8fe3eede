// policy/state_file.cc: framing and file helpers of the state files (see state_file.h).
#include "policy/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "lib/fd.h"

namespace mpp::policy {

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

namespace state {

void put_u8(std::string& b, std::uint8_t v) { b.push_back(static_cast<char>(v)); }
void put_u16(std::string& b, std::uint16_t v) {
    for (int i = 0; i < 2; ++i) b.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u32(std::string& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u64(std::string& b, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>(v >> (8 * i)));
}

std::uint64_t get_le(const std::uint8_t* p, int n) {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

void frame(std::string& out, std::string_view payload) {
    put_u32(out, static_cast<std::uint32_t>(payload.size()));
    put_u32(out, crc32(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()));
    out += payload;
}

std::uint64_t Reader::num(int bytes) {
    if (!ok_ || n_ - off_ < static_cast<std::size_t>(bytes)) {
        ok_ = false;
        return 0;
    }
    std::uint64_t v = get_le(p_ + off_, bytes);
    off_ += static_cast<std::size_t>(bytes);
    return v;
}

std::string_view Reader::str(std::size_t len) {
    if (!ok_ || n_ - off_ < len) {
        ok_ = false;
        return {};
    }
    std::string_view v(reinterpret_cast<const char*>(p_ + off_), len);
    off_ += len;
    return v;
}

bool read_file(const std::string& path, std::string& out, std::size_t max_size) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) > max_size) {
        errno = EFBIG;
        return false;
    }
    if (st.st_size > 0) out.reserve(out.size() + static_cast<std::size_t>(st.st_size));
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) return true;
        if (out.size() + static_cast<std::size_t>(n) > max_size) {
            errno = EFBIG;
            return false;
        }
        out.append(buf, static_cast<std::size_t>(n));
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

bool fsync_dir(const std::string& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return fd && ::fsync(fd.get()) == 0;
}

bool write_atomic(const std::string& dir, const std::string& name, std::string_view bytes,
                  std::string* error) {
    const std::string path = dir + "/" + name;
    const std::string tmp = path + ".tmp";
    auto fail = [&](const char* what, const std::string& file) {
        if (error) *error = std::string(what) + " " + file + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    };
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return fail("create", tmp);
    if (!write_all(fd.get(), bytes)) return fail("write", tmp);
    if (::fsync(fd.get()) != 0) return fail("fsync", tmp);
    if (::close(fd.release()) != 0) return fail("close", tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename to", path);
    if (!fsync_dir(dir)) {
        if (error) *error = "fsync " + dir + ": " + std::strerror(errno);
        return false;  // renamed, but not yet durable
    }
    return true;
}

std::string set_aside(const std::string& path) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    std::string aside = path + ".corrupt-" + std::to_string(now);
    return ::rename(path.c_str(), aside.c_str()) == 0 ? aside : std::string();
}

}  // namespace state
}  // namespace mpp::policy
