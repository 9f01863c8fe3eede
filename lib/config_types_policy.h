// lib/config_types_policy.h: the policy parts of a configuration snapshot: named definitions
// (<list>, <rbl>, <spamd>, <clamd>, <command>), reply templates, and policy groups with their
// checks. Included by lib/config_types.h; plain immutable data, one struct per element, a field
// per attribute (see that file for the naming rule). `line` is the element's line in the file,
// for log lines that point the admin at the rule that fired.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/config_values.h"

namespace mpp::config {

// <list name type>: whitespace-separated entries, validated per type when loaded.
struct ListCfg {
    int line = 0;
    std::string name;
    ListType type = ListType::address;
    std::vector<std::string> entries;       // as written
    CidrSet nets;                           // type cidr
    std::vector<AddressPattern> addresses;  // type address
    std::vector<std::string> domains;       // type domain: lower case, "*.example.com" allowed
    std::vector<RegexPtr> regexes;          // type regex
};

// <rbl name zone> (a definition; groups use it with <rbl use>)
struct RblCfg {
    int line = 0;
    std::string name;
    std::string zone;
    double score = 1;
    NetMatch answers;  // A records that count as "listed" (127.255.255.0/24 never does)
    RblLookup lookup = RblLookup::client;
    Duration timeout{0};  // 0: the <dns> timeout
};

// What every content engine shares.
struct EngineCfg {
    int line = 0;
    std::string name;
    Duration timeout{30};
    std::uint64_t max_size = 0;  // larger messages are not sent to the engine
    int connections = 4;         // at most this many calls at once (a bounded pool)
    EngineError on_error = EngineError::defer;
    int breaker_failures = 5;    // consecutive failures that open the breaker; 0: never
    Duration breaker_retry{30};  // how long an open breaker waits before probing
};

// <spamd>
struct SpamdCfg : EngineCfg {
    std::string address;
    std::string user;
    double weight = 1;  // multiplies the spamd score before it joins <score>
};

// <clamd>
struct ClamdCfg : EngineCfg {
    std::string address;
    LimitAction on_limits = LimitAction::reject;
};

// <command> with <arg> children: a command-line scanner, run with execve (no shell).
struct CommandCfg : EngineCfg {
    std::string path;
    std::vector<std::string> args;  // templates: %FILE% is the message file
    CommandInput input = CommandInput::file;
    std::vector<int> clean_exit;  // exit codes meaning "clean"
    std::vector<int> virus_exit;  // exit codes meaning "infected"; any other code: error
    RegexPtr virus_name;          // first capture group, over the output, names the virus
};

// <match>, and <allow>/<deny> (global or per group): every attribute given must match (AND);
// an attribute lists alternatives (OR).
struct MatchCfg {
    int line = 0;
    AddressMatch recipient;
    AddressMatch recipient_domain;
    AddressMatch sender;
    AddressMatch sender_domain;
    NetMatch client;
    Direction direction = Direction::any;
    Tristate sasl = Tristate::any;
    CheckMode mode = CheckMode::enforce;  // <deny mode>; <match> and <allow> have none
};

// <reject on code dsn>TEXT</reject>, <defer ...>: the SMTP reply for a condition.
struct ReplyCfg {
    int line = 0;
    Condition on = Condition::any;
    int code = 0;      // 5xx for reject, 4xx for defer
    std::string dsn;   // 5.x.x / 4.x.x
    std::string text;  // template (%GROUP% %REASON% ...); lines joined by '\n'
};

struct GreylistCfg {
    int line = 0;
    bool enabled = true;
    Duration delay{300};
    Duration retry_window{2 * 86400};
    Duration expire{35 * 86400};
    int auto_whitelist = 5;  // passes after which a client skips greylisting; 0: never
    int ipv4_prefix = 24;
    int ipv6_prefix = 64;
    bool strip_srs = true;        // sender normalisation of the key (policy/sender_normalise.h)
    bool strip_batv = true;
    bool strip_extension = true;
    bool strip_verp = true;
    std::vector<Ref> exempt;
    GreylistError on_error = GreylistError::accept;
    CheckMode mode = CheckMode::enforce;
};

struct ThresholdCfg {
    int line = 0;
    std::string name;
    long messages = 0;  // 0: not counted; at most one of messages, recipients, size
    long recipients = 0;       // recipients of messages ended (END-OF-MESSAGE); 0: not counted
    std::uint64_t size = 0;    // bytes of messages ended (END-OF-MESSAGE); 0: not counted
    long spams = 0;     // 0: not counted
    Duration period{60};
    Duration block_for{3600};
    ThresholdAction action = ThresholdAction::block;
    Direction direction = Direction::any;
    ThresholdKey key = ThresholdKey::client;
    std::vector<std::string> alert_to;
    std::vector<Ref> exempt;
    CheckMode mode = CheckMode::enforce;
};

struct SpamtrapCfg {
    int line = 0;
    RegexPtr pattern;  // over the recipient address
    TrapScope scope = TrapScope::group;
    Duration block_for{86400};
    std::vector<Ref> exempt;
    CheckMode mode = CheckMode::enforce;
};

// <rbl use> inside a group.
struct RblUseCfg {
    int line = 0;
    std::vector<Ref> use;
    std::optional<double> reject_at;  // sum of listed scores that rejects at RCPT; none: never
    std::vector<Ref> exempt;
};

struct HeaderFilterCfg {
    int line = 0;
    std::string header;  // empty: the pattern sees the whole "Name: value" field
    RegexPtr pattern;
    HeaderMatch match = HeaderMatch::decoded;  // what the pattern sees (engines/header_filter.h)
    HeaderAction action = HeaderAction::reject;
    double score = 0;  // action="score"
    std::string reason;
};

struct ScanCfg {
    int line = 0;
    bool enabled = true;
    std::vector<Ref> engines;
    ScanError on_error = ScanError::engine;
    VirusAction on_virus = VirusAction::reject;
    std::vector<Ref> exempt;
};

struct ScoreCfg {
    int line = 0;
    bool enabled = true;
    std::optional<double> tag_at;
    std::optional<double> quarantine_at;
    std::optional<double> reject_at;
    std::string tag_header;
    std::string subject_prefix;
};

struct StripCfg {
    int line = 0;
    std::vector<std::string> filename;      // globs over the decoded, lower-cased file name
    std::vector<std::string> content_type;  // globs over "type/subtype"
    std::uint64_t min_size = 0;
    Direction direction = Direction::any;
    std::string upload;  // URL template; empty: the part is removed without upload
    std::string link;    // URL template shown to the recipient; empty: `upload`
    Duration upload_timeout{60};
    UploadError on_error = UploadError::defer;
    std::string text;  // replacement notice template
};

struct DisclaimerCfg {
    int line = 0;
    Direction direction = Direction::outbound;
    std::string charset;  // "*": any
    std::string text;
};

struct QuarantineCfg {
    int line = 0;
    bool enabled = true;
    StoreTarget store = StoreTarget::automatic;
    Duration keep{30 * 86400};
};

struct ArchiveCfg {
    int line = 0;
    bool enabled = true;
    StoreTarget store = StoreTarget::automatic;
    Duration keep{365 * 86400};
    Direction direction = Direction::any;
    std::vector<Ref> exempt;
};

struct VerifyRecipientCfg {
    int line = 0;
    bool enabled = true;
    std::vector<Ref> lists;
};

// <group name>: who it applies to (<match>), and its checks. After loading, inheritance is
// applied (see the man page): a group holds everything it inherited. Checks switched off with
// enabled="no" are removed, so a present optional means "on".
struct GroupCfg {
    int line = 0;
    std::string name;
    std::optional<Ref> inherit;
    bool implied = false;  // the built-in empty "default"
    bool split_recipients = false;  // 452 4.5.3 to a recipient of another group (not inherited)
    std::vector<MatchCfg> matches;
    std::vector<MatchCfg> allow;
    std::vector<MatchCfg> deny;
    std::optional<GreylistCfg> greylist;
    std::vector<ThresholdCfg> thresholds;
    std::vector<SpamtrapCfg> spamtraps;
    std::vector<RblUseCfg> rbls;
    std::vector<HeaderFilterCfg> header_filters;
    std::optional<ScanCfg> scan;
    std::optional<ScoreCfg> score;
    std::vector<StripCfg> strips;
    std::vector<DisclaimerCfg> disclaimers;
    std::vector<ReplyCfg> rejects;
    std::vector<ReplyCfg> defers;
    std::optional<QuarantineCfg> quarantine;
    std::optional<ArchiveCfg> archive;
    std::optional<VerifyRecipientCfg> verify_recipient;
};

}  // namespace mpp::config
