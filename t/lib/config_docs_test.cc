// t/lib/config_docs_test.cc: the man page (docs/mppd.conf.xml.5) and the sample
// (etc/mppd.conf.xml) cannot drift from the schema: every element has its man page section
// and every attribute its entry with the schema's type and default line; the man page has no
// section the schema lacks; the sample mentions every element and attribute, loads without
// errors, and is the loopback setup a newcomer starts with.
// Files are read from the source tree: $MPP_TOP_SRCDIR (set by `make check`), else the
// directory this file was compiled from.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lib/config.h"
#include "lib/config_schema.h"

using namespace mpp::config;
using namespace mpp::config::schema;

namespace {

std::string top_srcdir() {
    if (const char* env = std::getenv("MPP_TOP_SRCDIR"); env && *env) return env;
    std::string file = __FILE__;
    auto pos = file.rfind("t/lib/config_docs_test.cc");
    std::string dir = pos == std::string::npos ? "" : file.substr(0, pos);
    return dir.empty() ? "." : dir;
}

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> man_lines() {
    std::string text = read(top_srcdir() + "/docs/mppd.conf.xml.5");
    std::string plain;
    for (std::size_t i = 0; i < text.size(); ++i) {  // roff "\-" is a plain '-'
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '-') {
            plain += '-';
            ++i;
        } else
            plain += text[i];
    }
    std::vector<std::string> lines;
    std::istringstream is(plain);
    for (std::string l; std::getline(is, l);) lines.push_back(l);
    return lines;
}

}  // namespace

TEST(ConfigDocs, ManPageHasEveryElementAndAttribute) {
    auto lines = man_lines();
    ASSERT_GT(lines.size(), 100u) << "docs/mppd.conf.xml.5 not found under " << top_srcdir();
    for (const auto& e : elements()) {
        std::string heading = ".SS " + e.heading();
        auto start = std::find(lines.begin(), lines.end(), heading);
        ASSERT_NE(start, lines.end()) << "man page: no section \"" << heading << "\"";
        auto end = std::find_if(start + 1, lines.end(), [](const std::string& l) {
            return l.rfind(".SS ", 0) == 0 || l.rfind(".SH ", 0) == 0;
        });
        if (!e.built) {
            EXPECT_NE(
                std::find(start, end,
                          "Not implemented in this version: read and checked, with a warning."),
                end)
                << heading << ": should say it is not implemented yet";
        }
        for (const auto& a : e.attrs) {
            auto entry = std::find(start, end, ".B " + std::string(a.name));
            ASSERT_NE(entry, end) << heading << ": no entry \".B " << a.name << "\"";
            ASSERT_NE(entry + 1, end);
            EXPECT_EQ(*(entry + 1), ".I \"" + summary(a) + ".\"") << heading << " " << a.name;
        }
    }
}

TEST(ConfigDocs, ManPageHasNoStaleElements) {
    std::set<std::string> headings;
    for (const auto& e : elements()) headings.insert(".SS " + e.heading());
    bool in_elements = false;
    for (const auto& l : man_lines()) {
        if (l.rfind(".SH ", 0) == 0) in_elements = l == ".SH ELEMENTS";
        if (in_elements && l.rfind(".SS ", 0) == 0) {
            EXPECT_TRUE(headings.count(l)) << "man page section for no element: " << l;
        }
    }
}

TEST(ConfigDocs, SampleMentionsEveryElementAndAttribute) {
    std::string sample = read(top_srcdir() + "/etc/mppd.conf.xml");
    ASSERT_FALSE(sample.empty());
    // Attributes written in any tag of each element name, commented out or not.
    std::map<std::string, std::set<std::string>> seen;
    std::regex tag(R"(<([a-z][a-z-]*)([\s/>]))");
    std::regex attr(R"(([a-z][a-z0-9-]*)=")");
    for (auto it = std::sregex_iterator(sample.begin(), sample.end(), tag);
         it != std::sregex_iterator(); ++it) {
        std::string name = (*it)[1];
        auto& attrs = seen[name];
        std::size_t from = static_cast<std::size_t>(it->position(2));
        std::size_t to = sample.find('>', from);
        std::string body =
            sample.substr(from, to == std::string::npos ? std::string::npos : to - from);
        for (auto a = std::sregex_iterator(body.begin(), body.end(), attr);
             a != std::sregex_iterator(); ++a)
            attrs.insert((*a)[1]);
    }
    for (const auto& e : elements()) {
        std::string name(e.name);
        ASSERT_TRUE(seen.count(name)) << "sample: no <" << name << ">";
        for (const auto& a : e.attrs)
            EXPECT_TRUE(seen[name].count(std::string(a.name)))
                << "sample: " << e.heading() << " attribute " << a.name;
    }
}

TEST(ConfigDocs, SampleLoadsAsTheLoopbackStarter) {
    LoadResult r = load_file(top_srcdir() + "/etc/mppd.conf.xml");
    std::string all;
    for (const auto& d : r.diagnostics) all += d.str() + "\n";
    ASSERT_TRUE(r.ok()) << all;
    for (const auto& d : r.diagnostics)
        EXPECT_NE(d.message.find("is not implemented in this version"), std::string::npos)
            << d.str();
    const Config& c = *r.config;
    EXPECT_EQ(c.milter.socket, "inet:10025@127.0.0.1");
    EXPECT_EQ(c.policy_server.listen, "127.0.0.1:10031");
    EXPECT_EQ(c.store.database, "");
    EXPECT_EQ(c.daemon.user, "mpp");
    EXPECT_EQ(c.daemon.pidfile, MPP_RUNSTATEDIR "/mppd/mppd.pid");
    EXPECT_EQ(c.control.socket, MPP_RUNSTATEDIR "/mppd/control.sock");
    EXPECT_EQ(c.default_group().name, "default");
    EXPECT_FALSE(c.default_group().implied);
}
