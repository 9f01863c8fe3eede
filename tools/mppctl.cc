// tools/mppctl.cc: mppctl, the command-line client of mppd's control socket.
//
//   mppctl [-s SOCKET | -c CONFIG] [-T SECONDS] VERB [ARGS...]
// Verbs are the daemon's (status, reload, stop, config-check FILE, help, and what later
// features add); mppctl only transports them (wire format: lib/control.h).
// Output: data lines on stdout, an error text on stderr.
// Exit: 0 OK, 1 the daemon answered ERR, 2 the daemon can't be reached, 64 usage.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "lib/config.h"
#include "lib/control.h"

namespace {

constexpr int kExitOk = 0, kExitErr = 1, kExitUnreachable = 2, kExitUsage = 64;

std::string default_socket() { return std::string(MPP_RUNSTATEDIR) + "/mppd/control.sock"; }

int usage(const std::string& why) {
    if (!why.empty()) std::cerr << "mppctl: " << why << "\n";
    std::cerr << "usage: mppctl [-s SOCKET | -c CONFIG] [-T SECONDS] VERB [ARGS...]\n"
                 "  -s SOCKET   control socket (default " << default_socket() << ")\n"
                 "  -c CONFIG   read the control socket path from this mppd configuration\n"
                 "  -T SECONDS  how long to wait for the answer (default 30)\n"
                 "verbs: status, reload, stop, config-check FILE, help\n";
    return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
    std::string socket, config_path;
    long timeout_s = 30;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if ((a == "-s" || a == "-c" || a == "-T") && i + 1 >= argc) return usage(a + " needs a value");
        if (a == "-s") socket = argv[++i];
        else if (a == "-c") config_path = argv[++i];
        else if (a == "-T") {
            char* end = nullptr;
            timeout_s = std::strtol(argv[++i], &end, 10);
            if (!end || *end || timeout_s <= 0 || timeout_s > 3600) return usage("bad -T value");
        } else if (a == "-h") return usage("");
        else return usage("unknown option " + a);
    }
    if (i >= argc) return usage("no verb given");

    if (socket.empty() && !config_path.empty()) {
        auto loaded = mpp::config::load_file(config_path);
        if (!loaded.ok()) {
            for (const auto& d : loaded.diagnostics) std::cerr << d.str() << "\n";
            std::cerr << "mppctl: cannot read the control socket from " << config_path << "\n";
            return kExitUnreachable;
        }
        socket = loaded.config->control.socket;
    }
    if (socket.empty()) socket = default_socket();

    mpp::control::Request req;
    req.verb = argv[i];
    for (++i; i < argc; ++i) req.args.emplace_back(argv[i]);
    // The daemon runs in "/": a file to check is named to it by its absolute path.
    if (req.verb == "config-check" && req.args.size() == 1 && !req.args[0].empty() &&
        req.args[0][0] != '/') {
        std::error_code ec;
        auto abs = std::filesystem::absolute(req.args[0], ec);
        if (!ec) req.args[0] = abs.string();
    }
    bool transport_error = false;
    auto resp = mpp::control::call(socket, req, std::chrono::seconds(timeout_s), &transport_error);
    for (const auto& line : resp.lines) std::cout << line << "\n";
    if (transport_error) {
        std::cerr << "mppctl: " << resp.status_text << "\n";
        return kExitUnreachable;
    }
    if (!resp.ok) {
        std::cerr << "mppctl: " << (resp.status_text.empty() ? "error" : resp.status_text) << "\n";
        return kExitErr;
    }
    if (!resp.status_text.empty()) std::cout << resp.status_text << "\n";
    return kExitOk;
}
