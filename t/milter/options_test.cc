// t/milter/options_test.cc: mppd's command line.
#include "milter/options.h"

#include <gtest/gtest.h>

using mpp::milter::parse_options;

TEST(Options, DefaultsToTheCompiledInConfig) {
    std::string err;
    auto o = parse_options({}, &err);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->config_path, std::string(MPP_SYSCONFDIR) + "/mpp/mppd.conf.xml");
    EXPECT_FALSE(o->foreground);
    EXPECT_FALSE(o->check_only);
}

TEST(Options, FlagsSeparateGroupedAndAttached) {
    std::string err;
    auto o = parse_options({"-f", "-c", "/tmp/x.xml"}, &err);
    ASSERT_TRUE(o) << err;
    EXPECT_TRUE(o->foreground);
    EXPECT_EQ(o->config_path, "/tmp/x.xml");

    o = parse_options({"-ftc-"}, &err);
    ASSERT_TRUE(o) << err;
    EXPECT_TRUE(o->foreground);
    EXPECT_TRUE(o->check_only);
    EXPECT_EQ(o->config_path, "-");

    o = parse_options({"-V"}, &err);
    ASSERT_TRUE(o);
    EXPECT_TRUE(o->version);
}

TEST(Options, BadCommandLinesSayWhy) {
    std::string err;
    EXPECT_FALSE(parse_options({"-c"}, &err));
    EXPECT_NE(err.find("-c needs"), std::string::npos);
    EXPECT_FALSE(parse_options({"-x"}, &err));
    EXPECT_EQ(err, "unknown option -x");
    EXPECT_FALSE(parse_options({"file.xml"}, &err));
    EXPECT_NE(err.find("unexpected argument"), std::string::npos);
    EXPECT_FALSE(parse_options({"-c", ""}, &err));
}
