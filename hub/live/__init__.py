"""Live calls from cloud contact centers, relayed to booths (docs/live-hub.md).

`settings` reads the admin's choices, `signatures` checks each platform's authentication,
`relay` holds the live calls and fans their frames out to booths, `routes` speaks the
WebSocket protocols: Twilio Media Streams, Genesys AudioHook, and the booths' own.
"""
