"""The dial: a rotary dial or a 3x4 keypad on GPIO, each posting `Dialed` digits."""
