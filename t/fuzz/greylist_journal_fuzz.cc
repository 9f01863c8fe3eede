// t/fuzz/greylist_journal_fuzz.cc: libFuzzer target for the greylist journal decoder
// (policy/greylist_store.h), which reads whatever a crash, a full disk or a stray editor left in
// the state-dir, and for the sender normalisation of the greylist key (untrusted MAIL FROM).
//
// Input: the bytes of a journal file. Invariants (a violation aborts): the scan never reads past
// the data; a scan that reports no error consumed everything; every record handed out decodes
// to a known kind; normalise_sender never makes its input longer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/greylist_store.h"
#include "policy/sender_normalise.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::size_t seen = 0;
    auto scan = mpp::policy::scan_journal(input, [&](const mpp::policy::GreyRecord& r) {
        check(r.kind == mpp::policy::GreyKind::triplet || r.kind == mpp::policy::GreyKind::network);
        check(r.entry.passed <= 1);
        ++seen;
    });
    check(seen == scan.records);
    check(scan.stop_offset <= size);
    if (!scan.bad_header && !scan.torn && !scan.corrupt) check(scan.stop_offset == size);
    check(mpp::policy::normalise_sender(input).size() <= size);
    return 0;
}
