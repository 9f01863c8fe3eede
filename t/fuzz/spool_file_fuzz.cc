// t/fuzz/spool_file_fuzz.cc: libFuzzer target for the spool file format (store/spool_format.h),
// what mppd reads back from disk after a crash (RELIABILITY B18).
//
// Input: the bytes of one spool file. The metadata and end-marker parsers must return a value or
// nullopt with an error, never crash, and (a violation aborts, so the fuzzer reports it):
//   - an accepted metadata block encodes again (encode_header) and that parses to the same
//     entry; unescape(escape(x)) == x for every value;
//   - an accepted end marker lies within the input; its length and checksum print back as the
//     same line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/spool_format.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool same(const mpp::store::Entry& a, const mpp::store::Entry& b) {
    if (a.recipients.size() != b.recipients.size()) return false;
    for (std::size_t i = 0; i < a.recipients.size(); ++i)
        if (a.recipients[i].address != b.recipients[i].address ||
            a.recipients[i].group != b.recipients[i].group)
            return false;
    return a.uuid == b.uuid && a.kind == b.kind && a.received == b.received &&
           a.queue_id == b.queue_id && a.message_id == b.message_id && a.subject == b.subject &&
           a.client_ip == b.client_ip && a.client_name == b.client_name && a.helo == b.helo &&
           a.sender == b.sender && a.size == b.size && a.score == b.score &&
           a.checks == b.checks && a.verdict == b.verdict && a.reason == b.reason &&
           a.config_revision == b.config_revision;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string error;
    auto h = mpp::store::parse_header(input, &error);
    check(h.has_value() == error.empty());
    if (h) {
        check(h->length <= input.size());
        std::string again = mpp::store::encode_header(h->entry, &error);
        if (!again.empty()) {
            std::string why;
            auto back = mpp::store::parse_header(again, &why);
            check(back.has_value() && back->length == again.size() && same(back->entry, h->entry));
        }
    }
    const auto tail = input.substr(input.size() > mpp::store::kMaxTrailer
                                       ? input.size() - mpp::store::kMaxTrailer
                                       : 0);
    error.clear();
    auto t = mpp::store::parse_trailer(tail, &error);
    check(t.has_value() == error.empty());
    if (t) {
        check(t->size <= tail.size());
        check(mpp::store::encode_trailer(t->length, t->crc).size() <= t->size);
    }
    auto u = mpp::store::unescape(mpp::store::escape(input, " =|"));
    check(u.has_value() && *u == input);
    return 0;
}
