"""Model engines: from audio and a reference sentence to model answers."""
