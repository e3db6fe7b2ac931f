"""Self-service admission kiosk for hospital and clinic lobbies."""

__version__ = "0.1.0"
