"""The tip line: intake from every channel, routing rules, acknowledgements and the inbox."""
