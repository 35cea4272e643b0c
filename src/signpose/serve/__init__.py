"""Serving: a trained run behind an HTTP API, a WebSocket for live recognition and a page."""
