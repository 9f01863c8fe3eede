// t/policy/sender_normalise_test.cc: each normalisation step of the greylist's sender key, on
// and off, and malformed tags left alone.
#include "policy/sender_normalise.h"

#include <gtest/gtest.h>

namespace {

using mpp::policy::normalise_sender;
using mpp::policy::SenderNormalise;

struct Case {
    const char* in;
    const char* out;
};

TEST(SenderNormalise, AllStepsOn) {
    const Case cases[] = {
        {"", ""},
        {"User@Example.COM", "user@example.com"},
        {"prvs=1234abcdef=user@example.com", "user@example.com"},
        {"PRVS=0123456789=User@Example.com", "user@example.com"},
        {"prvs=user=1234abcdef@example.com", "user@example.com"},
        {"msprvs1=17500AbCdE=user@example.com", "user@example.com"},
        {"btv1==0123abcd==user@example.com", "user@example.com"},
        {"SRS0=HHH=TT=orig.example=alice@forwarder.example", "alice@orig.example"},
        {"srs0+hhh=tt=orig.example=alice@forwarder.example", "alice@orig.example"},
        {"SRS1=HHH=fwd1.example==HHH=TT=orig.example=alice@fwd2.example", "alice@orig.example"},
        {"user+list-42@example.com", "user@example.com"},
        {"bounce-12345-678@lists.example.com", "bounce-#-#@lists.example.com"},
        {"news2024@example.com", "news2024@example.com"},
        {"12345@example.com", "#@example.com"},
        {"a.123.b@host123.example", "a.#.b@host123.example"},
        {"nodomain+ext", "nodomain"},
        {"+onlyext@example.com", "+onlyext@example.com"},
        {"SRS0=broken@example.com", "srs0=broken@example.com"},
        {"prvs=@example.com", "prvs=@example.com"},
        {"btv1==notag@example.com", "btv1==notag@example.com"},
        // SRS and BATV together: a forwarded tagged bounce address
        {"SRS0=h=t=orig.example=prvs=1234abcdef=bob@fwd.example", "bob@orig.example"},
    };
    for (const Case& c : cases) EXPECT_EQ(normalise_sender(c.in), c.out) << c.in;
}

TEST(SenderNormalise, EachStepCanBeSwitchedOff) {
    SenderNormalise none{false, false, false, false, false};
    EXPECT_EQ(normalise_sender("PRVS=1234abcdef=U+x-12@E.com", none), "PRVS=1234abcdef=U+x-12@E.com");

    SenderNormalise no_lower;
    no_lower.lower = false;
    EXPECT_EQ(normalise_sender("User@Example.COM", no_lower), "User@Example.COM");

    SenderNormalise no_srs;
    no_srs.srs = false;
    no_srs.verp = false;
    EXPECT_EQ(normalise_sender("SRS0=H=T=o.example=a@f.example", no_srs), "srs0=h=t=o.example=a@f.example");

    SenderNormalise no_batv;
    no_batv.batv = false;
    no_batv.verp = false;
    EXPECT_EQ(normalise_sender("prvs=1234abcdef=u@e.com", no_batv), "prvs=1234abcdef=u@e.com");

    SenderNormalise no_ext;
    no_ext.extension = false;
    EXPECT_EQ(normalise_sender("u+tag@e.com", no_ext), "u+tag@e.com");

    SenderNormalise no_verp;
    no_verp.verp = false;
    EXPECT_EQ(normalise_sender("bounce-123@e.com", no_verp), "bounce-123@e.com");
}

TEST(SenderNormalise, DomainIsNeverRewrittenByVerp) {
    EXPECT_EQ(normalise_sender("x-1@123.example"), "x-#@123.example");
}

}  // namespace
