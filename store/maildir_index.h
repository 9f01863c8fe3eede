// store/maildir_index.h: the index of the maildir store (store/maildir.h): which entries it
// holds, their metadata, and where each recipient's copy is, so that list, show, search,
// release and delete never open the maildirs to find anything.
//
// File (STATE-DIR/maildir.index), append-only text, one record per line, values escaped with
// store::escape (space, '=', '|', '%' and control characters as %XX):
//   E uuid=U kind=K received=T qid= mid= subject= cip= cname= helo= from= size= score= checks=
//     verdict= reason= rev= len=MESSAGE-BYTES r=ADDR|GROUP|MAILDIR|FILE|PREFIX|RELEASED ...
//       an entry was delivered: one r= per recipient copy (MAILDIR: its maildir directory;
//       FILE: the file's name in new/ (a reader may have moved it to cur/FILE:2,FLAGS);
//       PREFIX: bytes of X-MPP-* header lines before the original message; RELEASED: Unix
//       time or 0)
//   X uuid [ADDR]        the copy of ADDR (or every copy) was deleted
//   R uuid TIME [ADDR]   the copy of ADDR (or every copy) was released at TIME
// Durability: each append is fdatasync'ed before the call returns. At open a last line without
// its LF (a crash mid-append) is cut off; a line that does not parse is skipped with one
// warning naming its line number (the rest still loads).
// Compaction: when more than kCompactAfter lines are dead (deletes, releases, deleted
// entries) and they outnumber the live entries, the file is rewritten with one E line per live
// entry (tmp, fsync, rename, fsync dir).
// Limits: at most kMaxEntries live entries (add() refuses more: purge or delete first); a line
// over kMaxLine bytes is not written.
// Threads: none of its own; the maildir store serialises every call with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/fd.h"
#include "store/entry.h"

namespace mpp::store {

struct IndexCopy {
    std::string maildir;        // the recipient's maildir directory
    std::string file;           // its name in new/
    std::uint64_t prefix = 0;   // bytes of our X-MPP-* lines before the message
    std::int64_t released = 0;  // when released (Unix seconds); 0: not
    bool removed = false;
};

// entry.recipients[i] has copies[i].
struct IndexEntry {
    Entry entry;
    std::uint64_t length = 0;  // message bytes (without our prefix)
    std::vector<IndexCopy> copies;
    bool live() const;
};

class MaildirIndex {
public:
    static constexpr std::size_t kMaxEntries = 1000000;
    static constexpr std::size_t kCompactAfter = 1000;
    static constexpr std::size_t kMaxLine = 8 * 1024 * 1024;

    static std::unique_ptr<MaildirIndex> open(const std::string& path, std::string* error);

    const IndexEntry* find(const std::string& uuid) const;
    const std::map<std::string, IndexEntry>& entries() const { return entries_; }
    std::size_t size() const { return entries_.size(); }

    bool add(IndexEntry e, std::string* error);
    // `address` "": every copy. False and *error when the append fails.
    bool mark_removed(const std::string& uuid, const std::string& address, std::string* error);
    bool mark_released(const std::string& uuid, const std::string& address, std::int64_t when,
                       std::string* error);
    // Rewrites the file when enough of it is dead (see above); false and *error on failure
    // (the old file stays and keeps working).
    bool maybe_compact(std::string* error);
    std::size_t dead_lines() const { return dead_; }

    struct Private {};
    MaildirIndex(Private, std::string path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

private:
    bool load(std::string* error);
    bool append(const std::string& line, std::string* error);
    // Applies one parsed line; false when it does not parse.
    bool apply(const std::string& line);

    std::string path_;
    Fd fd_;  // O_APPEND
    std::map<std::string, IndexEntry> entries_;
    std::size_t dead_ = 0;
};

// The E line of an entry (without LF).
std::string index_line(const IndexEntry& e);

// ASCII case-insensitive equality (addresses).
bool same_address(const std::string& a, const std::string& b);

}  // namespace mpp::store
