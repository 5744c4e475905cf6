"""campusid: the account platform of a regional K-12 education cloud."""
