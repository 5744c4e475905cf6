"""账号安全: the person's own phone, email and sign-in history."""
