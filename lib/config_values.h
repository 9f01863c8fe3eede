// lib/config_values.h: value types shared by the parts of a configuration snapshot: references
// to named definitions, address and network matchers, and the enumerations that attributes
// take. Plain data, immutable once loaded; see lib/config_types.h for the sections.
//
// The enumerators of each enum carry the names written in the XML (with '-' as '_'); the
// schema (lib/config_schema_*.cc) maps each spelling to its enumerator explicitly.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "lib/address.h"
#include "lib/cidr.h"
#include "lib/regex.h"

namespace mpp::config {

// What a reference names. Engines (spamd, clamd, command) share one namespace.
enum class RefKind { list, rbl, engine, group };
enum class EngineKind { spamd, clamd, command };

// A reference by name, resolved at load: `index` is the position in Config::lists, ::rbls,
// ::groups, or in the engine vector given by `engine` (Config::spamd, ::clamd, ::commands).
struct Ref {
    std::string name;
    std::size_t index = 0;
    EngineKind engine = EngineKind::spamd;  // engine references only
};

// <list type="...">
enum class ListType { cidr, address, domain, regex };

// Which mail an element applies to, as decided by <networks>.
enum class Direction { any, inbound, outbound };

// <match sasl="...">
enum class Tristate { any, yes, no };

// Address patterns (lib/address.h) plus named lists, as in <match sender="a@b.example staff">.
// Matches when any pattern or any entry of any list matches.
struct AddressMatch {
    std::vector<AddressPattern> patterns;
    std::vector<Ref> lists;
    bool empty() const { return patterns.empty() && lists.empty(); }
};

// Networks plus named cidr lists, as in <match client="192.0.2.0/24 relays">.
struct NetMatch {
    CidrSet nets;
    std::vector<Cidr> entries;  // the networks as written, for printing
    std::vector<Ref> lists;
    bool empty() const { return entries.empty() && lists.empty(); }
};

// Actions.
enum class ThresholdAction { block, defer, warn, quarantine };
enum class ThresholdKey { client, sasl, sender, subject };
enum class TrapScope { group, global };
enum class CheckMode { enforce, shadow };  // mode="shadow": evaluated and logged, not enforced
enum class HeaderAction { reject, defer, discard, quarantine, tag, score, accept };
enum class HeaderMatch { decoded, raw };  // <header-filter match>: RFC 2047 decoded, or as written
enum class EngineError { accept, tag, defer };        // an engine failed or timed out
enum class ScanError { engine, accept, tag, defer };  // per <scan>: "engine" = ask the engine
enum class VirusAction { reject, quarantine, discard };
enum class LimitAction { reject, quarantine, accept };  // clamd "limits exceeded"
enum class BombAction { reject, quarantine };           // our own content limits exceeded
enum class UploadError { defer, deliver };
enum class StoreTarget { automatic, database, maildir };  // automatic: database if configured
enum class Tracking { none, basic, full };
enum class GreylistError { accept, defer };  // greylist store unavailable
enum class RblLookup { client, helo, sender_domain };
enum class CommandInput { file, stdin_ };

// Conditions of <reject on="..."> and <defer on="...">; each element accepts a subset.
enum class Condition {
    any,
    deny,
    greylist,
    threshold,
    spamtrap,
    rbl,
    header_filter,
    virus,
    score,
    limits,
    verify_recipient,
    error,
};

}  // namespace mpp::config
