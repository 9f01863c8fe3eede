# milter/: the libmilter front end, and mppd's main, which wires the daemon together
# (milter runner, control socket, privileges, reload and stop).
noinst_LIBRARIES += milter/libmilterfront.a
milter_libmilterfront_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS) $(TINYXML2_CFLAGS) \
	$(PCRE2_CFLAGS) $(MARIADB_CFLAGS) $(GMIME_CFLAGS) $(LIBCURL_CFLAGS)
milter_libmilterfront_a_SOURCES = \
	milter/callbacks.h milter/callbacks.cc \
	milter/content_decision.h milter/content_decision.cc \
	milter/control_server.h milter/control_server.cc \
	milter/daemon.h milter/daemon.cc \
	milter/filter.h milter/filter.cc milter/filter_content.cc \
	milter/filter_util.h milter/filter_util.cc \
	milter/message_buffer.h milter/message_buffer.cc \
	milter/milter_context.h milter/milter_context.cc \
	milter/milter_runner.h milter/milter_runner.cc \
	milter/options.h milter/options.cc \
	milter/policy_verbs.h milter/policy_verbs.cc \
	milter/privileges.h milter/privileges.cc \
	milter/session.h \
	milter/verdict_reply.h milter/verdict_reply.cc \
	milter/version.h milter/version.cc

# What a program linking the milter front end needs besides it.
MILTERFRONT_LIBS = milter/libmilterfront.a $(ENGINES_LIBS) $(MILTER_LIBS) $(MARIADB_LIBS) \
	$(LIBCURL_LIBS) $(PTHREAD_LIBS)

sbin_PROGRAMS += mppd
mppd_SOURCES = milter/mppd.cc
mppd_LDADD = $(MILTERFRONT_LIBS)
