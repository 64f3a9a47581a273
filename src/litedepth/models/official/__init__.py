"""Published-weight layouts of the network families (key conversion, loading, saving)."""
