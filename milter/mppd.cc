// milter/mppd.cc: mppd's main: command line, configuration, then the daemon (milter/daemon.h).
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "lib/config.h"
#include "lib/log.h"
#include "milter/daemon.h"
#include "milter/options.h"
#include "milter/version.h"

using namespace mpp;

int main(int argc, char** argv) {
    std::string error;
    auto opts = milter::parse_options(std::vector<std::string>(argv + 1, argv + argc), &error);
    if (!opts) {
        std::cerr << "mppd: " << error << "\n" << milter::usage_text();
        return milter::kExitUsage;
    }
    if (opts->help) {
        std::cout << milter::usage_text();
        return milter::kExitOk;
    }
    if (opts->version) {
        std::cout << milter::version_report();
        return milter::kExitOk;
    }

    // The daemon works in "/" and re-reads its file on reload: keep its absolute path.
    if (opts->config_path != "-" && !opts->check_only) {
        std::error_code ec;
        auto abs = std::filesystem::absolute(opts->config_path, ec);
        if (!ec) opts->config_path = abs.lexically_normal().string();
    }
    auto loaded = config::load_file(opts->config_path);
    if (!loaded.ok() || opts->check_only) {
        for (const auto& d : loaded.diagnostics) std::cerr << d.str() << "\n";
        if (!loaded.ok()) {
            std::cerr << opts->config_path << ": " << loaded.error_count() << " error(s)"
                      << (opts->check_only ? "" : "; mppd not started") << "\n";
            return milter::kExitConfig;
        }
        std::cout << opts->config_path << ": configuration OK\n";
        return milter::kExitOk;
    }

    // Warnings go to the log; to the terminal too when mppd is about to detach from it
    // (in the foreground the log already includes standard error).
    if (!opts->foreground)
        for (const auto& d : loaded.diagnostics) std::cerr << d.str() << "\n";
    milter::configure_logging(*loaded.config, opts->foreground);
    milter::log_diagnostics(loaded.diagnostics);
    milter::Daemon daemon(*opts, loaded.config);
    return daemon.run();
}
