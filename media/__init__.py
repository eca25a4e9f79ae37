"""The SFU media plane (Worker, Router, Transport, Producer, Consumer); see ARCHITECTURE.md."""
