"""Adapters: the ports implemented with real libraries, plus in-memory versions."""
