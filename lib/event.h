// lib/event.h: owners of libevent handles (event_base, event, evconnlistener, bufferevent).
//
// Every libevent object mppd creates is held by one of these unique_ptr aliases, so it is freed
// exactly once, in reverse order of creation, on every path. They are move-only and must be
// destroyed on the thread that runs their event_base (or after its loop has ended).
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <memory>

namespace mpp {

struct EventBaseFree {
    void operator()(event_base* b) const { event_base_free(b); }
};
struct EventFree {
    void operator()(event* e) const { event_free(e); }
};
struct ListenerFree {
    void operator()(evconnlistener* l) const { evconnlistener_free(l); }
};
struct BufferEventFree {
    void operator()(bufferevent* b) const { bufferevent_free(b); }
};

using EventBasePtr = std::unique_ptr<event_base, EventBaseFree>;
using EventPtr = std::unique_ptr<event, EventFree>;
using ListenerPtr = std::unique_ptr<evconnlistener, ListenerFree>;
using BufferEventPtr = std::unique_ptr<bufferevent, BufferEventFree>;

}  // namespace mpp
