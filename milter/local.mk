# milter/: the libmilter front end and mppd's main, which wires the daemon together.
noinst_LIBRARIES += milter/libmilterfront.a
milter_libmilterfront_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)
milter_libmilterfront_a_SOURCES =

sbin_PROGRAMS += mppd
mppd_SOURCES = milter/mppd.cc
mppd_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS) $(TINYXML2_CFLAGS) $(PCRE2_CFLAGS) \
	$(MARIADB_CFLAGS) $(GMIME_CFLAGS) $(LIBCURL_CFLAGS)
mppd_LDADD = milter/libmilterfront.a $(MPP_LIB_LIBS) $(MILTER_LIBS) $(PTHREAD_LIBS)
