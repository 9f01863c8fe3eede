// lib/dns.h: the asynchronous stub resolver used for RBL lookups: A and TXT queries over UDP to
// the configured name servers (<dns resolver>, else the nameserver lines of /etc/resolv.conf),
// on a libevent loop running on a thread of its own.
//
// What it is built of: the loop, the timers and the socket events are libevent's; the packets
// are built and parsed by glibc's resolver library, libresolv (res_mkquery, ns_initparse,
// ns_parserr: lib/dns_packet.h). Not evdns: it resolves only A, AAAA and PTR and hides the SOA
// of negative answers, and RBLs need TXT reasons and RFC 2308 negative caching. Not libresolv's
// own transport (res_nquery): it blocks its caller for the whole query.
//
// Threads: lookup() and lookup_all() are thread-safe. A lookup is handed to the loop thread
// through a queue and a wake-up pipe (no libevent call crosses threads). The callback runs on
// the loop thread, or on the caller's thread, before lookup() returns, for a cache hit, a
// "busy" refusal or a bad name; it must not block.
// Queries: one connected UDP socket per query (a random source port and a random ID, and only
// the server's answers are read), the servers tried in turn; `timeout` is the deadline of the
// whole query, split evenly between `attempts` tries. A truncated answer is an error (RBL
// answers are small; there is no TCP fallback). Identical queries in flight share one packet.
// Cache (bounded, `cache_entries`; 0: none), shared by all callers: a positive answer for its
// lowest TTL, NXDOMAIN and "no such record" for min(SOA TTL, SOA MINIMUM) or, without an SOA,
// kNegativeTtl; everything capped at kMaxTtl; errors and timeouts are not cached. When full,
// the least recently used entry goes. Expiry follows the Clock given (FakeClock in tests).
// Bounds: at most `max_inflight` lookups queued or in flight; over it a lookup gets Status::busy
// at once (counted in the metric dns-busy).
// Failures: a server that does not answer gives Status::timeout, SERVFAIL/REFUSED/malformed
// answers Status::error; the caller decides what that means (an RBL: not listed).
// Metrics: dns-queries (packets sent), dns-cache-hits, dns-busy, dns-timeouts, dns-errors.
// Shutdown: the destructor ends the loop; lookups still pending get Status::error.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/clock.h"
#include "lib/dns_packet.h"

namespace mpp::dns {

enum class Status { ok, nxdomain, nodata, timeout, error, busy };

// "ok", "nxdomain", "nodata", "timeout", "error", "busy".
const char* status_name(Status);

struct Answer {
    Status status = Status::error;
    std::vector<std::string> records;  // A: dotted quads; TXT: one string per record
    bool cached = false;               // served from the cache
};

struct Question {
    std::string name;
    Type type = Type::a;
    std::chrono::milliseconds timeout{0};  // deadline of this query; 0: the configured one
};

using Callback = std::function<void(const Answer&)>;

class Resolver {
public:
    struct Options {
        std::vector<std::string> servers;  // "IP" or "IP:PORT" ("[v6]:PORT"); empty: resolv.conf
        std::chrono::milliseconds timeout{2000};
        int attempts = 2;
        int max_inflight = 1000;
        std::size_t cache_entries = 10000;
        std::string resolv_conf = "/etc/resolv.conf";
    };
    static constexpr std::chrono::seconds kNegativeTtl{300};
    static constexpr std::chrono::seconds kMaxTtl{86400};

    // Starts the loop thread. nullptr and *error set when no server is usable or the loop
    // cannot start.
    static std::unique_ptr<Resolver> create(const Options&, Clock&, std::string* error);
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // One query; `timeout` 0: the configured one. The callback is called exactly once.
    void lookup(const std::string& name, Type type, Callback callback,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

    // Issues every question at once (each with its own timeout) and waits for all answers or
    // until `wait` has passed; questions unanswered by then get Status::timeout. Answers in
    // the order of `questions`.
    std::vector<Answer> lookup_all(const std::vector<Question>& questions,
                                   std::chrono::milliseconds wait);

    struct Impl;

private:
    explicit Resolver(std::unique_ptr<Impl>);
    std::unique_ptr<Impl> impl_;
};

// The servers of a resolv.conf text ("nameserver IP" lines), as "IP" strings.
std::vector<std::string> parse_resolv_conf(const std::string& text);

}  // namespace mpp::dns
