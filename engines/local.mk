# engines/: content checks on a whole message (built in later issues).
