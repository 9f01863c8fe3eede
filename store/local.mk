# store/: spool, MariaDB writer, maildir store, uploader (built in later issues).
EXTRA_DIST += store/entry.h store/target.h
