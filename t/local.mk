# t/: tests. Every test speaks TAP (GoogleTest through t/gtest_tap_main.cc), so `make check`
# counts each test case, and .ci/run sums them into "N passed, N failed".
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
TEST_EXTENSIONS = .py
PY_LOG_DRIVER = $(LOG_DRIVER)
PY_LOG_COMPILER = $(PYTHON3)
AM_TESTS_ENVIRONMENT = \
	MPP_TOP_SRCDIR='$(abs_top_srcdir)'; export MPP_TOP_SRCDIR; \
	MPP_TOP_BUILDDIR='$(abs_top_builddir)'; export MPP_TOP_BUILDDIR;

GTEST_LDADD = $(GTEST_LIBS) $(PTHREAD_LIBS)
noinst_LIBRARIES += t/libgtesttap.a
t_libgtesttap_a_CPPFLAGS = $(AM_CPPFLAGS) $(GTEST_CFLAGS)
t_libgtesttap_a_SOURCES = t/gtest_tap_main.cc

# lib/ unit tests
check_PROGRAMS += t/lib_tests
TESTS += t/lib_tests
t_lib_tests_CPPFLAGS = $(AM_CPPFLAGS) $(GTEST_CFLAGS) $(TINYXML2_CFLAGS)
t_lib_tests_SOURCES = \
	t/lib/control_test.cc \
	t/lib/config_holder_test.cc \
	t/lib/config_test.cc \
	t/lib/config_errors_test.cc \
	t/lib/config_schema_test.cc \
	t/lib/config_docs_test.cc \
	t/lib/units_test.cc \
	t/lib/cidr_test.cc \
	t/lib/address_test.cc \
	t/lib/socket_spec_test.cc \
	t/lib/mail_submit_test.cc \
	t/lib/log_test.cc \
	t/lib/dns_packet_test.cc \
	t/lib/dns_test.cc \
	t/unbound_server.h \
	t/temp_dir.h
t_lib_tests_LDADD = t/libgtesttap.a $(MPP_LIB_LIBS) $(GTEST_LDADD)

# milter/ unit tests (the daemon's parts that run without an MTA)
check_PROGRAMS += t/milter_tests
TESTS += t/milter_tests
t_milter_tests_CPPFLAGS = $(AM_CPPFLAGS) $(GTEST_CFLAGS) $(LIBEVENT_CFLAGS)
t_milter_tests_SOURCES = \
	t/milter/control_server_test.cc \
	t/milter/filter_content_test.cc \
	t/milter/filter_test.cc \
	t/milter/filter_test_util.h \
	t/milter/message_buffer_test.cc \
	t/milter/milter_runner_test.cc \
	t/milter/options_test.cc \
	t/milter/policy_verbs_test.cc \
	t/milter/verdict_reply_test.cc
t_milter_tests_LDADD = t/libgtesttap.a $(MILTERFRONT_LIBS) $(GTEST_LDADD)

# Integration tests: real daemons (mppd, a private Postfix) on loopback; helpers in the mpptest
# package (one module per concern).
TESTS += \
	t/integration/daemon_lifecycle.py \
	t/integration/graceful_stop.py \
	t/integration/postfix_policy.py \
	t/integration/postfix_milter.py \
	t/integration/milter_checks.py \
	t/integration/milter_content.py \
	t/integration/policy_admin.py \
	t/integration/policy_alerts.py \
	t/integration/policy_rbl.py
EXTRA_DIST += \
	t/tsan.supp \
	t/integration/mpptest/__init__.py \
	t/integration/mpptest/env.py \
	t/integration/mpptest/tap.py \
	t/integration/mpptest/wait.py \
	t/integration/mpptest/sink.py \
	t/integration/mpptest/postfix.py \
	t/integration/mpptest/mppd.py \
	t/integration/mpptest/milterclient.py \
	t/integration/mpptest/smtp.py \
	t/integration/mpptest/policy.py \
	t/integration/daemon_lifecycle.py \
	t/integration/graceful_stop.py \
	t/integration/postfix_policy.py \
	t/integration/postfix_milter.py \
	t/integration/milter_checks.py \
	t/integration/milter_content.py \
	t/integration/policy_admin.py \
	t/integration/policy_alerts.py \
	t/integration/policy_rbl.py

# Fuzz targets; their corpora replay in make check.
include t/fuzz/local.mk

# policy/ unit tests
check_PROGRAMS += t/policy_tests
TESTS += t/policy_tests
t_policy_tests_CPPFLAGS = $(AM_CPPFLAGS) $(GTEST_CFLAGS) $(LIBEVENT_CFLAGS) $(PCRE2_CFLAGS)
t_policy_tests_SOURCES = \
	t/policy/policy_request_test.cc \
	t/policy/policy_server_test.cc \
	t/policy/policy_reply_test.cc \
	t/policy/checks_test.cc \
	t/policy/verdict_test.cc \
	t/policy/sender_normalise_test.cc \
	t/policy/greylist_test.cc \
	t/policy/greylist_store_test.cc \
	t/policy/table_snapshots_test.cc \
	t/policy/policy_test_util.h \
	t/policy/lists_test.cc \
	t/policy/groups_test.cc \
	t/policy/spamtrap_test.cc \
	t/policy/threshold_test.cc \
	t/policy/subject_key_test.cc \
	t/policy/engine_test.cc \
	t/policy/alerts_test.cc \
	t/policy/rbl_test.cc
t_policy_tests_LDADD = t/libgtesttap.a $(POLICY_LIBS) $(GTEST_LDADD)

# engines/ unit tests
check_PROGRAMS += t/engines_tests
TESTS += t/engines_tests
t_engines_tests_CPPFLAGS = $(AM_CPPFLAGS) $(GTEST_CFLAGS) $(PCRE2_CFLAGS)
t_engines_tests_SOURCES = \
	t/engines/content_verdict_test.cc \
	t/engines/header_filter_test.cc \
	t/engines/scan_runner_test.cc
t_engines_tests_LDADD = t/libgtesttap.a $(ENGINES_LIBS) $(GTEST_LDADD)
