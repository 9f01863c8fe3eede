# contrib/: integration files for service managers and MTAs.
EXTRA_DIST += contrib/README.md
EXTRA_DIST += contrib/mppd.service contrib/postfix-main.cf contrib/sendmail.mc \
	contrib/mppd.logrotate contrib/install-deps.sh contrib/quickstart.sh contrib/test-all.sh
