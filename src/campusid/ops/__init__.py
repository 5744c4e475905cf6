"""Operations (issue 20): health and readiness, metrics, retention, the database check."""
