# docs/: manual pages and design notes.
