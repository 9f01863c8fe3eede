# contrib/: integration files for service managers and MTAs.
EXTRA_DIST += contrib/README.md
