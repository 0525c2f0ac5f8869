"""The console's screens: the main panels, memory, turns and replay, jobs, policy."""
