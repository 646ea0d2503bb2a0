"""`kiosk selftest`: walk a technician through the booth's hardware, item by item."""
