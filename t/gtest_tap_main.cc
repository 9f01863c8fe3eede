// t/gtest_tap_main.cc: main() for every GoogleTest binary; reports each test case as TAP.
//
// automake's tap-driver counts one result per test case (so `make check` and .ci/run count
// cases, not binaries). GoogleTest's own output stays visible as TAP comments ("# ...") in the
// test's .log. The plan ("1..N") is printed first, so a binary that crashes half-way is an
// ERROR, never a pass.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

namespace {

class TapListener : public testing::EmptyTestEventListener {
public:
    void OnTestProgramStart(const testing::UnitTest& unit) override {
        std::printf("1..%d\n", unit.test_to_run_count());
        std::fflush(stdout);
    }
    void OnTestPartResult(const testing::TestPartResult& r) override {
        if (!r.failed()) return;
        std::string text = std::string(r.file_name() ? r.file_name() : "?") + ":" +
                           std::to_string(r.line_number()) + ": " + r.summary();
        std::string line;
        for (char c : text) {
            if (c == '\n') { std::printf("# %s\n", line.c_str()); line.clear(); }
            else line += c;
        }
        if (!line.empty()) std::printf("# %s\n", line.c_str());
    }
    void OnTestEnd(const testing::TestInfo& info) override {
        ++n_;
        const char* verdict = info.result()->Passed() || info.result()->Skipped() ? "ok" : "not ok";
        std::printf("%s %d - %s.%s%s\n", verdict, n_, info.test_suite_name(), info.name(),
                    info.result()->Skipped() ? " # SKIP" : "");
        std::fflush(stdout);
    }

private:
    int n_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    // Replace gtest's printer (Release hands it back to us) with ours (Append takes ownership).
    std::unique_ptr<testing::TestEventListener> default_printer(
        listeners.Release(listeners.default_result_printer()));
    listeners.Append(std::make_unique<TapListener>().release());
    // The TAP lines carry every result: a failed case is "not ok", a crash leaves the plan
    // unfulfilled. A non-zero exit on top would count each failure twice.
    const int failed = RUN_ALL_TESTS();
    (void)failed;
    return 0;
}
