"""OneRoster 1.2 rostering for the platform's applications (issue 22)."""
