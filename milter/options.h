// milter/options.h: mppd's command line.
//
//   mppd [-f] [-c FILE|-] [-t] [-V] [-h]
// -c FILE  configuration (default SYSCONFDIR/mpp/mppd.conf.xml; "-" reads standard input)
// -f       stay in the foreground and log to standard error as well
// -t       check the configuration, print every diagnostic, exit 0 (OK) or 1 (errors)
// -V       print the version of mppd and of the libraries it was built with
// -h       usage
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mpp::milter {

// Exit codes of mppd (and of mppctl where they apply).
enum ExitCode : int {
    kExitOk = 0,
    kExitConfig = 1,   // the configuration has errors
    kExitRuntime = 2,  // could not bind, drop privileges, write the pidfile...
    kExitUsage = 64,   // EX_USAGE
};

struct Options {
    std::string config_path;
    bool foreground = false;
    bool check_only = false;
    bool version = false;
    bool help = false;
};

std::string default_config_path();
std::string usage_text();

// nullopt and *error on a bad command line.
std::optional<Options> parse_options(const std::vector<std::string>& args, std::string* error);

}  // namespace mpp::milter
