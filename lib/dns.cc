// lib/dns.cc: the resolver's loop thread, queries and cache (see dns.h).
#include "lib/dns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "lib/cidr.h"
#include "lib/event.h"
#include "lib/fd.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/socket_spec.h"

namespace mpp::dns {
namespace {

metrics::Metric& m_queries() { return metrics::get("dns-queries"); }
metrics::Metric& m_hits() { return metrics::get("dns-cache-hits"); }
metrics::Metric& m_busy() { return metrics::get("dns-busy"); }
metrics::Metric& m_timeouts() { return metrics::get("dns-timeouts"); }
metrics::Metric& m_errors() { return metrics::get("dns-errors"); }

struct Server {
    sockaddr_storage addr{};
    socklen_t len = 0;
};

std::optional<Server> to_server(const std::string& text) {
    std::string host = text;
    unsigned port = 53;
    if (!IpAddr::parse(text)) {
        auto spec = SocketSpec::parse_listen(text);
        if (!spec || spec->kind == SocketSpec::Kind::unix_path) return std::nullopt;
        host = spec->host;
        port = spec->port;
    }
    Server s;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&s.addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&s.addr);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(port));
        s.len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(port));
        s.len = sizeof(sockaddr_in6);
    } else {
        return std::nullopt;
    }
    return s;
}

timeval to_timeval(std::chrono::milliseconds ms) {
    if (ms.count() < 1) ms = std::chrono::milliseconds(1);
    return timeval{static_cast<time_t>(ms.count() / 1000),
                   static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

std::string normalise(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::string out(name);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

void call(const Callback& cb, const Answer& a) {
    try {
        cb(a);
    } catch (const std::exception& e) {
        log::error(log::cat("dns: internal error in a lookup's callback: ", e.what()));
    }
}

}  // namespace

const char* status_name(Status s) {
    switch (s) {
        case Status::ok: return "ok";
        case Status::nxdomain: return "nxdomain";
        case Status::nodata: return "nodata";
        case Status::timeout: return "timeout";
        case Status::error: return "error";
        case Status::busy: return "busy";
    }
    return "error";
}

std::vector<std::string> parse_resolv_conf(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key, value;
        if (words >> key >> value && key == "nameserver" && IpAddr::parse(value))
            out.push_back(value);
    }
    return out;
}

struct Resolver::Impl {
    struct Request {
        std::string name;
        Type type;
        Callback callback;
        std::chrono::milliseconds timeout;
    };
    struct Query {
        Impl* impl = nullptr;
        std::string key;
        std::string packet;
        std::vector<Callback> waiters;
        Fd sock;
        EventPtr read_ev;
        EventPtr timer_ev;
        int attempt = 0;
        std::chrono::milliseconds per_try{0};
    };
    struct CacheEntry {
        Answer answer;
        std::chrono::steady_clock::time_point expires;
        std::list<std::string>::iterator lru;
    };

    Impl(const Options& o, Clock& c) : opt(o), clock(c), rng(std::random_device{}()) {}

    Options opt;
    Clock& clock;
    std::vector<Server> servers;

    std::mutex cache_mutex;
    std::list<std::string> lru;  // most recent first
    std::unordered_map<std::string, CacheEntry> cache;

    std::atomic<int> pending{0};  // queued or in flight

    std::mutex queue_mutex;
    std::deque<Request> queue;
    bool stopping = false;
    Fd wake_read, wake_write;

    // Loop thread only (after start).
    EventBasePtr base;
    EventPtr wake_ev;
    std::map<std::string, std::unique_ptr<Query>> inflight;
    std::mt19937 rng;
    std::thread thread;

    static std::string key_of(const std::string& name, Type t) {
        return (t == Type::a ? "a:" : "txt:") + name;
    }

    std::optional<Answer> cached(const std::string& key) {
        if (opt.cache_entries == 0) return std::nullopt;
        std::lock_guard lock(cache_mutex);
        auto it = cache.find(key);
        if (it == cache.end()) return std::nullopt;
        if (clock.steady() >= it->second.expires) {
            lru.erase(it->second.lru);
            cache.erase(it);
            return std::nullopt;
        }
        lru.splice(lru.begin(), lru, it->second.lru);
        Answer a = it->second.answer;
        a.cached = true;
        return a;
    }

    void store(const std::string& key, const Answer& a, std::chrono::seconds ttl) {
        if (opt.cache_entries == 0 || ttl.count() <= 0) return;
        ttl = std::min(ttl, kMaxTtl);
        std::lock_guard lock(cache_mutex);
        auto it = cache.find(key);
        if (it != cache.end()) {
            lru.erase(it->second.lru);
            cache.erase(it);
        }
        while (cache.size() >= opt.cache_entries && !lru.empty()) {
            cache.erase(lru.back());
            lru.pop_back();
        }
        lru.push_front(key);
        cache.emplace(key, CacheEntry{a, clock.steady() + ttl, lru.begin()});
    }

    // ---- loop thread ----

    static void on_wake(evutil_socket_t fd, short, void* arg) {
        auto* self = static_cast<Impl*>(arg);
        char buf[256];
        while (::read(fd, buf, sizeof buf) > 0) {
        }
        std::deque<Request> work;
        bool stop;
        {
            std::lock_guard lock(self->queue_mutex);
            work.swap(self->queue);
            stop = self->stopping;
        }
        for (auto& r : work) {
            if (stop)
                self->fail(std::move(r.callback));
            else
                self->start(std::move(r));
        }
        if (stop) {
            while (!self->inflight.empty())
                self->finish(self->inflight.begin()->second.get(), Answer{},
                             std::chrono::seconds(0));
            event_base_loopbreak(self->base.get());
        }
    }

    void fail(Callback cb) {
        --pending;
        call(cb, Answer{});
    }

    void start(Request r) {
        std::string key = key_of(r.name, r.type);
        if (auto hit = cached(key)) {  // answered while this request waited in the queue
            --pending;
            m_hits().inc();
            call(r.callback, *hit);
            return;
        }
        if (auto it = inflight.find(key); it != inflight.end()) {
            it->second->waiters.push_back(std::move(r.callback));
            return;
        }
        auto q = std::make_unique<Query>();
        q->impl = this;
        q->key = key;
        q->waiters.push_back(std::move(r.callback));
        auto timeout = r.timeout.count() > 0 ? r.timeout : opt.timeout;
        q->per_try = std::max(std::chrono::milliseconds(1), timeout / std::max(1, opt.attempts));
        const auto id = static_cast<std::uint16_t>(rng());
        if (!build_query(r.name, r.type, id, q->packet)) {
            fail(std::move(q->waiters.front()));
            return;
        }
        q->timer_ev.reset(evtimer_new(base.get(), &Impl::on_timer, q.get()));
        Query* raw = q.get();
        inflight.emplace(key, std::move(q));
        if (!raw->timer_ev) {
            finish(raw, Answer{}, std::chrono::seconds(0));
            return;
        }
        send_try(raw);
    }

    // One try: a fresh socket to the next server, the packet, and the try's timer.
    void send_try(Query* q) {
        q->read_ev.reset();
        q->sock.reset();
        const Server& s = servers[static_cast<std::size_t>(q->attempt) % servers.size()];
        q->sock.reset(::socket(s.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (q->sock &&
            ::connect(q->sock.get(), reinterpret_cast<const sockaddr*>(&s.addr), s.len) == 0 &&
            ::send(q->sock.get(), q->packet.data(), q->packet.size(), 0) ==
                static_cast<ssize_t>(q->packet.size())) {
            m_queries().inc();
            q->read_ev.reset(
                event_new(base.get(), q->sock.get(), EV_READ | EV_PERSIST, &Impl::on_read, q));
            if (q->read_ev) event_add(q->read_ev.get(), nullptr);
        }
        // A failed send waits out its try like a lost packet: the next try may reach a server.
        timeval tv = to_timeval(q->per_try);
        evtimer_add(q->timer_ev.get(), &tv);
    }

    static void on_timer(evutil_socket_t, short, void* arg) {
        auto* q = static_cast<Query*>(arg);
        Impl* self = q->impl;
        if (++q->attempt < std::max(1, self->opt.attempts)) {
            self->send_try(q);
            return;
        }
        m_timeouts().inc();
        Answer a;
        a.status = Status::timeout;
        self->finish(q, a, std::chrono::seconds(0));
    }

    static void on_read(evutil_socket_t fd, short, void* arg) {
        auto* q = static_cast<Query*>(arg);
        Impl* self = q->impl;
        char buf[4096];
        for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return;  // EAGAIN, or an ICMP error: the try's timer moves on
            std::string error;
            auto resp = parse_response(std::string_view(buf, static_cast<std::size_t>(n)),
                                       q->packet, &error);
            if (!resp) continue;  // not the answer to this query (or garbage): keep waiting
            Answer a;
            std::chrono::seconds ttl{0};
            if (resp->truncated || (resp->rcode != 0 && resp->rcode != 3)) {
                m_errors().inc();
                a.status = Status::error;
            } else if (resp->rcode == 0 && !resp->records.empty()) {
                a.status = Status::ok;
                a.records = std::move(resp->records);
                ttl = std::chrono::seconds(resp->ttl);
            } else {
                a.status = resp->rcode == 3 ? Status::nxdomain : Status::nodata;
                ttl = resp->negative_ttl ? std::chrono::seconds(*resp->negative_ttl)
                                         : kNegativeTtl;
            }
            self->finish(q, a, ttl);
            return;
        }
    }

    // Ends a query: caches its answer (when ttl > 0), frees it, then tells every waiter.
    void finish(Query* q, const Answer& a, std::chrono::seconds ttl) {
        auto it = inflight.find(q->key);
        if (it == inflight.end()) return;
        std::unique_ptr<Query> owned = std::move(it->second);
        inflight.erase(it);
        if (a.status == Status::ok || a.status == Status::nxdomain || a.status == Status::nodata)
            store(owned->key, a, ttl);
        std::vector<Callback> waiters = std::move(owned->waiters);
        owned.reset();  // frees the events (this may be one of their callbacks: not used again)
        pending -= static_cast<int>(waiters.size());
        for (auto& cb : waiters) call(cb, a);
    }
};

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<Resolver> Resolver::create(const Options& opt, Clock& clock, std::string* error) {
    auto impl = std::make_unique<Impl>(opt, clock);
    std::vector<std::string> names = opt.servers;
    if (names.empty()) {
        std::ifstream in(opt.resolv_conf);
        std::stringstream text;
        text << in.rdbuf();
        names = parse_resolv_conf(text.str());
        if (names.empty()) names.push_back("127.0.0.1");  // what the C library assumes too
    }
    for (const auto& n : names) {
        auto s = to_server(n);
        if (!s) {
            *error = "dns: bad name server \"" + n + "\"";
            return nullptr;
        }
        impl->servers.push_back(*s);
    }
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        *error = "dns: pipe failed";
        return nullptr;
    }
    impl->wake_read.reset(fds[0]);
    impl->wake_write.reset(fds[1]);
    impl->base.reset(event_base_new());
    if (impl->base)
        impl->wake_ev.reset(event_new(impl->base.get(), impl->wake_read.get(), EV_READ | EV_PERSIST,
                                      &Impl::on_wake, impl.get()));
    if (!impl->wake_ev || event_add(impl->wake_ev.get(), nullptr) != 0) {
        *error = "dns: cannot create the resolver's event loop";
        return nullptr;
    }
    Impl* raw = impl.get();
    impl->thread = std::thread([raw] {
        // Signals are the main thread's business.
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        event_base_dispatch(raw->base.get());  // until on_wake sees `stopping`
    });
    return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

Resolver::~Resolver() {
    {
        std::lock_guard lock(impl_->queue_mutex);
        impl_->stopping = true;
    }
    const char byte = 's';
    (void)!::write(impl_->wake_write.get(), &byte, 1);
    if (impl_->thread.joinable()) impl_->thread.join();
    // The loop has ended: its events are freed here, on this thread.
    impl_->inflight.clear();
    impl_->wake_ev.reset();
}

void Resolver::lookup(const std::string& raw_name, Type type, Callback callback,
                      std::chrono::milliseconds timeout) {
    Impl& d = *impl_;
    std::string name = normalise(raw_name);
    std::string probe;
    if (!build_query(name, type, 0, probe)) {
        call(callback, Answer{});
        return;
    }
    if (auto hit = d.cached(Impl::key_of(name, type))) {
        m_hits().inc();
        call(callback, *hit);
        return;
    }
    if (++d.pending > d.opt.max_inflight) {
        --d.pending;
        m_busy().inc();
        Answer busy;
        busy.status = Status::busy;
        call(callback, busy);
        return;
    }
    {
        std::lock_guard lock(d.queue_mutex);
        if (!d.stopping) {
            bool was_empty = d.queue.empty();
            d.queue.push_back({std::move(name), type, std::move(callback), timeout});
            if (was_empty) {
                const char byte = 'q';
                (void)!::write(d.wake_write.get(), &byte, 1);
            }
            return;
        }
    }
    d.fail(std::move(callback));
}

std::vector<Answer> Resolver::lookup_all(const std::vector<Question>& questions,
                                         std::chrono::milliseconds wait) {
    struct Wait {
        std::mutex mutex;
        std::condition_variable done;
        std::vector<std::optional<Answer>> got;
        std::size_t left = 0;
    };
    auto w = std::make_shared<Wait>();
    w->got.resize(questions.size());
    w->left = questions.size();
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (std::size_t i = 0; i < questions.size(); ++i) {
        lookup(questions[i].name, questions[i].type,
               [w, i](const Answer& a) {
                   std::lock_guard lock(w->mutex);
                   if (w->got[i]) return;
                   w->got[i] = a;
                   if (--w->left == 0) w->done.notify_all();
               },
               questions[i].timeout);
    }
    std::unique_lock lock(w->mutex);
    w->done.wait_until(lock, deadline, [&] { return w->left == 0; });
    std::vector<Answer> out;
    out.reserve(questions.size());
    for (auto& g : w->got) {
        if (g) {
            out.push_back(*g);
        } else {
            Answer t;
            t.status = Status::timeout;
            out.push_back(t);
        }
    }
    return out;
}

}  // namespace mpp::dns
