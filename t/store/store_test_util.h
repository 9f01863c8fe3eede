// t/store/store_test_util.h: what the spool, maildir, drainer, release and verb tests share: a
// sample entry and message, the names in a directory, and a message reader that fails or looks
// at the spool while it is being read.
#pragma once

#include <dirent.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "engines/scanner.h"
#include "store/entry.h"

namespace mpp::testing {

inline store::Entry sample_entry(std::vector<std::string> rcpts = {"bob@example.com"}) {
    store::Entry e;
    e.kind = store::EntryKind::quarantine;
    e.received = 1700000000;  // 2023-11-14T22:13:20Z
    e.queue_id = "4XyZ1AbC";
    e.message_id = "<m1@example.org>";
    e.subject = "Cheap watches";
    e.client_ip = "192.0.2.7";
    e.client_name = "mail.example.org";
    e.helo = "mail.example.org";
    e.sender = "alice@example.org";
    for (auto& r : rcpts) e.recipients.push_back({r, "default"});
    e.size = 0;
    e.score = 7.5;
    e.checks = "spamd:sa(7.5)";
    e.verdict = "quarantine";
    e.reason = "spam";
    e.config_revision = "3f2a9c1d";
    return e;
}

inline std::string sample_message(const std::string& subject = "Cheap watches") {
    return "From: alice@example.org\r\nTo: bob@example.com\r\nSubject: " + subject +
           "\r\nMessage-ID: <m1@example.org>\r\n\r\nBuy now.\r\n.dot line\r\n";
}

// The names in `dir` (sorted), without . and ..; empty when it can't be read.
inline std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* de = ::readdir(d)) {
            std::string n = de->d_name;
            if (n != "." && n != "..") out.push_back(n);
        }
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A reader over `bytes` that calls `on_read` before each read and fails after `fail_after`
// bytes (never when it is npos).
class ProbeReader final : public engines::MessageReader {
public:
    ProbeReader(std::string bytes, std::function<void()> on_read = {},
                std::size_t fail_after = std::string::npos)
        : bytes_(std::move(bytes)), on_read_(std::move(on_read)), fail_after_(fail_after) {}
    std::size_t read(char* out, std::size_t n) override {
        if (on_read_) on_read_();
        if (pos_ >= fail_after_) {
            failed_ = true;
            return 0;
        }
        n = std::min({n, bytes_.size() - pos_, fail_after_ - pos_, std::size_t{7}});
        std::copy_n(bytes_.data() + pos_, n, out);
        pos_ += n;
        return n;
    }
    bool failed() const override { return failed_; }
    std::string error() const override { return failed_ ? "the test's reader failed" : ""; }

private:
    std::string bytes_;
    std::function<void()> on_read_;
    std::size_t fail_after_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};

// Everything a reader yields.
inline std::string read_all(engines::MessageReader& r) {
    std::string out;
    char buf[4096];
    for (std::size_t n; (n = r.read(buf, sizeof buf)) > 0;) out.append(buf, n);
    return out;
}

}  // namespace mpp::testing
