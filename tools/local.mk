# tools/: mppctl (control-socket client).
sbin_PROGRAMS += mppctl
mppctl_SOURCES = tools/mppctl.cc
mppctl_LDADD = $(MPP_LIB_LIBS) $(PTHREAD_LIBS)
