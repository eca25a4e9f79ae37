"""Recording by remuxing forwarded RTP into WebM/Matroska, without re-encoding."""
