"""Operating `uploadcore serve`: metrics across workers, request logs, readiness, shutdown."""
