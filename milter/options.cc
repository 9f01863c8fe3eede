// milter/options.cc: mppd's command line (see options.h).
#include "milter/options.h"

namespace mpp::milter {

std::string default_config_path() { return std::string(MPP_SYSCONFDIR) + "/mpp/mppd.conf.xml"; }

std::string usage_text() {
    return "usage: mppd [-f] [-c FILE|-] [-t] [-V] [-h]\n"
           "  -c FILE  configuration file (default " + default_config_path() + "; - for stdin)\n"
           "  -f       stay in the foreground, log to standard error too\n"
           "  -t       check the configuration and exit (0: OK, 1: errors)\n"
           "  -V       print versions and exit\n"
           "  -h       this help\n";
}

std::optional<Options> parse_options(const std::vector<std::string>& args, std::string* error) {
    Options o;
    o.config_path = default_config_path();
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.size() < 2 || a[0] != '-') {
            *error = "unexpected argument \"" + a + "\"";
            return std::nullopt;
        }
        // Flags may be grouped ("-ft"); -c takes the rest of its word or the next one.
        for (std::size_t j = 1; j < a.size(); ++j) {
            switch (a[j]) {
            case 'f': o.foreground = true; break;
            case 't': o.check_only = true; break;
            case 'V': o.version = true; break;
            case 'h': o.help = true; break;
            case 'c':
                if (j + 1 < a.size()) {
                    o.config_path = a.substr(j + 1);
                } else if (i + 1 < args.size()) {
                    o.config_path = args[++i];
                } else {
                    *error = "-c needs a file name (or - for standard input)";
                    return std::nullopt;
                }
                j = a.size();
                break;
            default:
                *error = std::string("unknown option -") + a[j];
                return std::nullopt;
            }
        }
    }
    if (o.config_path.empty()) {
        *error = "-c needs a file name (or - for standard input)";
        return std::nullopt;
    }
    return o;
}

}  // namespace mpp::milter
