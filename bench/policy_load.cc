// bench/policy_load.cc: policy-load, a load generator for a Postfix policy server. It owns the
// connections to the target (each with one request in flight, as Postfix smtpd processes
// behave), the triplet mix (new vs repeated), per-request timing in per-thread histograms that
// are merged at the end, and the one-line report (key=value, or CSV with --csv).
//
// Model: --threads worker threads (default: min(connections, CPUs)), each running an epoll loop
// over its share of the connections. Every connection sends a request, waits for the complete
// reply ("action=...\n\n"), records the latency, and sends the next. Errors (connection failures,
// malformed replies, timeouts, connections closed by the server) are counted; the connection is
// re-opened and the run goes on. Exit status: 0 clean run, 1 the run completed with errors (the
// report is still printed), 2 usage or setup failure (no report).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lib/fd.h"

namespace {

using Clock = std::chrono::steady_clock;
using mpp::Fd;

// ---- options ----------------------------------------------------------------------------

struct Options {
    std::string target;
    int connections = 1;
    int threads = 0;           // 0: min(connections, CPUs)
    double duration = 10.0;    // seconds; used when requests == 0
    uint64_t requests = 0;     // total requests, all connections together
    double new_ratio = 0.2;
    size_t pool = 10000;       // repeated triplets are drawn from up to this many sent ones
    uint64_t seed = 1;
    double timeout = 5.0;      // seconds per request
    bool csv = false;
    bool csv_header = false;
};

[[noreturn]] void usage(const char* msg) {
    if (msg) std::fprintf(stderr, "policy-load: %s\n", msg);
    std::fprintf(stderr,
                 "usage: policy-load --target HOST:PORT|unix:PATH [--connections N] [--threads N]\n"
                 "                   [--duration SECONDS | --requests N] [--new-ratio R] [--pool N]\n"
                 "                   [--seed N] [--timeout SECONDS] [--csv] [--csv-header]\n");
    std::exit(2);
}

double parse_double(const char* name, const char* v, double lo, double hi) {
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(v, &end);
    if (errno || end == v || *end || !(d >= lo && d <= hi)) {
        std::fprintf(stderr, "policy-load: %s: bad value \"%s\" (want %g..%g)\n", name, v, lo, hi);
        std::exit(2);
    }
    return d;
}

uint64_t parse_u64(const char* name, const char* v, uint64_t lo, uint64_t hi) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(v, &end, 10);
    if (errno || end == v || *end || *v == '-' || n < lo || n > hi) {
        std::fprintf(stderr, "policy-load: %s: bad value \"%s\" (want %" PRIu64 "..%" PRIu64 ")\n",
                     name, v, lo, hi);
        std::exit(2);
    }
    return n;
}

Options parse_args(int argc, char** argv) {
    Options o;
    bool have_duration = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) usage((a + " needs a value").c_str());
            return argv[++i];
        };
        if (a == "--target") o.target = value();
        else if (a == "--connections") o.connections = int(parse_u64("--connections", value(), 1, 10000));
        else if (a == "--threads") o.threads = int(parse_u64("--threads", value(), 1, 256));
        else if (a == "--duration") { o.duration = parse_double("--duration", value(), 0.01, 86400); have_duration = true; }
        else if (a == "--requests") o.requests = parse_u64("--requests", value(), 1, UINT64_MAX / 2);
        else if (a == "--new-ratio") o.new_ratio = parse_double("--new-ratio", value(), 0, 1);
        else if (a == "--pool") o.pool = size_t(parse_u64("--pool", value(), 1, 100000000));
        else if (a == "--seed") o.seed = parse_u64("--seed", value(), 0, (uint64_t(1) << 23) - 1);
        else if (a == "--timeout") o.timeout = parse_double("--timeout", value(), 0.001, 3600);
        else if (a == "--csv") o.csv = true;
        else if (a == "--csv-header") o.csv_header = true;
        else if (a == "-h" || a == "--help") usage(nullptr);
        else usage(("unknown argument " + a).c_str());
    }
    if (o.csv_header && o.target.empty()) return o;  // only the header is wanted
    if (o.target.empty()) usage("--target is required");
    if (have_duration && o.requests) usage("--duration and --requests exclude each other");
    return o;
}

// ---- target address ------------------------------------------------------------------------

struct Target {
    sockaddr_storage addr{};
    socklen_t len = 0;
    bool tcp = false;
};

Target resolve(const std::string& spec) {
    Target t;
    if (spec.rfind("unix:", 0) == 0) {
        const std::string path = spec.substr(5);
        sockaddr_un un{};
        if (path.empty() || path.size() >= sizeof un.sun_path)
            throw std::runtime_error("bad unix socket path in --target " + spec);
        un.sun_family = AF_UNIX;
        std::memcpy(un.sun_path, path.data(), path.size());
        std::memcpy(&t.addr, &un, sizeof un);
        t.len = socklen_t(offsetof(sockaddr_un, sun_path) + path.size() + 1);
        return t;
    }
    std::string host, port;
    if (!spec.empty() && spec[0] == '[') {
        const auto close = spec.find("]:");
        if (close == std::string::npos) throw std::runtime_error("bad --target " + spec);
        host = spec.substr(1, close - 1);
        port = spec.substr(close + 2);
    } else {
        const auto colon = spec.rfind(':');
        if (colon == std::string::npos) throw std::runtime_error("--target wants HOST:PORT or unix:PATH, got " + spec);
        host = spec.substr(0, colon);
        port = spec.substr(colon + 1);
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) throw std::runtime_error("cannot resolve " + spec + ": " + gai_strerror(rc));
    std::memcpy(&t.addr, res->ai_addr, res->ai_addrlen);
    t.len = res->ai_addrlen;
    t.tcp = true;
    freeaddrinfo(res);
    return t;
}

// ---- latency histogram -------------------------------------------------------------------
// Log-linear buckets over nanoseconds: 64 sub-buckets per power of two (under 1.6% error),
// merged by adding counts.

class Histogram {
public:
    static constexpr int kSub = 6;  // log2 of the sub-buckets per power of two
    Histogram() : counts_(64 << kSub, 0) {}

    void add(uint64_t ns) {
        ++counts_[index(ns)];
        ++total_;
    }
    void merge(const Histogram& o) {
        for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
        total_ += o.total_;
    }
    uint64_t total() const { return total_; }
    // The value (ns, bucket midpoint) at quantile q in [0,1].
    double quantile(double q) const {
        if (total_ == 0) return 0;
        const uint64_t rank = std::max<uint64_t>(1, uint64_t(std::ceil(q * double(total_))));
        uint64_t seen = 0;
        for (size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= rank) return midpoint(i);
        }
        return midpoint(counts_.size() - 1);
    }

private:
    static size_t index(uint64_t v) {
        if (v < (uint64_t(1) << kSub)) return size_t(v);
        const int msb = 63 - __builtin_clzll(v);
        const int shift = msb - kSub;
        const uint64_t sub = (v >> shift) & ((uint64_t(1) << kSub) - 1);
        return size_t((shift + 1) << kSub) + size_t(sub);
    }
    static double midpoint(size_t i) {
        const size_t block = i >> kSub;
        const uint64_t sub = i & ((size_t(1) << kSub) - 1);
        if (block == 0) return double(sub);
        const int shift = int(block) - 1;
        const double lo = double(((uint64_t(1) << kSub) | sub) << shift);
        return lo + double(uint64_t(1) << shift) / 2.0;
    }
    std::vector<uint64_t> counts_;
    uint64_t total_ = 0;
};

// ---- triplets --------------------------------------------------------------------------------
// Triplet id k (unique over the run: thread t makes ids seed<<40 + t, + t+T, + t+2T...; runs with
// different seeds never share a triplet, runs with the same seed start with the same ones) gives
// a client address,
// sender and recipient; the sender carries k, so two ids are two different triplets for any
// greylist (whatever its client-network prefix or sender normalisation).

std::string make_request(uint64_t k, uint64_t instance) {
    // The client's /24 is spread over about 14.5 million networks (first octet 1..223 but 127),
    // so a new triplet rarely lands in a network a greylist has seen (or auto-whitelisted).
    const uint64_t h = k * 0x9E3779B97F4A7C15ull;
    const uint64_t net = (h >> 20) % (222ull << 16);
    unsigned first = unsigned(1 + (net >> 16));
    if (first >= 127) ++first;
    char addr[32];
    std::snprintf(addr, sizeof addr, "%u.%u.%u.%u", first, unsigned((net >> 8) & 255), unsigned(net & 255),
                  unsigned(1 + (k % 254)));
    std::string r;
    r.reserve(512);
    r += "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n";
    r += "client_address=";
    r += addr;
    r += "\nclient_name=unknown\nreverse_client_name=unknown\nhelo_name=mx";
    r += std::to_string(k % 100000);
    r += ".example.org\nsender=s";
    r += std::to_string(k);
    r += "@example";
    r += std::to_string(k % 1000);
    r += ".org\nrecipient=r";
    r += std::to_string(k % 5000);
    r += "@example.net\nrecipient_count=0\nqueue_id=\ninstance=";
    char inst[32];
    std::snprintf(inst, sizeof inst, "%" PRIx64, instance);
    r += inst;
    r += "\nsize=0\netrn_domain=\nstress=\nsasl_method=\nsasl_username=\nsasl_sender=\n"
         "ccert_subject=\nccert_issuer=\nccert_fingerprint=\nencryption_protocol=\n"
         "encryption_cipher=\nencryption_keysize=0\n\n";
    return r;
}

// ---- per-thread worker -----------------------------------------------------------------------

struct Errors {
    uint64_t connect = 0, malformed = 0, timeout = 0, closed = 0;
    uint64_t total() const { return connect + malformed + timeout + closed; }
    void merge(const Errors& o) {
        connect += o.connect;
        malformed += o.malformed;
        timeout += o.timeout;
        closed += o.closed;
    }
};

struct Shared {
    const Options* opt = nullptr;
    Target target;
    Clock::time_point deadline;      // duration mode
    std::atomic<uint64_t> tickets{0};  // requests mode: tickets handed out
};

struct ThreadResult {
    Histogram hist;
    Errors errors;
    std::map<std::string, uint64_t> actions;
    Clock::time_point last_done{};
    std::string fatal;  // a setup failure that makes the run meaningless
};

class Worker {
public:
    Worker(Shared& sh, int index, int nthreads, int nconns, ThreadResult& out)
        : sh_(sh), opt_(*sh.opt), index_(index), nthreads_(nthreads), out_(out),
          rng_(opt_.seed * 1000003ull + uint64_t(index)),
          pool_cap_(std::max<size_t>(1, opt_.pool / size_t(nthreads))), conns_(size_t(nconns)) {}

    void run() {
        ep_ = Fd(epoll_create1(EPOLL_CLOEXEC));
        if (!ep_) {
            out_.fatal = std::string("epoll_create1: ") + std::strerror(errno);
            return;
        }
        for (size_t i = 0; i < conns_.size(); ++i) start_next(i);
        const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt_.timeout));
        std::vector<epoll_event> evs(conns_.size() + 1);
        Clock::time_point last_sweep = Clock::now();  // timeouts are looked for every 10 ms
        while (active() > 0) {
            const int n = epoll_wait(ep_.get(), evs.data(), int(evs.size()), 50);
            if (n < 0) {
                if (errno == EINTR) continue;
                out_.fatal = std::string("epoll_wait: ") + std::strerror(errno);
                return;
            }
            for (int e = 0; e < n; ++e) on_event(size_t(evs[size_t(e)].data.u64), evs[size_t(e)].events);
            const auto now = Clock::now();
            if (now - last_sweep < std::chrono::milliseconds(10)) continue;
            last_sweep = now;
            for (size_t i = 0; i < conns_.size(); ++i) {
                Conn& c = conns_[i];
                if (c.busy && now - c.sent > timeout) {
                    ++out_.errors.timeout;
                    drop(i);
                    start_next(i);
                }
            }
        }
    }

private:
    struct Conn {
        Fd fd;
        bool busy = false;      // a request is in flight
        bool done = false;      // no more requests for this connection
        std::string out;        // unsent part of the request
        size_t out_off = 0;
        std::string in;         // reply so far
        Clock::time_point sent;
    };

    size_t active() const {
        return size_t(std::count_if(conns_.begin(), conns_.end(), [](const Conn& c) { return !c.done; }));
    }

    bool may_send() {
        if (opt_.requests) return sh_.tickets.fetch_add(1, std::memory_order_relaxed) < opt_.requests;
        return Clock::now() < sh_.deadline;
    }

    uint64_t next_triplet() {
        std::uniform_real_distribution<double> u(0.0, 1.0);
        if (!pool_.empty() && u(rng_) >= opt_.new_ratio) {
            std::uniform_int_distribution<size_t> pick(0, pool_.size() - 1);
            return pool_[pick(rng_)];
        }
        const uint64_t k = (opt_.seed << 40) + next_new_++ * uint64_t(nthreads_) + uint64_t(index_);
        if (pool_.size() < pool_cap_) {
            pool_.push_back(k);
        } else {
            std::uniform_int_distribution<size_t> pick(0, pool_.size() - 1);
            pool_[pick(rng_)] = k;
        }
        return k;
    }

    bool connect_one(Conn& c) {
        Fd fd(socket(sh_.target.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) return false;
        if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sh_.target.addr), sh_.target.len) != 0)
            return false;
        if (sh_.target.tcp) {
            const int one = 1;
            setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        const int fl = fcntl(fd.get(), F_GETFL);
        if (fl < 0 || fcntl(fd.get(), F_SETFL, fl | O_NONBLOCK) < 0) return false;
        c.fd = std::move(fd);
        return true;
    }

    void drop(size_t i) {
        Conn& c = conns_[i];
        if (c.fd) epoll_ctl(ep_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
        c.fd.reset();
        c.busy = false;
        c.in.clear();
        c.out.clear();
        c.out_off = 0;
    }

    // Sends the next request on connection i, (re)connecting when needed; marks it done when
    // the run is over.
    void start_next(size_t i) {
        Conn& c = conns_[i];
        if (!may_send()) {
            drop(i);
            c.done = true;
            return;
        }
        std::optional<Clock::time_point> first_refusal;
        while (!c.fd) {
            if (connect_one(c)) {
                epoll_event ev{};
                ev.events = EPOLLIN;
                ev.data.u64 = i;
                if (epoll_ctl(ep_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev) != 0) {
                    out_.fatal = std::string("epoll_ctl: ") + std::strerror(errno);
                    c.done = true;
                    c.fd.reset();
                    return;
                }
                break;
            }
            // Counted once per attempt; retried every 10 ms until the run ends or the target has
            // refused for longer than --timeout (then this connection gives up).
            ++out_.errors.connect;
            const auto now = Clock::now();
            if (!first_refusal) first_refusal = now;
            if ((!opt_.requests && now >= sh_.deadline) ||
                now - *first_refusal > std::chrono::duration<double>(opt_.timeout)) {
                std::fprintf(stderr, "policy-load: cannot connect to %s: %s\n", opt_.target.c_str(),
                             std::strerror(errno));
                c.done = true;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        c.out = make_request(next_triplet(), (uint64_t(index_) << 40) | ++instance_);
        c.out_off = 0;
        c.in.clear();
        c.busy = true;
        c.sent = Clock::now();
        flush(i);
    }

    void flush(size_t i) {
        Conn& c = conns_[i];
        while (c.out_off < c.out.size()) {
            const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
            if (n > 0) {
                c.out_off += size_t(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                set_events(i, EPOLLIN | EPOLLOUT);
                return;
            }
            ++out_.errors.closed;
            drop(i);
            start_next(i);
            return;
        }
        if (c.out_off == c.out.size() && !c.out.empty()) {
            c.out.clear();
            c.out_off = 0;
        }
    }

    void set_events(size_t i, uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = i;
        epoll_ctl(ep_.get(), EPOLL_CTL_MOD, conns_[i].fd.get(), &ev);
    }

    void on_event(size_t i, uint32_t events) {
        Conn& c = conns_[i];
        if (!c.fd) return;
        if (events & EPOLLOUT) {
            flush(i);
            if (!c.fd) return;
            if (c.out.empty()) set_events(i, EPOLLIN);
        }
        if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
        char buf[4096];
        for (;;) {
            const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
            if (n > 0) {
                c.in.append(buf, size_t(n));
                if (c.in.size() > 65536) {
                    ++out_.errors.malformed;
                    drop(i);
                    start_next(i);
                    return;
                }
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            // EOF or error: the server closed on us (counted whether or not a request was out).
            ++out_.errors.closed;
            drop(i);
            start_next(i);
            return;
        }
        const auto end = c.in.find("\n\n");
        if (end == std::string::npos) return;
        if (!c.busy || end + 2 != c.in.size() || c.in.rfind("action=", 0) != 0) {
            ++out_.errors.malformed;
            drop(i);
            start_next(i);
            return;
        }
        const auto now = Clock::now();
        out_.hist.add(uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.sent).count()));
        out_.last_done = now;
        size_t stop = 7;
        while (stop < end && c.in[stop] != ' ' && c.in[stop] != '\t' && c.in[stop] != '\n') ++stop;
        std::string action = c.in.substr(7, stop - 7);
        for (auto& ch : action) ch = char(std::toupper(static_cast<unsigned char>(ch)));
        if (action.empty()) action = "(empty)";
        ++out_.actions[action];
        c.busy = false;
        c.in.clear();
        start_next(i);
    }

    Shared& sh_;
    const Options& opt_;
    int index_;
    int nthreads_;
    ThreadResult& out_;
    std::mt19937_64 rng_;
    size_t pool_cap_;
    std::vector<uint64_t> pool_;
    uint64_t next_new_ = 0;
    uint64_t instance_ = 0;
    std::vector<Conn> conns_;
    Fd ep_;
};

const char* kCsvHeader =
    "target,connections,threads,new_ratio,seed,requests,seconds,rps,p50_us,p99_us,p999_us,"
    "errors,err_connect,err_malformed,err_timeout,err_closed,actions";

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse_args(argc, argv);
    if (opt.csv_header) {
        std::printf("%s\n", kCsvHeader);
        if (opt.target.empty()) return 0;
    }
    Shared sh;
    sh.opt = &opt;
    try {
        sh.target = resolve(opt.target);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "policy-load: %s\n", e.what());
        return 2;
    }
    const int cpus = int(std::max(1u, std::thread::hardware_concurrency()));
    const int nthreads = std::min(opt.connections, opt.threads ? opt.threads : cpus);
    std::vector<ThreadResult> results(static_cast<size_t>(nthreads));
    const auto start = Clock::now();
    sh.deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.duration));
    {
        std::vector<std::jthread> threads;
        for (int t = 0; t < nthreads; ++t) {
            const int share = opt.connections / nthreads + (t < opt.connections % nthreads ? 1 : 0);
            threads.emplace_back([&sh, &results, t, nthreads, share] {
                Worker w(sh, t, nthreads, share, results[size_t(t)]);
                w.run();
            });
        }
    }
    Histogram hist;
    Errors errors;
    std::map<std::string, uint64_t> actions;
    Clock::time_point end = start;
    for (const auto& r : results) {
        if (!r.fatal.empty()) {
            std::fprintf(stderr, "policy-load: %s\n", r.fatal.c_str());
            return 2;
        }
        hist.merge(r.hist);
        errors.merge(r.errors);
        for (const auto& [a, n] : r.actions) actions[a] += n;
        end = std::max(end, r.last_done);
    }
    if (hist.total() == 0) {
        std::fprintf(stderr, "policy-load: no request was answered by %s (errors: connect %" PRIu64
                             ", malformed %" PRIu64 ", timeout %" PRIu64 ", closed %" PRIu64 ")\n",
                     opt.target.c_str(), errors.connect, errors.malformed, errors.timeout, errors.closed);
        return 2;
    }
    const double secs = std::chrono::duration<double>(end - start).count();
    const double rps = double(hist.total()) / secs;
    std::string acts;
    for (const auto& [a, n] : actions) {
        if (!acts.empty()) acts += opt.csv ? ";" : ",";
        acts += a + ":" + std::to_string(n);
    }
    const double p50 = hist.quantile(0.50) / 1000, p99 = hist.quantile(0.99) / 1000,
                 p999 = hist.quantile(0.999) / 1000;
    if (opt.csv) {
        std::printf("%s,%d,%d,%g,%" PRIu64 ",%" PRIu64 ",%.3f,%.0f,%.1f,%.1f,%.1f,%" PRIu64 ",%" PRIu64
                    ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%s\n",
                    opt.target.c_str(), opt.connections, nthreads, opt.new_ratio, opt.seed, hist.total(), secs,
                    rps, p50, p99, p999, errors.total(), errors.connect, errors.malformed, errors.timeout,
                    errors.closed, acts.c_str());
    } else {
        std::printf("target=%s connections=%d threads=%d new_ratio=%g seed=%" PRIu64 " requests=%" PRIu64
                    " seconds=%.3f rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f errors=%" PRIu64
                    " err_connect=%" PRIu64 " err_malformed=%" PRIu64 " err_timeout=%" PRIu64
                    " err_closed=%" PRIu64 " actions=%s\n",
                    opt.target.c_str(), opt.connections, nthreads, opt.new_ratio, opt.seed, hist.total(), secs,
                    rps, p50, p99, p999, errors.total(), errors.connect, errors.malformed, errors.timeout,
                    errors.closed, acts.c_str());
    }
    if (errors.total() > 0) {
        std::fprintf(stderr, "policy-load: %" PRIu64 " errors against %s\n", errors.total(), opt.target.c_str());
        return 1;
    }
    return 0;
}
