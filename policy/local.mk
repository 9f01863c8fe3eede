# policy/: policy groups and the SMTP-level checks (whitelists, greylist, thresholds, spam
# traps), their state tables, and the Postfix policy server. Uses lib/ only.
noinst_LIBRARIES += policy/libpolicy.a
policy_libpolicy_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS) $(PCRE2_CFLAGS)
policy_libpolicy_a_SOURCES = \
	policy/transaction.h \
	policy/policy_request.h policy/policy_request.cc \
	policy/policy_reply.h policy/policy_reply.cc \
	policy/policy_server.h policy/policy_server.cc \
	policy/policy_conn.h policy/policy_conn.cc \
	policy/verdict.h policy/verdict.cc \
	policy/sender_normalise.h policy/sender_normalise.cc \
	policy/alerts.h policy/alerts.cc \
	policy/greylist.h policy/greylist.cc policy/greylist_admin.cc \
	policy/state_file.h policy/state_file.cc \
	policy/greylist_store.h policy/greylist_store.cc \
	policy/table_snapshots.h policy/table_snapshots.cc \
	policy/lists.h policy/lists.cc \
	policy/groups.h policy/groups.cc \
	policy/blocklist.h policy/blocklist.cc \
	policy/spamtrap.h policy/spamtrap.cc \
	policy/subject_key.h policy/subject_key.cc \
	policy/threshold.h policy/threshold.cc \
	policy/engine.h policy/engine.cc policy/engine_reply.cc \
	policy/split.h policy/split.cc \
	policy/rbl.h policy/rbl.cc \
	policy/checks.h policy/checks.cc

# What a program linking the policy library needs besides it.
POLICY_LIBS = policy/libpolicy.a $(MPP_LIB_LIBS)
