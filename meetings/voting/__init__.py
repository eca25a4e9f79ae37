"""Voting (biểu quyết): polls, ballots (named or secret), majority rules and results."""
