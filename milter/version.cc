// milter/version.cc: version report (see version.h). Library versions are those of the
// libraries loaded at run time where the library can tell, else those built against.
#include "milter/version.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <gmime/gmime.h>
#include <mysql.h>
#include <tinyxml2.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

#include "config.h"
#include "milter/milter_runner.h"

namespace mpp::milter {

std::string version_report() {
    std::string out = std::string("mppd ") + PACKAGE_VERSION + "\n";
    out += "libmilter " + libmilter_version() + "\n";
    out += std::string("libevent ") + event_get_version() + "\n";
    out += "tinyxml2 " + std::to_string(TIXML2_MAJOR_VERSION) + "." +
           std::to_string(TIXML2_MINOR_VERSION) + "." + std::to_string(TIXML2_PATCH_VERSION) + "\n";
    char pcre[64] = "";
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    out += std::string("PCRE2 ") + pcre + "\n";
    out += std::string("MariaDB Connector/C ") + mysql_get_client_info() + "\n";
    out += "GMime " + std::to_string(gmime_major_version) + "." + std::to_string(gmime_minor_version) +
           "." + std::to_string(gmime_micro_version) + "\n";
    out += std::string("libcurl ") + curl_version_info(CURLVERSION_NOW)->version + "\n";
    return out;
}

}  // namespace mpp::milter
