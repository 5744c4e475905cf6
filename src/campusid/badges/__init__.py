"""扫码登录卡 (issue 24): QR sign-in badges for the youngest pupils."""
