"""Authentication: browser sessions, bearer JWTs, device tokens, CSRF and login limits."""
