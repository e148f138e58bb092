"""The ways a message leaves: one module per channel, each opening a session that sends."""
