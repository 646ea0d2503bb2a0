"""Live calls: baresip as a supervised child, driven over its ctrl_tcp netstring JSON socket.

`conf` writes baresip's config from kiosk.yaml, `netstring` frames the control messages, `link`
runs baresip and turns its events into `events` for the main loop; the session decides.
"""
