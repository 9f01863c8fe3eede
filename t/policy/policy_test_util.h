// t/policy/policy_test_util.h: helpers shared by the policy unit tests: a config snapshot from
// XML text (failing the test on any error) and a Transaction builder.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "lib/config.h"
#include "policy/transaction.h"

namespace mpp::policy::test {

inline std::shared_ptr<const config::Config> load(const std::string& body) {
    config::LoadResult r = config::load_string("<mppd>\n" + body + "\n</mppd>\n", "t.xml");
    std::string diags;
    for (const auto& d : r.diagnostics)
        if (d.severity == config::Diagnostic::Severity::error) diags += d.str() + "\n";
    EXPECT_TRUE(r.ok()) << diags;
    return r.config ? r.config : std::make_shared<const config::Config>();
}

inline Transaction tx(const std::string& client, const std::string& sender,
                      const std::string& rcpt, const std::string& sasl = "",
                      const std::string& instance = "") {
    Transaction t;
    t.stage = Stage::rcpt;
    t.client = IpAddr::parse(client);
    t.client_address = client;
    t.client_name = "unknown";
    t.sender = sender;
    t.recipient = rcpt;
    t.sasl_username = sasl;
    t.instance = instance;
    t.queue_id = "4XyZ1";
    return t;
}

}  // namespace mpp::policy::test
