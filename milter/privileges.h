// milter/privileges.h: the daemon's process set-up: user to run as, directories, pidfile,
// detaching from the terminal.
//
// Order in mppd's main: resolve the user, create run/state directories owned by it, bind every
// socket, write the pidfile, then drop_privileges(). Failures are values (an error text); mppd
// exits with status 2 on them.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace mpp::milter {

struct RunAs {
    std::string name;  // empty: stay as the current user
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    bool switch_user = false;  // true when running as root with a `user` to drop to
};

// Decides who the daemon runs as from <daemon user= group=>. As root, a user is required
// ("refusing to run as root"); as another user, `user` must be that user or empty (then a
// warning is logged by the caller through *warning).
std::optional<RunAs> resolve_run_as(const std::string& user, const std::string& group,
                                    std::string* error, std::string* warning);

// Creates `dir` (mode 0755, given to `who`) and its missing parents (mode 0755, left to the
// starting user, so that /usr/local/var, say, never becomes the daemon user's).
bool ensure_dir(const std::string& dir, const RunAs& who, std::string* error);

// Writes the pid to `path` (tmp + rename); refuses when it names a live mppd.
bool write_pidfile(const std::string& path, std::string* error);

// setgroups/initgroups, setgid, setuid; verifies root can't be regained.
bool drop_privileges(const RunAs& who, std::string* error);

// Detaches from the terminal: fork (the parent waits for the child's word on a pipe and exits
// with it), setsid, stdio to /dev/null. Returns the pipe's write end in the child (-1 in
// foreground); the child writes "ok" or an error text to it once it serves, then closes it.
int daemonize(std::string* error);
void report_ready(int& fd, const std::string& error_or_empty);

}  // namespace mpp::milter
