// milter/milter_context.cc: SmfiContext, MilterContext over libmilter (see milter_context.h).
#include "milter/milter_context.h"

namespace mpp::milter {

// libmilter takes char* everywhere but writes through none of these arguments.
std::string SmfiContext::macro(const char* name) {
    const char* v = smfi_getsymval(ctx_, const_cast<char*>(name));
    return v ? v : "";
}

bool SmfiContext::set_reply(const std::string& code, const std::string& dsn,
                            const std::string& text) {
    return smfi_setreply(ctx_, const_cast<char*>(code.c_str()), const_cast<char*>(dsn.c_str()),
                         const_cast<char*>(text.c_str())) == MI_SUCCESS;
}

bool SmfiContext::insert_header(int index, const std::string& name, const std::string& value) {
    return smfi_insheader(ctx_, index, const_cast<char*>(name.c_str()),
                          const_cast<char*>(value.c_str())) == MI_SUCCESS;
}

bool SmfiContext::delete_recipient(const std::string& recipient) {
    return smfi_delrcpt(ctx_, const_cast<char*>(recipient.c_str())) == MI_SUCCESS;
}

bool SmfiContext::request_macros(int stage, const std::string& names) {
    return smfi_setsymlist(ctx_, stage, const_cast<char*>(names.c_str())) == MI_SUCCESS;
}

}  // namespace mpp::milter
