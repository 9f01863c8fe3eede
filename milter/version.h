// milter/version.h: `mppd -V`: mppd's version and those of the libraries it runs with.
#pragma once

#include <string>

namespace mpp::milter {

// "mppd 0.1.0\nlibmilter 1.0.2\nlibevent 2.1.12-stable\n..." (one "name version" per line).
std::string version_report();

}  // namespace mpp::milter
