"""Who is asking and what they may see: bearer tokens, principals, compartments."""
