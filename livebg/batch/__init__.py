"""`livebg batch`: many and long videos in chunks, on this machine or on a Ray cluster (`livebg[cluster]`)."""
