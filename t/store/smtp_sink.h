// t/store/smtp_sink.h: a one-message SMTP server on 127.0.0.1 for the release tests: it takes
// one session (EHLO, MAIL, RCPT..., DATA, QUIT), keeps the envelope and the message as sent
// (dot-unstuffed, CRLF kept), and answers 250 to everything unless told to refuse a RCPT.
// Runs on a thread of its own; every socket read has a 10 s timeout.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "lib/fd.h"

namespace mpp::testing {

class SmtpSink {
public:
    std::string mail_from;
    std::vector<std::string> rcpt_to;
    std::string data;
    std::string refuse_rcpt;  // a RCPT TO argument answered 550

    SmtpSink() {
        listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
            ::listen(listen_.get(), 4) != 0 ||
            ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
            return;
        port_ = ntohs(a.sin_port);
    }
    ~SmtpSink() {
        if (thread_.joinable()) thread_.join();
    }
    std::string relay() const { return "127.0.0.1:" + std::to_string(port_); }

    // Serves one session on a thread; join() waits for it.
    void start() { thread_ = std::thread([this] { serve(); }); }
    void join() {
        if (thread_.joinable()) thread_.join();
    }

private:
    void serve() {
        timeval tv{10, 0};
        ::setsockopt(listen_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        Fd c(::accept(listen_.get(), nullptr, nullptr));
        if (!c) return;
        ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        auto say = [&](const std::string& s) { (void)!::write(c.get(), s.data(), s.size()); };
        say("220 sink ESMTP\r\n");
        std::string buf;
        auto line = [&](std::string& out) {
            for (;;) {
                std::size_t nl = buf.find("\r\n");
                if (nl != std::string::npos) {
                    out = buf.substr(0, nl);
                    buf.erase(0, nl + 2);
                    return true;
                }
                char tmp[4096];
                ssize_t n = ::read(c.get(), tmp, sizeof tmp);
                if (n <= 0) return false;
                buf.append(tmp, static_cast<std::size_t>(n));
            }
        };
        std::string l;
        while (line(l)) {
            std::string verb = l.substr(0, 4);
            for (char& ch : verb) ch = static_cast<char>(::toupper(ch));
            if (verb == "EHLO" || verb == "HELO") say("250-sink\r\n250 8BITMIME\r\n");
            else if (verb == "MAIL") {
                mail_from = l.substr(l.find(':') + 1);
                say("250 2.1.0 Ok\r\n");
            } else if (verb == "RCPT") {
                std::string r = l.substr(l.find(':') + 1);
                if (!refuse_rcpt.empty() && r == refuse_rcpt) {
                    say("550 5.1.1 no such user\r\n");
                    continue;
                }
                rcpt_to.push_back(r);
                say("250 2.1.5 Ok\r\n");
            } else if (verb == "DATA") {
                say("354 go ahead\r\n");
                while (line(l) && l != ".")
                    data += (l.rfind("..", 0) == 0 ? l.substr(1) : l) + "\r\n";
                say("250 2.0.0 Ok: queued as SINK1\r\n");
            } else if (verb == "QUIT") {
                say("221 2.0.0 Bye\r\n");
                return;
            } else {
                say("250 Ok\r\n");
            }
        }
    }

    Fd listen_;
    int port_ = 0;
    std::thread thread_;
};

}  // namespace mpp::testing
