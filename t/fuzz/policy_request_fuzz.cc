// t/fuzz/policy_request_fuzz.cc: libFuzzer target for the Postfix policy request parser
// (policy/policy_request.h), which reads whatever a peer of the policy server sends.
//
// Input: the bytes of a connection. They are parsed twice: fed whole, and fed in chunks of
// varying size (1 byte up to a few hundred, the sizes drawn from a generator seeded by the
// input), each complete request taken and mapped to a Transaction. Invariants (a violation
// aborts): a step never consumes more than it was given; need_more consumes everything; a
// complete request is an smtpd_access_policy request with a known protocol_state and at most
// kMaxAttributes attribute lines; a malformed parser has an error (of bounded length: the
// offending input is quoted cut) and stays malformed; a parser holding a complete request
// consumes nothing more until take(); and the chunking changes nothing: both runs see the same
// requests and end in the same state with the same error.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy_request.h"

namespace {

using mpp::policy::PolicyRequest;
using mpp::policy::PolicyRequestParser;

void check(bool ok) {
    if (!ok) std::abort();
}

struct Outcome {
    std::vector<std::string> requests;  // the fields of each complete request, joined
    PolicyRequestParser::Status last = PolicyRequestParser::Status::need_more;
    std::string error;
};

std::string summary(const PolicyRequest& r) {
    std::string s;
    for (const std::string* f : {&r.protocol_state, &r.client_address, &r.client_name, &r.helo_name,
                                 &r.sender, &r.recipient, &r.size, &r.recipient_count, &r.queue_id,
                                 &r.instance, &r.sasl_username})
        s += *f + '\x1f';
    s += std::to_string(r.attributes);
    return s;
}

// Feeds data in chunks whose sizes come from next_size(); every complete request is taken.
template <typename NextSize>
Outcome run(std::string_view data, NextSize next_size) {
    Outcome out;
    PolicyRequestParser p;
    std::size_t pos = 0;
    std::string_view chunk;
    while (pos < data.size() || !chunk.empty()) {
        if (chunk.empty()) {
            const std::size_t n = std::min(next_size(), data.size() - pos);
            chunk = data.substr(pos, n);
            pos += n;
        }
        const auto step = p.feed(chunk);
        check(step.consumed <= chunk.size());
        out.last = step.status;
        if (step.status == PolicyRequestParser::Status::malformed) {
            check(!p.error().empty());
            check(p.error().size() <= 400);
            const auto again = p.feed(chunk.substr(step.consumed));
            check(again.status == PolicyRequestParser::Status::malformed && again.consumed == 0);
            out.error = p.error();
            return out;
        }
        if (step.status == PolicyRequestParser::Status::need_more) {
            check(step.consumed == chunk.size());
            check(p.error().empty());
            chunk = {};
            continue;
        }
        // complete
        check(step.consumed > 0);
        const auto held = p.feed(chunk.substr(step.consumed));
        check(held.status == PolicyRequestParser::Status::complete && held.consumed == 0);
        const PolicyRequest r = p.take();
        check(!p.in_request());
        check(r.request == "smtpd_access_policy");
        check(mpp::policy::parse_stage(r.protocol_state).has_value());
        check(r.attributes >= 2 && r.attributes <= PolicyRequestParser::kMaxAttributes);
        const auto t = mpp::policy::to_transaction(r);
        check(t.client_address == r.client_address && t.sender == r.sender &&
              t.recipient == r.recipient);
        out.requests.push_back(summary(r));
        chunk = chunk.substr(step.consumed);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    const Outcome whole = run(input, [&] { return input.size() + 1; });

    std::uint32_t x = 2166136261u;  // FNV-1a of the input seeds the chunk sizes
    for (unsigned char c : input) x = (x ^ c) * 16777619u;
    const Outcome chunked = run(input, [&] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const std::uint32_t r = x % 16;
        return static_cast<std::size_t>(r < 8 ? 1 + r : r < 14 ? 1 + x % 64 : 1 + x % 512);
    });

    check(whole.requests == chunked.requests);
    check(whole.last == chunked.last);
    check(whole.error == chunked.error);
    return 0;
}
