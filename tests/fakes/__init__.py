"""Local stand-ins for outside services (a Twilio-compatible server)."""
