"""统一认证 for the platform's other applications: an OpenID Connect provider (Authlib)."""
