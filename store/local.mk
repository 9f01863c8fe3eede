# store/: spool, MariaDB writer, maildir store, uploader (built in later issues).
