// lib/config_schema_checks.cc: schema of a group's content checks and what happens to its mail
// after them: <header-filter>, <scan>, <score>, <strip>, <disclaimer>, <quarantine>,
// <archive>, <verify-recipient>.
//
// Cross-attribute rules live in each element's finish hook; rules that need another element
// (a quarantine in the database needs <store database>) are checked by the loader at the end.
#include <string>

#include "lib/config_loader.h"
#include "lib/config_schema.h"
#include "lib/config_schema_shared.h"

namespace mpp::config::schema {

namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kHour = 3600;

const Choices kHeaderActions = Choices::of<HeaderAction>({{"reject", HeaderAction::reject},
                                                          {"defer", HeaderAction::defer},
                                                          {"discard", HeaderAction::discard},
                                                          {"quarantine", HeaderAction::quarantine},
                                                          {"tag", HeaderAction::tag},
                                                          {"score", HeaderAction::score},
                                                          {"accept", HeaderAction::accept}});
const Choices kHeaderMatches =
    Choices::of<HeaderMatch>({{"decoded", HeaderMatch::decoded}, {"raw", HeaderMatch::raw}});
const Choices kScanErrors = Choices::of<ScanError>({{"engine", ScanError::engine},
                                                    {"accept", ScanError::accept},
                                                    {"tag", ScanError::tag},
                                                    {"defer", ScanError::defer}});
const Choices kVirusActions = Choices::of<VirusAction>({{"reject", VirusAction::reject},
                                                        {"quarantine", VirusAction::quarantine},
                                                        {"discard", VirusAction::discard}});
const Choices kUploadErrors =
    Choices::of<UploadError>({{"defer", UploadError::defer}, {"deliver", UploadError::deliver}});
const Choices kStoreTargets = Choices::of<StoreTarget>({{"auto", StoreTarget::automatic},
                                                        {"database", StoreTarget::database},
                                                        {"maildir", StoreTarget::maildir}});

Element header_filter() {
    Builder<HeaderFilterCfg, GroupCfg> b(
        "header-filter", "group", Mult::many,
        "A regex over a header field; the first filter that matches decides (in file order).");
    b.in(&GroupCfg::header_filters).built(true, "");
    b.attr("header", Type::header_name, &HeaderFilterCfg::header, "",
           "Header field name (case-insensitive); the pattern sees its unfolded value. Empty: "
           "every field, as \"Name: value\".");
    b.attr("pattern", Type::regex, &HeaderFilterCfg::pattern, "",
           "Regex (PCRE2, case-insensitive unless (?-i)).")
        .require();
    b.choice("match", kHeaderMatches, &HeaderFilterCfg::match, "decoded",
             "decoded: the pattern sees the value with RFC 2047 encoded words decoded to UTF-8 "
             "(and 8-bit text converted to UTF-8); raw: the value as written, encoded words "
             "left as they are. Both are unfolded.");
    b.choice("action", kHeaderActions, &HeaderFilterCfg::action, "reject",
             "reject, defer, discard, quarantine, tag (a header), score (add score), or accept "
             "(skip the remaining filters).");
    b.attr("score", Type::number, &HeaderFilterCfg::score, "0",
           "Added to the message score with action=\"score\".")
        .range_number(-100, 100);
    b.attr("reason", Type::string, &HeaderFilterCfg::reason, "",
           "Text of %REASON% in the reply. Empty: the header name.");
    b.finish([](HeaderFilterCfg& h, const NodeInfo& n, Checker& c) {
        if (h.action == HeaderAction::score && h.score == 0)
            c.error(n.line, "<header-filter>: action=\"score\" needs a score other than 0");
        if (h.action != HeaderAction::score && n.has("score"))
            c.error(n.line_of("score"),
                    "<header-filter>: score is used only with action=\"score\"");
    });
    return b.done();
}

Element scan() {
    Builder<ScanCfg, GroupCfg> b("scan", "group", Mult::optional,
                                 "Content scanning by the engines named.");
    b.in(&GroupCfg::scan).built(false, "content scanning");
    b.attr("enabled", Type::boolean, &ScanCfg::enabled, "yes", "no: switch off an inherited scan.");
    b.attr("engines", Type::engine_refs, &ScanCfg::engines, "",
           "Names of <spamd>, <clamd> and <command> engines, run in parallel.")
        .require();
    b.choice("on-error", kScanErrors, &ScanCfg::on_error, "engine",
             "When an engine fails: engine (its own on-error), accept, tag or defer.");
    b.choice("on-virus", kVirusActions, &ScanCfg::on_virus, "reject",
             "What an infected message gets.");
    b.attr("exempt", Type::list_refs, &ScanCfg::exempt, "", "Lists whose matches are not scanned.");
    return b.done();
}

Element score() {
    Builder<ScoreCfg, GroupCfg> b("score", "group", Mult::optional,
                                  "Custom scoring: spamd, RBL and header-filter scores are summed "
                                  "and compared with these levels.");
    b.in(&GroupCfg::score).built(false, "custom scoring");
    b.attr("enabled", Type::boolean, &ScoreCfg::enabled, "yes",
           "no: switch off inherited scoring.");
    b.attr("tag-at", Type::number, &ScoreCfg::tag_at, "",
           "Score at which the message is tagged. Not set: never.")
        .range_number(-1000, 1000);
    b.attr("quarantine-at", Type::number, &ScoreCfg::quarantine_at, "",
           "Score at which it is quarantined. Not set: never.")
        .range_number(-1000, 1000);
    b.attr("reject-at", Type::number, &ScoreCfg::reject_at, "",
           "Score at which it is rejected. Not set: never.")
        .range_number(-1000, 1000);
    b.attr("tag-header", Type::header_name, &ScoreCfg::tag_header, "X-Spam-Flag",
           "Header added (YES) to tagged mail.")
        .not_empty();
    b.attr("subject-prefix", Type::string, &ScoreCfg::subject_prefix, "",
           "Put before the subject of tagged mail. Empty: none.");
    b.finish([](ScoreCfg& s, const NodeInfo& n, Checker& c) {
        if (!s.tag_at && !s.quarantine_at && !s.reject_at && s.enabled)
            c.error(n.line, "<score>: needs tag-at, quarantine-at or reject-at");
        const std::optional<double>* levels[] = {&s.tag_at, &s.quarantine_at, &s.reject_at};
        const char* names[] = {"tag-at", "quarantine-at", "reject-at"};
        for (int i = 0; i < 3; ++i)
            for (int j = i + 1; j < 3; ++j)
                if (*levels[i] && *levels[j] && **levels[i] > **levels[j])
                    c.error(n.line_of(names[i]),
                            std::string("<score>: ") + names[i] + " is above " + names[j]);
    });
    return b.done();
}

void strip_checks(StripCfg& s, const NodeInfo& n, Checker& c) {
    if (s.filename.empty() && s.content_type.empty() && s.min_size == 0)
        c.error(n.line,
                "<strip>: needs filename, content-type or min-size (else it strips every part)");
    if (!s.link.empty() && s.upload.empty())
        c.error(n.line_of("link"), "<strip>: link without upload");
    if (s.upload.empty() && n.has("on-error"))
        c.error(n.line_of("on-error"), "<strip>: on-error without upload");
    if (s.text.empty())
        s.text = s.upload.empty() ? "The attachment %FILENAME% (%SIZE%) was removed."
                                  : "The attachment %FILENAME% (%SIZE%) is available at %URL%";
    else if (s.upload.empty() && s.text.find("%URL%") != std::string::npos)
        c.error(n.text_line, "<strip>: the text uses %URL% but nothing is uploaded");
}

Element strip() {
    Builder<StripCfg, GroupCfg> b(
        "strip", "group", Mult::many,
        "Body stripping: MIME parts that match every criterion given are replaced by a notice, "
        "after an upload (when "
        "configured) has been verified. A part is never removed when its upload failed.");
    b.in(&GroupCfg::strips).built(false, "body stripping");
    b.text(
        Text::template_text, &StripCfg::text,
        "Replacement notice; %FILENAME% %SIZE% %URL% %CONTENT_TYPE%. Empty: a built-in sentence.",
        &kNoticeMacros);
    b.attr("filename", Type::globs, &StripCfg::filename, "",
           "File-name globs (*.pdf *.zip), case-insensitive.");
    b.attr("content-type", Type::mime_globs, &StripCfg::content_type, "",
           "Content-type globs (application/pdf image/*).");
    b.attr("min-size", Type::size, &StripCfg::min_size, "0",
           "Only parts at least this large (decoded).")
        .range(0, 1024LL * 1024 * 1024);
    b.choice("direction", kDirections, &StripCfg::direction, "any", "Mail it applies to.");
    b.attr("upload", Type::url_template, &StripCfg::upload, "",
           "Where the part is uploaded (HTTP PUT or FTP): %TOKEN% (random), %FILENAME% "
           "(sanitised), %EXT%, %DATE%, %GROUP%. "
           "Empty: the part is removed without upload.")
        .with_macros(kUrlMacros);
    b.attr("link", Type::url_template, &StripCfg::link, "",
           "URL shown in the notice, when it differs from upload.")
        .with_macros(kUrlMacros);
    b.attr("upload-timeout", Type::duration, &StripCfg::upload_timeout, "60s",
           "Deadline of one upload.")
        .range(1, kHour);
    b.choice("on-error", kUploadErrors, &StripCfg::on_error, "defer",
             "When the upload fails: defer (4xx, the part is kept) or deliver (unmodified, with a "
             "header).");
    b.finish(strip_checks);
    return b.done();
}

Element disclaimer() {
    Builder<DisclaimerCfg, GroupCfg> b("disclaimer", "group", Mult::many,
                                       "Text appended to the text parts of the group's mail "
                                       "(HTML-escaped in HTML parts), per direction and charset.");
    b.in(&GroupCfg::disclaimers).built(false, "disclaimer insertion");
    b.text(Text::template_text, &DisclaimerCfg::text,
           "The disclaimer (UTF-8); %GROUP% %SENDER% %DATE%.", &kDisclaimerMacros);
    b.choice("direction", kDirections, &DisclaimerCfg::direction, "outbound",
             "Mail it is added to.");
    b.attr("charset", Type::charset, &DisclaimerCfg::charset, "*",
           "Added only to text parts in this charset (converted from UTF-8); *: any part, "
           "converted to its charset.");
    b.finish([](DisclaimerCfg& d, const NodeInfo& n, Checker& c) {
        if (d.text.empty()) c.error(n.line, "<disclaimer>: the text is empty");
    });
    return b.done();
}

Element quarantine() {
    Builder<QuarantineCfg, GroupCfg> b("quarantine", "group", Mult::optional,
                                       "Where the group's quarantined mail goes.");
    b.in(&GroupCfg::quarantine).built(false, "quarantining");
    b.attr("enabled", Type::boolean, &QuarantineCfg::enabled, "yes",
           "no: quarantine actions reject instead (and switch off an inherited quarantine).");
    b.choice("store", kStoreTargets, &QuarantineCfg::store, "auto",
             "database, maildir (<store maildir>), or auto: the database when <store> has one (or "
             "forwards), else maildir.");
    b.attr("keep", Type::duration, &QuarantineCfg::keep, "30d",
           "How long quarantined mail is kept.")
        .range(kDay, 3650 * kDay);
    return b.done();
}

Element archive() {
    Builder<ArchiveCfg, GroupCfg> b("archive", "group", Mult::optional,
                                    "A copy of every accepted message of the group.");
    b.in(&GroupCfg::archive).built(false, "archiving");
    b.attr("enabled", Type::boolean, &ArchiveCfg::enabled, "yes",
           "no: switch off an inherited archive.");
    b.choice("store", kStoreTargets, &ArchiveCfg::store, "auto", "As for <quarantine>.");
    b.attr("keep", Type::duration, &ArchiveCfg::keep, "365d", "How long archived mail is kept.")
        .range(kDay, 36500 * kDay);
    b.choice("direction", kDirections, &ArchiveCfg::direction, "any", "Mail archived.");
    b.attr("exempt", Type::list_refs, &ArchiveCfg::exempt, "",
           "Lists whose matches are not archived.");
    return b.done();
}

Element verify_recipient() {
    Builder<VerifyRecipientCfg, GroupCfg> b(
        "verify-recipient", "group", Mult::optional,
        "Recipient verification: a recipient of the group that matches none of the lists is "
        "rejected at RCPT (5.1.1).");
    b.in(&GroupCfg::verify_recipient).built(false, "recipient verification");
    b.attr("enabled", Type::boolean, &VerifyRecipientCfg::enabled, "yes",
           "no: switch off an inherited verification.");
    b.attr("lists", Type::list_refs, &VerifyRecipientCfg::lists, "",
           "Lists of the valid recipients (address, domain or regex).")
        .require()
        .lists(list_bit(ListType::address) | list_bit(ListType::domain) |
               list_bit(ListType::regex));
    return b.done();
}

}  // namespace

void add_check_elements(std::vector<Element>& t) {
    t.push_back(header_filter());
    t.push_back(scan());
    t.push_back(score());
    t.push_back(strip());
    t.push_back(disclaimer());
    t.push_back(quarantine());
    t.push_back(archive());
    t.push_back(verify_recipient());
}

}  // namespace mpp::config::schema
