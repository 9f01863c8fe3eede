// milter/milter_runner.h: libmilter's listener and worker pool, run on a thread of their own.
//
// Owns: the registration of the filter (smfi_register), the listening socket (opened before
// privileges are dropped), the thread that runs smfi_main, and the FilterContext every callback
// reads (filter.h). libmilter keeps global state, so there is at most one MilterRunner per
// process.
// Signals: smfi_main starts a libmilter thread that sigwaits SIGHUP/SIGTERM/SIGINT and stops the
// milter on any of them. mppd wants SIGHUP to reload, so smfi_main runs on this runner's thread
// with those signals blocked, and the main thread (which leaves them unblocked and handles them
// on its event loop) is the one the kernel delivers a process-directed signal to.
// TCP sockets get TCP_NODELAY on the listening socket (inherited by accepted sockets): without
// it, an end-of-message reply of more than one packet waits ~40 ms for the MTA's delayed ACK.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "lib/config_holder.h"
#include "lib/socket_spec.h"
#include "milter/filter.h"
#include "policy/checks.h"

namespace mpp::milter {

class MilterRunner {
public:
    // Registers the filter and opens `cfg.socket`; a unix socket gets mode 0660 and, when
    // uid/gid are not -1, that owner. nullptr and *error on failure.
    static std::unique_ptr<MilterRunner> open(const config::MilterCfg& cfg,
                                              const config::ConfigHolder* holder, uid_t uid,
                                              gid_t gid, std::string* error);
    ~MilterRunner();
    MilterRunner(const MilterRunner&) = delete;
    MilterRunner& operator=(const MilterRunner&) = delete;

    // The check engine the sessions use from now on, and whether the policy server serves
    // (<milter checks="auto">). Before this, a recipient the milter should check gets 451.
    void set_checks(std::shared_ptr<policy::Checks> checks, bool policy_server_serving) {
        context_.set_checks(std::move(checks), policy_server_serving);
    }
    void start();                 // smfi_main on its own thread
    // Graceful stop, first step: sessions in flight go on; a new connection gets a tempfail at
    // connect (libmilter gives no way to close its listener without ending every session).
    void drain() { context_.drain(); }
    // Second step, once no session is left (or the deadline passed): smfi_stop(), which ends
    // whatever libmilter still serves. Returns at once: smfi_stop() waits for the listener's
    // poll timeout (seconds), so it runs on a thread of its own, and the listener is woken by
    // connections to its own socket, every 20 ms until smfi_main has returned (at most 3 s):
    // a single wake-up that lands before smfi_stop() has set libmilter's stop flag is taken
    // for a new connection, and the listener would sleep through its whole poll timeout.
    void stop();
    bool finished() const { return finished_.load(); }  // smfi_main has returned
    int result() const { return result_.load(); }      // smfi_main's return (MI_SUCCESS...)
    void join();

    struct Private {};
    MilterRunner(Private, SocketSpec spec, const config::ConfigHolder* holder)
        : spec_(std::move(spec)), context_(holder) {}

private:
    void wake_listener() const;

    SocketSpec spec_;
    std::thread thread_;
    std::thread stopper_;
    std::thread waker_;
    FilterContext context_;  // read by the callbacks (make_filter_description)
    std::atomic<bool> finished_{false};
    std::atomic<int> result_{0};
};

// libmilter does not hand out its listening descriptor: finds the listening TCP sockets of
// this process bound to `port` and sets TCP_NODELAY on them (accepted sockets inherit it).
// False when none was found.
bool set_nodelay_on_listener(unsigned port);

// libmilter's version as "1.0.2".
std::string libmilter_version();

}  // namespace mpp::milter
