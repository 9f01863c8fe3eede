# etc/: the documented sample configuration.
mppconfdir = $(sysconfdir)/mpp
dist_mppconf_DATA = etc/mppd.conf.xml
