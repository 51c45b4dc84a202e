"""Chat sessions and their messages: the one conversation store behind every dialect."""
