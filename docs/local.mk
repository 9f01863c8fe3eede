# docs/: manual pages and design notes.
dist_man_MANS += docs/mppd.8 docs/mppctl.8
