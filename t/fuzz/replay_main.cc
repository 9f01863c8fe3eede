// t/fuzz/replay_main.cc: replays a fuzz corpus through a target's LLVMFuzzerTestOneInput
// without libFuzzer, so `make check` runs every corpus in every build (gcc included).
//
// Usage: REPLAY [FILE|DIR]...; without arguments, the corpus of this target:
// $MPP_TOP_SRCDIR/t/fuzz/corpus/NAME (else the source dir compiled in), NAME given by the
// build (MPP_FUZZ_CORPUS). Output is TAP: "1..N", then "ok I - FILE" per input, in sorted
// order; an input that crashes the target kills the process, which the TAP driver reports as
// an error with the plan unfinished. Inputs are read whole (limit 64 MiB each).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef MPP_FUZZ_CORPUS
#error "MPP_FUZZ_CORPUS (the corpus directory name) must be defined by the build"
#endif
#ifndef MPP_FUZZ_SRCDIR
#define MPP_FUZZ_SRCDIR "."
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool is_dir(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void collect(const std::string& path, std::vector<std::string>& out) {
    if (!is_dir(path)) {
        out.push_back(path);
        return;
    }
    DIR* d = ::opendir(path.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) collect(path + "/" + n, out);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> files;
    if (argc > 1) {
        for (int i = 1; i < argc; ++i) collect(argv[i], files);
    } else {
        const char* top = std::getenv("MPP_TOP_SRCDIR");
        std::string dir =
            std::string(top && *top ? top : MPP_FUZZ_SRCDIR) + "/t/fuzz/corpus/" MPP_FUZZ_CORPUS;
        if (!is_dir(dir)) {
            std::printf("1..0 # SKIP no corpus at %s\n", dir.c_str());
            return 0;
        }
        collect(dir, files);
    }
    std::printf("1..%zu\n", files.size());
    std::fflush(stdout);
    int failed = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
        std::ifstream in(files[i], std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        std::string data = ss.str();
        if (!in && !in.eof()) {
            std::printf("not ok %zu - %s # cannot read\n", i + 1, files[i].c_str());
            ++failed;
            continue;
        }
        if (data.size() > (64u << 20)) data.resize(64u << 20);
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
        std::printf("ok %zu - %s\n", i + 1, files[i].c_str());
        std::fflush(stdout);
    }
    return failed ? 1 : 0;
}
