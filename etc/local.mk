# etc/: the documented sample configuration and the database schema.
# `make install` puts the sample beside the configuration as mppd.conf.xml.sample and installs
# it as mppd.conf.xml only when there is none yet: an upgrade never overwrites an admin's file.
# `make uninstall` removes mppd.conf.xml only while it is still the untouched sample.
mppconfdir = $(sysconfdir)/mpp
EXTRA_DIST += etc/mppd.conf.xml
# The MariaDB schema, for loading by hand (mppctl db upgrade applies the copy built into mppd).
dist_pkgdata_DATA = etc/schema.sql

install-data-local: install-mppconf
install-mppconf:
	$(MKDIR_P) '$(DESTDIR)$(mppconfdir)'
	$(INSTALL_DATA) '$(srcdir)/etc/mppd.conf.xml' '$(DESTDIR)$(mppconfdir)/mppd.conf.xml.sample'
	test -f '$(DESTDIR)$(mppconfdir)/mppd.conf.xml' || \
	  $(INSTALL_DATA) '$(srcdir)/etc/mppd.conf.xml' '$(DESTDIR)$(mppconfdir)/mppd.conf.xml'

uninstall-local: uninstall-mppconf
uninstall-mppconf:
	if cmp -s '$(srcdir)/etc/mppd.conf.xml' '$(DESTDIR)$(mppconfdir)/mppd.conf.xml'; then \
	  rm -f '$(DESTDIR)$(mppconfdir)/mppd.conf.xml'; fi
	rm -f '$(DESTDIR)$(mppconfdir)/mppd.conf.xml.sample'
.PHONY: install-mppconf uninstall-mppconf
