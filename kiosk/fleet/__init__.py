"""The booth in a fleet: enrollment, heartbeats and the upload of queued events to the hub."""
