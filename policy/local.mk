# policy/: policy groups and the SMTP-level checks (built in later issues).
