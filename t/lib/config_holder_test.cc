// t/lib/config_holder_test.cc: reload swaps a valid snapshot in and keeps the old one on error.
#include "lib/config_holder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace {

std::string write_config(const std::string& name, const std::string& text) {
    auto path = std::filesystem::temp_directory_path() /
                ("mpp-holder-" + std::to_string(::getpid()) + "-" + name + ".xml");
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0644);
    return path.string();
}

const char* kGood = R"(<mppd>
  <milter socket="inet:10025@127.0.0.1"/>
</mppd>
)";
const char* kGood2 = R"(<mppd>
  <milter socket="inet:10026@127.0.0.1"/>
</mppd>
)";
const char* kBad = R"(<mppd>
  <milter socket="inet:10025@127.0.0.1"/>
  <no-such-element/>
</mppd>
)";

}  // namespace

TEST(ConfigHolder, ReloadSwapsAValidConfig) {
    std::string path = write_config("swap", kGood);
    auto first = mpp::config::load_file(path);
    ASSERT_TRUE(first.ok());
    mpp::config::ConfigHolder holder(first.config);
    auto pinned = holder.current();  // a transaction in flight

    std::ofstream(path) << kGood2;
    auto r = holder.reload();
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(holder.current()->milter.socket, "inet:10026@127.0.0.1");
    EXPECT_NE(holder.current()->revision, pinned->revision);
    EXPECT_EQ(r.revision, holder.current()->revision);
    EXPECT_EQ(pinned->milter.socket, "inet:10025@127.0.0.1") << "work in flight keeps its snapshot";
    EXPECT_EQ(holder.reloads(), 1u);
    EXPECT_EQ(holder.reload_failures(), 0u);
    ::unlink(path.c_str());
}

TEST(ConfigHolder, ReloadKeepsTheOldSnapshotOnError) {
    std::string path = write_config("keep", kGood);
    auto first = mpp::config::load_file(path);
    ASSERT_TRUE(first.ok());
    mpp::config::ConfigHolder holder(first.config);
    const auto before = holder.current();

    std::ofstream(path) << kBad;
    auto r = holder.reload();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(holder.current(), before) << "the very same snapshot stays live";
    EXPECT_EQ(r.revision, before->revision);
    ASSERT_FALSE(r.diagnostics.empty());
    EXPECT_EQ(r.diagnostics[0].line, 3);
    EXPECT_NE(r.diagnostics[0].str().find(path + ":3:"), std::string::npos) << r.diagnostics[0].str();
    EXPECT_EQ(holder.reload_failures(), 1u);
    EXPECT_EQ(holder.reloads(), 0u);

    ::unlink(path.c_str());  // a missing file is an error too, and changes nothing
    r = holder.reload();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(holder.current(), before);
    EXPECT_EQ(holder.reload_failures(), 2u);
}

TEST(ConfigHolder, ConfigFromStandardInputCannotBeReRead) {
    auto loaded = mpp::config::load_string(kGood, "-");
    ASSERT_TRUE(loaded.ok());
    mpp::config::ConfigHolder holder(loaded.config);
    auto r = holder.reload();
    EXPECT_FALSE(r.ok);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_NE(r.diagnostics[0].message.find("standard input"), std::string::npos);
    EXPECT_EQ(holder.current(), loaded.config);
}
