"""Keeping a fleet of kiosks running: doctor, metrics, logs, housekeeping, systemd's notifications and the
deploy helpers install.sh calls."""
