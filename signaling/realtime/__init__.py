"""socket.io signaling: connection auth, meeting rooms, presence and WebRTC negotiation."""
