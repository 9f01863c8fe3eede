# docs/: manual pages and design notes.
dist_man_MANS += docs/mppd.8 docs/mppctl.8 docs/mppd.conf.xml.5
EXTRA_DIST += docs/PERFORMANCE.md
