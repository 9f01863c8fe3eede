# engines/: content checks on a whole message: header filters (PCRE2 over decoded header
# fields; GMime decodes RFC 2047). Uses lib/ and policy/.
noinst_LIBRARIES += engines/libengines.a
engines_libengines_a_CPPFLAGS = $(AM_CPPFLAGS) $(PCRE2_CFLAGS) $(GMIME_CFLAGS)
engines_libengines_a_SOURCES = \
	engines/content_verdict.h engines/content_verdict.cc \
	engines/header_filter.h engines/header_filter.cc \
	engines/command_scanner.h engines/command_scanner.cc \
	engines/scanner.h engines/scanner.cc \
	engines/engine_socket.h engines/engine_socket.cc \
	engines/spamd.h engines/spamd.cc \
	engines/clamd.h engines/clamd.cc \
	engines/scan_runner.h engines/scan_runner.cc

# What a program linking the engines library needs besides it.
ENGINES_LIBS = engines/libengines.a $(POLICY_LIBS) $(GMIME_LIBS)
