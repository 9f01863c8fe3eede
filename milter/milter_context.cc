// milter/milter_context.cc: SmfiContext, MilterContext over libmilter (see milter_context.h).
#include "milter/milter_context.h"

#include <array>
#include <vector>

namespace mpp::milter {

// libmilter takes char* everywhere but writes through none of these arguments.
std::string SmfiContext::macro(const char* name) {
    const char* v = smfi_getsymval(ctx_, const_cast<char*>(name));
    return v ? v : "";
}

bool SmfiContext::set_reply(const std::string& code, const std::string& dsn,
                            const std::string& text) {
    if (text.find('\n') == std::string::npos)
        return smfi_setreply(ctx_, const_cast<char*>(code.c_str()), const_cast<char*>(dsn.c_str()),
                             const_cast<char*>(text.c_str())) == MI_SUCCESS;
    // smfi_setmlreply takes up to 32 lines as arguments, ended by a null pointer.
    std::vector<std::string> lines;
    for (std::size_t start = 0; start <= text.size() && lines.size() < 32;) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        lines.emplace_back(text, start, end - start);
        start = end + 1;
    }
    std::array<char*, 33> l{};
    for (std::size_t i = 0; i < lines.size(); ++i) l[i] = lines[i].data();
    return smfi_setmlreply(ctx_, code.c_str(), dsn.c_str(), l[0], l[1], l[2], l[3], l[4], l[5],
                           l[6], l[7], l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15],
                           l[16], l[17], l[18], l[19], l[20], l[21], l[22], l[23], l[24], l[25],
                           l[26], l[27], l[28], l[29], l[30], l[31], l[32]) == MI_SUCCESS;
}

bool SmfiContext::insert_header(int index, const std::string& name, const std::string& value) {
    return smfi_insheader(ctx_, index, const_cast<char*>(name.c_str()),
                          const_cast<char*>(value.c_str())) == MI_SUCCESS;
}

bool SmfiContext::change_header(const std::string& name, int index, const std::string& value) {
    return smfi_chgheader(ctx_, const_cast<char*>(name.c_str()), index,
                          const_cast<char*>(value.c_str())) == MI_SUCCESS;
}

bool SmfiContext::delete_recipient(const std::string& recipient) {
    return smfi_delrcpt(ctx_, const_cast<char*>(recipient.c_str())) == MI_SUCCESS;
}

bool SmfiContext::request_macros(int stage, const std::string& names) {
    return smfi_setsymlist(ctx_, stage, const_cast<char*>(names.c_str())) == MI_SUCCESS;
}

}  // namespace mpp::milter
