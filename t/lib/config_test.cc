// t/lib/config_test.cc: lib/config loading: every element parsed into its typed struct,
// defaults applied, references resolved, groups (default, inheritance), warnings for features
// not built, revision, and loading from a file and from standard input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "lib/config.h"

using namespace mpp::config;
using std::chrono::seconds;

namespace {

std::string dump(const LoadResult& r) {
    std::string out;
    for (const auto& d : r.diagnostics) out += d.str() + "\n";
    return out;
}

std::shared_ptr<const Config> ok(const std::string& xml) {
    LoadResult r = load_string(xml, "t.xml");
    EXPECT_TRUE(r.ok()) << dump(r);
    return r.config ? r.config : std::make_shared<const Config>();
}

std::size_t warnings(const LoadResult& r) {
    std::size_t n = 0;
    for (const auto& d : r.diagnostics) n += d.severity == Diagnostic::Severity::warning;
    return n;
}

const std::string kDefs = R"X(
  <list name="relays" type="cidr">192.0.2.0/24
    2001:db8::/32</list>
  <list name="staff" type="address">alice@example.com *@corp.example.com</list>
  <list name="ours" type="domain">example.com *.example.org</list>
  <list name="traps" type="regex">^trap[0-9]+@ ^x\.y@</list>
  <rbl name="zen" zone="zen.spamhaus.org" score="6"/>
  <rbl name="cop" zone="bl.spamcop.net" score="1.5" lookup="client" timeout="3s" answers="127.0.0.2"/>
  <spamd name="sa" address="127.0.0.1:783" timeout="20s" max-size="1M" weight="0.5"/>
  <clamd name="clam" on-limits="quarantine"/>
  <command name="uv" path="/usr/bin/uvscan" virus-exit="13 100-102" virus-name="Found: (\S+)" timeout="1m">
    <arg>--secure</arg>
    <arg>%FILE%</arg>
  </command>
)X";

}  // namespace

TEST(Config, EmptyRootGetsEveryDefault) {
    LoadResult r = load_string("<mppd/>", "t.xml");
    ASSERT_TRUE(r.ok()) << dump(r);
    EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
    const Config& c = *r.config;
    EXPECT_EQ(c.daemon.user, "");
    EXPECT_EQ(c.daemon.state_dir, MPP_LOCALSTATEDIR "/lib/mppd");
    EXPECT_EQ(c.daemon.pidfile, MPP_RUNSTATEDIR "/mppd/mppd.pid");
    EXPECT_EQ(c.daemon.shutdown_timeout, seconds(30));
    EXPECT_EQ(c.log.syslog_facility, "mail");
    EXPECT_EQ(c.log.level, "info");
    EXPECT_EQ(c.log.file, "");
    EXPECT_EQ(c.log.rotate_keep, 7u);
    EXPECT_TRUE(c.milter.enabled);
    EXPECT_EQ(c.milter.socket, "inet:10025@127.0.0.1");
    EXPECT_EQ(c.milter.timeout, seconds(300));
    EXPECT_EQ(c.milter.backlog, 128);
    EXPECT_EQ(c.policy_server.listen, "127.0.0.1:10031");
    EXPECT_FALSE(c.policy_server.standalone);
    EXPECT_EQ(c.policy_server.threads_max, 64);
    EXPECT_EQ(c.policy_server.request_timeout, seconds(20));
    EXPECT_EQ(c.control.socket, MPP_RUNSTATEDIR "/mppd/control.sock");
    EXPECT_EQ(c.control.mode, 0660u);
    EXPECT_EQ(c.dns.timeout, seconds(2));
    EXPECT_TRUE(c.dns.resolver.empty());
    EXPECT_EQ(c.store.spool, MPP_LOCALSTATEDIR "/spool/mppd");
    EXPECT_EQ(c.store.spool_high_water, 1024ull * 1024 * 1024);
    EXPECT_EQ(c.store.database, "");
    EXPECT_EQ(c.store.tracking, Tracking::none);
    EXPECT_EQ(c.alerts.from, "mppd@localhost");
    ASSERT_EQ(c.alerts.to.size(), 1u);
    EXPECT_TRUE(c.networks.internal.nets.contains("127.0.0.1"));
    EXPECT_TRUE(c.networks.internal.nets.contains("::1"));
    EXPECT_FALSE(c.networks.internal.nets.contains("192.0.2.1"));
    EXPECT_EQ(c.limits.spill_size, 1024u * 1024);
    EXPECT_EQ(c.limits.max_mime_depth, 50);
    EXPECT_EQ(c.limits.on_exceeded, BombAction::reject);
    ASSERT_EQ(c.groups.size(), 1u);
    EXPECT_EQ(c.default_group().name, "default");
    EXPECT_TRUE(c.default_group().implied);
    EXPECT_EQ(c.source, "t.xml");
    EXPECT_EQ(c.revision.size(), 12u);
}

TEST(Config, BuiltSectionsParseEveryAttribute) {
    auto c = ok(R"(<mppd>
      <daemon user="mpp" group="mail" state-dir="/srv/mppd" pidfile="" shutdown-timeout="1m"/>
      <log syslog-facility="local3" file="/var/log/mppd.log" rotate-size="100M" rotate-every="1d" rotate-keep="3" level="debug"/>
      <milter enabled="no" socket="unix:/run/mppd/milter.sock" timeout="2m" backlog="64"/>
      <control socket="/run/x.sock" mode="0600" group="adm"/>
    </mppd>)");
    EXPECT_EQ(c->daemon.user, "mpp");
    EXPECT_EQ(c->daemon.group, "mail");
    EXPECT_EQ(c->daemon.state_dir, "/srv/mppd");
    EXPECT_EQ(c->daemon.pidfile, "");
    EXPECT_EQ(c->daemon.shutdown_timeout, seconds(60));
    EXPECT_EQ(c->log.syslog_facility, "local3");
    EXPECT_EQ(c->log.file, "/var/log/mppd.log");
    EXPECT_EQ(c->log.rotate_size, 100ull * 1024 * 1024);
    EXPECT_EQ(c->log.rotate_every, seconds(86400));
    EXPECT_EQ(c->log.rotate_keep, 3u);
    EXPECT_EQ(c->log.level, "debug");
    EXPECT_FALSE(c->milter.enabled);
    EXPECT_EQ(c->milter.socket, "unix:/run/mppd/milter.sock");
    EXPECT_EQ(c->milter.timeout, seconds(120));
    EXPECT_EQ(c->milter.backlog, 64);
    EXPECT_EQ(c->control.socket, "/run/x.sock");
    EXPECT_EQ(c->control.mode, 0600u);
    EXPECT_EQ(c->control.group, "adm");
}

TEST(Config, UnbuiltSectionsParse) {
    auto c = ok(R"(<mppd>
      <policy-server enabled="no" listen="[::1]:10032" standalone="yes" threads-min="4" threads-max="400"
                     idle-timeout="1m" max-connections="50" request-timeout="5s"/>
      <dns resolver="127.0.0.1 127.0.0.2:5353" timeout="1s" attempts="3" max-inflight="10" cache-entries="0"/>
      <store spool="/q" spool-high-water="10G" database="mariadb://mpp@db.example.com:3307/mpp"
             database-password-file="/etc/mpp/db.pw" database-timeout="10s" maildir="/m/%D1%/%D%/%U%"
             forward="central.example.com:10026" tracking="full"/>
      <alerts from="gw@example.com" to="a@example.com b@example.com" sendmail="/usr/lib/sendmail"
              relay="127.0.0.1:25" min-interval="1h"/>
      <networks internal="10.0.0.0/8 2001:db8::/32" authenticated-outbound="no"/>
      <limits max-message-size="50M" spill-size="2M" max-header-size="32K" max-headers="500" max-mime-depth="20"
              max-mime-parts="1000" eom-budget="90s" regex-match-limit="5000" regex-depth-limit="500"
              regex-heap-limit="4M" on-exceeded="quarantine"/>
    </mppd>)");
    EXPECT_FALSE(c->policy_server.enabled);
    EXPECT_EQ(c->policy_server.listen, "[::1]:10032");
    EXPECT_TRUE(c->policy_server.standalone);
    EXPECT_EQ(c->policy_server.threads_min, 4);
    EXPECT_EQ(c->policy_server.threads_max, 400);
    EXPECT_EQ(c->policy_server.idle_timeout, seconds(60));
    EXPECT_EQ(c->policy_server.max_connections, 50);
    EXPECT_EQ(c->policy_server.request_timeout, seconds(5));
    EXPECT_EQ(c->dns.resolver, (std::vector<std::string>{"127.0.0.1", "127.0.0.2:5353"}));
    EXPECT_EQ(c->dns.attempts, 3);
    EXPECT_EQ(c->dns.cache_entries, 0);
    EXPECT_EQ(c->store.spool_high_water, 10ull << 30);
    EXPECT_EQ(c->store.database, "mariadb://mpp@db.example.com:3307/mpp");
    EXPECT_EQ(c->store.database_password_file, "/etc/mpp/db.pw");
    EXPECT_EQ(c->store.maildir, "/m/%D1%/%D%/%U%");
    EXPECT_EQ(c->store.forward, "central.example.com:10026");
    EXPECT_EQ(c->store.tracking, Tracking::full);
    EXPECT_EQ(c->alerts.to, (std::vector<std::string>{"a@example.com", "b@example.com"}));
    EXPECT_EQ(c->alerts.min_interval, seconds(3600));
    EXPECT_TRUE(c->networks.internal.nets.contains("10.1.2.3"));
    EXPECT_FALSE(c->networks.internal.nets.contains("127.0.0.1"));
    EXPECT_FALSE(c->networks.authenticated_outbound);
    EXPECT_EQ(c->limits.max_message_size, 50ull << 20);
    EXPECT_EQ(c->limits.max_header_size, 32u * 1024);
    EXPECT_EQ(c->limits.regex_match_limit, 5000);
    EXPECT_EQ(c->limits.regex_heap_limit, 4ull << 20);
    EXPECT_EQ(c->limits.on_exceeded, BombAction::quarantine);
}

TEST(Config, ListsAreValidatedPerType) {
    auto c = ok("<mppd>" + kDefs + "</mppd>");
    ASSERT_EQ(c->lists.size(), 4u);
    const ListCfg& relays = c->lists[0];
    EXPECT_EQ(relays.name, "relays");
    EXPECT_EQ(relays.type, ListType::cidr);
    EXPECT_EQ(relays.line, 2);
    EXPECT_EQ(relays.entries, (std::vector<std::string>{"192.0.2.0/24", "2001:db8::/32"}));
    EXPECT_TRUE(relays.nets.contains("192.0.2.77"));
    EXPECT_TRUE(relays.nets.contains("2001:db8::1"));
    EXPECT_EQ(c->lists[1].addresses.size(), 2u);
    EXPECT_TRUE(c->lists[1].addresses[1].matches(*mpp::Address::parse("bob@corp.example.com")));
    EXPECT_EQ(c->lists[2].domains, (std::vector<std::string>{"example.com", "*.example.org"}));
    ASSERT_EQ(c->lists[3].regexes.size(), 2u);
    EXPECT_EQ(c->lists[3].regexes[0]->match("TRAP12@example.com"), mpp::MatchResult::match);
}

TEST(Config, DefinitionsParse) {
    auto c = ok("<mppd>" + kDefs + "</mppd>");
    ASSERT_EQ(c->rbls.size(), 2u);
    EXPECT_EQ(c->rbls[0].zone, "zen.spamhaus.org");
    EXPECT_DOUBLE_EQ(c->rbls[0].score, 6);
    EXPECT_TRUE(c->rbls[0].answers.nets.contains("127.0.0.4"));
    EXPECT_EQ(c->rbls[0].lookup, RblLookup::client);
    EXPECT_DOUBLE_EQ(c->rbls[1].score, 1.5);
    EXPECT_EQ(c->rbls[1].timeout, seconds(3));
    EXPECT_FALSE(c->rbls[1].answers.nets.contains("127.0.0.4"));
    ASSERT_EQ(c->spamd.size(), 1u);
    EXPECT_EQ(c->spamd[0].address, "127.0.0.1:783");
    EXPECT_EQ(c->spamd[0].timeout, seconds(20));
    EXPECT_EQ(c->spamd[0].max_size, 1024u * 1024);
    EXPECT_EQ(c->spamd[0].on_error, EngineError::tag);  // spamd default: accept + tag
    EXPECT_DOUBLE_EQ(c->spamd[0].weight, 0.5);
    ASSERT_EQ(c->clamd.size(), 1u);
    EXPECT_EQ(c->clamd[0].address, "unix:/run/clamav/clamd.ctl");
    EXPECT_EQ(c->clamd[0].on_error, EngineError::defer);  // clamd default: tempfail
    EXPECT_EQ(c->clamd[0].on_limits, LimitAction::quarantine);
    EXPECT_EQ(c->clamd[0].max_size, 25u * 1024 * 1024);
    EXPECT_EQ(c->clamd[0].breaker_failures, 5);
    ASSERT_EQ(c->commands.size(), 1u);
    const CommandCfg& uv = c->commands[0];
    EXPECT_EQ(uv.path, "/usr/bin/uvscan");
    EXPECT_EQ(uv.args, (std::vector<std::string>{"--secure", "%FILE%"}));
    EXPECT_EQ(uv.clean_exit, std::vector<int>{0});
    EXPECT_EQ(uv.virus_exit, (std::vector<int>{13, 100, 101, 102}));
    std::string name;
    ASSERT_TRUE(uv.virus_name);
    EXPECT_EQ(uv.virus_name->match("Found: EICAR-Test", {}, &name), mpp::MatchResult::match);
    EXPECT_EQ(name, "EICAR-Test");
    EXPECT_EQ(uv.input, CommandInput::file);
}

TEST(Config, GroupWithEveryCheck) {
    auto c = ok("<mppd>" + kDefs + R"(
  <group name="sales">
    <match recipient="staff *@sales.example.com" sender-domain="ours" client="relays 198.51.100.0/24"
           direction="inbound" sasl="no"/>
    <match recipient-domain="*.example.net" sender="traps"/>
    <allow sender="boss@example.com"/>
    <deny client="203.0.113.0/24"/>
    <greylist delay="1m" retry-window="1d" expire="10d" auto-whitelist="0" ipv4-prefix="32" ipv6-prefix="48"
              exempt="relays staff" on-error="defer"/>
    <threshold name="outbound-rate" messages="60" period="30s" block-for="1h" action="defer" direction="outbound"
               key="sasl" alert-to="abuse@example.com" exempt="relays"/>
    <threshold spams="10" messages="10" period="2m"/>
    <spamtrap pattern="^[0-9]{5,}@example\.com$" scope="global" block-for="2d" exempt="relays"/>
    <rbl use="zen cop" reject-at="6" exempt="relays"/>
    <header-filter header="Subject" pattern="^Undeliverable Mail" action="score" score="2.5" reason="backscatter"/>
    <header-filter pattern="^From:.*Mailer" action="discard"/>
    <scan engines="sa clam uv" on-error="defer" on-virus="quarantine" exempt="staff"/>
    <score tag-at="4" quarantine-at="7" reject-at="12" tag-header="X-Spam" subject-prefix="[SPAM]"/>
    <strip filename="*.pdf *.zip" content-type="application/* image/png" min-size="1M" direction="inbound"
           upload="https://files.example.com/a/%TOKEN%/%FILENAME%" link="https://dl.example.com/%TOKEN%/%FILENAME%"
           upload-timeout="2m" on-error="deliver">Get %FILENAME% (%SIZE%) at %URL%</strip>
    <disclaimer direction="outbound" charset="utf-8">
        Confidential.
          -- %GROUP%
    </disclaimer>
    <disclaimer charset="iso-8859-1">Vertraulich.</disclaimer>
    <reject on="virus" code="554" dsn="5.7.0">Virus %VIRUS% found</reject>
    <reject>Rejected by %GROUP%: %REASON% (%QUEUEID%)</reject>
    <defer on="greylist"/>
    <quarantine store="maildir" keep="14d"/>
    <archive store="auto" keep="3650d" direction="outbound" exempt="staff"/>
    <verify-recipient lists="staff ours"/>
  </group>
</mppd>)");
    ASSERT_EQ(c->groups.size(), 2u);
    const GroupCfg& g = c->groups[0];
    EXPECT_EQ(g.name, "sales");
    EXPECT_FALSE(g.implied);
    ASSERT_EQ(g.matches.size(), 2u);
    const MatchCfg& m = g.matches[0];
    ASSERT_EQ(m.recipient.lists.size(), 1u);
    EXPECT_EQ(m.recipient.lists[0].name, "staff");
    EXPECT_EQ(m.recipient.lists[0].index, 1u);
    ASSERT_EQ(m.recipient.patterns.size(), 1u);
    EXPECT_EQ(m.sender_domain.lists[0].index, 2u);
    EXPECT_EQ(m.client.lists[0].index, 0u);
    EXPECT_TRUE(m.client.nets.contains("198.51.100.9"));
    EXPECT_EQ(m.direction, Direction::inbound);
    EXPECT_EQ(m.sasl, Tristate::no);
    EXPECT_EQ(g.matches[1].recipient_domain.patterns.size(), 1u);
    EXPECT_EQ(g.matches[1].sender.lists[0].index, 3u);
    EXPECT_EQ(g.matches[1].direction, Direction::any);
    ASSERT_EQ(g.allow.size(), 1u);
    ASSERT_EQ(g.deny.size(), 1u);
    ASSERT_TRUE(g.greylist);
    EXPECT_EQ(g.greylist->delay, seconds(60));
    EXPECT_EQ(g.greylist->auto_whitelist, 0);
    EXPECT_EQ(g.greylist->ipv6_prefix, 48);
    EXPECT_EQ(g.greylist->exempt.size(), 2u);
    EXPECT_EQ(g.greylist->on_error, GreylistError::defer);
    ASSERT_EQ(g.thresholds.size(), 2u);
    EXPECT_EQ(g.thresholds[0].name, "outbound-rate");
    EXPECT_EQ(g.thresholds[0].messages, 60);
    EXPECT_EQ(g.thresholds[0].action, ThresholdAction::defer);
    EXPECT_EQ(g.thresholds[0].key, ThresholdKey::sasl);
    EXPECT_EQ(g.thresholds[0].direction, Direction::outbound);
    EXPECT_EQ(g.thresholds[0].alert_to, std::vector<std::string>{"abuse@example.com"});
    EXPECT_EQ(g.thresholds[1].name, "threshold-" + std::to_string(g.thresholds[1].line));
    EXPECT_EQ(g.thresholds[1].action, ThresholdAction::block);
    ASSERT_EQ(g.spamtraps.size(), 1u);
    EXPECT_EQ(g.spamtraps[0].scope, TrapScope::global);
    EXPECT_EQ(g.spamtraps[0].pattern->match("12345@EXAMPLE.com"), mpp::MatchResult::match);
    ASSERT_EQ(g.rbls.size(), 1u);
    EXPECT_EQ(g.rbls[0].use[1].index, 1u);
    EXPECT_DOUBLE_EQ(*g.rbls[0].reject_at, 6);
    ASSERT_EQ(g.header_filters.size(), 2u);
    EXPECT_EQ(g.header_filters[0].action, HeaderAction::score);
    EXPECT_DOUBLE_EQ(g.header_filters[0].score, 2.5);
    EXPECT_EQ(g.header_filters[1].header, "");
    ASSERT_TRUE(g.scan);
    ASSERT_EQ(g.scan->engines.size(), 3u);
    EXPECT_EQ(g.scan->engines[0].engine, EngineKind::spamd);
    EXPECT_EQ(g.scan->engines[1].engine, EngineKind::clamd);
    EXPECT_EQ(g.scan->engines[2].engine, EngineKind::command);
    EXPECT_EQ(g.scan->on_virus, VirusAction::quarantine);
    ASSERT_TRUE(g.score);
    EXPECT_DOUBLE_EQ(*g.score->quarantine_at, 7);
    EXPECT_EQ(g.score->subject_prefix, "[SPAM]");
    ASSERT_EQ(g.strips.size(), 1u);
    EXPECT_EQ(g.strips[0].filename, (std::vector<std::string>{"*.pdf", "*.zip"}));
    EXPECT_EQ(g.strips[0].content_type.size(), 2u);
    EXPECT_EQ(g.strips[0].on_error, UploadError::deliver);
    EXPECT_EQ(g.strips[0].text, "Get %FILENAME% (%SIZE%) at %URL%");
    ASSERT_EQ(g.disclaimers.size(), 2u);
    EXPECT_EQ(g.disclaimers[0].text, "Confidential.\n  -- %GROUP%");
    EXPECT_EQ(g.disclaimers[1].direction, Direction::outbound);
    ASSERT_EQ(g.rejects.size(), 2u);
    EXPECT_EQ(g.rejects[0].on, Condition::virus);
    EXPECT_EQ(g.rejects[0].code, 554);
    EXPECT_EQ(g.rejects[1].on, Condition::any);
    EXPECT_EQ(g.rejects[1].code, 550);
    EXPECT_EQ(g.rejects[1].dsn, "5.7.1");
    ASSERT_EQ(g.defers.size(), 1u);
    EXPECT_EQ(g.defers[0].code, 451);
    EXPECT_EQ(g.defers[0].dsn, "4.7.1");
    ASSERT_TRUE(g.quarantine);
    EXPECT_EQ(g.quarantine->store, StoreTarget::maildir);
    ASSERT_TRUE(g.archive);
    EXPECT_EQ(g.archive->keep, seconds(3650LL * 86400));
    ASSERT_TRUE(g.verify_recipient);
    EXPECT_EQ(g.verify_recipient->lists.size(), 2u);
    EXPECT_TRUE(c->groups[1].implied);
}

TEST(Config, CheckDefaults) {
    auto c = ok(R"(<mppd><group name="default">
      <greylist/><threshold messages="10"/><spamtrap pattern="^x@"/><header-filter pattern="x"/>
      <strip filename="*.exe"/><disclaimer>d</disclaimer><quarantine/><archive/>
      <reject on="limits"/><reject on="verify-recipient"/><defer on="error"/><defer on="threshold"/>
    </group></mppd>)");
    const GroupCfg& g = c->default_group();
    EXPECT_FALSE(g.implied);
    EXPECT_EQ(g.greylist->delay, seconds(300));
    EXPECT_EQ(g.greylist->retry_window, seconds(2 * 86400));
    EXPECT_EQ(g.greylist->expire, seconds(35 * 86400));
    EXPECT_EQ(g.greylist->auto_whitelist, 5);
    EXPECT_EQ(g.greylist->ipv4_prefix, 24);
    EXPECT_EQ(g.greylist->ipv6_prefix, 64);
    EXPECT_EQ(g.greylist->on_error, GreylistError::accept);
    EXPECT_EQ(g.thresholds[0].period, seconds(60));
    EXPECT_EQ(g.thresholds[0].block_for, seconds(3600));
    EXPECT_EQ(g.thresholds[0].key, ThresholdKey::client);
    EXPECT_EQ(g.spamtraps[0].scope, TrapScope::group);
    EXPECT_EQ(g.spamtraps[0].block_for, seconds(86400));
    EXPECT_EQ(g.header_filters[0].action, HeaderAction::reject);
    EXPECT_EQ(g.strips[0].on_error, UploadError::defer);
    EXPECT_EQ(g.strips[0].text, "The attachment %FILENAME% (%SIZE%) was removed.");
    EXPECT_EQ(g.disclaimers[0].direction, Direction::outbound);
    EXPECT_EQ(g.disclaimers[0].charset, "*");
    EXPECT_EQ(g.quarantine->store, StoreTarget::automatic);
    EXPECT_EQ(g.quarantine->keep, seconds(30 * 86400));
    EXPECT_EQ(g.archive->keep, seconds(365 * 86400));
    EXPECT_EQ(g.rejects[0].code, 554);
    EXPECT_EQ(g.rejects[0].dsn, "5.6.0");
    EXPECT_EQ(g.rejects[1].code, 550);
    EXPECT_EQ(g.rejects[1].dsn, "5.1.1");
    EXPECT_EQ(g.defers[0].dsn, "4.3.0");
    EXPECT_EQ(g.defers[1].dsn, "4.7.1");
    EXPECT_EQ(g.defers[1].text, "Please try again later: %REASON%");
}

TEST(Config, DefaultGroupIsLastAndOthersKeepFileOrder) {
    auto c = ok(R"(<mppd>
      <group name="default"><greylist/></group>
      <group name="a"><match recipient-domain="a.example"/></group>
      <group name="b"><match recipient-domain="b.example"/></group>
    </mppd>)");
    ASSERT_EQ(c->groups.size(), 3u);
    EXPECT_EQ(c->groups[0].name, "a");
    EXPECT_EQ(c->groups[1].name, "b");
    EXPECT_EQ(c->groups[2].name, "default");
    EXPECT_TRUE(c->default_group().greylist);
}

TEST(Config, InheritanceReplacesPerKind) {
    auto c = ok(R"(<mppd>
      <group name="default">
        <greylist delay="10m"/>
        <threshold messages="100"/>
        <spamtrap pattern="^trap@"/>
        <score tag-at="5"/>
        <reject on="rbl">listed</reject>
        <reject>base</reject>
      </group>
      <group name="vip" inherit="default">
        <match recipient="ceo@example.com"/>
        <greylist enabled="no"/>
        <threshold messages="5"/>
        <reject>vip</reject>
      </group>
    </mppd>)");
    const GroupCfg& vip = c->groups[0];
    EXPECT_EQ(vip.name, "vip");
    ASSERT_TRUE(vip.inherit);
    EXPECT_EQ(vip.inherit->index, 1u);  // default moved to the end
    EXPECT_FALSE(vip.greylist);         // switched off
    ASSERT_EQ(vip.thresholds.size(), 1u);
    EXPECT_EQ(vip.thresholds[0].messages, 5);  // replaced, not added
    ASSERT_EQ(vip.spamtraps.size(), 1u);       // inherited
    ASSERT_TRUE(vip.score);
    ASSERT_EQ(vip.rejects.size(), 2u);  // its own "any", the base's "rbl"
    EXPECT_EQ(vip.rejects[0].text, "vip");
    EXPECT_EQ(vip.rejects[1].on, Condition::rbl);
    EXPECT_EQ(vip.matches.size(), 1u);
    EXPECT_TRUE(c->default_group().greylist);
}

TEST(Config, GlobalAllowDenyAndReplies) {
    auto c = ok(R"(<mppd>
      <list name="bad" type="cidr">203.0.113.0/24</list>
      <allow client="127.0.0.1/32" sasl="yes"/>
      <deny client="bad"/>
      <deny sender="*@spam.example" direction="inbound"/>
      <reject on="deny" code="554" dsn="5.7.1">Go away</reject>
      <defer>Later</defer>
    </mppd>)");
    EXPECT_EQ(c->allow.size(), 1u);
    EXPECT_EQ(c->allow[0].sasl, Tristate::yes);
    EXPECT_EQ(c->deny.size(), 2u);
    EXPECT_EQ(c->deny[0].client.lists[0].name, "bad");
    EXPECT_EQ(c->rejects[0].on, Condition::deny);
    EXPECT_EQ(c->rejects[0].text, "Go away");
    EXPECT_EQ(c->defers[0].code, 451);
}

TEST(Config, ReferencesMayPrecedeDefinitions) {
    auto c = ok(R"(<mppd>
      <group name="default"><scan engines="late"/><greylist exempt="later"/></group>
      <clamd name="late"/>
      <list name="later" type="cidr">10.0.0.0/8</list>
    </mppd>)");
    EXPECT_EQ(c->default_group().scan->engines[0].engine, EngineKind::clamd);
}

TEST(Config, WarnsOncePerTopmostUnbuiltElement) {
    LoadResult r = load_string(R"(<mppd>
  <daemon/><log/><milter/><control/>
  <group name="default">
    <greylist/>
    <score tag-at="4"/>
  </group>
  <store/>
</mppd>)",
                               "t.xml");
    ASSERT_TRUE(r.ok()) << dump(r);
    ASSERT_EQ(warnings(r), 2u) << dump(r);
    EXPECT_EQ(r.diagnostics[0].str(),
              "t.xml:5: warning: element <score> is parsed and checked, but custom scoring is "
              "not implemented in this version: it has no effect");
    EXPECT_EQ(r.diagnostics[1].line, 7);
}

TEST(Config, BuiltChecksDoNotWarn) {
    // Groups and their SMTP-level checks work (in the policy server): no warning for them.
    LoadResult r = load_string(R"(<mppd><group name="default"><greylist/><threshold messages="3"/>
<spamtrap pattern="^trap@"/></group></mppd>)", "g.xml");
    ASSERT_TRUE(r.ok()) << dump(r);
    EXPECT_EQ(warnings(r), 0u) << dump(r);
}

TEST(Config, RevisionFollowsTheBytes) {
    auto a = ok("<mppd/>");
    auto b = ok("<mppd/>");
    auto c = ok("<mppd />");
    EXPECT_EQ(a->revision, b->revision);
    EXPECT_NE(a->revision, c->revision);
    for (char ch : a->revision) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(ch)));
    auto age = std::chrono::system_clock::now() - a->loaded_at;
    EXPECT_LT(age, std::chrono::seconds(60));
}

TEST(Config, Utf8ByteOrderMarkIsSkipped) {
    ok("\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><mppd/>");
}

TEST(Config, CommentsCdataAndEntitiesAreFine) {
    auto c = ok(R"(<mppd><!-- a & b <!DOCTYPE in a comment -->
      <group name="default"><reject><![CDATA[Sorry <%GROUP%>]]> &amp; &#65;&#x42;</reject></group></mppd>)");
    EXPECT_EQ(c->default_group().rejects[0].text, "Sorry <%GROUP%> & AB");
}

namespace {

struct TempFile {
    std::string path;
    explicit TempFile(const std::string& text, mode_t mode = 0640) {
        char tmpl[] = "/tmp/mpp-config-test-XXXXXX";
        int fd = ::mkstemp(tmpl);
        path = tmpl;
        EXPECT_GE(fd, 0);
        EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
        ::close(fd);
        ::chmod(path.c_str(), mode);
    }
    ~TempFile() { ::unlink(path.c_str()); }
};

}  // namespace

TEST(ConfigFile, LoadsAFile) {
    TempFile f("<mppd>\n<milter socket=\"inet:10099@127.0.0.1\"/>\n</mppd>\n");
    LoadResult r = load_file(f.path);
    ASSERT_TRUE(r.ok()) << dump(r);
    EXPECT_EQ(r.config->source, f.path);
    EXPECT_EQ(r.config->milter.socket, "inet:10099@127.0.0.1");
}

TEST(ConfigFile, DiagnosticsNameTheFile) {
    TempFile f("<mppd>\n<milter timeout=\"5\"/>\n</mppd>\n");
    LoadResult r = load_file(f.path);
    ASSERT_FALSE(r.ok());
    ASSERT_EQ(r.error_count(), 1u);
    EXPECT_EQ(r.diagnostics[0].str().rfind(
                  f.path + ":2: attribute \"timeout\" of <milter>: bad duration", 0),
              0u)
        << r.diagnostics[0].str();
}

TEST(ConfigFile, WorldWritableIsRefused) {
    TempFile f("<mppd/>", 0666);
    LoadResult r = load_file(f.path);
    ASSERT_FALSE(r.ok());
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(r.diagnostics[0].str(), f.path +
                                          ": refused: the file is world-writable (mode 0666), so "
                                          "anyone could change mppd's policy; "
                                          "remove write permission for others (chmod o-w)");
}

TEST(ConfigFile, MissingFileAndDirectory) {
    LoadResult r = load_file("/nonexistent/mppd.conf.xml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.diagnostics.at(0).str(),
              "/nonexistent/mppd.conf.xml: cannot open: No such file or directory");
    r = load_file("/");
    EXPECT_EQ(r.diagnostics.at(0).str(), "/: is a directory, not a config file");
}

TEST(ConfigFile, OverSixteenMebibytesIsRefused) {
    TempFile f("<mppd>" + std::string(16 * 1024 * 1024, ' ') + "</mppd>");
    LoadResult r = load_file(f.path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.diagnostics.at(0).str(), f.path + ": the file is larger than 16 MiB");
    r = load_string("<mppd>" + std::string(16 * 1024 * 1024, ' ') + "</mppd>", "big");
    EXPECT_EQ(r.diagnostics.at(0).str(), "big: the file is larger than 16 MiB");
}

TEST(ConfigFile, StandardInput) {
    // "-" reads standard input (mppd -c - for a config piped from a TFTP loader).
    TempFile f("<mppd>\n<log level=\"bogus\"/>\n</mppd>\n");
    int saved = ::dup(0);
    int in = ::open(f.path.c_str(), O_RDONLY);
    ASSERT_GE(in, 0);
    ::dup2(in, 0);
    ::close(in);
    LoadResult r = load_file("-");
    ::dup2(saved, 0);
    ::close(saved);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.diagnostics.at(0).str(),
              "<stdin>:2: attribute \"level\" of <log>: \"bogus\" is not one of: debug, info, "
              "notice, warning, error");
}

TEST(ConfigFile, StringLoaderIsTheStdinHelper) {
    LoadResult r = load_string("<mppd><milter backlog=\"9\"/></mppd>", "<stdin>");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.config->source, "<stdin>");
    EXPECT_EQ(r.config->milter.backlog, 9);
}
