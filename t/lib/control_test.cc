#include <gtest/gtest.h>
#include "lib/control.h"
TEST(Control, Placeholder) { EXPECT_TRUE(mpp::control::decode_request("status").has_value()); }
