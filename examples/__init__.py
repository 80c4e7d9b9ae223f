"""Examples of software that talks to Image Share (not part of the server)."""
