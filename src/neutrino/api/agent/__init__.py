"""The HTTP API host agents use (``/agent/v1/...``): registration/heartbeat, the host-state
long-poll watch, port status reports, and the "vif plugged" port event for managers."""
