// t/milter/filter_test_util.h: what the milter filter tests share: a recording MilterContext
// (the MTA side; also the only way to make an smfi_* call fail, which no real MTA does on
// demand), argv as libmilter passes it, a log captured to a temp file, and a Rig (config
// holder, filter context, a real policy::Checks with the greylist in memory).
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "lib/log.h"
#include "milter/filter.h"
#include "t/policy/policy_test_util.h"

namespace mpp::milter::test {

using policy::test::load;

struct FakeContext : MilterContext {
    std::map<std::string, std::string> macros;
    std::vector<std::tuple<std::string, std::string, std::string>> replies;
    std::vector<std::tuple<int, std::string, std::string>> headers;
    std::vector<std::pair<int, std::string>> symlists;
    std::vector<std::string> removed;  // delete_recipient, in order
    std::vector<std::tuple<std::string, int, std::string>> changed;  // change_header
    bool fail_reply = false;
    bool fail_header = false;
    bool fail_delete = false;

    std::string macro(const char* name) override {
        auto it = macros.find(name);
        return it == macros.end() ? "" : it->second;
    }
    bool set_reply(const std::string& code, const std::string& dsn,
                   const std::string& text) override {
        replies.emplace_back(code, dsn, text);
        return !fail_reply;
    }
    bool insert_header(int index, const std::string& name, const std::string& value) override {
        if (fail_header) return false;
        headers.emplace_back(index, name, value);
        return true;
    }
    bool change_header(const std::string& name, int index, const std::string& value) override {
        if (fail_header) return false;
        changed.emplace_back(name, index, value);
        return true;
    }
    bool delete_recipient(const std::string& recipient) override {
        if (fail_delete) return false;
        removed.push_back(recipient);
        return true;
    }
    bool request_macros(int stage, const std::string& names) override {
        symlists.emplace_back(stage, names);
        return true;
    }
};

// argv as libmilter passes it: NULL-terminated C strings.
struct Argv {
    std::vector<std::string> s;
    std::vector<char*> p;
    Argv(std::initializer_list<std::string> args) : s(args) {
        for (auto& a : s) p.push_back(a.data());
        p.push_back(nullptr);
    }
    char** get() { return p.data(); }
};

inline sockaddr_in ipv4(const char* addr) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sa.sin_addr);
    return sa;
}

// The log written to a file of a fresh temp dir while the object lives.
struct LogCapture {
    std::filesystem::path dir;
    LogCapture() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mpp-filter-XXXXXX").string();
        dir = ::mkdtemp(tmpl.data()) ? tmpl : "";
        log::Options o;
        o.file = (dir / "log").string();
        o.level = log::Level::info;
        log::configure(o);
    }
    ~LogCapture() {
        log::configure(log::Options{});
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string text() const {
        std::ifstream in(dir / "log");
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

// A daemon's milter side: config holder, filter context, the real engine.
struct Rig {
    config::ConfigHolder holder;
    FilterContext context{&holder};
    std::shared_ptr<policy::Checks> checks;
    Filter filter{context};

    explicit Rig(const std::string& xml, bool policy_server = false, bool engine = true)
        : holder(load(xml)) {
        if (engine) checks = std::make_shared<policy::Checks>(holder.current(), "");
        context.set_checks(checks, policy_server);
    }

    // Negotiated (Postfix offers everything) and connected from `addr`.
    std::unique_ptr<Session> session(FakeContext& mc, const char* name, const char* addr) {
        auto s = filter.open_session();
        filter.negotiate(*s, mc, 0x1FF, 0x1FFFFF);
        sockaddr_in sa = ipv4(addr);
        EXPECT_EQ(filter.connect(*s, mc, name, reinterpret_cast<sockaddr*>(&sa)), SMFIS_CONTINUE);
        EXPECT_EQ(filter.helo(*s, "helo.example"), SMFIS_NOREPLY);
        return s;
    }

    sfsistat mail(Session& s, FakeContext& mc, const std::string& from) {
        Argv a{"<" + from + ">"};
        return filter.mail(s, mc, a.get());
    }
    sfsistat rcpt(Session& s, FakeContext& mc, const std::string& to) {
        Argv a{"<" + to + ">"};
        return filter.rcpt(s, mc, a.get());
    }
    sfsistat header(Session& s, FakeContext& mc, const char* name, const char* value) {
        return filter.header(s, mc, name, value);
    }
    sfsistat body(Session& s, FakeContext& mc, const std::string& chunk) {
        return filter.body(s, mc, chunk);
    }
};

}  // namespace mpp::milter::test
