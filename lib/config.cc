// lib/config.cc: load_file and load_string (see lib/config.h): reads the file (refusing a
// world-writable one, and anything over 16 MiB), checks the raw text (lib/config_text.cc),
// parses it with tinyxml2, and hands the <mppd> element to the schema-driven loader
// (lib/config_loader.cc). The result carries every diagnostic; a Config only when there is no
// error. Config.revision is the first 12 hex digits of the FNV-1a 64 hash of the bytes.
//
// Thread-safety: each call is independent (no shared state but the immutable schema table).
// Failures: never throws for bad input; an unreadable file is one diagnostic with line 0.
#include "lib/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tinyxml2.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "lib/config_loader.h"
#include "lib/fd.h"

namespace mpp::config {

namespace {

constexpr std::size_t kMaxFile = 16 * 1024 * 1024;

using XmlDocPtr = std::unique_ptr<tinyxml2::XMLDocument>;

std::string revision_of(std::string_view bytes) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return std::string(buf, 12);
}

std::string xml_error(tinyxml2::XMLError e) {
    switch (e) {
    case tinyxml2::XML_ERROR_PARSING_ELEMENT:
        return "malformed element (a stray '<', or a tag that is not closed?)";
    case tinyxml2::XML_ERROR_PARSING_ATTRIBUTE:
        return "malformed attribute (missing quotes or '=', or an attribute given twice)";
    case tinyxml2::XML_ERROR_PARSING_TEXT: return "malformed text";
    case tinyxml2::XML_ERROR_PARSING_CDATA: return "unterminated CDATA section";
    case tinyxml2::XML_ERROR_PARSING_COMMENT: return "unterminated comment";
    case tinyxml2::XML_ERROR_PARSING_DECLARATION: return "malformed <?xml ...?> declaration";
    case tinyxml2::XML_ERROR_PARSING_UNKNOWN: return "malformed markup";
    case tinyxml2::XML_ERROR_EMPTY_DOCUMENT:
        return "the file is empty: it needs a <mppd> root element";
    case tinyxml2::XML_ERROR_MISMATCHED_ELEMENT:
        return "a closing tag does not match the element it closes";
    case tinyxml2::XML_ELEMENT_DEPTH_EXCEEDED: return "elements nested too deeply";
    default: return tinyxml2::XMLDocument::ErrorIDToName(e);
    }
}

// The <?xml ...?> declaration may name an encoding; only UTF-8 (or its subset ASCII) is read.
void check_declaration(const tinyxml2::XMLDeclaration* d, schema::Checker& c) {
    std::string v = d->Value();
    auto pos = v.find("encoding=");
    if (pos == std::string::npos || pos + 10 > v.size()) return;
    char quote = v[pos + 9];
    auto end = v.find(quote, pos + 10);
    if (end == std::string::npos) return;
    std::string enc = v.substr(pos + 10, end - pos - 10);
    for (auto& ch : enc) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (enc != "utf-8" && enc != "utf8" && enc != "us-ascii" && enc != "ascii")
        c.error(d->GetLineNum(),
                "encoding \"" + enc + "\" is not supported: the file must be UTF-8");
}

LoadResult finish(std::vector<Diagnostic> diags, std::shared_ptr<Config> cfg) {
    LoadResult r;
    r.diagnostics = std::move(diags);
    if (r.error_count() == 0) r.config = std::move(cfg);
    return r;
}

LoadResult one_error(const std::string& name, std::string message) {
    LoadResult r;
    r.diagnostics.push_back(Diagnostic{Diagnostic::Severity::error, name, 0, std::move(message)});
    return r;
}

LoadResult load_bytes(std::string_view xml, const std::string& name, const std::string& source) {
    auto cfg = std::make_shared<Config>();
    Names names;
    schema::Checker c(name, names, *cfg);
    if (!prescan(xml, c)) return finish(c.take(), nullptr);

    XmlDocPtr doc = std::make_unique<tinyxml2::XMLDocument>(true, tinyxml2::PRESERVE_WHITESPACE);
    if (doc->Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) {
        c.error(doc->ErrorLineNum(), "XML syntax error: " + xml_error(doc->ErrorID()));
        return finish(c.take(), nullptr);
    }
    const tinyxml2::XMLElement* root = nullptr;
    for (auto* n = doc->FirstChild(); n; n = n->NextSibling()) {
        if (auto* d = n->ToDeclaration()) {
            check_declaration(d, c);
            continue;
        }
        if (n->ToComment()) continue;
        if (auto* t = n->ToText()) {
            std::string_view v = t->Value();
            if (v.find_first_not_of(" \t\r\n") != std::string_view::npos)
                c.error(n->GetLineNum(), "text outside the <mppd> element");
            continue;
        }
        auto* e = n->ToElement();
        if (!e) {
            c.error(n->GetLineNum(), "unexpected markup outside the <mppd> element");
            continue;
        }
        if (root) {
            c.error(e->GetLineNum(), "a second root element <" + std::string(e->Name()) +
                                         ">: the file has one <mppd>");
            continue;
        }
        root = e;
        if (std::string_view(e->Name()) != "mppd") {
            c.error(e->GetLineNum(),
                    "the root element must be <mppd>, not <" + std::string(e->Name()) + ">");
            return finish(c.take(), nullptr);
        }
    }
    if (!root) {
        c.error(0, "no <mppd> root element");
        return finish(c.take(), nullptr);
    }
    load_tree(root, *cfg, c);
    cfg->source = source;
    cfg->revision = revision_of(xml);
    cfg->loaded_at = std::chrono::system_clock::now();
    return finish(c.take(), cfg);
}

// Reads at most kMaxFile + 1 bytes from fd.
bool read_all(int fd, std::string& out, std::string& error) {
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            error = std::strerror(errno);
            return false;
        }
        if (n == 0) return true;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > kMaxFile) return true;  // load_bytes reports it
    }
}

}  // namespace

namespace {

std::string where(const Diagnostic& d) {
    std::string out = d.file;
    if (d.line > 0) out += ":" + std::to_string(d.line);
    return out + ": ";
}

}  // namespace

std::string Diagnostic::str() const {
    return where(*this) + (severity == Severity::warning ? "warning: " : "") + message;
}

std::string Diagnostic::located() const { return where(*this) + message; }

std::size_t LoadResult::error_count() const {
    std::size_t n = 0;
    for (const auto& d : diagnostics)
        if (d.severity == Diagnostic::Severity::error) ++n;
    return n;
}

LoadResult load_string(std::string_view xml, const std::string& name) {
    return load_bytes(xml, name, name);
}

LoadResult load_file(const std::string& path) {
    std::string text, error;
    if (path == "-") {
        const std::string name = "<stdin>";
        struct stat st {};
        if (::fstat(0, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IWOTH))
            return one_error(name,
                             "refused: standard input is a world-writable file; remove write "
                             "permission for others (chmod o-w)");
        if (!read_all(0, text, error))
            return one_error(name, "cannot read standard input: " + error);
        return load_bytes(text, name, "-");
    }
    // O_NONBLOCK: a FIFO without a writer must not hang the open (cleared before reading).
    Fd owner(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!owner) return one_error(path, std::string("cannot open: ") + std::strerror(errno));
    int fd = owner.get();
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return one_error(path, std::string("cannot stat: ") + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return one_error(path, "is a directory, not a config file");
    if (S_ISREG(st.st_mode) && (st.st_mode & S_IWOTH)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return one_error(path, std::string("refused: the file is world-writable (mode ") + mode +
                                   "), so anyone could change mppd's policy; remove write "
                                   "permission for others (chmod o-w)");
    }
    if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > kMaxFile)
        return one_error(path, "the file is larger than 16 MiB");
    int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (!read_all(fd, text, error)) return one_error(path, "cannot read: " + error);
    return load_bytes(text, path, path);
}

}  // namespace mpp::config
