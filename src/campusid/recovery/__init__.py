"""Route 3: forgot password on the login page (找回密码), its captcha and teacher approvals."""
