// policy/sender_normalise.h: the envelope sender as the greylist keys it. Mailing lists, bounce
// address tagging and forwarders put a fresh tag into the sender of every message; without
// normalisation every message of such a sender would be a new triplet and be greylisted again.
//
// Steps, in this order, each switchable:
//   lower     the whole address to lower case (ASCII only; other bytes are kept)
//   srs       SRS0=HHH=TT=domain=local@forwarder -> local@domain; SRS1=HHH=fwd==HHH=TT=domain=
//             local@forwarder2 -> local@domain (separators '=', '+' or '-' after SRS0/SRS1)
//   batv      prvs=TAG=local@ (tag: a digit, 3 digits, 6 hex digits; also the older
//             prvs=local=TAG@), msprvs1=TAG=local@ and btv1==TAG==local@ -> local@
//   extension local+anything@ -> local@ (from the first '+')
//   verp      every run of digits that is a whole word of the local part (bounded by
//             non-alphanumerics) becomes '#', as postgrey does: bounce-12345-678@ -> bounce-#-#@
// The null sender ("") stays "". An address without '@' is all local part. Pure functions, any
// thread; the result is never longer than the input.
#pragma once

#include <string>
#include <string_view>

namespace mpp::policy {

struct SenderNormalise {
    bool lower = true;
    bool srs = true;
    bool batv = true;
    bool extension = true;
    bool verp = true;
};

std::string normalise_sender(std::string_view sender, const SenderNormalise& how = {});

}  // namespace mpp::policy
