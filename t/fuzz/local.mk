# t/fuzz/: libFuzzer targets and their seed corpora (t/fuzz/corpus/NAME/).
#
# `make check` replays every corpus through its target's LLVMFuzzerTestOneInput with
# t/fuzz/replay_main.cc, built by the normal compiler, so each corpus runs in every build; each
# replay is a TAP test ("ok I - FILE" per input).
# `make fuzz` builds the real fuzzers with clang (-fsanitize=fuzzer,address,undefined) from the
# sources directly: t/fuzz/NAME_fuzz. `make fuzz-run FUZZ_TIME=300` runs each for that many
# seconds, writing new inputs to t/fuzz/work-NAME/ (the seed corpus is only read) and crash
# reproducers there too (remove them by hand); copy the interesting ones into
# t/fuzz/corpus/NAME/.
# A new target: add NAME to FUZZ_TARGETS, a NAME_replay program and a NAME_fuzz rule below.
FUZZ_TARGETS = config address greylist_journal policy_request header_decode dns_packet

check_PROGRAMS += t/fuzz/config_replay t/fuzz/address_replay t/fuzz/greylist_journal_replay \
	t/fuzz/policy_request_replay t/fuzz/header_decode_replay t/fuzz/dns_packet_replay
TESTS += t/fuzz/config_replay t/fuzz/address_replay t/fuzz/greylist_journal_replay \
	t/fuzz/policy_request_replay t/fuzz/header_decode_replay t/fuzz/dns_packet_replay
EXTRA_DIST += t/fuzz/corpus

t_fuzz_config_replay_SOURCES = t/fuzz/config_fuzz.cc t/fuzz/replay_main.cc
t_fuzz_config_replay_CPPFLAGS = $(AM_CPPFLAGS) -DMPP_FUZZ_CORPUS='"config"' -DMPP_FUZZ_SRCDIR='"$(abs_top_srcdir)"'
t_fuzz_config_replay_LDADD = $(MPP_LIB_LIBS)

t_fuzz_address_replay_SOURCES = t/fuzz/address_fuzz.cc t/fuzz/replay_main.cc
t_fuzz_address_replay_CPPFLAGS = $(AM_CPPFLAGS) -DMPP_FUZZ_CORPUS='"address"' -DMPP_FUZZ_SRCDIR='"$(abs_top_srcdir)"'
t_fuzz_address_replay_LDADD = $(MPP_LIB_LIBS)

t_fuzz_greylist_journal_replay_SOURCES = t/fuzz/greylist_journal_fuzz.cc t/fuzz/replay_main.cc
t_fuzz_greylist_journal_replay_CPPFLAGS = $(AM_CPPFLAGS) -DMPP_FUZZ_CORPUS='"greylist_journal"' -DMPP_FUZZ_SRCDIR='"$(abs_top_srcdir)"'
t_fuzz_greylist_journal_replay_LDADD = $(POLICY_LIBS)

t_fuzz_policy_request_replay_SOURCES = t/fuzz/policy_request_fuzz.cc t/fuzz/replay_main.cc
t_fuzz_policy_request_replay_CPPFLAGS = $(AM_CPPFLAGS) -DMPP_FUZZ_CORPUS='"policy_request"' -DMPP_FUZZ_SRCDIR='"$(abs_top_srcdir)"'
t_fuzz_policy_request_replay_LDADD = $(POLICY_LIBS)

t_fuzz_header_decode_replay_SOURCES = t/fuzz/header_decode_fuzz.cc t/fuzz/replay_main.cc
t_fuzz_header_decode_replay_CPPFLAGS = $(AM_CPPFLAGS) -DMPP_FUZZ_CORPUS='"header_decode"' -DMPP_FUZZ_SRCDIR='"$(abs_top_srcdir)"'
t_fuzz_header_decode_replay_LDADD = $(ENGINES_LIBS)

t_fuzz_dns_packet_replay_SOURCES = t/fuzz/dns_packet_fuzz.cc t/fuzz/replay_main.cc
t_fuzz_dns_packet_replay_CPPFLAGS = $(AM_CPPFLAGS) -DMPP_FUZZ_CORPUS='"dns_packet"' -DMPP_FUZZ_SRCDIR='"$(abs_top_srcdir)"'
t_fuzz_dns_packet_replay_LDADD = $(MPP_LIB_LIBS)

# The fuzzers proper: clang only, outside automake's compiler choice.
FUZZ_CXX = clang++
FUZZ_TIME = 60
FUZZ_CXXFLAGS = -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) $(TINYXML2_CFLAGS) $(PCRE2_CFLAGS)
FUZZ_LIBS = $(TINYXML2_LIBS) $(PCRE2_LIBS)
FUZZ_PARSER_SRC = $(srcdir)/lib/units.cc $(srcdir)/lib/cidr.cc $(srcdir)/lib/address.cc \
	$(srcdir)/lib/socket_spec.cc $(srcdir)/lib/regex.cc $(srcdir)/lib/template.cc \
	$(srcdir)/lib/quote.cc
FUZZ_CONFIG_SRC = $(srcdir)/lib/config.cc $(srcdir)/lib/config_text.cc $(srcdir)/lib/config_loader.cc \
	$(srcdir)/lib/config_parse.cc $(srcdir)/lib/config_schema.cc $(srcdir)/lib/config_schema_daemon.cc \
	$(srcdir)/lib/config_schema_definitions.cc $(srcdir)/lib/config_schema_groups.cc \
	$(srcdir)/lib/config_schema_checks.cc $(FUZZ_PARSER_SRC)

t/fuzz/config_fuzz: $(srcdir)/t/fuzz/config_fuzz.cc $(FUZZ_CONFIG_SRC)
	$(AM_V_GEN)$(MKDIR_P) t/fuzz && $(FUZZ_CXX) $(FUZZ_CXXFLAGS) $(FUZZ_CPPFLAGS) -o $@ \
	  $(srcdir)/t/fuzz/config_fuzz.cc $(FUZZ_CONFIG_SRC) $(FUZZ_LIBS)

t/fuzz/address_fuzz: $(srcdir)/t/fuzz/address_fuzz.cc $(FUZZ_PARSER_SRC)
	$(AM_V_GEN)$(MKDIR_P) t/fuzz && $(FUZZ_CXX) $(FUZZ_CXXFLAGS) $(FUZZ_CPPFLAGS) -o $@ \
	  $(srcdir)/t/fuzz/address_fuzz.cc $(FUZZ_PARSER_SRC) $(FUZZ_LIBS)

FUZZ_GREYLIST_SRC = $(srcdir)/policy/greylist_store.cc $(srcdir)/policy/state_file.cc \
	$(srcdir)/policy/sender_normalise.cc \
	$(srcdir)/lib/log.cc $(srcdir)/lib/metrics.cc

t/fuzz/greylist_journal_fuzz: $(srcdir)/t/fuzz/greylist_journal_fuzz.cc $(FUZZ_GREYLIST_SRC)
	$(AM_V_GEN)$(MKDIR_P) t/fuzz && $(FUZZ_CXX) $(FUZZ_CXXFLAGS) $(FUZZ_CPPFLAGS) -o $@ \
	  $(srcdir)/t/fuzz/greylist_journal_fuzz.cc $(FUZZ_GREYLIST_SRC)

FUZZ_POLICY_REQUEST_SRC = $(srcdir)/policy/policy_request.cc $(srcdir)/lib/cidr.cc $(srcdir)/lib/quote.cc

t/fuzz/policy_request_fuzz: $(srcdir)/t/fuzz/policy_request_fuzz.cc $(FUZZ_POLICY_REQUEST_SRC)
	$(AM_V_GEN)$(MKDIR_P) t/fuzz && $(FUZZ_CXX) $(FUZZ_CXXFLAGS) $(FUZZ_CPPFLAGS) -o $@ \
	  $(srcdir)/t/fuzz/policy_request_fuzz.cc $(FUZZ_POLICY_REQUEST_SRC)

FUZZ_HEADER_DECODE_SRC = $(srcdir)/engines/header_filter.cc $(srcdir)/policy/lists.cc \
	$(srcdir)/policy/subject_key.cc \
	$(srcdir)/lib/log.cc $(srcdir)/lib/metrics.cc $(FUZZ_PARSER_SRC)

t/fuzz/header_decode_fuzz: $(srcdir)/t/fuzz/header_decode_fuzz.cc $(FUZZ_HEADER_DECODE_SRC)
	$(AM_V_GEN)$(MKDIR_P) t/fuzz && $(FUZZ_CXX) $(FUZZ_CXXFLAGS) $(FUZZ_CPPFLAGS) $(GMIME_CFLAGS) \
	  -o $@ $(srcdir)/t/fuzz/header_decode_fuzz.cc $(FUZZ_HEADER_DECODE_SRC) $(FUZZ_LIBS) \
	  $(GMIME_LIBS)

FUZZ_DNS_PACKET_SRC = $(srcdir)/lib/dns_packet.cc

t/fuzz/dns_packet_fuzz: $(srcdir)/t/fuzz/dns_packet_fuzz.cc $(FUZZ_DNS_PACKET_SRC)
	$(AM_V_GEN)$(MKDIR_P) t/fuzz && $(FUZZ_CXX) $(FUZZ_CXXFLAGS) $(FUZZ_CPPFLAGS) -o $@ \
	  $(srcdir)/t/fuzz/dns_packet_fuzz.cc $(FUZZ_DNS_PACKET_SRC) $(RESOLV_LIBS)

fuzz: t/fuzz/config_fuzz t/fuzz/address_fuzz t/fuzz/greylist_journal_fuzz t/fuzz/policy_request_fuzz \
	t/fuzz/header_decode_fuzz t/fuzz/dns_packet_fuzz

fuzz-run: fuzz
	@for t in $(FUZZ_TARGETS); do \
	  $(MKDIR_P) t/fuzz/work-$$t || exit 1; \
	  echo "fuzzing $$t for $(FUZZ_TIME)s"; \
	  t/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_TIME) -artifact_prefix=t/fuzz/work-$$t/ \
	    t/fuzz/work-$$t $(srcdir)/t/fuzz/corpus/$$t || exit 1; \
	done

CLEANFILES += t/fuzz/config_fuzz t/fuzz/address_fuzz t/fuzz/greylist_journal_fuzz \
	t/fuzz/policy_request_fuzz t/fuzz/header_decode_fuzz t/fuzz/dns_packet_fuzz

.PHONY: fuzz fuzz-run
