"""用户协议 and 隐私政策 (issue 23): their versions, and who agreed to which (consent)."""
