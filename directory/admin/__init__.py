"""Administration: verification queue, programs, rules, audit log."""
