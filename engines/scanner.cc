// engines/scanner.cc: the helpers engines/scanner.h declares: a MessageReader over bytes in
// memory and the names of a result's status.
//
// State: a memory reader owns its copy of the bytes and a read position; one reader per
// caller (open() makes a new one each time). Never fails.
#include "engines/scanner.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace mpp::engines {
namespace {

class MemoryReader final : public MessageReader {
public:
    explicit MemoryReader(std::string bytes) : bytes_(std::move(bytes)) {}

    std::size_t read(char* out, std::size_t n) override {
        std::size_t k = std::min(n, bytes_.size() - pos_);
        if (k > 0) std::memcpy(out, bytes_.data() + pos_, k);
        pos_ += k;
        return k;
    }
    bool failed() const override { return false; }
    std::string error() const override { return {}; }

private:
    std::string bytes_;
    std::size_t pos_ = 0;
};

}  // namespace

std::unique_ptr<MessageReader> memory_reader(std::string bytes) {
    return std::make_unique<MemoryReader>(std::move(bytes));
}

const char* status_name(EngineResult::Status s) {
    switch (s) {
        case EngineResult::Status::clean: return "clean";
        case EngineResult::Status::spam: return "spam";
        case EngineResult::Status::virus: return "virus";
        case EngineResult::Status::limits: return "limits";
        case EngineResult::Status::error: return "error";
        case EngineResult::Status::skipped: return "skipped";
    }
    return "error";
}

}  // namespace mpp::engines
