# lib/: shared building blocks with no daemon logic (config, logging, parsing, RAII handles).
noinst_LIBRARIES += lib/libmpp.a
lib_libmpp_a_CPPFLAGS = $(AM_CPPFLAGS) $(TINYXML2_CFLAGS) $(PCRE2_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(LIBCURL_CFLAGS)
lib_libmpp_a_SOURCES = \
	lib/config.h lib/config_types.h \
	lib/config_values.h lib/config_types_policy.h \
	lib/config.cc lib/config_text.cc lib/config_loader.h lib/config_loader.cc \
	lib/config_parse.cc lib/config_schema.h lib/config_schema.cc lib/config_schema_shared.h \
	lib/config_schema_daemon.cc lib/config_schema_definitions.cc \
	lib/config_schema_groups.cc lib/config_schema_checks.cc \
	lib/regex.h lib/regex.cc lib/template.h lib/template.cc \
	lib/clock.h \
	lib/config_holder.h lib/config_holder.cc \
	lib/event.h \
	lib/metrics.h lib/metrics.cc \
	lib/control.h lib/control.cc lib/fd.h \
	lib/quote.h lib/quote.cc \
	lib/log.h lib/log.cc \
	lib/units.h lib/units.cc \
	lib/utf8.h \
	lib/cidr.h lib/cidr.cc \
	lib/address.h lib/address.cc \
	lib/socket_spec.h lib/socket_spec.cc \
	lib/dns_packet.h lib/dns_packet.cc lib/dns.h lib/dns.cc \
	lib/subprocess.h lib/subprocess.cc \
	lib/mail_submit.h lib/mail_submit.cc

# What a program linking lib/libmpp.a needs besides it.
MPP_LIB_LIBS = lib/libmpp.a $(TINYXML2_LIBS) $(PCRE2_LIBS) $(LIBEVENT_LIBS) $(LIBCURL_LIBS) \
	$(RESOLV_LIBS)
